"""Live station status: one row per station on both backends, NOTIFY on a server heard by a
listener on its own connection (also after the server went away and came back), the
publisher's rate, heartbeat and back-off on an injected clock, and a real headless session on
the machine simulator publishing its state, a safety stop included."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.station_publisher import HEARTBEAT_S, Offer, StationPublisher, status_from
from session.snapshot import Cue, ScreenPhase, Severity, Snapshot, SourceState, SourceStatus
from storage import DatabaseUnavailable, open_store
from storage.station_status import IDLE, StationStatus
from tests.helpers import ROOT
from tests.pg_server import PostgresServer
from tests.storage_backends import Backend


def _status(station: str = "S1", seq: int = 1, **kw) -> StationStatus:
    return StationStatus(station, seq, kw.pop("published_unix", 1_800_000_000.0 + seq), **kw)


def _wait_for(condition, timeout_s: float = 20.0, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = condition()
        if got:
            return got
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def test_a_station_keeps_one_row_that_reads_back_as_published(backend: Backend) -> None:
    with backend.open() as store:
        link = store.status_link()
        first = _status(patient_code="LBP-1", exercise_id="squat", phase="working", rep_count=3,
                        cue_key="squat.depth", cue_text="Lower", cue_severity="info")  # fmt: skip
        link.publish(first)
        assert store.station_statuses() == (first,)
        later = _status(seq=2, phase="stopped", safety_stop=True, safety_kind="overload",
                        pain_flag=True, machine_state="simulated")  # fmt: skip
        link.publish(later)
        link.publish(_status("S2", 1))
        assert store.station_statuses() == (later, _status("S2", 1))
        link.close()


def test_status_record_checks_and_round_trips() -> None:
    s = _status(cue_text="x" * 500, pain_flag=None, session_id=7)
    assert len(s.cue_text) == 200 and s.cue_text.endswith("...")
    assert StationStatus.from_json(s.to_json()) == s
    assert s.same_state(_status(seq=9, cue_text="x" * 500, session_id=7))
    assert not s.same_state(_status(seq=9, cue_text="y", session_id=7))
    assert not s.same_state(None)
    for bad in ("", "x" * 65):
        with pytest.raises(ValueError, match="station name"):
            _status(bad)
    with pytest.raises(ValueError, match="finite"):
        _status(published_unix=float("nan"))
    with pytest.raises(ValueError, match="JSON object"):
        StationStatus.from_json("[1]")


def test_the_dashboard_hears_a_change_at_once_and_catches_up_after_an_outage(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    url = pg_server.url(pg_server.new_database())
    with open_store(url, journal_dir=tmp_path / "j") as store:
        link, listener = store.status_link(), store.status_listener()
        try:
            assert listener.current() == ()
            link.publish(_status(seq=1, rep_count=1))
            heard = listener.wait(10.0)
            assert [s.rep_count for s in heard] == [1]
            for i in range(2, 6):
                link.publish(_status(seq=i, rep_count=i))
            got: list[StationStatus] = []
            _wait_for(lambda: got.extend(listener.wait(1.0)) or len(got) >= 4, what="4 notes")
            assert [s.seq for s in got] == [2, 3, 4, 5]  # in order, each once
            pg_server.stop()
            try:
                with pytest.raises(DatabaseUnavailable):
                    link.publish(_status(seq=6))
                assert listener.wait(0.1) == []  # lost: nothing, no exception
            finally:
                pg_server.start()
            # Back: the first answer is every row (what was missed), then changes again.
            caught_up = _wait_for(lambda: listener.wait(1.0), what="the rows after reconnecting")
            assert [s.seq for s in caught_up] == [5]
            assert listener.reconnects == 1 and listener.resynced
            link.publish(_status(seq=7, phase="rest"))
            assert [s.phase for s in _wait_for(lambda: listener.wait(1.0))] == ["rest"]
        finally:
            link.close()
            listener.close()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class FlakyLink:
    """A status link whose database can be switched off."""

    def __init__(self) -> None:
        self.published: list[StationStatus] = []
        self.up = True
        self.closed = False

    def publish(self, status: StationStatus) -> None:
        if not self.up:
            raise DatabaseUnavailable("server away")
        self.published.append(status)

    def close(self) -> None:
        self.closed = True


def _snap(**kw) -> Snapshot:
    base = dict(t=1.0, exercise_id="lumbar_extension", exercise_name="Lumbar extension",
                phase=ScreenPhase.WORKING, rep_count=2, reps_target=20, patient_code="LBP-7",
                camera=SourceStatus("camera", SourceState.OFF),
                machine=SourceStatus("machine", SourceState.SIMULATED))  # fmt: skip
    base.update(kw)
    return Snapshot(**base)


def _offer(snap: Snapshot, **kw) -> Offer:
    base = dict(waiting=False, session_id=4, safety_kind="", pain_flag=None)
    base.update(kw)
    return Offer(snap, **base)


def test_publisher_sends_changes_and_heartbeats_and_backs_off_quietly() -> None:
    clock, link = FakeClock(), FlakyLink()
    pub = StationPublisher(link, "S1", clock=clock, rate_hz=1e-6)  # driven by hand below
    try:
        assert not pub.publish_due()  # nothing offered yet
        pub.offer(_offer(_snap()))
        assert pub.publish_due()
        assert not pub.publish_due()  # unchanged: nothing to say
        clock.t += HEARTBEAT_S
        assert pub.publish_due()  # ... until the heartbeat is due
        pub.offer(_offer(_snap(rep_count=3, cue=Cue("x.y", "Slower", Severity.WARNING))))
        assert pub.publish_due()
        assert [(s.seq, s.rep_count) for s in link.published] == [(1, 2), (2, 2), (3, 3)]
        assert link.published[-1].cue_severity == "warning"
        link.up = False
        pub.offer(
            _offer(_snap(phase=ScreenPhase.STOPPED, safety_stop=True), safety_kind="overload")
        )
        assert not pub.publish_due()  # dropped, never raised
        clock.t += 0.1
        assert not pub.publish_due()  # backing off: not even tried
        assert pub.failed == 1
        link.up = True
        clock.t += 0.5
        assert pub.publish_due()
        last = link.published[-1]
        assert (last.seq, last.phase, last.safety_stop, last.safety_kind) == (
            4, "stopped", True, "overload",
        )  # fmt: skip
    finally:
        pub.close()
    assert link.closed


def test_a_kiosk_with_nobody_signed_in_shows_no_patient() -> None:
    s = status_from(_offer(_snap(), waiting=True), "S1", 1, 1_800_000_000.0)
    assert (s.phase, s.patient_code, s.session_id, s.rep_count, s.cue_text) == (
        IDLE,
        "",
        None,
        0,
        "",
    )
    assert s.machine_state == "simulated"


def test_the_loop_never_waits_for_the_publisher() -> None:
    """A publish stuck on the server (here: blocked until released) does not hold up
    ``offer``, which the display calls every frame."""
    release = threading.Event()

    class StuckLink(FlakyLink):
        def publish(self, status: StationStatus) -> None:
            release.wait(30)
            super().publish(status)

    link = StuckLink()
    pub = StationPublisher(link, "S1", rate_hz=100.0)
    try:
        pub.offer(_offer(_snap()))
        _wait_for(lambda: pub._lock.locked(), what="the publisher to be stuck")
        started = time.perf_counter()
        for i in range(1000):
            pub.offer(_offer(_snap(rep_count=i)))
        assert pub._lock.locked()  # still stuck, and the offers all returned
        assert time.perf_counter() - started < 5.0  # generous: no wait of any kind
    finally:
        release.set()
        pub.close()


def test_a_headless_session_publishes_its_state_and_its_safety_stop(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    url = pg_server.url(pg_server.new_database())
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    cmd = [sys.executable, str(ROOT / "main.py")]
    done = subprocess.run([*cmd, "patient", "add", "LBP-7", "--db", url, "--pin-stdin"],
                          input="482913\n", capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with open_store(url, journal_dir=tmp_path / "j", create=False) as store:
        listener = store.status_listener()
        listener.current()
        session = subprocess.Popen(
            [*cmd, "--exercise", "lumbar_extension", "--device", "sim:lumbar_extension",
             "--headless", "--db", url, "--patient", "LBP-7", "--station", "S1",
             "--seconds", "60", "--sim-arg=--overload-at=8"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        heard: list[StationStatus] = []
        try:

            def stopped() -> bool:
                heard.extend(listener.wait(1.0))
                return any(s.safety_stop for s in heard)

            _wait_for(stopped, timeout_s=90.0, what="the safety stop to be heard")
        finally:
            session.kill()
            session.communicate()
            listener.close()
        first, stop = heard[0], next(s for s in heard if s.safety_stop)
        assert first.station == "S1" and first.patient_code == "LBP-7"
        assert first.exercise_id == "lumbar_extension" and first.machine_state == "simulated"
        assert first.session_id == store.sessions("LBP-7")[-1].id
        assert (stop.phase, stop.safety_kind) == ("stopped", "overload")
        assert stop.cue_key == "safety.overload"
        seqs = [s.seq for s in heard]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert store.station_statuses()[0].seq >= stop.seq


def test_a_kiosk_visits_pain_reaches_the_dashboard_as_its_pain_flag(backend: Backend) -> None:
    """The kiosk visit's pain entries, through the station's status, to the dashboard's hub:
    a rise of 2 points or more, or pain of 7 or more, flags (live.js alerts on the flag)."""
    import json

    import pygame

    from app import kiosk_visit
    from app.inputs import InputChoice
    from app.loop import Runner, RunOptions
    from dashboard.live import StatusHub
    from exercises.library import get_exercise
    from feedback.app_window import Screen
    from feedback.intents import GivePain, NextStep
    from storage import ProgrammeItem
    from storage.station_status import VISIT

    code = "LBP-7"
    store = backend.open()
    store.ensure_patient(code)
    # A machine item at a station without the machine: not offered, so pain after comes next.
    store.save_programme(code, [ProgrammeItem("lumbar_extension", 1, 20)], "p")
    opts = RunOptions(InputChoice("none", "none", "machine only"),
                      get_exercise("lumbar_extension"), headless=True, kiosk=True, store=store,
                      station="S1", station_exercise=False)  # fmt: skip
    pygame.init()
    runner, screen = Runner(opts), Screen((1280, 720))
    hub = StatusHub(store.status_listener).start()
    events = hub.subscribe()

    def published() -> StationStatus:
        runner.snapshot()  # the frame's status offered to the publisher, as the loop does
        assert runner.publisher.publish_due(force=True)
        (row,) = store.station_statuses()
        return row

    def dashboard_hears(flag: bool | None) -> dict:
        def heard():
            while not events.empty():
                for s in json.loads(events.get_nowait())["stations"]:
                    if s["station"] == "S1" and s["pain_flag"] is flag:
                        return s
            return None

        return _wait_for(heard, what=f"the dashboard to hear pain_flag={flag}")

    try:
        assert (published().phase, published().pain_flag) == (IDLE, None)
        visit = kiosk_visit.begin(runner, code)
        s = published()
        assert (s.phase, s.patient_code, s.exercise_id, s.pain_flag) == (VISIT, code, "", None)
        kiosk_visit.apply(runner, visit, screen, GivePain(3))
        assert published().pain_flag is False  # asked, not flagged
        dashboard_hears(False)
        kiosk_visit.apply(runner, visit, screen, GivePain(5))  # a rise of 2 points
        s = published()
        assert (s.phase, s.patient_code, s.pain_flag, s.safety_stop) == (VISIT, code, True, False)
        seen = dashboard_hears(True)
        assert (seen["patient_code"], seen["phase"]) == (code, VISIT)
        kiosk_visit.apply(runner, visit, screen, NextStep())  # the summary ends
        assert not kiosk_visit.after_frame(runner, visit, screen)
        s = published()
        assert (s.phase, s.patient_code, s.pain_flag) == (IDLE, "", None)  # nobody there now

        visit = kiosk_visit.begin(runner, code)
        kiosk_visit.apply(runner, visit, screen, GivePain(7))  # 7 or more: at once
        assert published().pain_flag is True
        kiosk_visit.abandon(runner, visit, "idle", screen)
        assert published().pain_flag is None
        rose, high = store.visits(code)
        assert rose.flagged and rose.flag_reason == "pain rose by 2 points (3 to 5)"
        assert high.flagged and high.flag_reason == "pain 7 of 10"
    finally:
        hub.unsubscribe(events)
        hub.close()
        runner.close()
        screen.close()
        store.close()
        pygame.quit()
