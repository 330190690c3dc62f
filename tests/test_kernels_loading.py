"""Range of motion, controlled loading and a machine exercise through all checks, live and
batch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels.batch import analyse_session
from kernels.checks import O_COUNT, O_LOAD_OVER, ExerciseChecks
from kernels.loading import (
    ABOVE,
    BELOW,
    IN_BAND,
    LoadMonitor,
    compare_sides,
    load_band,
    movement_smoothness,
    sparc,
)
from kernels.rom import RangeOfMotion, track_range
from kernels.rules import Rule, RuleKind

FS = 1000.0  # machine samples a second


def test_progress_peak_and_pain_free_limit_on_a_rising_machine_angle():
    rom = RangeOfMotion(start=0.0, target=60.0, pain_free_limit=70.0)
    assert rom.limit_progress == pytest.approx(70 / 60)
    states = [rom.update(v) for v in (0.0, 30.0, 60.0, 70.0, 70.5, 50.0)]
    assert [s.progress for s in states] == pytest.approx([0, 0.5, 1, 70 / 60, 70.5 / 60, 50 / 60])
    assert [s.over_limit for s in states] == [False, False, False, False, True, False]
    assert [s.tripped for s in states] == [False] * 4 + [True, True]
    assert states[-1].peak == pytest.approx(70.5 / 60)
    rom.new_rep()
    assert rom.update(np.array([10.0, np.nan, 20.0])).peak == pytest.approx(20 / 60)
    with pytest.raises(ValueError, match="beyond the start"):
        RangeOfMotion(0.0, 60.0, pain_free_limit=-5.0)


def test_safety_flag_inside_a_frame_of_many_samples():
    # 33 samples a frame; the limit is crossed by the 20th sample of frame 3.
    v = np.linspace(0.0, 80.0, 33 * 6)
    first = int(np.argmax(v > 50.0))
    offsets = np.arange(0, v.size + 1, 33)
    track = track_range(v, 0.0, 40.0, 50.0, frame_start=offsets)
    assert np.flatnonzero(track.over_limit)[0] == first // 33
    assert not track.tripped[: first // 33].any()


def test_load_band_rate_limit_and_time_under_tension():
    band = load_band(500.0, 0.2, 0.4)
    assert band == (100.0, 200.0)
    mon = LoadMonitor(band, limit_n=300.0, rate_limit_n_s=400.0, rate_hz=20.0)
    t = np.arange(0.0, 2.0, 1 / FS)
    f = np.where(t < 1.0, 150.0, 150.0 + 1000.0 * (t - 1.0))  # steady, then a 1000 N/s ramp
    states = [mon.update(t[i : i + 33], f[i : i + 33]) for i in range(0, t.size, 33)]
    t_frame = np.array([t[min(i + 32, t.size - 1)] for i in range(0, t.size, 33)])
    band_of = np.array([s.band for s in states])
    assert (band_of[t_frame < 1.0] == IN_BAND).all()
    assert (band_of[t_frame > 1.06] == ABOVE).all()
    rate_flags = np.array([s.rate_exceeded for s in states])
    assert not rate_flags[t_frame < 1.0].any() and rate_flags[t_frame > 1.2].all()
    over = np.array([s.over_limit for s in states])
    first_over = int(np.argmax(f > 300.0))
    assert np.flatnonzero(over)[0] == first_over // 33
    assert states[-1].tut_s == pytest.approx(t[-1] - t[0], abs=1e-9)
    rep = mon.finish_rep()
    assert rep.peak_force_n == pytest.approx(f.max())
    assert rep.in_band_share == pytest.approx(np.mean((f >= 100) & (f <= 200)))
    assert mon.update(np.array([2.0]), np.array([50.0])).band == BELOW


def test_time_under_tension_pauses_below_tension_and_caps_gaps():
    mon = LoadMonitor((100.0, 200.0), tension_n=80.0, max_gap_s=0.1)
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
    f = np.array([150.0, 150.0, 50.0, 150.0, 150.0, 150.0])
    s = mon.update(t, f)
    # Credited: 0 -> 0.5 and 1.5 -> 2.0 and 2.0 -> 3.0, each capped at 0.1 s.
    assert s.tut_s == pytest.approx(0.3)


def min_jerk(t, t0, t1, a, b):
    tau = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return a + (b - a) * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)


def test_smoothness_scores_a_smooth_rep_above_a_hesitant_one():
    t = np.arange(0.0, 4.0, 1 / FS)
    smooth = min_jerk(t, 0.0, 4.0, 0.0, 60.0)
    hesitant = min_jerk(t, 0.0, 2.0, 0.0, 30.0) + min_jerk(t, 2.0, 4.0, 0.0, 30.0)
    s_smooth = movement_smoothness(t, smooth)
    s_hesitant = movement_smoothness(t, hesitant)
    assert -1.7 < s_smooth < -1.3
    assert s_hesitant < s_smooth - 0.5
    rng = np.random.default_rng(1)
    noisy = smooth + rng.normal(0.0, 0.2, t.size)  # 0.2 deg encoder noise at 1 kHz
    mon = LoadMonitor((0.0, 1.0))
    for i in range(0, t.size, 33):
        mon.update(t[i : i + 33], np.zeros(t[i : i + 33].size), noisy[i : i + 33])
    assert mon.finish_rep().smoothness_sparc == pytest.approx(s_smooth, abs=0.1)
    assert math.isnan(sparc(np.zeros(50), 100.0))
    assert math.isnan(movement_smoothness([0.0, 1.0], [0.0, 1.0]))


def test_left_right_comparison():
    even = compare_sides([40.0, 42.0], [41.0, np.nan], tolerance_pct=10.0)
    assert even.asymmetry_pct == pytest.approx(0.0) and even.balanced
    uneven = compare_sides([30.0], [45.0], tolerance_pct=10.0)
    assert uneven.asymmetry_pct == pytest.approx(-40.0) and not uneven.balanced
    assert math.isnan(compare_sides([], [1.0]).asymmetry_pct)


def machine_session(n_reps=4, period_s=5.0, fps=30.0):
    """Lumbar extension on the machine: angle 0 -> 60 deg and back with a minimum-jerk
    profile each rep, force in the band, 1 kHz samples grouped into camera frames."""
    t = np.arange(0.0, n_reps * period_s + 1.0, 1 / FS)
    angle = np.zeros_like(t)
    for k in range(n_reps):
        t0 = 0.5 + k * period_s
        angle += min_jerk(t, t0, t0 + 2.0, 0.0, 60.0) - min_jerk(t, t0 + 2.5, t0 + 4.5, 0.0, 60.0)
    force = 150.0 + angle  # 150 .. 210 N
    frames = np.arange(0.0, t[-1], 1 / fps)
    offsets = np.searchsorted(t, frames, side="right")
    offsets = np.r_[0, offsets[1:], t.size].astype(np.int64)
    return t, angle, force, frames, offsets


def test_machine_exercise_live_equals_batch_and_stops_on_the_force_limit():
    t, angle, force, frames, offsets = machine_session()
    force = force.copy()
    spike = int(np.searchsorted(t, 12.3456))
    force[spike] = 400.0  # one sample over the hard limit
    rules = [Rule("seen", RuleKind.VISIBILITY, (11, 23), low=0.5, severity=1)]
    checks = ExerciseChecks(
        rules,
        start=0.0,
        target=55.0,
        signal_rule=None,
        pain_free_limit=65.0,
        out_is_concentric=True,
        load_band_n=(120.0, 230.0),
        load_options=dict(limit_n=350.0, rate_limit_n_s=5000.0),
        rep_options=dict(tempo=(1.2, 0.8, 1.2)),
    )
    image = np.zeros((frames.size, 33, 4))
    image[:, :, 3] = 1.0
    live = []
    for f in range(frames.size):
        a, b = offsets[f], offsets[f + 1]
        live.append(
            checks.update(
                frames[f],
                image[f, :, :2],
                np.zeros((33, 3)),
                image[f, :, 3],
                t[a:b],
                force[a:b],
                angle[a:b],
            )
        )
    reps = [r for fr in live for r in fr.reps]
    loads = [x for fr in live for x in fr.loads]
    assert len(reps) == 4 and all(r.counted and r.tempo_ok for r in reps)
    # Phases run between the rest threshold (10 % of the range: 5.5 deg) and the top zone
    # (within 5 % of the range of the peak, in 1 % steps): for the first rep, straight from
    # the signal.
    p = angle / 55.0
    k = np.floor((p[t < 5].max() - 0.05) / 0.01)
    top = np.flatnonzero((np.floor(p / 0.01) >= k) & (t < 5))
    start = t[np.flatnonzero((p <= 0.1) & (t < t[top[0]]))[-1]]
    end = t[np.flatnonzero((p <= 0.1) & (t > t[top[-1]]))[0]]
    first = reps[0]
    assert (first.start_s, first.end_s) == pytest.approx((start, end), abs=1e-9)
    assert first.out_s == pytest.approx(t[top[0]] - start, abs=1e-9)
    assert first.hold_s == pytest.approx(t[top[-1]] - t[top[0]], abs=1e-9)
    assert first.concentric_s == first.out_s and first.eccentric_s == first.back_s
    assert all(x.tut_s > 0.9 for x in loads)
    # Four identical smooth reps score alike; each phase is cut at the rest threshold and the
    # top zone, which costs a little against a whole point-to-point movement (-1.4).
    scores = [x.smoothness_sparc for x in loads]
    assert all(-2.0 < s < -1.6 for s in scores) and max(scores) - min(scores) < 0.02
    stop = [i for i, fr in enumerate(live) if fr.safety_stop]
    assert stop == [int(np.searchsorted(offsets, spike, side="right")) - 1]
    batch = analyse_session(checks, frames, image, None, t, force, angle, offsets)
    assert batch.reps == tuple(reps)
    assert batch.rep_loads() == tuple(loads)
    assert batch.frame[:, O_COUNT].tolist() == [fr.count for fr in live]
    assert np.flatnonzero(batch.frame[:, O_LOAD_OVER]).tolist() == stop


def test_static_hold_times_only_correct_posture_and_keeps_time_under_tension():
    # An isometric hold: the caller says the patient is in position; trunk lean is the rule.
    lean = Rule("lean", RuleKind.INCLINATION, (23, 11), high=20.0, debounce_s=0.1)
    checks = ExerciseChecks(
        [lean], start=0.0, target=1.0, load_band_n=(100.0, 200.0), hold_target_s=3.0
    )
    xy = np.full((33, 2), np.nan)
    vis = np.zeros(33)
    vis[[11, 23]] = 1.0
    results = []
    for f in range(150):  # 5 s at 30 fps; leaning 40 deg from 2.0 s to 3.0 s
        t = f / 30
        deg = 40.0 if 2.0 <= t < 3.0 else 5.0
        xy[23] = (0.5, 0.6)
        xy[11] = (0.5 + 0.3 * math.sin(math.radians(deg)), 0.6 - 0.3 * math.cos(math.radians(deg)))
        dev_t = t - np.arange(16)[::-1] / 500.0
        results.append(
            checks.update(
                t,
                xy,
                np.full((33, 3), np.nan),
                vis,
                dev_t,
                np.full(16, 150.0),
                None,
                in_position=True,
            )
        )
    held = np.array([r.held_s for r in results])
    faults = np.array([not r.posture_ok for r in results])
    assert faults.any()
    # The timer never moves on a frame with a fault, and restarts counting after it.
    assert np.all(np.diff(held)[faults[1:]] == 0.0)
    assert held[-1] == pytest.approx(5.0 - 1 / 30 - (faults.sum() + 1) / 30, abs=1e-9)
    assert checks.hold_done
    # Time under tension runs over the whole hold, posture or not.
    assert results[-1].tut_s == pytest.approx(dev_t[-1] - (0 - 15 / 500.0), abs=1e-9)
