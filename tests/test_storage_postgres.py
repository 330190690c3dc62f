"""The PostgreSQL store on a real server (started once per test session, ``tests/pg_server.py``):
URLs and messages, the same schema as SQLite, stations writing at once, and a server that goes
away mid-session and comes back: nothing lost, nothing stored twice.

The store's own behaviour (round trips, session states, journals) runs on both backends in
``test_storage_store.py`` and the others through the ``backend`` fixture; this file holds what
only a server has."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

from session.snapshot import Cue, RepView, Severity
from storage import (
    CorruptDatabase,
    DatabaseUnavailable,
    EndReason,
    JournaledWriter,
    NotFound,
    ProgrammeItem,
    SchemaTooNew,
    SessionSummary,
    StorageError,
    WriteStatus,
    cli,
    migrate,
    open_store,
    record_session,
)
from storage.journal import AddRep, journal_files
from storage.migrate import LATEST_VERSION, Dialect
from storage.records import RepRecord
from tests.helpers import ROOT
from tests.pg_server import PostgresServer
from tests.storage_backends import Backend
from tests.storage_station_driver import SHARED_PATIENT, peak_force


class Clock:
    """Back-off runs on this clock, so no test sleeps for it."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _rep(i: int) -> RepView:
    return RepView(i, i * 5.0, i * 5.0 + 4.8, 40.0, 160.0, 0.9, 4.8, True, True, ("knee_valgus",))


def _record(w, first: int, last: int) -> None:
    """Reps ``first``..``last``, each with a cue and a trace chunk."""
    for i in range(first, last + 1):
        w.add_rep(_rep(i))
        w.add_cue(Cue("squat.depth", "Lower", Severity.INFO, i * 5.0 + 1.0))
        t = np.linspace(i * 5.0, i * 5.0 + 5.0, 500, endpoint=False)
        w.add_trace("knee angle", "deg", t, 90 + 60 * np.sin(t))


def _counts(url: str, session_id: int) -> dict[str, int]:
    """Rows per table for one session, read by a connection of the test's own."""
    q = {
        "sets": "SELECT count(*) FROM sets WHERE session_id = %s",
        "reps": "SELECT count(*) FROM reps r JOIN sets s ON s.id = r.set_id "
        "WHERE s.session_id = %s",
        "faults": "SELECT count(*) FROM rep_faults f JOIN reps r ON r.id = f.rep_id "
        "JOIN sets s ON s.id = r.set_id WHERE s.session_id = %s",
        "cues": "SELECT count(*) FROM cues WHERE session_id = %s",
        "traces": "SELECT count(*) FROM traces WHERE session_id = %s",
        "pain": "SELECT count(*) FROM pain_scores WHERE session_id = %s",
    }
    with psycopg.connect(url) as conn:
        return {k: conn.execute(sql, (session_id,)).fetchone()[0] for k, sql in q.items()}


@pytest.fixture
def pg(pg_server: PostgresServer, tmp_path: Path) -> Backend:
    return Backend("postgresql", pg_server.url(pg_server.new_database()), tmp_path / "pending")


# URLs and messages ------------------------------------------------------------------------------
def test_urls_and_locations(pg_server: PostgresServer, tmp_path: Path) -> None:
    name = pg_server.new_database()
    with open_store(pg_server.url(name), journal_dir=tmp_path / "j") as store:
        assert store.location == pg_server.url(name)
        assert store.schema_version == LATEST_VERSION
        assert store.owned_paths() == (tmp_path / "j",)
        store.ensure_patient("P-1")
    # The same database over TCP, postgres:// spelling, a password (never shown), sslmode.
    url = pg_server.tcp_url(name).replace("postgresql://postgres@", "postgres://postgres:pw@")
    with open_store(url + "?sslmode=disable", journal_dir=tmp_path / "j") as store:
        assert [p.code for p in store.list_patients()] == ["P-1"]
        assert "pw" not in store.location
    # The test server has no TLS: asking for it is one clear line, the password not in it.
    with pytest.raises(DatabaseUnavailable, match="SSL") as err:
        open_store(url + "?sslmode=require", journal_dir=tmp_path / "j")
    assert "pw" not in str(err.value) and "\n" not in str(err.value)


def test_bad_urls_and_unreachable_servers_are_one_line(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    j = {"journal_dir": tmp_path / "j"}
    with pytest.raises(StorageError, match="invalid URI query parameter") as err:
        open_store("postgresql://kiosk:s3cret@clinic-db/spinecoach?bogus=1", **j)
    assert "s3cret" not in str(err.value) and "kiosk:***@" in str(err.value)
    with pytest.raises(StorageError, match="no database name"):
        open_store("postgresql://clinic-db", **j)
    # Nothing listens there: unavailable at once (a station keeps no session it cannot start).
    empty = tmp_path / "no-server"
    empty.mkdir()
    with pytest.raises(DatabaseUnavailable, match="cannot connect: PostgreSQL server") as err:
        open_store(f"postgresql://postgres@/x?host={empty}&port={pg_server.port}", **j)
    assert "\n" not in str(err.value)
    with pytest.raises(NotFound, match="no database"):
        open_store(pg_server.url("no_such_database"), **j)
    with pytest.raises(DatabaseUnavailable, match="refused the login") as err:
        open_store(pg_server.url("postgres", user="nobody_here"), **j)
    assert "\n" not in str(err.value)
    with pytest.raises(StorageError, match="journal_dir is for a server"):
        open_store(tmp_path / "x.sqlite", **j)
    assert not j["journal_dir"].exists()


def test_reports_and_exports_do_not_create_a_schema(pg: Backend) -> None:
    with pytest.raises(NotFound, match="no SpineCoach tables"):
        pg.open(create=False)
    assert pg.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


# Schema ------------------------------------------------------------------------------------------
def test_both_backends_have_the_same_versions_and_names() -> None:
    lite, post = migrate.migrations(Dialect.SQLITE), migrate.migrations(Dialect.POSTGRESQL)
    assert [(m.version, m.name) for m in lite] == [(m.version, m.name) for m in post]
    assert len(post) == LATEST_VERSION


_TYPES = {"INTEGER": "int", "bigint": "int", "integer": "int", "REAL": "float",
          "double precision": "float", "TEXT": "text", "text": "text", "BLOB": "bytes",
          "bytea": "bytes"}  # fmt: skip


def _sqlite_schema(path: Path) -> dict[str, list[tuple[str, str, bool]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: [(c[1], _TYPES[c[2]], bool(c[3]) or bool(c[5]))
                for c in conn.execute(f"PRAGMA table_info({t})")]
            for t in sorted(tables)
        }  # fmt: skip
    finally:
        conn.close()


def _pg_schema(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'NO' "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, not_null in rows:
        out.setdefault(table, []).append((column, _TYPES[kind], not_null))
    return dict(sorted(out.items()))


def _indexes_sqlite(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(
            conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                "AND name NOT LIKE 'sqlite_autoindex%'"
            ).fetchall()
        )
    finally:
        conn.close()


def test_a_new_server_database_has_the_schema_of_a_new_sqlite_file(
    pg: Backend, tmp_path: Path
) -> None:
    lite = tmp_path / "fresh.sqlite"
    open_store(lite).close()
    pg.open().close()
    # Same tables, columns in the same order, same kinds of value, same NOT NULLs.
    assert _pg_schema(pg.url) == _sqlite_schema(lite)
    pg_indexes = set(
        pg.sql(
            "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'"
        )
    )
    assert pg_indexes == _indexes_sqlite(lite)
    assert pg.sql("SELECT version, name FROM schema_versions ORDER BY version") == [
        (m.version, m.name) for m in migrate.migrations(Dialect.POSTGRESQL)
    ]
    conn = sqlite3.connect(lite)
    assert conn.execute(
        "SELECT version, name FROM schema_versions ORDER BY version"
    ).fetchall() == [(m.version, m.name) for m in migrate.migrations()]
    conn.close()


@pytest.mark.parametrize("round_", range(3))
def test_stations_starting_together_on_a_new_database_migrate_it_once(
    pg_server: PostgresServer, tmp_path: Path, round_: int
) -> None:
    pg = Backend("postgresql", pg_server.url(pg_server.new_database()), tmp_path / "pending")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def station() -> None:
        try:
            barrier.wait()
            pg.open().close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=station) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pg.count("SELECT count(*) FROM schema_versions") == LATEST_VERSION


def _waiting_for_advisory_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()[0]


def test_a_station_starting_while_another_migrates_waits_for_it(
    pg: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind an intermittent "not a SpineCoach database": another station's
    migration commits between this station's first look at the schema and its second. Here
    the other station (a connection of the test's) holds the migration lock with every table
    created but not committed, and commits right after this station's first statement, the
    worst moment. The station must look only under the lock, so it waits, then sees the
    committed schema."""
    other = psycopg.connect(pg.url)
    other.execute("SELECT pg_advisory_xact_lock(%s)", (migrate.APPLICATION_ID,))
    for m in migrate.migrations(Dialect.POSTGRESQL):
        other.execute(m.sql)
        for statement in migrate.version_rows_sql(m, migrate.now_utc()):
            other.execute(statement)
    committed = threading.Event()
    commit_lock = threading.Lock()

    def commit_other() -> None:
        with commit_lock:
            if not committed.is_set():
                other.commit()
                committed.set()

    from storage import pg_db

    real_execute = pg_db._Conn.execute

    def execute_then_commit_other(self, sql, params=()):
        cur = real_execute(self, sql, params)
        commit_other()  # after this station's first statement, whatever it was
        return cur

    monkeypatch.setattr(pg_db._Conn, "execute", execute_then_commit_other)
    outcome: list[object] = []

    def station() -> None:
        try:
            with pg.open() as store:
                outcome.append(store.schema_version)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    t = threading.Thread(target=station)
    t.start()
    # Either the station waits on the lock (it looks only under the lock: commit now), or it
    # ran a statement without waiting and the hook has committed already.
    for _ in range(500):
        if committed.is_set() or _waiting_for_advisory_lock(pg.url):
            break
        committed.wait(0.02)
    commit_other()
    t.join(30)
    other.close()
    assert outcome == [LATEST_VERSION]
    assert pg.count("SELECT count(*) FROM schema_versions") == LATEST_VERSION


def test_failing_migration_changes_nothing(pg: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    good = migrate.migrations(Dialect.POSTGRESQL)
    broken = migrate.Migration(2, "0002_broken", "CREATE TABLE half_done (x int);\nSELECT 1/0;")

    def patched(dialect=Dialect.SQLITE):
        return (good[0], broken) if dialect == Dialect.POSTGRESQL else migrate.migrations(dialect)

    monkeypatch.setattr("storage.pg_store.migrations", patched)
    monkeypatch.setattr("storage.pg_store.LATEST_VERSION", 2)
    with pytest.raises(StorageError, match=r"migrate the schema from version 0.*division by zero"):
        pg.open()
    # One transaction: not even version 1's tables are left behind.
    assert pg.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


def test_newer_and_foreign_databases_are_refused_untouched(pg_server: PostgresServer, tmp_path):
    newer = Backend("postgresql", pg_server.url(pg_server.new_database()), tmp_path / "j")
    newer.open().close()
    newer.sql("INSERT INTO schema_versions (version, name) VALUES (?, 'later')", (99,))
    with pytest.raises(SchemaTooNew, match="schema version 99"):
        newer.open()
    assert newer.count("SELECT max(version) FROM schema_versions") == 99

    foreign = Backend("postgresql", pg_server.url(pg_server.new_database()), tmp_path / "j")
    foreign.sql("CREATE TABLE sessions (id int, what text)")
    with pytest.raises(CorruptDatabase, match="not a SpineCoach database"):
        foreign.open()
    foreign.sql("CREATE TABLE schema_versions (version int, name text)")
    foreign.sql("INSERT INTO schema_versions VALUES (1, 'V1__init')")
    with pytest.raises(CorruptDatabase, match="not SpineCoach's"):
        foreign.open()
    assert foreign.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    ) == [("schema_versions",), ("sessions",)]


# Several stations at once ------------------------------------------------------------------------
STATIONS, SESSIONS, SETS, REPS = 4, 3, 2, 10


def test_stations_writing_at_once_lose_and_duplicate_nothing(pg: Backend, tmp_path: Path) -> None:
    pg.open().close()  # the schema, so the stations' start is about writing

    def station(k: int) -> subprocess.Popen:
        argv = [
            "--db", pg.url, "--station", str(k), "--sessions", str(SESSIONS), "--sets",
            str(SETS), "--reps", str(REPS), "--journal-dir", str(tmp_path / f"pending-{k}"),
        ]  # fmt: skip
        driver = ROOT / "tests" / "storage_station_driver.py"
        return subprocess.Popen(
            [sys.executable, str(driver), *argv],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    procs = [station(k) for k in range(1, STATIONS + 1)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:  # all stations write from here on, together
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["errors"] == [] for r in reports)
    per_station = SESSIONS * SETS * REPS
    assert [r["reps"] for r in reports] == [per_station] * STATIONS
    # Every rep was sent twice (the second as a retry): each retry was skipped.
    assert [r["retries_skipped"] for r in reports] == [per_station] * STATIONS

    total = STATIONS * per_station
    assert pg.count("SELECT count(*) FROM reps") == total
    assert pg.count("SELECT count(*) FROM rep_faults") == total
    duplicates = pg.count(
        "SELECT count(*) FROM (SELECT s.session_id, s.set_index, r.rep_index FROM reps r "
        "JOIN sets s ON s.id = r.set_id GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
    )
    assert duplicates == 0
    assert (
        pg.count("SELECT count(*) FROM sessions WHERE status = 'finished'") == STATIONS * SESSIONS
    )
    assert pg.count("SELECT count(*) FROM sessions") == STATIONS * SESSIONS
    assert pg.count("SELECT count(*) FROM cues") == STATIONS * SESSIONS * SETS * (REPS // 4)
    assert pg.count("SELECT count(*) FROM pain_scores") == STATIONS * SESSIONS
    # Each rep is in its own station's session, set and place: the force says whose it is.
    with pg.open(create=False) as store:
        for r in reports:
            for s, session_id in enumerate(r["sessions"], start=1):
                rec = store.load_session(session_id)
                assert rec.info.source == f"station {r['station']}"
                got = [
                    (st.index, rep.index, rep.peak_force_n) for st in rec.sets for rep in st.reps
                ]
                want = [(k, i, peak_force(r["station"], s, k, i))
                        for k in range(1, SETS + 1) for i in range(1, REPS + 1)]  # fmt: skip
                assert got == want
        # One patient whose programme every station saved between sessions: one is active.
        assert len(store.programme(SHARED_PATIENT)) == 1
        assert [p.code for p in store.list_patients()] == sorted(
            [SHARED_PATIENT] + [f"LBP-S{k}" for k in range(1, STATIONS + 1)]
        )
    assert pg.count(
        "SELECT count(*) FROM programmes p JOIN patients q ON q.id = p.patient_id "
        "WHERE q.code = ? AND p.active = 1",
        (SHARED_PATIENT,),
    ) == 1  # fmt: skip
    assert pg.count("SELECT count(*) FROM programmes") == STATIONS * SESSIONS


# The server goes away and comes back --------------------------------------------------------------
def test_server_stopped_mid_session_loses_nothing_and_stores_nothing_twice(
    pg_server: PostgresServer, pg: Backend
) -> None:
    clock, seen = Clock(), []
    with pg.open() as store:
        w = JournaledWriter(
            store.begin_session("P-1", "squat"), store.journal_dir, on_status=seen.append,
            clock=clock,
        )  # fmt: skip
        w.begin_set(target_reps=9)
        _record(w, 1, 3)
        assert w.write_status().ok and _counts(pg.url, w.session_id)["reps"] == 3
        pg_server.stop("fast")
        try:
            _record(w, 4, 6)
            w.add_pain_score(3, "during")
            st = w.write_status()
            # reps 4..6, 3 cues, 3 traces, a pain score: in the journal, on this station's disk
            assert st.waiting == 10 and st.in_memory == 0
            assert "cannot be reached" in st.reason or "terminating" in st.reason
            (journal,) = journal_files(store.journal_dir)
            assert str(journal) == st.journal
            assert os.stat(journal).st_mode & 0o777 == 0o600
            assert len(seen) == 1 and seen[0].waiting == 1
            clock.t += 10.0
            assert w.retry() is False  # still down: tried, waits longer now
            assert w.retry_in() > 0
        finally:
            pg_server.start()
        # Back, but not due yet: nothing is tried before the back-off ends.
        _record(w, 7, 7)  # follows the others into the journal, in order
        assert w.write_status().waiting == 13
        assert _counts(pg.url, w.session_id)["reps"] == 3
        clock.t += 60.0
        assert w.retry() is True
        assert w.write_status() == WriteStatus(written_later=13)
        assert seen[-1].ok and seen[-1].written_later == 13
        assert journal_files(store.journal_dir) == []
        _record(w, 8, 9)  # straight to the server again
        info = w.finish(SessionSummary(EndReason.COMPLETED))
        assert (info.status, info.end_reason) == ("finished", "completed")
        rec = store.load_session(w.session_id)
        assert [r.index for r in rec.reps] == list(range(1, 10))
        assert [c.t_s for c in rec.cues] == [i * 5.0 + 1.0 for i in range(1, 10)]
    assert _counts(pg.url, w.session_id) == {
        "sets": 1, "reps": 9, "faults": 9, "cues": 9, "traces": 9, "pain": 1,
    }  # fmt: skip


def test_session_ending_while_the_server_is_down_is_finished_by_the_next_start(
    pg_server: PostgresServer, pg: Backend
) -> None:
    with pg.open() as store:
        w = JournaledWriter(store.begin_session("P-1", "squat"), store.journal_dir, clock=Clock())
        _record(w, 1, 2)
        pg_server.stop("fast")
        try:
            _record(w, 3, 5)
            info = w.finish(SessionSummary(EndReason.COMPLETED))
            # Never marked finished while writes wait: the finish waits behind them.
            assert info.status == "active" and "wait" in info.notes
            (journal,) = journal_files(store.journal_dir)
            # The station cannot start a store while the server is down: one line, nothing lost.
            with pytest.raises(DatabaseUnavailable):
                pg.open()
            assert journal.exists()
        finally:
            pg_server.start()
    with pg.open() as store:  # the station's next start
        assert store.replayed.sessions == (w.session_id,)
        assert store.replayed.written == 10 and store.replayed.kept == ()
        info = store.sessions("P-1")[0]
        assert (info.status, info.end_reason) == ("finished", "completed")
        assert [r.index for r in store.load_session(info.id).reps] == [1, 2, 3, 4, 5]
    assert not journal.exists()
    assert _counts(pg.url, w.session_id) == {
        "sets": 1, "reps": 5, "faults": 5, "cues": 5, "traces": 5, "pain": 0,
    }  # fmt: skip


def test_the_live_loops_recorder_keeps_a_session_through_an_outage(
    pg_server: PostgresServer, pg: Backend
) -> None:
    """record_session, as the live loop uses it: calls return at once, the server goes away,
    the finish (which tries the waiting writes first) puts everything in once it is back."""
    seen: list[WriteStatus] = []
    with pg.open() as store:
        bg = record_session(store, "P-1", "squat", on_status=seen.append)
        bg.begin_set(target_reps=6)
        _record(bg, 1, 2)
        bg.flush()
        assert bg.write_status().ok
        pg_server.stop("fast")
        try:
            _record(bg, 3, 6)
            bg.flush()
            st = bg.write_status()
            assert st.waiting == 12 and st.journal and bg.errors == []
        finally:
            pg_server.start()
        info = bg.finish(SessionSummary(EndReason.COMPLETED))
        assert (info.status, info.end_reason) == ("finished", "completed")
        # the 12 writes and the finish behind them
        assert seen[0].waiting >= 1 and seen[-1].ok and seen[-1].written_later == 13
        assert [r.index for r in store.load_session(bg.session_id).reps] == [1, 2, 3, 4, 5, 6]
    assert journal_files(pg.journal_dir) == []
    assert _counts(pg.url, bg.session_id)["reps"] == 6


def test_a_lockout_earned_at_one_station_holds_at_another(pg: Backend) -> None:
    from access import pins
    from access.patients import PatientGate, SignIn
    from devtools.kiosk_fixtures import FakeClock

    clock = FakeClock(1.7e9)
    with pg.open() as gym, pg.open() as mat:  # two stations, two connections
        gym.ensure_patient("4711")
        gym.set_patient_pin("4711", pins.hash_pin("2580", pins.PATIENT_MIN_DIGITS))
        at_gym, at_mat = PatientGate(gym, clock=clock), PatientGate(mat, clock=clock)
        for _ in range(3):
            assert at_gym.sign_in("4711", "0000") == SignIn.REFUSED
        for _ in range(2):
            assert at_mat.sign_in("4711", "0000") == SignIn.REFUSED
        # Five wrong PINs across the two: locked out at both, the right PIN too.
        assert at_gym.sign_in("4711", "2580") == SignIn.REFUSED
        assert mat.patient_access("4711").lockouts == 1
        clock.now += 61
        assert at_mat.sign_in("4711", "2580") == SignIn.OK


def test_a_stations_session_survives_the_server_going_away(
    pg_server: PostgresServer, pg: Backend, squat_video, tmp_path, monkeypatch
) -> None:
    """main.py on squat.mp4 storing to the server, which stops after rep 1 and starts again
    once the session has said its writes wait (moments the session marks, not wall-clock
    guesses): every rep arrives, once, and the session is finished."""
    from tests.test_storage_session_faults import SQUAT_REPS, _session

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the station's journal
    events: list[str] = []
    stopped = threading.Event()

    def stop_after_rep_1(proc, i: int) -> None:
        if i == 1:
            events.append("stopping")
            pg_server.stop("fast")
            stopped.set()

    def start_once_journaled(line: str) -> None:
        # The session may say so while pg_ctl is still waiting for the server to go.
        if line.startswith("main.py: warning:") and events == ["stopping"]:
            assert stopped.wait(timeout=120)
            pg_server.start()
            events.append("started")

    try:
        code, printed, said = _session(
            pg.url, squat_video, on_rep=stop_after_rep_1, on_stderr=start_once_journaled
        )
    finally:
        if events == ["stopping"]:
            stopped.wait(timeout=120)
            pg_server.start()
    assert code == 0 and len(printed) == SQUAT_REPS and events == ["stopping", "started"]
    # One line when writes start waiting (where), one when they are all in.
    assert len(said) == 2, said
    assert str(tmp_path / "xdg" / "spinecoach" / "pending") in said[0]
    assert "takes writes again" in said[1]
    with pg.open() as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "end_of_source")
        reps = store.load_session(info.id).reps
        assert [(r.index, round(r.start_s, 3), round(r.end_s, 3)) for r in reps] == printed
    assert pg.count("SELECT count(*) FROM reps") == SQUAT_REPS


class _ReplyLost:
    """A writer whose ``n``-th write reaches the database but whose caller hears an error, as
    when the connection drops between the server's commit and its answer."""

    def __init__(self, inner, n: int) -> None:
        self._inner, self._n = inner, n
        self.session_id, self.key = inner.session_id, inner.key

    def apply(self, op, *, replay: bool = False) -> bool:
        wrote = self._inner.apply(op, replay=replay)
        self._n -= 1
        if self._n == 0:
            raise DatabaseUnavailable("connection lost before the server's answer")
        return wrote

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def test_a_write_whose_answer_was_lost_is_not_stored_twice(backend: Backend) -> None:
    clock = Clock()
    with backend.open() as store:
        inner = store.begin_session("P-1", "squat")
        w = JournaledWriter(_ReplyLost(inner, 3), store.journal_dir, clock=clock)
        w.add_rep(_rep(1))  # writes 1 (the set) and 2 (the rep)
        w.add_rep(_rep(2))  # write 3: stored, but reported lost, so it waits in the journal
        assert w.write_status().waiting == 1
        w.add_cue(Cue("squat.depth", "Lower", Severity.INFO, 11.0))
        clock.t += 1.0
        assert w.retry() is True and w.write_status().written_later == 2
        w.finish()
        rec = store.load_session(inner.session_id)
        assert [r.index for r in rec.reps] == [1, 2] and len(rec.cues) == 1
        # The same rep sent once more as a retry: the (set, rep index) key turns it away.
        again = store.resume_session(inner.key)
        assert again.apply(AddRep(1, RepRecord.from_rep(_rep(2))), replay=True) is False
    assert backend.count("SELECT count(*) FROM reps") == 2


# Roles -------------------------------------------------------------------------------------------
def test_the_shipped_role_setup_lets_stations_record_and_nothing_more(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """storage/postgresql_setup.sql, run as docs/storage.md says, then a station's own role."""
    psql = [
        str(pg_server.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
        str(pg_server.root), "-p", str(pg_server.port), "-U", "postgres", "-d", "postgres",
    ]  # fmt: skip
    setup = ROOT / "storage" / "postgresql_setup.sql"
    done = subprocess.run([*psql, "-f", str(setup)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pg_server.admin("CREATE ROLE station_gym1 LOGIN IN ROLE spinecoach_station")
    owner = pg_server.url("spinecoach", user="spinecoach_owner")
    station = pg_server.url("spinecoach", user="station_gym1")
    j = {"journal_dir": tmp_path / "pending"}
    # A station first: it may not create the tables, and says who may.
    with pytest.raises(StorageError, match=r"storage\.cli migrate.*owner role"):
        open_store(station, **j)
    assert cli.main(["migrate", "--db", owner]) == 0
    with open_store(station, **j) as store:
        w = store.begin_session("LBP-1", "squat")
        _record(w, 1, 3)
        w.add_pain_score(2)
        w.finish()
        store.save_programme("LBP-1", [ProgrammeItem("squat", sets=2, reps=8)])
        store.set_patient_pin("LBP-1", "scrypt$placeholder")
        assert [r.index for r in store.load_session(w.session_id).reps] == [1, 2, 3]
    # ... and nothing more: no row deleted, no table changed or added.
    with psycopg.connect(station, autocommit=True) as conn:
        for statement in ("DELETE FROM reps", "DROP TABLE cues", "ALTER TABLE reps ADD x int",
                          "CREATE TABLE mine (x int)", "TRUNCATE sessions"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM reps").fetchone()[0] == 3


# The command line ---------------------------------------------------------------------------------
def test_patient_report_and_export_commands_take_a_server_url(pg: Backend, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}

    def main_py(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *argv], capture_output=True, text=True,
            env=env, cwd=tmp_path, timeout=120, input=stdin,
        )  # fmt: skip

    done = main_py("patient", "add", "LBP-7", "--db", pg.url, "--pin-stdin", stdin="482916\n")
    assert done.returncode == 0, done.stderr
    assert pg.sql("SELECT pin_record IS NOT NULL FROM patients WHERE code = 'LBP-7'") == [(True,)]
    with pg.open() as store:
        w = store.begin_session("LBP-7", "lumbar_extension")
        for i in range(1, 4):
            w.add_rep(_rep(i), peak_force_n=100.0 + i)
        w.finish()
    done = main_py("export", "--patient", "LBP-7", "--format", "json", "--out", "e.json",
                   "--db", pg.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "e.json").read_text())
    assert [r["peak_force_n"] for r in doc["sessions"][0]["sets"][0]["reps"]] == [101, 102, 103]
    done = main_py("report", "--patient", "LBP-7", "--out", "r.html", "--db", pg.url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").stat().st_size > 1000
    # A server that is not there: one line, exit 2, nothing written.
    bad = f"postgresql://postgres@/x?host={tmp_path}&port=1"
    done = main_py("report", "--patient", "LBP-7", "--out", "r2.html", "--db", bad)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot be reached" in done.stderr and not (tmp_path / "r2.html").exists()
