"""The kiosk's window loop at the ends of sessions: the demo recording running out with nobody
signed in, a session whose source ends, and ``main.py --kiosk`` on a machine without a camera."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame
import pytest

from app.inputs import BUNDLED_RECORDING
from app.streams import ReplayPoseStream
from devtools.kiosk_fixtures import PATIENTS
from devtools.kiosk_soak import FPS, SUMMARY_S, Soak
from feedback.kiosk import KioskState
from recording.replay import open_replay
from storage import open_store
from tests.helpers import run_main

CODE = "4711"


@pytest.fixture
def rig(tmp_path):
    pygame.init()
    soak = Soak(tmp_path, seed=3)
    yield soak
    soak.runner.close()
    soak.runner.finish_storage()
    soak.screen.close()
    soak.store.close()
    pygame.quit()


def test_demo_recording_ends_with_nobody_signed_in_and_plays_on(rig):
    """Before: Runner.restart started a session for the empty code and check_patient_code('')
    raised: a traceback 7 s after ``main.py --kiosk`` on a machine without a camera."""
    runner = rig.runner
    runner.stream = ReplayPoseStream(open_replay(BUNDLED_RECORDING), paced=False).start()
    runner.opts.loop_replay = True
    streams = {id(runner.stream)}
    for _ in range(20_000):  # a bound, not a timing: each pass ends when its poses are drained
        assert rig.frame()
        streams.add(id(runner.stream))
        if len(streams) >= 4:
            break
    assert len(streams) >= 4  # three ends of the recording, three fresh passes
    assert rig.kiosk.state == KioskState.WELCOME
    assert runner.waiting and runner.sink is None and runner.engine.rep_count == 0
    assert all(rig.store.sessions(code) == () for code in PATIENTS)  # nothing stored


def test_session_whose_source_ends_shows_its_summary_then_welcome(rig):
    """Before: the kiosk stayed on the last patient's screen while a person was in view
    (20 s seen with a 4 s idle timeout): the end of a session never reached the kiosk."""
    rig.sign_in(CODE, PATIENTS[CODE])
    assert rig.kiosk.state == KioskState.SESSION
    rig.camera.ends_after = rig.camera.index + len(rig.camera.poses)  # one pass, then the end
    frames = 0
    while not rig.camera.exhausted:
        assert rig.frame(present=True)
        frames += 1
    assert rig.runner.engine.rep_count > 0
    # The session ends with its source; the last landmarks still show a person.
    for _ in range(3):
        rig.frame(present=True)
    assert rig.runner.engine.phases.phase == "done" and rig.kiosk.session_over
    assert rig.kiosk.state == KioskState.SESSION  # the summary, for SUMMARY_S
    ended_at = rig.clock.now
    while rig.kiosk.state != KioskState.WELCOME:
        assert rig.clock.now - ended_at <= SUMMARY_S + 2 / FPS
        rig.frame(present=True)
    rig.frame(present=True)
    assert rig.welcome_is_pristine()
    snap = rig.runner.snapshot()
    assert snap.patient_code == "" and snap.rep_count == 0 and snap.frame is None
    (stored,) = rig.store.sessions(CODE)
    assert stored.status == "finished" and stored.end_reason == "end_of_source"
    assert len(rig.store.load_session(stored.id).reps) > 0


def test_next_patient_starts_from_nothing_of_the_last(rig):
    rig.sign_in(CODE, PATIENTS[CODE])
    for _ in range(200):
        rig.frame(present=True)
    first = rig.runner.engine
    assert first.rep_count > 0 or first.counts.frames > 0
    rig.play(rig._wait(10.0, present=False))  # walks away: idle ends the session
    assert rig.kiosk.state == KioskState.WELCOME and rig.runner.engine is not first
    rig.sign_in("5150", PATIENTS["5150"])
    assert rig.runner.engine.patient_code == "5150"
    assert rig.runner.engine.rep_count == 0 and rig.runner.snapshot().frame is None
    assert [len(rig.store.sessions(c)) for c in (CODE, "5150")] == [1, 1]
    assert rig.store.sessions(CODE)[0].end_reason == "stopped_by_patient"  # walked away


def test_main_kiosk_without_a_camera_runs_past_the_end_of_the_demo(tmp_path, monkeypatch):
    from vision.sources import camera_available

    if camera_available(0):
        pytest.skip("this machine has a camera: the kiosk would use it, not the demo recording")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "kiosk.sqlite"
    # The demo recording lasts about 7 s; the kiosk runs on past its end and restarts it.
    proc = run_main("--kiosk", "--seconds", "11", "--db", str(db), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "no therapist PIN set" in proc.stderr  # said once, at start
    with open_store(db) as store:
        assert store.list_patients() == ()
