"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = (ROOT / ".." / "shared" / "testdata").resolve()


def shared_data(relative: str) -> Path:
    """A file from ../shared/testdata; skips the test when the shared data is not there."""
    path = TESTDATA / relative
    if not path.exists():
        pytest.skip(f"shared test data missing: {path}")
    return path


def run_main(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "GLOG_minloglevel": "2",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_summary(tmp_path: Path, *args: str, name: str = "summary.json") -> dict:
    out = tmp_path / name
    proc = run_main(*args, "--headless", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def bundled_live_snapshots(per_pose: int = 1) -> list[tuple[object, bool]]:
    """The bundled recording through the runner's engine: ``per_pose`` snapshots after each
    input as a window shows them, as (snapshot, new input): True for the first of each."""
    from app.inputs import BUNDLED_RECORDING, InputChoice
    from app.loop import Runner, RunOptions
    from exercises.library import get_exercise
    from recording.replay import open_replay, recorded_inputs

    choice = InputChoice("replay", str(BUNDLED_RECORDING), "bundled recording")
    replay = open_replay(BUNDLED_RECORDING)
    runner = Runner(RunOptions(choice, get_exercise("flank_stretch"), headless=True), replay)
    out = []
    try:
        for inp in recorded_inputs(replay):
            runner.feed(inp)
            runner.dispatch()
            out += [(runner.snapshot(), k == 0) for k in range(per_pose)]
    finally:
        runner.close()
    return out


def special_files(folder: Path) -> list[Path]:
    """A named pipe, and a device node like /dev/null where the system lets us make one
    (made in ``folder``: a test never points a command at a real device)."""
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    found = [fifo]
    try:
        os.mknod(folder / "dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        found.append(folder / "dev")
    except PermissionError:
        pass  # no CAP_MKNOD: the pipe still shows the rule
    return found


def file_kind(path: Path) -> tuple[int, int]:
    """What ``path`` is (its type bits) and, for a device node, which device."""
    st = path.lstat()
    return stat.S_IFMT(st.st_mode), st.st_rdev


def foreign_sqlite(path: Path) -> Path:
    """A SQLite file another program made (one table, one row): what SpineCoach must never
    migrate, replace or write over."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('x')")
    conn.commit()
    conn.close()
    return path
