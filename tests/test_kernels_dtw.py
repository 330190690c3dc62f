"""The form score's warping distance against its plain-Python reference (kernels/naive.py),
on random and adversarial input, and its meaning on movements whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import naive
from kernels.dtw import dtw_distance

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
odd = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e-300])
value = st.one_of(st.floats(-5.0, 5.0, allow_nan=False), odd)


@st.composite
def movements(draw):
    c = draw(st.integers(1, 3))
    n = draw(st.integers(0, 9))
    m = draw(st.integers(0, 9))
    rows = st.lists(value, min_size=c, max_size=c)
    a = draw(st.lists(rows, min_size=n, max_size=n))
    b = draw(st.lists(rows, min_size=m, max_size=m))
    window = draw(st.sampled_from([0.0, 1.0, 2.5, 100.0]))
    missing = draw(st.sampled_from([0.0, 1.0, 3.0]))
    return c, a, b, window, missing


@SETTINGS
@given(movements())
def test_kernel_matches_the_naive_reference(case):
    c, a, b, window, missing = case
    got = dtw_distance(np.reshape(a, (len(a), c)), np.reshape(b, (len(b), c)), window, missing)
    want = naive.dtw_distance(a, b, window, missing)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-9)


def test_equal_movements_are_zero_apart_whatever_their_timing():
    t = np.linspace(0, 1, 60)
    rep = np.stack([np.sin(np.pi * t), 20 * np.sin(np.pi * t) / 15], axis=1)
    slow = np.stack([np.sin(np.pi * t**1.5), 20 * np.sin(np.pi * t**1.5) / 15], axis=1)
    assert dtw_distance(rep, rep, 10) == 0.0
    # The same path at another pace warps onto the reference (a plain difference would not).
    assert dtw_distance(slow, rep, 15) < 0.05 < float(np.sqrt(np.mean((slow - rep) ** 2)))


def test_a_constant_offset_is_the_distance():
    t = np.linspace(0, 1, 40)
    rep = np.stack([np.sin(np.pi * t), np.zeros_like(t)], axis=1)
    off = rep + np.array([0.0, 2.0])  # one channel two tolerances off all the way
    assert dtw_distance(off, rep, 5) == pytest.approx(math.sqrt(2.0))


def test_a_channel_never_seen_is_left_out_and_nothing_seen_costs_missing():
    rep = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    blind = rep.copy()
    blind[:, 1] = np.nan
    assert dtw_distance(blind, rep + np.array([0.0, 5.0]), 1) == 0.0
    assert dtw_distance(np.full((3, 2), np.nan), rep, 1, missing_cost=2.0) == 2.0


def test_bad_shapes_and_windows_are_refused():
    with pytest.raises(ValueError, match="expected a"):
        dtw_distance(np.zeros((3, 2)), np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="window"):
        dtw_distance(np.zeros((3, 2)), np.zeros((3, 2)), math.nan)
    assert math.isnan(dtw_distance(np.zeros((0, 2)), np.zeros((3, 2)), 1))
