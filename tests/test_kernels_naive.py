"""Every kernel against its plain-Python reference in kernels/naive.py, on random and
adversarial input: NaN, inf, invisible landmarks, repeated and backwards times, empty input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import naive
from kernels.angles import joint_angles
from kernels.batch import analyse_session
from kernels.checks import O_COUNT, O_HELD, O_PHASE, ExerciseChecks
from kernels.loading import LoadMonitor, track_loading
from kernels.reps import RepCounter, count_reps, hold_times
from kernels.rom import RangeOfMotion, track_range
from kernels.rules import FAULT, WARNING, Rule, RuleKind, RuleSet
from kernels.smoothing import OneEuroFilter

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Mostly ordinary numbers, sometimes the values that break kernels.
odd = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e-300, -1e-300])
coord = st.one_of(st.floats(-2.0, 2.0, allow_nan=False), odd)
calm = st.floats(-2.0, 2.0, allow_nan=False)


def close(a, b) -> bool:
    return bool(
        np.allclose(
            np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-9, equal_nan=True
        )
    )


@st.composite
def times(draw, n, allow_backwards=True):
    """n frame times, mostly rising by a frame, sometimes repeated or (optionally) backwards."""
    t = 0.0
    out = []
    for _ in range(n):
        step = draw(
            st.sampled_from([1 / 30] * 6 + [0.0, 0.2] + ([-0.05] if allow_backwards else []))
        )
        t += step
        out.append(t)
    return out


# ---------------------------------------------------------------------------------------------
# smoothing and angles (the foundation kernels)


@SETTINGS
@given(st.data(), st.integers(1, 4), st.integers(0, 25))
def test_one_euro_matches_reference(data, n, frames):
    xs = [[data.draw(coord) for _ in range(n)] for _ in range(frames)]
    ts = data.draw(times(frames))
    beta = data.draw(st.floats(0.0, 2.0))
    f = OneEuroFilter(n, min_cutoff=1.2, beta=beta, d_cutoff=1.0)
    got = [f(np.array(x), t) for x, t in zip(xs, ts, strict=True)]
    want = naive.one_euro(xs, ts, 1.2, beta, 1.0)
    assert close(got, want) if frames else got == []


@SETTINGS
@given(st.data(), st.sampled_from([2, 3]), st.integers(0, 8))
def test_joint_angles_match_reference(data, dims, k):
    pts = [tuple(data.draw(coord) for _ in range(dims)) for _ in range(6)]
    tri = [tuple(data.draw(st.integers(0, 5)) for _ in range(3)) for _ in range(k)]
    got = joint_angles(np.array(pts), np.array(tri, dtype=np.int64).reshape(k, 3))
    assert close(got, naive.joint_angles(pts, tri))
    finite = got[np.isfinite(got)]
    assert np.all((finite >= 0) & (finite <= 180))


# ---------------------------------------------------------------------------------------------
# posture rules

N_LM = 8  # a small skeleton keeps collisions between a rule's landmarks likely


@st.composite
def rules(draw):
    kind = draw(st.sampled_from(list(RuleKind)))
    lo_n, hi_n = {
        RuleKind.ANGLE: (3, 3),
        RuleKind.INCLINATION: (2, 2),
        RuleKind.ALIGNMENT: (3, 3),
        RuleKind.SYMMETRY: (6, 6),
        RuleKind.OFFSET: (4, 4),
        RuleKind.ROTATION: (4, 4),
        RuleKind.LATERAL_LEAN: (4, 4),
        RuleKind.VISIBILITY: (1, 6),
    }[kind]
    n = draw(st.integers(lo_n, hi_n))
    lms = tuple(draw(st.integers(0, N_LM - 1)) for _ in range(n))
    scale = 1.0 if kind in (RuleKind.OFFSET, RuleKind.VISIBILITY) else 60.0
    a = draw(st.floats(-1.0, 1.0)) * scale
    w = draw(st.floats(0.0, 1.0)) * scale
    low = draw(st.sampled_from([a, -math.inf]))
    high = a + w
    width = high - low if math.isfinite(low) else w
    return Rule(
        key="r",
        kind=kind,
        landmarks=lms,
        low=low,
        high=high,
        fault_margin=draw(st.sampled_from([0.0, 0.1 * scale, math.inf])),
        severity=draw(st.sampled_from([WARNING, FAULT])),
        space="world" if kind == RuleKind.ROTATION else draw(st.sampled_from(["image", "world"])),
        axis=draw(st.sampled_from(["vertical", "horizontal"])),
        hysteresis=draw(st.floats(0.0, 1.0)) * 0.5 * width,
        debounce_s=draw(st.sampled_from([0.0, 0.05, 0.1])),
        min_visibility=draw(st.sampled_from([0.0, 0.5])),
    )


@st.composite
def poses(draw, frames):
    out = []
    for _ in range(frames):
        xy = [(draw(coord), draw(coord)) for _ in range(N_LM)]
        wd = [(draw(coord), draw(coord), draw(coord)) for _ in range(N_LM)]
        vis = [draw(st.one_of(st.floats(0.0, 1.0), st.just(math.nan))) for _ in range(N_LM)]
        out.append((xy, wd, vis))
    return out


@SETTINGS
@given(st.data(), st.integers(1, 6), st.integers(0, 12), st.sampled_from([1.0, 16 / 9]))
def test_rules_match_reference(data, n_rules, frames, aspect):
    rule_list = [data.draw(rules()) for _ in range(n_rules)]
    rule_list = [replace(r, key=f"k{i}") for i, r in enumerate(rule_list)]
    ts = data.draw(times(frames))
    seq = data.draw(poses(frames))
    rs = RuleSet(rule_list, aspect=aspect, n_landmarks=N_LM)
    ref = naive.NaiveRules(rule_list, aspect=aspect)
    for (xy, wd, vis), t in zip(seq, ts, strict=True):
        status, value = rs.evaluate(np.array(xy), np.array(wd), np.array(vis), t)
        want_status, want_value = ref.evaluate(xy, wd, vis, t)
        assert status.tolist() == want_status
        assert close(value, want_value)
    # Batch over the same frames from a fresh state gives the same statuses.
    if frames:
        img = np.concatenate(
            [np.array([p[0] for p in seq]), np.array([p[2] for p in seq])[..., None]], axis=2
        )
        b_status, _ = rs.run(img, np.array([p[1] for p in seq]), np.array(ts))
        fresh = naive.NaiveRules(rule_list, aspect=aspect)
        want = [fresh.evaluate(xy, wd, vis, t)[0] for (xy, wd, vis), t in zip(seq, ts, strict=True)]
        assert b_status.tolist() == want


# ---------------------------------------------------------------------------------------------
# range of motion

signal = st.one_of(st.floats(0.0, 200.0, allow_nan=False), odd)


@SETTINGS
@given(st.data(), st.integers(0, 15), st.booleans())
def test_range_of_motion_matches_reference(data, frames, down):
    start, target = (170.0, 70.0) if down else (30.0, 130.0)
    limit = data.draw(st.sampled_from([math.nan, 60.0 if down else 140.0]))
    blocks = [data.draw(st.lists(signal, max_size=4)) for _ in range(frames)]
    rom = RangeOfMotion(start, target, limit)
    live = [rom.update(np.array(b, dtype=float)) for b in blocks]
    want = naive.rom(blocks, start, target, limit)
    assert [(s.over_limit, s.tripped) for s in live] == [(w[2], w[3]) for w in want]
    assert close([(s.progress, s.peak) for s in live], [(w[0], w[1]) for w in want]) or not frames
    sizes = np.array([0] + [len(b) for b in blocks]).cumsum()
    flat = np.array([v for b in blocks for v in b], dtype=float)
    track = track_range(flat, start, target, limit, frame_start=sizes)
    assert track.over_limit.tolist() == [w[2] for w in want]


@SETTINGS
@given(st.lists(st.floats(100.0, 185.0), min_size=1, max_size=40), st.integers(1, 5))
def test_safety_flag_fires_on_the_first_frame_past_the_limit_never_before(path, per_frame):
    # A knee going down toward a pain-free limit of 80 deg (start 170, target 90).
    limit = 80.0
    values = [*path, 79.99, *path]
    blocks = [values[i : i + per_frame] for i in range(0, len(values), per_frame)]
    rom = RangeOfMotion(170.0, 90.0, limit)
    flags = [rom.update(np.array(b)).over_limit for b in blocks]
    first_past = next(i for i, b in enumerate(blocks) if any(v < limit for v in b))
    assert flags.index(True) == first_past
    assert not any(flags[:first_past])


# ---------------------------------------------------------------------------------------------
# reps and hold


@st.composite
def rep_signals(draw):
    """A random walk between rest and target with jumps, NaN and stale timestamps."""
    n = draw(st.integers(0, 120))
    ts = draw(times(n))
    v = 170.0
    vs = []
    for _ in range(n):
        v = draw(st.sampled_from([v, v - 15.0, v + 15.0, v - 40.0, v + 40.0, 60.0, 170.0]))
        v = min(max(v, 40.0), 185.0)
        vs.append(draw(st.sampled_from([v] * 8 + [math.nan, math.inf])))
    return ts, vs


@SETTINGS
@given(
    rep_signals(),
    st.booleans(),
    st.sampled_from([(2.0, math.nan, 2.0), (1.0, 0.5, 1.0)]),
    st.booleans(),
)
def test_rep_counter_matches_reference(sig, down, tempo, relative):
    ts, vs = sig
    if not down:
        vs = [200.0 - v for v in vs]
    start, target = (170.0, 70.0) if down else (30.0, 130.0)
    phases, want = naive.reps(ts, vs, start, target, tempo=tempo, relative=relative)
    counter = RepCounter(start, target, tempo=tempo, relative=relative)
    got = []
    live_phases = []
    for t, v in zip(ts, vs, strict=True):
        s = counter.update(t, v)
        live_phases.append(int(s.phase))
        if s.rep is not None:
            got.append(s.rep)
    assert live_phases == phases
    assert len(got) == len(want)
    for r, w in zip(got, want, strict=True):
        assert r.counted == w["counted"]
        assert (int(r.tempo_out), int(r.tempo_hold), int(r.tempo_back)) == w["tempo"]
        for name in (
            "start_s",
            "end_s",
            "min_value",
            "max_value",
            "peak_progress",
            "out_s",
            "hold_s",
            "back_s",
        ):
            assert getattr(r, name) == pytest.approx(w[name], abs=1e-9)
    batch = count_reps(np.array(ts), np.array(vs), start, target, tempo=tempo, relative=relative)
    assert batch.reps == tuple(got)
    assert counter.count == sum(w["counted"] for w in want)


@SETTINGS
@given(st.data(), st.integers(0, 40), st.booleans())
def test_hold_timer_matches_reference(data, n, reset):
    ts = data.draw(times(n))
    active = [data.draw(st.booleans()) for _ in range(n)]
    got = hold_times(np.array(ts), np.array(active, dtype=bool), reset_on_break=reset)
    assert close(got, naive.hold(ts, active, reset)) or n == 0


# ---------------------------------------------------------------------------------------------
# loading

force = st.one_of(st.floats(0.0, 600.0, allow_nan=False), odd)


@SETTINGS
@given(st.data(), st.integers(0, 12))
def test_loading_matches_reference(data, frames):
    blocks = []
    t = 0.0
    for _ in range(frames):
        block = []
        for _ in range(data.draw(st.integers(0, 6))):
            t += data.draw(st.sampled_from([0.001, 0.001, 0.0, 0.05, 0.3, -0.002]))
            block.append((t, data.draw(force)))
        blocks.append(block)
    opts = dict(limit_n=500.0, rate_limit_n_s=2000.0, rate_hz=5.0, max_gap_s=0.1)
    mon = LoadMonitor((150.0, 300.0), **opts)
    live = []
    for b in blocks:
        s = mon.update(np.array([x[0] for x in b]), np.array([x[1] for x in b]))
        live.append((s.band, s.rate_n_s, s.rate_exceeded, s.over_limit, s.tut_s))
    want = naive.loading(
        blocks, 150.0, 300.0, limit=500.0, rate_limit=2000.0, rate_hz=5.0, max_gap_s=0.1
    )
    assert [(x[0], x[2], x[3]) for x in live] == [(w[0], w[2], w[3]) for w in want]
    assert close([(x[1], x[4]) for x in live], [(w[1], w[4]) for w in want]) or not frames
    flat_t = np.array([x[0] for b in blocks for x in b], dtype=float)
    flat_f = np.array([x[1] for b in blocks for x in b], dtype=float)
    offsets = np.array([0] + [len(b) for b in blocks]).cumsum()
    track = track_loading(flat_t, flat_f, None, (150.0, 300.0), frame_start=offsets, **opts)
    assert track.over_limit.tolist() == [w[3] for w in want]
    assert track.band.tolist() == [w[0] for w in want]


# ---------------------------------------------------------------------------------------------
# all checks of a frame, live against batch and against the references


@SETTINGS
@given(st.data(), st.integers(0, 60))
def test_frame_checks_live_equal_batch_equal_reference(data, frames):
    from body.landmarks import INDEX as I

    knee = Rule(
        "knee",
        RuleKind.ANGLE,
        (I["left_hip"], I["left_knee"], I["left_ankle"]),
        low=40.0,
        high=180.0,
        debounce_s=0.0,
    )
    trunk = Rule(
        "trunk",
        RuleKind.INCLINATION,
        (I["left_hip"], I["left_shoulder"]),
        high=40.0,
        fault_margin=10.0,
        hysteresis=3.0,
    )
    rule_list = [knee, trunk]
    checks = ExerciseChecks(
        rule_list, start=170.0, target=90.0, signal_rule="knee", pain_free_limit=60.0
    )
    ts = data.draw(times(frames, allow_backwards=False))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    img = np.full((frames, 33, 4), np.nan)
    img[:, :, 3] = 0.0
    knee_deg = 115 + 60 * np.cos(np.arange(frames) / 6.0)
    for f in range(frames):
        k = math.radians(knee_deg[f])
        img[f, I["left_ankle"]] = (0.5, 0.9, 0, 1)
        img[f, I["left_knee"]] = (0.5, 0.7, 0, 1)
        img[f, I["left_hip"]] = (0.5 + 0.2 * math.sin(k), 0.7 + 0.2 * math.cos(k), 0, 1)
        img[f, I["left_shoulder"]] = (
            *(img[f, I["left_hip"], :2] + rng.normal(0, 0.15, 2) + (0, -0.3)),
            0,
            1,
        )
        if rng.random() < 0.1:
            img[f, I["left_knee"], 3] = 0.1  # the knee drops out of view
    live = [
        checks.update(t, img[f, :, :2], np.full((33, 3), np.nan), img[f, :, 3])
        for f, t in enumerate(ts)
    ]
    batch = analyse_session(checks, np.array(ts), img)
    assert np.array_equal(batch.status, np.array([r.status for r in live]).reshape(frames, 2))
    assert batch.frame[:, O_COUNT].tolist() == [r.count for r in live]
    assert batch.frame[:, O_PHASE].tolist() == [int(r.phase) for r in live]
    assert close(batch.frame[:, O_HELD], [r.held_s for r in live]) or not frames
    assert batch.reps == tuple(x for r in live for x in r.reps)
    # Against the references: rules frame by frame, reps on the knee rule's values.
    ref = naive.NaiveRules(rule_list)
    want = [
        ref.evaluate(img[f, :, :2], np.full((33, 3), np.nan), img[f, :, 3], t)
        for f, t in enumerate(ts)
    ]
    assert [r.status.tolist() for r in live] == [w[0] for w in want]
    # The pain-free limit (60 deg) flags exactly the frames whose knee value lies past it.
    over = [w[2] for w in naive.rom([[w[1][0]] for w in want], 170.0, 90.0, 60.0)]
    assert [r.over_pain_free_limit for r in live] == over
    assert [r.safety_stop for r in live] == over
    # Reps on the knee rule's values; a sample past the limit stops the frame's drive, so
    # the counter never sees it.
    knee = [math.nan if o else w[1][0] for w, o in zip(want, over, strict=True)]
    phases, reps = naive.reps(ts, knee, 170.0, 90.0)
    assert [int(r.phase) for r in live] == phases
    assert len(batch.reps) == len(reps)
    # The end of the recording: a rep on its way back past its midpoint counts.
    _, closed = naive.reps(ts, knee, 170.0, 90.0, close=True)
    ended = analyse_session(checks, np.array(ts), img, close=True)
    assert [r.counted for r in ended.reps] == [r["counted"] for r in closed]


def test_empty_sessions_everywhere():
    rs = RuleSet([Rule("v", RuleKind.VISIBILITY, (0,), low=0.5)])
    status, value = rs.run(np.empty((0, 33, 4)), np.empty((0, 33, 3)), np.empty(0))
    assert status.shape == (0, 1) and value.shape == (0, 1)
    assert count_reps(np.empty(0), np.empty(0), 170.0, 90.0).reps == ()
    assert track_range(np.empty(0), 170.0, 90.0).progress.shape == (0,)
    assert track_loading(np.empty(0), np.empty(0), None, (1.0, 2.0)).band.shape == (0,)
    mon = LoadMonitor((1.0, 2.0))
    assert mon.update(np.empty(0), np.empty(0)).band == 3  # NO_FORCE
    checks = ExerciseChecks([Rule("v", RuleKind.VISIBILITY, (0,), low=0.5)], start=0, target=1)
    a = analyse_session(checks, np.empty(0), np.empty((0, 33, 4)))
    assert a.count == 0 and a.reps == () and a.frame.shape[0] == 0
