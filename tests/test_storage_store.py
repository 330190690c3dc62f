"""The store on a real SQLite file and a real PostgreSQL database (the ``backend`` fixture):
round trips, a commit per rep, session states; for files also paths, permissions, URLs."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from session.snapshot import Cue, RepView, Severity
from storage import (
    Assessment,
    NotFound,
    ProgrammeItem,
    SessionSummary,
    StorageError,
    default_db_path,
    open_store,
)
from storage.traces import downsample
from tests.storage_backends import Backend


def _rep(i: int, *, faults: tuple[str, ...] = (), counted: bool = True) -> RepView:
    return RepView(
        i, 5.0 * i, 5.0 * i + 4.5, 90.0 - i, 170.0, 0.8 + i / 100, 4.5, i % 2 == 1, counted, faults
    )


def test_each_rep_is_committed_before_add_rep_returns(backend: Backend) -> None:
    with backend.open() as store:
        w = store.begin_session("P-1", "squat")
        w.begin_set(target_reps=5)
        for i in range(1, 6):
            # A connection of the test's own sees only committed data.
            assert backend.count("SELECT count(*) FROM reps") == i - 1
            w.add_rep(_rep(i))
            assert backend.count("SELECT count(*) FROM reps") == i
        w.finish()


def test_session_round_trip(backend: Backend) -> None:
    with backend.open() as store:
        w = store.begin_session("P-1", "lumbar_extension", side="", source="camera")
        assert store.sessions("P-1")[0].status == "active"
        assert w.begin_set(target_reps=2, load_band_n=(80.0, 120.0), started_s=1.5) == 1
        w.add_rep(_rep(1, faults=("a.lean", "a.lean", "a.jerk")), hold_s=2.0, peak_force_n=99.5)
        w.add_rep(_rep(2, counted=False))
        assert w.begin_set() == 2
        w.add_rep(_rep(1))
        w.add_cue(Cue("a.lean", "Sit tall", Severity.WARNING, since_s=7.25))
        w.add_cue(Cue("a.good", "Good", Severity.POSITIVE, since_s=1.0), t_s=9.0)
        w.add_safety_event("force_limit", 12.0, "over limit", value=260.0, limit=250.0, unit="N")
        t = np.arange(0.0, 10.0, 0.001)
        kept = w.add_trace("machine angle", "deg", t, np.sin(t), max_rate_hz=10)
        w.add_pain_score(4, moment="after")
        info = w.finish(SessionSummary(end_reason="safety_stop", notes="stopped at 12 s"))
        assert (info.status, info.end_reason, info.notes) == (
            "finished",
            "safety_stop",
            "stopped at 12 s",
        )
        with pytest.raises(StorageError, match="already finished"):
            w.add_rep(_rep(3))

        rec = store.load_session(w.session_id)
        assert [s.index for s in rec.sets] == [1, 2]
        assert rec.sets[0].load_band_n == (80.0, 120.0) and rec.sets[0].started_s == 1.5
        assert math.isnan(rec.sets[1].load_band_n[0])
        r1 = rec.sets[0].reps[0]
        assert r1 == _rep_record(_rep(1, faults=("a.jerk", "a.lean")), 2.0, 99.5)
        assert not rec.sets[0].reps[1].counted
        assert math.isnan(rec.sets[0].reps[1].peak_force_n)  # missing stays NaN, never 0
        assert [c.t_s for c in rec.cues] == [7.25, 9.0]
        assert rec.cues[0].severity == Severity.WARNING
        e = rec.safety_events[0]
        assert (e.kind, e.value, e.limit, e.unit) == ("force_limit", 260.0, 250.0, "N")
        tr = rec.traces[0]
        assert len(tr.t) == kept and 150 <= kept <= 200  # 10 s at 10 Hz, min and max a bucket
        assert tr.values.max() == pytest.approx(1.0, abs=1e-3)
        assert np.all(np.diff(tr.t) >= 0)
        assert [p.score for p in rec.pain_scores] == [4.0]


def _rep_record(rep: RepView, hold_s: float, peak: float):
    from storage import RepRecord

    return RepRecord.from_rep(rep, hold_s=hold_s, peak_force_n=peak)


def test_trace_downsampling_keeps_a_one_sample_spike() -> None:
    t = np.linspace(0.0, 60.0, 60_001)
    v = np.zeros_like(t)
    v[31_234] = 500.0
    td, vd = downsample(t, v, max_rate_hz=5)
    assert len(td) < 700
    assert vd.max() == 500.0 and td[np.argmax(vd)] == t[31_234]


def _naive_downsample(t: np.ndarray, v: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference: one bucket at a time (t non-decreasing)."""
    bucket = np.floor((t - t[0]) * rate).astype(np.int64)
    groups = [np.flatnonzero(bucket == b) for b in np.unique(bucket)]
    if len(groups) * 2 >= len(t):
        return t, v.astype(np.float32)
    keep: set[int] = set()
    for g in groups:
        if np.isnan(v[g]).all():
            keep.add(int(g[0]))
        else:
            keep |= {int(g[np.nanargmin(v[g])]), int(g[np.nanargmax(v[g])])}
    idx = np.array(sorted(keep))
    return t[idx], v[idx].astype(np.float32)


def test_trace_downsampling_matches_the_reference() -> None:
    rng = np.random.default_rng(11)
    for case in range(40):
        n = int(rng.integers(1, 3000))
        t = np.cumsum(rng.uniform(0.0, 0.02, n))
        v = np.round(rng.normal(0.0, 3.0, n))  # rounding makes ties
        v[rng.random(n) < 0.1] = np.nan
        if case % 5 == 0:
            v[: n // 2] = np.nan  # whole buckets missing
        rate = float(rng.choice([1.0, 5.0, 25.0, 100.0]))
        got_t, got_v = downsample(t, v, rate)
        ref_t, ref_v = _naive_downsample(t, v, rate)
        np.testing.assert_array_equal(got_t, ref_t, err_msg=f"case {case}")
        np.testing.assert_array_equal(got_v, ref_v, err_msg=f"case {case}")


def test_context_manager_marks_a_failed_session_interrupted(backend: Backend) -> None:
    with backend.open() as store:
        with pytest.raises(RuntimeError), store.begin_session("P-1", "squat") as w:
            w.add_rep(_rep(1))
            raise RuntimeError("camera thread died")
        info = store.sessions("P-1")[0]
        assert (info.status, info.end_reason) == ("interrupted", "error: RuntimeError")
        with store.begin_session("P-1", "squat") as w2:
            w2.add_rep(_rep(1))
        assert store.sessions("P-1")[1].status == "finished"


def test_session_of_a_dead_writer_is_marked_interrupted_at_next_open(backend: Backend) -> None:
    with backend.open() as store:
        w = store.begin_session("P-1", "squat")
        w.add_rep(_rep(1))
        live = store.begin_session("P-1", "squat")  # still being written by this process
        other = store.begin_session("P-1", "squat")
        stale = store.begin_session("P-1", "squat")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    backend.sql(
        "UPDATE sessions SET status = 'active' WHERE id IN (?, ?, ?, ?)",
        (w.session_id, live.session_id, other.session_id, stale.session_id),
    )
    backend.sql("UPDATE sessions SET writer_pid = ? WHERE id = ?", (int(dead.stdout), w.session_id))
    backend.sql(
        "UPDATE sessions SET writer_host = 'kiosk-elsewhere' WHERE id IN (?, ?)",
        (other.session_id, stale.session_id),
    )
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    backend.sql(
        "UPDATE sessions SET last_activity_at = ? WHERE id = ?", (two_days_ago, stale.session_id)
    )
    with backend.open() as store:
        status = {s.id: s.status for s in store.sessions("P-1")}
    assert status[w.session_id] == "interrupted"
    # A session whose writer is this process but not live here, also interrupted.
    assert status[live.session_id] == "interrupted"
    # Another machine's session: only that machine can tell whether it is still running ...
    assert status[other.session_id] == "active"
    # ... unless nothing was recorded in it for longer than any session lasts.
    assert status[stale.session_id] == "interrupted"


def test_open_does_not_interrupt_a_session_being_written(backend: Backend) -> None:
    with backend.open() as store:
        w = store.begin_session("P-1", "squat")
        w.add_rep(_rep(1))
        with backend.open() as reader:  # e.g. a report made during a session
            assert reader.sessions("P-1")[0].status == "active"
        w.add_rep(_rep(2))
        w.finish()
        assert [r.index for r in store.load_session(w.session_id).reps] == [1, 2]


def test_therapist_data_round_trip(backend: Backend) -> None:
    with backend.open() as store:
        p = store.ensure_patient("LBP-001", display_name="Ann Example")
        assert store.ensure_patient("LBP-001") == p  # idempotent, name kept
        assert p.display_name == "Ann Example"
        items = store.save_programme(
            "LBP-001",
            [
                ProgrammeItem(
                    "lumbar_extension",
                    sets=2,
                    reps=20,
                    tempo_s=4.8,
                    load_band_n=(60.0, 120.0),
                    range_target_deg=54.0,
                    norm_rom_deg=72.0,
                )
            ],
            name="block 1",
        )
        assert items[0].id is not None and items[0].load_band_n == (60.0, 120.0)
        store.save_programme("LBP-001", [ProgrammeItem("squat", sets=3, reps=10)])
        assert [i.exercise_id for i in store.programme("LBP-001")] == ["squat"]
        store.add_assessment(
            "LBP-001",
            Assessment("lumbar_extension", rom_deg=60.0, max_force_n=300.0, test_angle_deg=36.0),
        )
        a = store.assessments("LBP-001")[0]
        assert (a.rom_deg, a.max_force_n, a.test_angle_deg) == (60.0, 300.0, 36.0)
        assert math.isnan(a.pain_free_rom_deg) and a.assessed_at
        store.add_pain_score("LBP-001", 6, moment="before")
        assert [s.score for s in store.pain_scores("LBP-001")] == [6.0]
        with pytest.raises(ValueError, match=r"0\.\.10"):
            store.add_pain_score("LBP-001", 11)
        with pytest.raises(ValueError, match="moment"):
            store.add_pain_score("LBP-001", 3, moment="later")
        assert [q.code for q in store.list_patients()] == ["LBP-001"]
        with pytest.raises(NotFound, match="ZZZ"):
            store.get_patient("ZZZ")


def test_saving_a_programme_returns_its_own_items_when_another_station_saves_right_after(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the concurrent-stations test: the items came from reading the active
    programme after the commit, which another station's save may already have replaced."""
    from contextlib import contextmanager

    with backend.open() as gym, backend.open() as mat:
        gym.ensure_patient("LBP-1")
        plain = gym._db.transaction

        @contextmanager
        def then_the_other_station(action: str):
            with plain(action) as c:
                yield c
            if action == "save programme":  # committed: the other station is quicker now
                mat.save_programme("LBP-1", [ProgrammeItem("squat", sets=1, reps=5)], "mat")

        monkeypatch.setattr(gym._db, "transaction", then_the_other_station)
        saved = gym.save_programme("LBP-1", [ProgrammeItem("bird_dog", sets=3, reps=10)], "gym")
        assert [(i.exercise_id, i.programme) for i in saved] == [("bird_dog", "gym")]
        assert [i.programme for i in gym.programme("LBP-1")] == ["mat"]


@pytest.mark.parametrize("code", ["", "has space", "x" * 65, "-lead", "a/b", "Anna Müller"])
def test_patient_codes_are_plain(tmp_path: Path, code: str) -> None:
    with open_store(tmp_path / "s.sqlite") as store, pytest.raises(ValueError, match="code"):
        store.ensure_patient(code)


def test_database_and_journal_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)  # even a permissive umask must not open the file to others
    try:
        db = tmp_path / "new" / "dir" / "s.sqlite"
        with open_store(db) as store:
            store.begin_session("P-1", "squat").add_rep(_rep(1))
            for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                assert f.stat().st_mode & 0o777 == 0o600, f
        for d in (tmp_path / "new", tmp_path / "new" / "dir"):
            assert d.stat().st_mode & 0o777 == 0o700
    finally:
        os.umask(old)


def test_existing_group_readable_file_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    open_store(db).close()
    db.chmod(0o644)
    open_store(db).close()
    assert db.stat().st_mode & 0o777 == 0o600


def test_default_path_is_in_the_users_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "spinecoach" / "spinecoach.sqlite"
    with open_store(None) as store:
        assert store.location == str(default_db_path())
    assert default_db_path().stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home/.local/share/spinecoach/spinecoach.sqlite"


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(f"sqlite:///{tmp_path}/abs.sqlite") as s:  # tmp_path starts with "/"
        assert s.location == str(tmp_path / "abs.sqlite")
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.sqlite") as s:
        assert s.location == str(tmp_path / "rel.sqlite")
    with pytest.raises(StorageError, match="in-memory"):
        open_store("sqlite://")
    with pytest.raises(StorageError, match="unknown scheme 'mysql'"):
        open_store("mysql://x/y")
    with pytest.raises(NotFound, match="no database"):
        open_store(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
