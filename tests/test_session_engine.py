"""Session engine on synthetic input: phases, sets, safety, cues, personal targets."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from body.pose import Pose
from exercises.library import get_exercise
from session.cues import CueSelector
from session.engine import SessionConfig, SessionEngine
from session.events import (
    Command,
    CommandInput,
    EndInput,
    MachineBatch,
    PoseInput,
    TargetChange,
    TargetKey,
)
from session.phases import Phase, PhaseMachine, Trigger
from session.snapshot import Severity
from session.targets import PatientProfile, RangeAssessment, resolve_targets

FRAME = 1 / 60


def machine_engine(exercise="lumbar_flexion", reps=2, sets=2, rest_s=2.0, **cfg):
    ex = get_exercise(exercise)
    ex = replace(ex, dose=replace(ex.dose, reps=reps, sets=sets, rest_s=rest_s))
    return SessionEngine(ex, config=SessionConfig(setup_s=0.5, countdown_s=1.0, **cfg))


def feed(engine, t0, t1, angle_fn, force_fn=lambda t: 200.0, rate=1000):
    """Machine samples at ``rate`` Hz, delivered one display frame at a time."""
    t = t0
    while t < t1:
        ts = np.arange(t, t + FRAME, 1 / rate)
        engine.feed(
            MachineBatch(
                ts, np.array([angle_fn(x) for x in ts]), np.array([force_fn(x) for x in ts])
            )
        )
        engine.snapshot(t + FRAME)
        t += FRAME


def rep_wave(start, period=4.8, amplitude=48.0):
    """Slow reps from 0 deg out to ``amplitude`` and back, one every ``period`` s from ``start``."""

    def angle(t):
        u = (t - start) % period / period if t >= start else 0.0
        return amplitude * (0.5 - 0.5 * math.cos(2 * math.pi * u)) if t >= start else 0.0

    return angle


def test_sets_rest_and_done_follow_the_dose():
    eng = machine_engine()
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    assert eng.phases.phase == Phase.WORKING  # setup 0.5 s + countdown 1 s
    feed(eng, 2.0, 12.0, rep_wave(2.0))
    assert eng.set_index == 2 or eng.phases.phase == Phase.REST
    feed(eng, 12.0, 30.0, rep_wave(2.0))
    assert eng.phases.phase == Phase.DONE
    assert eng.rep_count == 4
    path = [(str(tr.source), str(tr.target)) for tr in eng.phases.log]
    assert (
        ("working", "rest") in path
        and ("rest", "countdown") in path
        and ("working", "done") in path
    )
    assert all(tr.reason for tr in eng.phases.log)


def test_overload_stops_on_the_frame_of_the_sample():
    eng = machine_engine()
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    limit = eng.targets.load_limit_n
    forces = np.full(16, 200.0)
    forces[9] = limit + 1.0
    eng.feed(MachineBatch(np.linspace(2.0, 2.015, 16), np.zeros(16), forces))
    snap = eng.snapshot(2.016)
    assert snap.safety_stop and snap.phase == "stopped"
    assert snap.cue.severity == Severity.SAFETY and snap.cue.key == "safety.overload"
    assert eng.safety_events[0].value == limit + 1.0
    # Stopped stays stopped, whatever arrives, until acknowledged.
    feed(eng, 2.02, 4.0, rep_wave(2.0))
    assert eng.phases.phase == Phase.STOPPED and eng.rep_count == 0
    assert eng.accepts(Command.ACKNOWLEDGE)
    eng.feed(CommandInput(4.0, Command.ACKNOWLEDGE))
    assert eng.phases.phase == Phase.PAUSED
    assert eng.accepts(Command.RESUME)
    eng.feed(CommandInput(4.1, Command.RESUME))
    assert eng.phases.phase == Phase.SETUP


def test_pain_free_limit_stops_on_the_first_sample_past_it_never_before():
    eng = machine_engine()  # lumbar_flexion: pain-free limit 56 deg
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    limit = eng.targets.pain_free_limit
    angles = np.array([50.0, 54.0, limit, limit + 0.01, 60.0])
    eng.feed(MachineBatch(np.linspace(2.0, 2.004, 3), angles[:3], np.full(3, 200.0)))
    assert eng.phases.phase == Phase.WORKING  # exactly on the limit is not past it
    eng.feed(MachineBatch(np.linspace(2.005, 2.006, 2), angles[3:], np.full(2, 200.0)))
    assert eng.phases.phase == Phase.STOPPED
    assert eng.safety_events[0].value == pytest.approx(limit + 0.01)
    assert eng.snapshot(2.01).cue.key == "safety.pain_free_range"


def _pose(t, visible=True):
    if not visible:
        return Pose.empty(t)
    image = np.zeros((33, 4), np.float32)
    image[:, 0] = 0.5
    image[:, 1] = np.linspace(0.1, 0.9, 33)
    image[:, 3] = 1.0
    image[[23, 24], :2] = (0.5, 0.55)  # hips
    image[[25, 26], :2] = (0.55, 0.7)  # knees
    image[[27, 28], :2] = (0.5, 0.85)  # ankles
    image[[11, 12], :2] = (0.5, 0.3)  # shoulders
    return Pose(t, image, np.full((33, 3), np.nan, np.float32))


def test_person_lost_pauses_without_faults_and_resumes():
    eng = SessionEngine(get_exercise("squat"), config=SessionConfig(setup_s=0.2, countdown_s=0.2))
    t = 0.0
    while t < 1.0:
        eng.feed(PoseInput(t, _pose(t)))
        t += 1 / 30
    assert eng.phases.phase == Phase.WORKING
    while t < 2.5:
        eng.feed(PoseInput(t, _pose(t, visible=False)))
        t += 1 / 30
    assert eng.phases.phase == Phase.PAUSED
    assert eng.snapshot(t).cue.key == "session.person_lost"
    assert eng.fault_log == []
    eng.feed(PoseInput(t, _pose(t)))
    assert eng.phases.phase == Phase.WORKING


def test_user_pause_needs_user_resume():
    m = PhaseMachine(Phase.WORKING)
    assert m.fire(Trigger.PAUSE, 1.0)
    assert not m.fire(Trigger.PERSON_BACK, 1.5)  # only a person-lost pause ends by itself
    assert m.fire(Trigger.RESUME, 2.0) and m.phase == Phase.WORKING
    assert not m.fire(Trigger.COUNTDOWN_OVER, 2.1)  # not a transition of "working"


def test_cue_selector_minimum_time_and_safety_preemption():
    sel = CueSelector(min_show_s=1.5)
    assert sel.choose(0.0, [("squat.trunk_lean", Severity.FAULT, 80)]).key == "squat.trunk_lean"
    # The fault clears, but the cue stays for its minimum time ...
    assert sel.choose(0.5, []).key == "squat.trunk_lean"
    # ... unless something more severe arrives, which replaces it at once.
    assert sel.choose(0.6, [("safety.overload", Severity.SAFETY, 100)]).key == "safety.overload"
    assert (
        sel.choose(
            5.0,
            [
                ("safety.overload", Severity.SAFETY, 100),
                ("session.good_form", Severity.POSITIVE, 1),
            ],
        ).key
        == "safety.overload"
    )
    assert [e.key for e in sel.log] == ["squat.trunk_lean", "safety.overload"]


def test_cue_language_files():
    sel = CueSelector(lang="de")
    assert (
        sel.choose(0.0, [("squat.depth", Severity.WARNING, 50)]).text
        == "Die Knie etwas mehr beugen"
    )


def test_personal_targets_from_the_profile():
    ex = get_exercise("lumbar_extension")
    profile = PatientProfile(
        "P-0042",
        {"lumbar_extension": RangeAssessment(start=60.0, end=10.0, pain_free_limit=5.0)},
        {"lumbar_extension": 900.0},  # within the exercise's ceiling (930 N)
    )
    tg = resolve_targets(ex, profile)
    assert tg.start == 60.0 and tg.target == pytest.approx(10.0) and tg.pain_free_limit == 5.0
    assert tg.load_band_n == pytest.approx((180.0, 360.0)) and tg.load_limit_n == pytest.approx(
        675.0
    )
    assert tg.source == "profile"
    defaults = resolve_targets(ex, None)
    assert defaults.source == "defaults" and defaults.target == ex.signal.target


def test_therapist_adjusts_the_range_target_live():
    eng = machine_engine()
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    eng.feed(TargetChange(2.0, TargetKey.RANGE_TARGET, -0.25))  # 48 deg -> 36 deg
    assert eng.targets.target == pytest.approx(36.0)
    feed(eng, 2.0, 7.0, rep_wave(2.0, amplitude=38.0))
    assert eng.rep_count == 1
    assert any("range_target" in tr.reason for tr in eng.phases.log)


def _plank_pose(t, in_plank=True):
    image = np.zeros((33, 4), np.float32)
    image[:, 3] = 1.0
    image[:, :2] = (0.5, 0.5)
    if in_plank:  # body along the floor, side view
        image[[11, 12], :2] = (0.30, 0.50)  # shoulders
        image[[23, 24], :2] = (0.55, 0.53)  # hips
        image[[27, 28], :2] = (0.80, 0.56)  # ankles
    else:  # standing up
        image[[11, 12], :2] = (0.50, 0.30)
        image[[23, 24], :2] = (0.50, 0.55)
        image[[27, 28], :2] = (0.50, 0.85)
    return Pose(t, image, np.full((33, 3), np.nan, np.float32))


def test_holds_need_a_release_between_them():
    ex = get_exercise("forearm_plank")
    ex = replace(ex, dose=replace(ex.dose, sets=1, reps=2, hold_s=1.0))
    eng = SessionEngine(ex, config=SessionConfig(setup_s=0.1, countdown_s=0.1))
    t = 0.0

    def run(until, in_plank):
        nonlocal t
        while t < until:
            eng.feed(PoseInput(t, _plank_pose(t, in_plank)))
            t += 1 / 30

    run(2.0, True)
    assert len(eng.holds) == 1 and eng.holds[0].completed
    run(4.5, True)  # still in position: no second hold without relaxing first
    assert len(eng.holds) == 1
    run(5.0, False)
    run(7.5, True)
    assert len(eng.holds) == 2 and eng.phases.phase == Phase.DONE


def test_profile_side_fixes_the_working_side():
    profile = PatientProfile("P-1", side="right")
    eng = SessionEngine(get_exercise("squat"), profile=profile)
    image = np.zeros((33, 4), np.float32)
    image[:, :2] = np.linspace(0.1, 0.9, 33)[:, None]
    image[:, 3] = 0.2
    image[[23, 25, 27], 3] = 1.0  # the left leg is far better seen ...
    eng.feed(PoseInput(0.0, Pose(0.0, image, np.full((33, 3), np.nan, np.float32))))
    assert eng.checks.side == 1  # ... but the therapist chose the right


@pytest.mark.parametrize("phase_until", [0.2, 1.0])  # set-up, then countdown
def test_pain_free_limit_stops_outside_the_working_phase_too(phase_until):
    eng = machine_engine()  # lumbar_flexion: pain-free limit 56 deg
    feed(eng, 0.0, phase_until, lambda t: 0.0)
    assert eng.phases.phase in (Phase.SETUP, Phase.COUNTDOWN)
    eng.feed(MachineBatch(np.array([phase_until + 0.01]), np.array([60.0]), np.array([150.0])))
    assert eng.phases.phase == Phase.STOPPED
    assert eng.snapshot().cue.key == "safety.pain_free_range"


def test_breach_after_the_summary_still_stops():
    eng = machine_engine()
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    eng.feed(EndInput(2.0))
    assert eng.phases.phase == Phase.DONE
    eng.feed(
        MachineBatch(np.array([2.1]), np.array([0.0]), np.array([eng.targets.load_limit_n * 2]))
    )
    assert eng.phases.phase == Phase.STOPPED and eng.snapshot().cue.severity == Severity.SAFETY


def test_a_held_overload_is_one_event_and_a_new_breach_after_acknowledging_another():
    eng = machine_engine()
    feed(eng, 0.0, 2.0, lambda t: 0.0)
    over = eng.targets.load_limit_n + 50
    feed(eng, 2.0, 5.0, lambda t: 0.0, force_fn=lambda t: over)
    assert len(eng.safety_events) == 1
    eng.feed(CommandInput(5.0, Command.ACKNOWLEDGE))
    feed(eng, 5.0, 5.5, lambda t: 0.0, force_fn=lambda t: over)
    assert len(eng.safety_events) == 2


def test_range_target_is_never_set_past_the_pain_free_limit():
    eng = machine_engine()  # target 48, limit 56
    eng.feed(TargetChange(1.0, TargetKey.RANGE_TARGET, 0.5))
    assert eng.targets.target == eng.targets.pain_free_limit == 56.0
