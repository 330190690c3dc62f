"""The session journal: a real SQLite file that another process locks, or that fills up, loses
no write; writes wait in order in an owner-only journal and go in once, never twice."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from session.snapshot import Cue, RepView, Severity
from storage import (
    BackgroundWriter,
    EndReason,
    JournaledWriter,
    SessionSummary,
    StorageError,
    WriteStatus,
    open_store,
)
from storage.journal import Journal, journal_files
from tests.storage_backends import Backend

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


class Clock:
    """Back-off runs on this clock, so no test sleeps for it."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Lock:
    """Another program holding the database's write lock (BEGIN EXCLUSIVE)."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate("")


@pytest.fixture
def lock_holders():
    held: list[Lock] = []
    yield lambda db: held.append(Lock(db)) or held[-1]
    for h in held:
        h.release()


def _rep(i: int) -> RepView:
    return RepView(i, i * 5.0, i * 5.0 + 4.8, 40.0, 160.0, 0.9, 4.8, True, True, ("knee_valgus",))


def _counts(db: Path, session_id: int) -> dict[str, int]:
    """Rows per table for one session, read by a connection of its own."""
    con = sqlite3.connect(db)
    try:
        q = {
            "sets": "SELECT count(*) FROM sets WHERE session_id = ?",
            "reps": "SELECT count(*) FROM reps r JOIN sets s ON s.id = r.set_id "
            "WHERE s.session_id = ?",
            "faults": "SELECT count(*) FROM rep_faults f JOIN reps r ON r.id = f.rep_id "
            "JOIN sets s ON s.id = r.set_id WHERE s.session_id = ?",
            "cues": "SELECT count(*) FROM cues WHERE session_id = ?",
            "safety": "SELECT count(*) FROM safety_events WHERE session_id = ?",
            "traces": "SELECT count(*) FROM traces WHERE session_id = ?",
            "pain": "SELECT count(*) FROM pain_scores WHERE session_id = ?",
        }
        return {k: con.execute(sql, (session_id,)).fetchone()[0] for k, sql in q.items()}
    finally:
        con.close()


def _status(db: Path, session_id: int) -> tuple[str, str]:
    con = sqlite3.connect(db)
    try:
        return tuple(
            con.execute(
                "SELECT status, end_reason FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        )
    finally:
        con.close()


def _record_everything(w, first: int, last: int) -> None:
    import numpy as np

    for i in range(first, last + 1):
        w.add_rep(_rep(i))
        w.add_cue(Cue("squat.depth", "Lower", Severity.INFO, i * 5.0 + 1.0))
        t = np.linspace(i * 5.0, i * 5.0 + 5.0, 500, endpoint=False)
        w.add_trace("knee angle", "deg", t, 90 + 60 * np.sin(t))
    w.add_safety_event("force_limit", last * 5.0 + 4.0, "over", value=231.0, limit=220.0)
    w.add_pain_score(3, "during")


def test_locked_mid_session_writes_wait_in_order_and_go_in_once(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    clock, seen = Clock(), []
    with open_store(db, timeout_s=0.1) as store:
        w = JournaledWriter(
            store.begin_session("P-1", "squat"), store.journal_dir, on_status=seen.append,
            clock=clock,
        )  # fmt: skip
        w.begin_set(target_reps=8)
        _record_everything(w, 1, 1)
        assert w.write_status().ok and journal_files(store.journal_dir) == []
        lock = lock_holders(db)
        _record_everything(w, 2, 4)
        st = w.write_status()
        # rep 2 .. 4, 3 cues, 3 traces, a safety event and a pain score wait, in a journal
        assert st.waiting == 11 and st.in_memory == 0
        assert "locked by another program" in st.reason
        (journal,) = journal_files(store.journal_dir)
        assert str(journal) == st.journal
        assert os.stat(journal).st_mode & 0o777 == 0o600
        assert os.stat(store.journal_dir).st_mode & 0o777 == 0o700
        assert len(seen) == 1 and seen[0].waiting == 1  # one notice when writes start waiting
        # Not due yet: nothing is tried (and nothing waits on the lock) until the back-off ends.
        assert w.retry() is False
        clock.t += 10.0
        assert w.retry() is False  # still locked: tried, and waits longer now
        assert w.retry_in() > 0
        lock.release()
        clock.t += 10.0
        assert w.retry() is True
        assert w.write_status() == WriteStatus(written_later=11)
        assert seen[-1].ok and seen[-1].written_later == 11
        assert journal_files(store.journal_dir) == [] and not store.journal_dir.exists()
        info = w.finish(SessionSummary(EndReason.END_OF_SOURCE))
        assert (info.status, info.end_reason) == ("finished", "end_of_source")
        rec = store.load_session(w.session_id)
        assert [r.index for r in rec.reps] == [1, 2, 3, 4]
        assert all(r.faults == ("knee_valgus",) for r in rec.reps)
    assert _counts(db, w.session_id) == {
        "sets": 1, "reps": 4, "faults": 4, "cues": 4, "safety": 2, "traces": 4, "pain": 2,
    }  # fmt: skip


def test_session_ending_while_locked_is_finished_by_the_next_open(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    with open_store(db, timeout_s=0.1) as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=Clock())
        _record_everything(w, 1, 1)
        lock = lock_holders(db)
        _record_everything(w, 2, 3)
        info = w.finish(SessionSummary(EndReason.COMPLETED))
        # Never marked finished while writes wait: the finish waits behind them.
        assert info.status == "active" and "wait" in info.notes
        assert w.finished
        (journal,) = journal_files(store.journal_dir)
    lock.release()
    assert _status(db, w.session_id) == ("active", "")
    saved = tmp_path / "journal.copy"
    shutil.copy(journal, saved)
    with open_store(db) as store:  # the next start
        assert store.replayed.sessions == (w.session_id,) and store.replayed.written == 9
        assert store.replayed.kept == ()
        info = store.sessions("P-1")[0]
        assert (info.status, info.end_reason) == ("finished", "completed")
        assert [r.index for r in store.load_session(info.id).reps] == [1, 2, 3]
    assert not journal.exists()
    counts = _counts(db, w.session_id)
    # A replay cut short by a crash (its "done" marks lost) runs again: nothing twice.
    journal.parent.mkdir(mode=0o700)
    shutil.copy(saved, journal)
    with open_store(db) as store:
        assert store.replayed.sessions == (w.session_id,)
    assert _counts(db, w.session_id) == counts
    assert counts["reps"] == 3 and counts["cues"] == 3 and counts["pain"] == 2
    assert _status(db, w.session_id) == ("finished", "completed")


def test_full_database_loses_nothing(tmp_path):
    db = tmp_path / "clinic.sqlite"
    clock = Clock()
    with open_store(db) as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=clock)
        _record_everything(w, 1, 1)
        # The connection's page limit makes SQLite answer SQLITE_FULL, as a full disk does.
        conn = store._db.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        _record_everything(w, 2, 6)
        st = w.write_status()
        assert st.waiting > 0 and "disk full" in st.reason
        info = w.finish(SessionSummary(EndReason.END_OF_SOURCE))
        assert info.status == "active"
        conn.execute("PRAGMA max_page_count = 1073741823")  # space again
        assert store.replay_journals().sessions == (w.session_id,)
        rec = store.load_session(w.session_id)
        assert [r.index for r in rec.reps] == [1, 2, 3, 4, 5, 6]
        assert (rec.info.status, rec.info.end_reason) == ("finished", "end_of_source")


def test_journal_that_cannot_be_written_holds_writes_in_memory_and_says_so(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    seen: list[WriteStatus] = []
    clock = Clock()
    with open_store(db, timeout_s=0.1) as store:
        store.journal_dir.write_text("a file where the journal folder goes")
        w = JournaledWriter(
            store.begin_session("P-1", "squat"), store.journal_dir, on_status=seen.append,
            clock=clock,
        )  # fmt: skip
        lock = lock_holders(db)
        w.add_rep(_rep(1))
        w.add_rep(_rep(2))
        st = w.write_status()
        assert st.waiting == st.in_memory == 3  # set 1 and two reps
        assert "journal cannot be written" in st.reason and "locked" in st.reason
        assert any(s.in_memory for s in seen)
        store.journal_dir.unlink()  # the journal works again: what waits in memory goes first
        w.add_rep(_rep(3))
        st = w.write_status()
        assert st.waiting == 4 and st.in_memory == 0 and st.journal
        lock.release()
        clock.t += 60
        assert w.retry()
        w.finish()
        assert [r.index for r in store.load_session(w.session_id).reps] == [1, 2, 3]


def test_damaged_and_torn_journal_lines_are_skipped_and_the_file_kept(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    with open_store(db, timeout_s=0.1) as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=Clock())
        lock = lock_holders(db)
        for i in (1, 2, 3):
            w.add_rep(_rep(i))
        w.finish()
        (journal,) = journal_files(store.journal_dir)
    lock.release()
    lines = journal.read_bytes().split(b"\n")
    # line 0: header, 1: set, 2..4: reps 1..3. Flip a bit in rep 2; cut a half line on the end.
    lines[3] = lines[3][:-5] + bytes([lines[3][-5] ^ 1]) + lines[3][-4:]
    journal.write_bytes(b"\n".join(lines) + b'0000abcd {"seq": 99, "ent')
    with open_store(db) as store:
        assert store.replayed.sessions == (w.session_id,)
        assert any("1 damaged line" in k for k in store.replayed.kept)
        assert [r.index for r in store.load_session(w.session_id).reps] == [1, 3]
    assert not journal.exists()
    assert journal.with_name(journal.name + ".damaged").exists()  # kept for a person


def test_journal_of_another_database_is_kept_not_written(tmp_path, lock_holders):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with open_store(a, timeout_s=0.1) as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=Clock())
        lock = lock_holders(a)
        w.add_rep(_rep(1))
        w.finish()
        (journal,) = journal_files(store.journal_dir)
    lock.release()
    with open_store(b) as other:
        other.ensure_patient("P-9")
        other.begin_session("P-9", "squat").finish()  # session 1 there is someone else's
        other_dir = other.journal_dir
    other_dir.mkdir(mode=0o700)
    moved = other_dir / journal.name
    journal.rename(moved)
    with open_store(b) as other:
        assert other.replayed.sessions == ()
        assert "is not in" in other.replayed.kept[0]
        assert other.load_session(1).reps == ()
    assert moved.exists()


def test_a_live_writers_journal_is_not_replayed_by_another_store(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    with open_store(db, timeout_s=0.1) as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=Clock())
        lock = lock_holders(db)
        w.add_rep(_rep(1))
        lock.release()
        with open_store(db) as second:  # e.g. a report made meanwhile
            assert second.replayed.sessions == () and second.replayed.written == 0
        assert Journal.take_over(Path(w.write_status().journal)) is None  # its writer holds it
        assert w.retry(force=True)
        w.finish()
        assert [r.index for r in store.load_session(w.session_id).reps] == [1]
        assert _counts(db, w.session_id)["sets"] == 1


def test_background_writer_retries_on_its_own_while_no_call_comes(tmp_path, lock_holders):
    db = tmp_path / "clinic.sqlite"
    with open_store(db, timeout_s=0.1) as store:
        journaled = JournaledWriter(
            store.begin_session("P-1", "squat"), store.journal_dir, first_retry_s=0.01
        )
        bg = BackgroundWriter(journaled)
        lock = lock_holders(db)
        bg.add_rep(_rep(1))
        bg.flush()
        assert bg.write_status().waiting == 2  # set 1 and rep 1
        lock.release()
        # No further call: the worker's own retries put it in (bounded wait, no timing claim).
        for _ in range(2000):
            if bg.write_status().ok:
                break
            bg._thread.join(0.01)
        assert bg.write_status().ok and bg.write_status().written_later == 2
        assert bg.finish().status == "finished" and bg.errors == []


def test_writes_the_database_refuses_for_good_still_raise(backend: Backend):
    with backend.open() as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir)
        w.add_rep(_rep(1))
        with pytest.raises(StorageError, match=r"(?i)unique"):
            w.add_rep(_rep(1))  # a bug, not an outage: not journaled, said at once
        with pytest.raises(ValueError, match=r"0\.\.10"):
            w.add_pain_score(11)
        assert w.write_status().ok
