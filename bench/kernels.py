"""Benchmark of the per-frame check kernels.

    python bench/kernels.py [--json] [--frames N] [--batch-frames N]

Measures, for a realistic exercise (33 landmarks, 24 posture rules of every kind, the rep
counter on a knee angle, range of motion with a pain-free limit, loading over the machine
samples of each frame, 1 to 33 a frame, and the hold timer):

* per-frame cost of :meth:`kernels.checks.ExerciseChecks.update`, median and p95 in
  microseconds (goal: median under 20), and of the same frame through the separate public
  objects called one by one;
* batch throughput of :func:`kernels.batch.analyse_session` over a long session, frames a
  second (goal: over 200,000);
* the same frame work through the plain-Python references (kernels/naive.py) in the same run,
  and the speedup;
* cold start (compiling every kernel into an empty numba cache) and warm start (loading them
  from the cache), each in a fresh interpreter (goal: warm under 1 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder leads sys.path and would shadow the kernels package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from body.landmarks import INDEX as I  # noqa: E402
from kernels.batch import analyse_session  # noqa: E402
from kernels.checks import ExerciseChecks  # noqa: E402
from kernels.rules import FAULT, WARNING, Rule, RuleKind  # noqa: E402

FPS = 30.0
DEVICE_HZ = 500.0  # about 17 samples a camera frame on average


def exercise_rules() -> list[Rule]:
    """24 rules of every kind, as a squat with a machine-like load would carry."""
    L, R = "left", "right"
    out: list[Rule] = []
    for side in (L, R):
        s = side
        out += [
            Rule(
                f"{s}.knee",
                RuleKind.ANGLE,
                (I[f"{s}_hip"], I[f"{s}_knee"], I[f"{s}_ankle"]),
                low=40,
                high=180,
            ),
            Rule(
                f"{s}.hip",
                RuleKind.ANGLE,
                (I[f"{s}_shoulder"], I[f"{s}_hip"], I[f"{s}_knee"]),
                low=30,
                high=180,
                fault_margin=10,
            ),
            Rule(
                f"{s}.knee3d",
                RuleKind.ANGLE,
                (I[f"{s}_hip"], I[f"{s}_knee"], I[f"{s}_ankle"]),
                low=40,
                high=180,
                space="world",
            ),
            Rule(
                f"{s}.elbow",
                RuleKind.ANGLE,
                (I[f"{s}_shoulder"], I[f"{s}_elbow"], I[f"{s}_wrist"]),
                low=150,
                high=180,
                severity=WARNING,
            ),
            Rule(
                f"{s}.trunk",
                RuleKind.INCLINATION,
                (I[f"{s}_hip"], I[f"{s}_shoulder"]),
                high=45,
                fault_margin=10,
                hysteresis=3,
            ),
            Rule(f"{s}.shin", RuleKind.INCLINATION, (I[f"{s}_ankle"], I[f"{s}_knee"]), high=35),
            Rule(
                f"{s}.line",
                RuleKind.ALIGNMENT,
                (I[f"{s}_shoulder"], I[f"{s}_hip"], I[f"{s}_ankle"]),
                low=-60,
                high=60,
            ),
            Rule(
                f"{s}.knee_past_toe",
                RuleKind.OFFSET,
                (I[f"{s}_knee"], I[f"{s}_foot_index"], I[f"{s}_heel"], I[f"{s}_foot_index"]),
                high=0.3,
                fault_margin=0.3,
            ),
            Rule(
                f"{s}.foot_seen",
                RuleKind.VISIBILITY,
                (I[f"{s}_heel"], I[f"{s}_foot_index"], I[f"{s}_ankle"]),
                low=0.5,
                severity=WARNING,
            ),
        ]
    quad = (I["left_shoulder"], I["right_shoulder"], I["left_hip"], I["right_hip"])
    knees = (
        I["left_hip"],
        I["left_knee"],
        I["left_ankle"],
        I["right_hip"],
        I["right_knee"],
        I["right_ankle"],
    )
    out += [
        Rule("knee_symmetry", RuleKind.SYMMETRY, knees, low=-15, high=15),
        Rule(
            "hip_symmetry",
            RuleKind.SYMMETRY,
            (
                I["left_shoulder"],
                I["left_hip"],
                I["left_knee"],
                I["right_shoulder"],
                I["right_hip"],
                I["right_knee"],
            ),
            low=-15,
            high=15,
        ),
        Rule("rotation", RuleKind.ROTATION, quad, low=-15, high=15, space="world"),
        Rule("lateral_lean", RuleKind.LATERAL_LEAN, quad, low=-10, high=10),
        Rule(
            "shoulders_level",
            RuleKind.INCLINATION,
            (I["left_shoulder"], I["right_shoulder"]),
            axis="horizontal",
            high=10,
            severity=FAULT,
        ),
        Rule(
            "head_seen",
            RuleKind.VISIBILITY,
            (I["nose"], I["left_ear"], I["right_ear"]),
            low=0.3,
            severity=WARNING,
        ),
    ]
    assert len(out) == 24
    return out


def make_checks() -> ExerciseChecks:
    return ExerciseChecks(
        exercise_rules(),
        start=170.0,
        target=90.0,
        signal_rule="left.knee",
        pain_free_limit=55.0,
        rep_options=dict(tempo=(2.0, math.nan, 2.0)),
        load_band_n=(100.0, 250.0),
        load_options=dict(limit_n=400.0, rate_limit_n_s=2000.0),
        aspect=16 / 9,
    )


def synthetic_session(n_frames: int, seed: int = 0):
    """A squatting skeleton at 30 fps with landmark jitter and dropouts, and machine samples
    (force, angle) at about 500 Hz, 1 to 33 per frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / FPS
    knee = np.radians(115 + 55 * np.cos(2 * np.pi * t / 4.0))
    image = np.zeros((n_frames, 33, 4))
    image[:, :, 0] = 0.5 + rng.normal(0, 0.1, (n_frames, 33))
    image[:, :, 1] = 0.5 + rng.normal(0, 0.1, (n_frames, 33))
    image[:, :, 3] = rng.uniform(0.3, 1.0, (n_frames, 33))
    for s, dx in (("left", -0.03), ("right", 0.03)):
        image[:, I[f"{s}_ankle"], :2] = np.c_[0.5 + dx + 0 * t, 0.9 + 0 * t]
        image[:, I[f"{s}_knee"], :2] = np.c_[0.5 + dx + 0 * t, 0.7 + 0 * t]
        image[:, I[f"{s}_hip"], :2] = np.c_[0.5 + dx + 0.2 * np.sin(knee), 0.7 + 0.2 * np.cos(knee)]
        image[:, I[f"{s}_shoulder"], :2] = image[:, I[f"{s}_hip"], :2] + (0.05, -0.3)
    image[:, :, :2] += rng.normal(0, 0.002, (n_frames, 33, 2))
    image[rng.random((n_frames, 33)) < 0.02, 3] = 0.0  # dropouts
    world = np.concatenate([image[:, :, :2] - 0.5, rng.normal(0, 0.05, (n_frames, 33, 1))], 2)
    counts = np.clip(rng.poisson(DEVICE_HZ / FPS, n_frames), 1, 33)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    m = int(offsets[-1])
    dev_t = np.empty(m)
    for f in range(n_frames):  # samples spread over the interval before each frame
        k = counts[f]
        dev_t[offsets[f] : offsets[f + 1]] = t[f] - (k - 1 - np.arange(k)) / (FPS * k)
    angle = 30 + 30 * np.sin(2 * np.pi * dev_t / 5.0) + rng.normal(0, 0.1, m)
    force = 170 + 60 * np.sin(2 * np.pi * dev_t / 5.0) + rng.normal(0, 2.0, m)
    return t, image, world, dev_t, force, angle, offsets


def per_frame_cost(n_frames: int) -> dict:
    checks = make_checks()
    t, image, world, dev_t, force, angle, off = synthetic_session(n_frames + 300, seed=1)
    xy = np.ascontiguousarray(image[:, :, :2])
    vis = np.ascontiguousarray(image[:, :, 3])
    for f in range(300):  # warm up: compile and settle the caches
        a, b = off[f], off[f + 1]
        checks.update(t[f], xy[f], world[f], vis[f], dev_t[a:b], force[a:b], angle[a:b])
    cost = np.empty(n_frames)
    clock = time.perf_counter_ns
    for i in range(n_frames):
        f = 300 + i
        a, b = off[f], off[f + 1]
        s0 = clock()
        checks.update(t[f], xy[f], world[f], vis[f], dev_t[a:b], force[a:b], angle[a:b])
        cost[i] = clock() - s0
    us = cost / 1000.0
    return {
        "frames": n_frames,
        "median_us": float(np.median(us)),
        "p95_us": float(np.percentile(us, 95)),
        "max_us": float(us.max()),
        "samples_per_frame_mean": float(np.diff(off).mean()),
    }


def per_frame_cost_modules(n_frames: int) -> dict:
    """The same frame through the separate public objects (RuleSet, LoadMonitor,
    RangeOfMotion, RepCounter, HoldTimer), as a caller composing them itself would."""
    from kernels.loading import LoadMonitor
    from kernels.reps import HoldTimer, RepCounter
    from kernels.rom import RangeOfMotion
    from kernels.rules import RuleSet

    rules = RuleSet(exercise_rules(), aspect=16 / 9)
    load = LoadMonitor((100.0, 250.0), limit_n=400.0, rate_limit_n_s=2000.0)
    rom = RangeOfMotion(170.0, 90.0, 55.0)
    counter = RepCounter(170.0, 90.0, tempo=(2.0, math.nan, 2.0))
    hold = HoldTimer()
    t, image, world, dev_t, force, angle, off = synthetic_session(n_frames + 300, seed=1)
    xy = np.ascontiguousarray(image[:, :, :2])
    vis = np.ascontiguousarray(image[:, :, 3])
    cost = np.empty(n_frames)
    clock = time.perf_counter_ns
    for f in range(n_frames + 300):
        a, b = off[f], off[f + 1]
        s0 = clock()
        status, value = rules.evaluate(xy[f], world[f], vis[f], t[f])
        load.update(dev_t[a:b], force[a:b], angle[a:b])
        rom.update(value[0])
        state = counter.update(t[f], value[0])
        hold.update(t[f], state.phase == 2, not (status == 2).any())
        if f >= 300:
            cost[f - 300] = clock() - s0
    us = cost / 1000.0
    return {"median_us": float(np.median(us)), "p95_us": float(np.percentile(us, 95))}


def naive_frame_cost(n_frames: int) -> dict:
    """The same work through the references: rules, reps on the knee rule, loading."""
    from kernels import naive

    checks = make_checks()
    t, image, world, dev_t, force, _angle, off = synthetic_session(n_frames, seed=1)
    ref = naive.NaiveRules(checks.rule_set.rules, aspect=checks.rule_set.aspect)
    knee_values = []
    s0 = time.perf_counter()
    for f in range(n_frames):
        _, values = ref.evaluate(image[f, :, :2], world[f], image[f, :, 3], t[f])
        knee_values.append(values[0])
        a, b = off[f], off[f + 1]
        naive.loading([list(zip(dev_t[a:b], force[a:b], strict=True))], 100.0, 250.0, 400.0, 2000.0)
        naive.rom([[values[0]]], 170.0, 90.0, 55.0)
    naive.reps(list(t), knee_values, 170.0, 90.0)
    elapsed = time.perf_counter() - s0
    return {"frames": n_frames, "mean_us": elapsed / n_frames * 1e6}


def batch_throughput(n_frames: int, repeats: int) -> dict:
    """Best and median of ``repeats`` runs: the machine may be shared, and the best run is
    the one least disturbed by other work."""
    checks = make_checks()
    t, image, world, dev_t, force, angle, off = synthetic_session(n_frames, seed=2)
    k = 100
    analyse_session(
        checks,
        t[:k],
        image[:k],
        world[:k],
        dev_t[: off[k]],
        force[: off[k]],
        angle[: off[k]],
        off[: k + 1],
    )
    runs = []
    for _ in range(repeats):
        s0 = time.perf_counter()
        result = analyse_session(checks, t, image, world, dev_t, force, angle, off)
        runs.append(time.perf_counter() - s0)
    s0 = time.perf_counter()
    loads = result.rep_loads()
    per_rep_ms = (time.perf_counter() - s0) / max(len(loads), 1) * 1e3
    return {
        "frames": n_frames,
        "device_samples": int(off[-1]),
        "repeats": repeats,
        "best_s": min(runs),
        "frames_per_s": n_frames / min(runs),
        "frames_per_s_median": n_frames / float(np.median(runs)),
        "reps_found": len(result.reps),
        "rep_loads_ms_per_rep": per_rep_ms,
    }


_START_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import numpy as np
from bench.kernels import make_checks, synthetic_session
from kernels.batch import analyse_session
from kernels.angles import joint_angles
from kernels.smoothing import LandmarkSmoother
from kernels.reps import count_reps, hold_times
from kernels.rom import track_range
from kernels.loading import track_loading
t_import = time.perf_counter() - t0
t, image, world, dev_t, force, angle, off = synthetic_session(40)
checks = make_checks()
for f in range(40):
    a, b = off[f], off[f + 1]
    checks.update(t[f], image[f, :, :2], world[f], image[f, :, 3], dev_t[a:b], force[a:b],
                  angle[a:b])
analyse_session(checks, t, image, world, dev_t, force, angle, off)
checks.rule_set.run(image, world, t)
LandmarkSmoother()(image[0].astype(np.float32), world[0].astype(np.float32), 0.0)
joint_angles(image[0, :, :2], np.array([[23, 25, 27]]))
count_reps(t, image[:, 25, 1], 0.0, 1.0)
hold_times(t, np.ones(t.size, bool))
track_range(angle, 0.0, 60.0, 70.0, off)
track_loading(dev_t, force, angle, (100.0, 250.0), off)
print(json.dumps({"import_s": t_import, "ready_s": time.perf_counter() - t0}))
"""


def start_times() -> dict:
    """Cold and warm start, each in a fresh interpreter sharing one fresh numba cache dir."""
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = {}
        for name in ("cold", "warm", "warm_again"):
            s0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _START_PROBE, str(ROOT)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            wall = time.perf_counter() - s0
            probe = json.loads(proc.stdout.strip().splitlines()[-1])
            out[name] = {"process_s": wall, **probe}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--frames", type=int, default=5000, help="frames timed one by one")
    parser.add_argument("--batch-frames", type=int, default=100_000)
    parser.add_argument("--batch-repeats", type=int, default=5)
    parser.add_argument("--naive-frames", type=int, default=300)
    parser.add_argument("--no-start", action="store_true", help="skip cold / warm start")
    args = parser.parse_args()

    live = per_frame_cost(args.frames)
    modules = per_frame_cost_modules(args.frames)
    batch = batch_throughput(args.batch_frames, args.batch_repeats)
    ref = naive_frame_cost(args.naive_frames)
    result = {
        "exercise": {"landmarks": 33, "rules": 24, "device_hz": DEVICE_HZ, "camera_fps": FPS},
        "per_frame": live,
        "per_frame_separate_objects": modules,
        "batch": batch,
        "naive": ref,
        "speedup_live_vs_naive": ref["mean_us"] / live["median_us"],
        "speedup_batch_vs_naive": ref["mean_us"] / (1e6 / batch["frames_per_s"]),
        "goals": {"median_us": 20.0, "batch_frames_per_s": 200_000, "warm_start_s": 1.0},
        # Other work on the machine slows every figure; the load average says how much.
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    if not args.no_start:
        result["start"] = start_times()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    speed_live = result["speedup_live_vs_naive"]
    speed_batch = result["speedup_batch_vs_naive"]
    print(
        f"per frame   median {live['median_us']:.1f} us  p95 {live['p95_us']:.1f} us  "
        f"({live['frames']} frames, {live['samples_per_frame_mean']:.1f} device samples "
        "a frame; goal median < 20 us)"
    )
    print(
        f"  separate  median {modules['median_us']:.1f} us  p95 {modules['p95_us']:.1f} us  "
        "(RuleSet, LoadMonitor, RangeOfMotion, RepCounter, HoldTimer called one by one)"
    )
    print(
        f"batch       {batch['frames_per_s']:,.0f} frames/s best, "
        f"{batch['frames_per_s_median']:,.0f} median of {batch['repeats']} runs over "
        f"{batch['frames']:,} frames ({batch['device_samples']:,} device samples; "
        f"goal > 200,000); per-rep loading figures {batch['rep_loads_ms_per_rep']:.2f} ms a rep"
    )
    print(
        f"naive       {ref['mean_us']:.0f} us a frame: live {speed_live:.0f}x, "
        f"batch {speed_batch:.0f}x faster"
    )
    print(f"machine     load average {result['load_average_1min']:.1f} on {result['cpus']} CPUs")
    if "start" in result:
        for name, s in result["start"].items():
            print(
                f"{name:11} ready in {s['ready_s']:.2f} s (imports {s['import_s']:.2f} s; "
                f"process {s['process_s']:.2f} s; goal warm < 1 s)"
            )


if __name__ == "__main__":
    main()
