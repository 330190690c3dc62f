"""Machine exercises end to end: main.py with the simulator on a real pty, against its truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, run_summary

RUNS = {
    # Three clean reps after the countdown, then a long rest: the count must equal the truth.
    "reps": (
        "lumbar_extension",
        24,
        ["--reps=3", "--rest=60", "--start-delay=5", "--jerk-probability=0"],
    ),
    "overload": ("lumbar_extension", 12, ["--start-delay=5", "--overload-at=7.5"]),
    "overshoot": ("lumbar_flexion", 14, ["--start-delay=5", "--overshoot-at=6"]),
}


@pytest.fixture(scope="module")
def machine_runs(tmp_path_factory):
    """All three sessions at once: they mostly wait on the simulated patient."""
    tmp = tmp_path_factory.mktemp("machine")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    procs = {}
    for name, (exercise, seconds, sim) in RUNS.items():
        truth = tmp / f"{name}.truth.json"
        record = ["--record", str(tmp / f"{name}.screc")]
        cmd = [sys.executable, str(ROOT / "main.py"), "--source", "none", "--exercise", exercise,
               "--headless", "--seconds", str(seconds), "--summary-json", str(tmp / f"{name}.json"),
               *record, *[f"--sim-arg={a}" for a in (*sim, f"--truth={truth}")]]  # fmt: skip
        procs[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    out = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        summary = json.loads((tmp / f"{name}.json").read_text())
        truth = json.loads((tmp / f"{name}.truth.json").read_text())
        out[name] = (summary, truth)
    out["dir"] = tmp
    return out


def test_reps_equal_the_simulator_ground_truth(machine_runs):
    s, truth = machine_runs["reps"]
    assert truth["rep_count"] == 3
    assert s["rep_count"] == truth["rep_count"]
    assert s["partial_reps"] == 0
    # The deepest extension the engine saw matches the machine's true peak angle.
    for rep, peak in zip(s["reps"], truth["peak_angles_deg"], strict=True):
        assert rep["min_angle_deg"] == pytest.approx(peak, abs=1.0)
        assert rep["tempo_ok"]
    assert len(s["loading"]) == 3 and all(lr["in_band_share"] > 0.5 for lr in s["loading"])
    assert s["safety_events"] == []


def test_overload_spike_stops_the_set_with_the_safety_cue_in_the_same_frame(machine_runs):
    s, truth = machine_runs["overload"]
    assert truth["overload_times_s"] == [7.5]
    events = [e for e in s["safety_events"] if e["kind"] == "overload"]
    assert len(events) == 1 and events[0]["value"] > events[0]["limit"]
    stop = [tr for tr in s["transitions"] if tr["to"] == "stopped"]
    assert stop and stop[0]["t"] == events[0]["t"]
    # The STOP cue is up in the first snapshot after the sample: within one display frame
    # (1/60 s) plus the link's latency (bench/device.py measures it, about a millisecond).
    cue = [c for c in s["cues"] if c["key"] == "safety.overload"]
    assert (
        cue and cue[0]["severity"] == "safety" and 0 <= cue[0]["t"] - stop[0]["t"] <= 1 / 60 + 0.01
    )
    # Nothing counts after the stop.
    assert all(r["end_s"] <= stop[0]["t"] for r in s["reps"])


def test_range_overshoot_gives_the_range_cue_and_stops(machine_runs):
    s, truth = machine_runs["overshoot"]
    assert truth["overshoot_times_s"]
    events = [e for e in s["safety_events"] if e["kind"] == "pain_free_range"]
    assert len(events) == 1
    assert events[0]["value"] > events[0]["limit"] == 56.0
    assert "safety.pain_free_range" in {c["key"] for c in s["cues"]}
    assert any(tr["to"] == "stopped" for tr in s["transitions"])


@pytest.mark.parametrize("name", ["reps", "overload"])
def test_recorded_machine_session_replays_identically(machine_runs, name):
    live, _ = machine_runs[name]
    recording = machine_runs["dir"] / f"{name}.screc"
    args = ("--source", str(recording), "--exercise", live["exercise"])
    replay = run_summary(machine_runs["dir"], *args, name=f"{name}.replay.json")
    for key in ("rep_count", "reps", "partials", "faults", "cues", "transitions", "safety_events",
                "loading", "device_samples"):  # fmt: skip
        assert replay[key] == live[key], key
