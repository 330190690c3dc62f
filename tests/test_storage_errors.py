"""Damaged, foreign and locked databases: a clear StorageError naming the file, never a
traceback from sqlite3, and the file left byte-for-byte as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from session.snapshot import RepView
from storage import CorruptDatabase, DatabaseLocked, StorageError, open_store
from tests.helpers import foreign_sqlite


def _db_with_reps(path: Path, n: int = 400) -> None:
    with open_store(path) as store:
        w = store.begin_session("P-1", "squat")
        for i in range(1, n + 1):
            w.add_rep(RepView(i, i, i + 1, 90, 170, 0.9, 1, True, True, ("squat.knee_valgus",)))
        w.finish()
    # Closing the last connection checkpoints the WAL into the main file and removes it.
    assert not Path(f"{path}-wal").exists()


def _assert_untouched(path: Path, before: bytes, err: StorageError) -> None:
    assert path.read_bytes() == before
    assert str(path) in str(err) and "\n" not in str(err)
    # Reading a WAL-mode file may create an empty journal beside it; nothing is written to it.
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "notes.sqlite"
    db.write_bytes(b"Therapist notes, not a database\n" * 100)
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase, match="expected an SQLite 3 file") as err:
        open_store(db)
    _assert_untouched(db, before, err.value)


def test_damaged_page_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    _db_with_reps(db)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'reps'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    start = (root - 1) * page_size
    data[start : start + page_size] = b"\xa5" * page_size  # a torn write over the reps table
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase, match="damaged") as err:
        open_store(db)
    _assert_untouched(db, before, err.value)
    assert "backup" in str(err.value)


_CRASH_AFTER_COMMIT = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("INSERT INTO cues (session_id, t_s, cue_key, severity) VALUES (1, 1.0, 'k', 1)")
print("committed", flush=True)
time.sleep(60)
"""


def test_damaged_file_with_a_crash_journal_is_refused_untouched(tmp_path: Path) -> None:
    # A writer killed after a commit leaves the commit in the WAL journal. Refusing the damaged
    # file must not fold that journal into it (a read-write connection would, on close).
    db = tmp_path / "clinic.sqlite"
    _db_with_reps(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_AFTER_COMMIT, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "committed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'reps'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * page_size : root * page_size] = b"\xa5" * page_size
    db.write_bytes(bytes(data))
    before, wal_before = db.read_bytes(), wal.read_bytes()
    with pytest.raises(CorruptDatabase, match="damaged") as err:
        open_store(db)
    assert db.read_bytes() == before and wal.read_bytes() == wal_before
    assert str(db) in str(err.value) and "\n" not in str(err.value)


def test_truncated_file_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    _db_with_reps(db)
    db.write_bytes(db.read_bytes()[: 3 * 4096 + 100])  # copy cut short
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase) as err:
        open_store(db)
    _assert_untouched(db, before, err.value)


def test_another_programs_sqlite_file_is_not_migrated(tmp_path: Path) -> None:
    db = foreign_sqlite(tmp_path / "other.sqlite")
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase, match="not a SpineCoach one") as err:
        open_store(db)
    _assert_untouched(db, before, err.value)


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def _lock_holder(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_locked_database_at_open(tmp_path: Path) -> None:
    # A version-1 file is still in rollback-journal mode: an exclusive lock blocks even reads.
    db = tmp_path / "clinic.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    from storage import migrate

    migrate.migrate(conn, target=1)
    conn.close()
    before = db.read_bytes()
    holder = _lock_holder(db)
    try:
        with pytest.raises(DatabaseLocked, match="locked by another program") as err:
            open_store(db, timeout_s=0.2)
        assert db.read_bytes() == before and str(db) in str(err.value)
    finally:
        holder.communicate("")
    with open_store(db) as store:  # once released, it opens and migrates normally
        assert store.schema_version == migrate.LATEST_VERSION


def test_locked_database_while_recording(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    with open_store(db, timeout_s=0.2) as store:
        w = store.begin_session("P-1", "squat")
        w.add_rep(RepView(1, 0, 1, 90, 170, 0.9, 1, True, True))
        holder = _lock_holder(db)
        try:
            with pytest.raises(DatabaseLocked, match="cannot store rep 2") as err:
                w.add_rep(RepView(2, 1, 2, 90, 170, 0.9, 1, True, True))
            assert str(db) in str(err.value)
        finally:
            holder.communicate("")
        w.add_rep(RepView(2, 1, 2, 90, 170, 0.9, 1, True, True))  # retry once it is free
        w.finish()
        assert [r.index for r in store.load_session(w.session_id).reps] == [1, 2]


def test_folder_and_orphan_journal_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a folder"):
        open_store(tmp_path)
    db = tmp_path / "gone.sqlite"
    Path(f"{db}-wal").write_bytes(b"\0" * 64)
    with pytest.raises(StorageError, match="move the journal aside"):
        open_store(db)
    assert not db.exists()
