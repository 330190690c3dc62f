"""A real session (main.py on squat.mp4, storing to SQLite) killed with SIGKILL in the middle:
the database stays sound and loses at most the rep in progress.

The moment of each kill is chosen inside the session as it runs: right after main.py prints
its n-th finished rep (``--verbose``), when that rep has just been handed to the storage
writer. Never a wall-clock guess, which a fast or slow machine turns into a kill after the
session has ended or before it has begun."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys

import pytest

from storage import open_store
from tests.helpers import ROOT

KILLS = int(os.environ.get("SESSION_KILLS", "3"))
SQUAT_REPS = 7  # ground truth for squat.mp4 (MANIFEST.md)


def _run_and_kill(video, db, after_rep: int) -> list[tuple[int, float, float]]:
    """Run a stored session and SIGKILL it as soon as it prints rep ``after_rep``; return the
    reps it printed (each printed after being handed to storage)."""
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "GLOG_minloglevel": "2",
    }
    cmd = [sys.executable, str(ROOT / "main.py"), "--source", str(video), "--exercise", "squat",
           "--headless", "--verbose", "--db", str(db), "--patient", "P-KILL"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    printed: list[tuple[int, float, float]] = []
    try:
        for line in proc.stdout:
            if not line.startswith("rep "):
                continue
            _, i, a, b = line.split()
            printed.append((int(i), float(a), float(b)))
            if int(i) == after_rep:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, (
        f"the session ended (exit {proc.returncode}) before printing rep {after_rep}: {printed}"
    )
    return printed


def test_sigkill_mid_session_loses_at_most_the_rep_in_progress(tmp_path, squat_video):
    db = tmp_path / "kill.sqlite"
    rng = random.Random(int(os.environ.get("SESSION_KILL_SEED", "7")))
    for n in range(KILLS):
        # The last rep is left out: after it the session has little left to run.
        after_rep = rng.randint(1, SQUAT_REPS - 1)
        printed = _run_and_kill(squat_video, db, after_rep)
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with open_store(db) as store:
            store.recover_interrupted()
            sessions = store.sessions("P-KILL")
            assert len(sessions) == n + 1
            assert sessions[-1].status == "interrupted"
            stored = store.load_session(sessions[-1].id).reps
        # What was stored is a prefix of what the session finished, value for value ...
        assert [r.index for r in stored] == list(range(1, len(stored) + 1))
        for rep, (index, start, end) in zip(stored, printed, strict=False):
            assert rep.index == index
            assert rep.start_s == pytest.approx(start, abs=1e-3) and rep.end_s == pytest.approx(
                end, abs=1e-3
            )
        # ... and lacks at most the one rep that was being written when the kill came.
        assert len(printed) == after_rep
        assert len(stored) >= len(printed) - 1, f"killed after rep {after_rep}"
    assert os.stat(db).st_mode & 0o777 == 0o600
