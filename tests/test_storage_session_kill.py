"""A real session (main.py on squat.mp4, storing to SQLite) killed with SIGKILL at random
moments: the database stays sound and loses at most the rep in progress."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from storage import open_store
from tests.helpers import ROOT

KILLS = int(os.environ.get("SESSION_KILLS", "3"))


def _run_and_kill(video, db, after_s: float) -> list[tuple[int, float, float]]:
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
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(timeout=5)
    reps = [ln.split() for ln in lines if ln.startswith("rep ")]
    return [(int(i), float(a), float(b)) for _, i, a, b in reps]


def test_sigkill_mid_session_loses_at_most_the_rep_in_progress(tmp_path, squat_video):
    db = tmp_path / "kill.sqlite"
    rng = random.Random(int(os.environ.get("SESSION_KILL_SEED", "7")))
    for n in range(KILLS):
        after = rng.uniform(4.0, 22.0)
        printed = _run_and_kill(squat_video, db, after)
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
        assert len(stored) >= len(printed) - 1, f"killed after {after:.1f} s"
    assert os.stat(db).st_mode & 0o777 == 0o600
