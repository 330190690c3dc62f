"""BackgroundWriter: the frame loop never waits on the disk, and everything still lands."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from session.snapshot import Cue, RepView, Severity
from storage import DatabaseUnavailable, StorageError, open_store
from storage.background import BackgroundWriter
from tests.storage_backends import Backend

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def _rep(i: int) -> RepView:
    return RepView(i, i * 5.0, i * 5.0 + 4.8, 0.0, 60.0, 0.9, 4.8, True, True)


def test_calls_return_at_once_while_the_disk_is_busy(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with open_store(db, timeout_s=10.0) as store:
        bg = BackgroundWriter(store.begin_session("P-1", "squat"))
        bg.add_rep(_rep(1))
        bg.flush()
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "locked"
        t = time.perf_counter()
        for i in range(2, 6):
            bg.add_rep(_rep(i))
        bg.add_cue(Cue("squat.depth", "Lower", Severity.INFO, 3.0))
        waited = time.perf_counter() - t
        time.sleep(0.3)  # the worker is now blocked on the lock, the caller is not
        holder.communicate("")
        info = bg.finish()
        assert waited < 0.1, waited
        assert info.status == "finished" and bg.errors == []
        rec = store.load_session(bg.session_id)
        assert [r.index for r in rec.reps] == [1, 2, 3, 4, 5]
        assert [c.key for c in rec.cues] == ["squat.depth"]


def test_errors_go_to_the_callback_and_recording_continues(backend: Backend) -> None:
    seen: list[StorageError] = []
    with backend.open() as store:
        bg = BackgroundWriter(store.begin_session("P-1", "squat"), on_error=seen.append)
        assert bg.begin_set(target_reps=3) == 1
        bg.add_rep(_rep(1))
        bg.add_rep(_rep(1))  # same index twice in a set: refused by the database
        bg.add_pain_score(12)  # out of range
        bg.add_rep(_rep(2))
        bg.flush()
        assert len(seen) == 2 and seen == bg.errors
        assert "unique" in str(seen[0]).lower() and "0..10" in str(seen[1])
        assert not isinstance(seen[0], DatabaseUnavailable)  # a bug, not an outage
        assert bg.begin_set() == 2
        bg.add_rep(_rep(1))
        bg.finish()
        rec = store.load_session(bg.session_id)
        assert [(s.index, [r.index for r in s.reps]) for s in rec.sets] == [(1, [1, 2]), (2, [1])]
        with pytest.raises(StorageError, match="already finished"):
            bg.add_rep(_rep(3))


def test_leaving_with_an_error_marks_the_session_interrupted(backend: Backend) -> None:
    with backend.open() as store:
        with pytest.raises(KeyError), BackgroundWriter(store.begin_session("P-1", "squat")) as bg:
            bg.add_rep(_rep(1))
            raise KeyError("camera")
        info = store.sessions("P-1")[0]
        assert info.status == "interrupted"
        assert len(store.load_session(info.id).reps) == 1
