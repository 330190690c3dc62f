"""Pipeline benchmark: what the whole loop makes of the pose model, against baselines
measured in the same run on the same frames.

    python bench/pipeline.py [--source VIDEO] [--frames N] [--json]

- baseline: the usual single-threaded loop (read a frame, run the pose model, check it),
  one frame after the other;
- inference only: the pose model alone over frames decoded in advance;
- headless analysis: ``main.py --headless`` on the file, as the app runs it (a pose model
  per core on consecutive parts of the file, poses fed to the engine in order); goal: at least
  1.6 times the baseline's frames a second on two cores;
- full pipeline: one decode thread and one pose worker feeding the engine (the live
  arrangement); goal: at least 0.95 of inference only;
- engine: the session engine's cost per pose inside the full pipeline: its thread's CPU time
  (goal: median at most 100 us, p99 at most 1 ms), and the wall time, which also holds the
  time the two cores were busy with the pose model and decoding; the snapshot (once per
  display frame) apart; and the same poses fed to a fresh engine alone, back to back and
  with a display frame's sleep before each (the wake-up from a wait is what the pipeline's
  figure mostly holds);
- latency: the source paced at its own frame rate with newest-frame-only capture, as with a
  camera; capture-to-result time per frame, against a budget of inference plus one display
  frame (16.7 ms at 60 Hz).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402

from app.inputs import InputChoice  # noqa: E402
from app.loop import DISPLAY_FPS, Runner, RunOptions  # noqa: E402
from exercises.library import get_exercise  # noqa: E402
from session.engine import SessionConfig, SessionEngine  # noqa: E402
from session.events import PoseInput  # noqa: E402
from vision.estimator import PoseEstimator  # noqa: E402
from vision.sources import VideoFileSource  # noqa: E402

DEFAULT_SOURCE = ROOT / ".." / "shared" / "testdata" / "wissem_gym_rom" / "videos" / "squat.mp4"


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def baseline(source: Path, frames: int) -> dict:
    """Read, pose, check: one thread, one frame at a time."""
    src = VideoFileSource(source)
    engine = SessionEngine(get_exercise("squat"), config=SessionConfig(open_ended=True))
    n = 0
    with PoseEstimator(video=True) as est:
        t0 = time.perf_counter()
        while n < frames and (f := src.read()) is not None:
            engine.feed(PoseInput(f.media_time, est.estimate(f.image, f.media_time)))
            engine.take_events()
            n += 1
        wall = time.perf_counter() - t0
    src.close()
    return {"frames": n, "fps": n / wall, "reps": engine.rep_count}


def inference_only(source: Path, frames: int) -> dict:
    src = VideoFileSource(source)
    images = []
    while len(images) < frames and (f := src.read()) is not None:
        images.append(f.image)
    src.close()
    with PoseEstimator(video=True) as est:
        est.estimate(images[0], 0.0)  # model warm-up, not timed
        per = []
        t0 = time.perf_counter()
        for i, img in enumerate(images):
            t = time.perf_counter()
            est.estimate(img, i / 60.0)
            per.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
    return {
        "frames": len(images),
        "fps": len(images) / wall,
        "ms_median": statistics.median(per) * 1e3,
    }


def headless(source: Path, frames: int) -> dict:
    """The app's own headless run: ``Runner.run_headless`` as ``main.py --headless``."""
    opts = RunOptions(
        InputChoice("video", str(source), "bench"),
        get_exercise("squat"),
        headless=True,
        max_frames=frames,
    )
    t0 = time.perf_counter()
    runner = Runner(opts)
    try:
        parts = len(getattr(runner.stream, "_workers", [None]))
        runner.run_headless()
    finally:
        runner.close()
    wall = time.perf_counter() - t0
    return {
        "frames": runner.stats.poses,
        "fps": runner.stats.poses / wall,
        "parts": parts,
        "reps": runner.engine.rep_count,
    }


def live_pipeline(source: Path, frames: int, paced: bool) -> dict:
    """One decode thread and one pose worker (the live arrangement), the engine fed on the
    calling thread; ``paced``: at the source's own rate, newest frame only, like a camera."""
    opts = RunOptions(
        InputChoice("video", str(source), "bench"),
        get_exercise("squat"),
        headless=not paced,
        max_frames=frames,
        split_video=False,
    )
    runner = Runner(opts)
    engine_s: list[float] = []
    engine_cpu_s: list[float] = []
    snapshot_s: list[float] = []
    poses: list[PoseInput] = []
    t0 = time.perf_counter()
    try:
        while not runner.finished:
            results = runner.stream.poll(0.2)
            for r in results:
                c = time.thread_time()
                t = time.perf_counter()
                inp = PoseInput(r.media_time, r.pose)
                runner.engine.feed(inp)
                runner.engine.take_events()
                engine_s.append(time.perf_counter() - t)
                engine_cpu_s.append(time.thread_time() - c)
                poses.append(inp)
                runner.stats.poses += 1
                runner.stats.latencies_s.append(time.monotonic() - r.captured_at)
            if results:
                t = time.perf_counter()
                runner.engine.snapshot()
                snapshot_s.append(time.perf_counter() - t)
    finally:
        wall = time.perf_counter() - t0
        dropped = runner.stream.dropped
        runner.close()
    lat = list(np.array(runner.stats.latencies_s) * 1e3)
    return {
        "frames": runner.stats.poses,
        "fps": runner.stats.poses / wall,
        "dropped": dropped,
        "latency_ms_median": statistics.median(lat),
        "latency_ms_p95": _pct(lat, 95),
        "engine_us_median": statistics.median(engine_s) * 1e6,
        "engine_us_p95": _pct(engine_s, 95) * 1e6,
        "engine_us_p99": _pct(engine_s, 99) * 1e6,
        "engine_cpu_us_median": statistics.median(engine_cpu_s) * 1e6,
        "engine_cpu_us_p99": _pct(engine_cpu_s, 99) * 1e6,
        "snapshot_us_median": statistics.median(snapshot_s) * 1e6,
        "poses": poses,
        "config": runner.engine.config,
        "aspect": runner.stream.aspect,
    }


def engine_alone(
    poses: list[PoseInput], config: SessionConfig, aspect: float, wait_s: float = 0.0
) -> dict:
    """The same poses fed to a fresh engine with no pose threads running: the engine's own
    cost. ``wait_s``: the thread sleeps that long before each pose, as a loop waiting for the
    next pose does; a thread that wakes from a wait of a display frame runs its first
    hundreds of microseconds far slower (caches gone cold on this machine), whatever it runs."""
    cpu: list[float] = []
    for _ in range(2):  # the first pass warms up; the second is measured
        engine = SessionEngine(get_exercise("squat"), config=config)
        engine.set_aspect(aspect)
        cpu = []
        for inp in poses:
            if wait_s > 0:
                time.sleep(wait_s)
            c = time.thread_time()
            engine.feed(inp)
            engine.take_events()
            cpu.append(time.thread_time() - c)
    return {"us_median": statistics.median(cpu) * 1e6, "us_p99": _pct(cpu, 99) * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--frames", type=int, default=100_000, help="at most this many frames")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.source.is_file():
        print(f"bench/pipeline.py: error: no such video: {args.source}", file=sys.stderr)
        return 2
    base = baseline(args.source, args.frames)
    infer = inference_only(args.source, args.frames)
    split = headless(args.source, args.frames)
    full = live_pipeline(args.source, args.frames, paced=False)
    live = live_pipeline(args.source, args.frames, paced=True)
    alone = engine_alone(full["poses"], full["config"], full["aspect"])
    woken = engine_alone(full["poses"][:300], full["config"], full["aspect"], 1 / DISPLAY_FPS)
    out = {
        "source": str(args.source),
        "cores": os.cpu_count(),
        "frames": base["frames"],
        "baseline_fps": round(base["fps"], 2),
        "inference_only_fps": round(infer["fps"], 2),
        "inference_ms_median": round(infer["ms_median"], 2),
        "headless_fps": round(split["fps"], 2),
        "headless_parts": split["parts"],
        "headless_ratio_to_baseline": round(split["fps"] / base["fps"], 3),
        "reps_baseline_headless": [base["reps"], split["reps"]],
        "pipeline_fps": round(full["fps"], 2),
        "pipeline_ratio_to_inference": round(full["fps"] / infer["fps"], 3),
        "engine_us_median": round(full["engine_us_median"], 1),
        "engine_us_p95": round(full["engine_us_p95"], 1),
        "engine_us_p99": round(full["engine_us_p99"], 1),
        "engine_cpu_us_median": round(full["engine_cpu_us_median"], 1),
        "engine_cpu_us_p99": round(full["engine_cpu_us_p99"], 1),
        "snapshot_us_median": round(full["snapshot_us_median"], 1),
        "engine_alone_us_median": round(alone["us_median"], 1),
        "engine_alone_us_p99": round(alone["us_p99"], 1),
        "engine_woken_us_median": round(woken["us_median"], 1),
        "paced_pose_fps": round(live["fps"], 2),
        "paced_dropped_frames": live["dropped"],
        "latency_ms_median": round(live["latency_ms_median"], 2),
        "latency_ms_p95": round(live["latency_ms_p95"], 2),
        "latency_budget_ms": round(infer["ms_median"] + 1000 / 60, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    o = out
    print("\n".join([
        f"source: {o['source']} ({o['frames']} frames, {o['cores']} cores, "
        f"load average {o['load_average_1min']})",
        f"baseline (read, pose, check; one thread): {o['baseline_fps']:7.2f} frames/s",
        f"inference only                           : {o['inference_only_fps']:7.2f} frames/s "
        f"({o['inference_ms_median']} ms/frame median)",
        f"headless analysis ({o['headless_parts']} pose models)       : {o['headless_fps']:7.2f} "
        f"frames/s   {o['headless_ratio_to_baseline']:.2f} x baseline (goal >= 1.6); reps "
        f"{o['reps_baseline_headless'][0]} and {o['reps_baseline_headless'][1]}",
        f"full pipeline (decode + pose threads)    : {o['pipeline_fps']:7.2f} frames/s   "
        f"{o['pipeline_ratio_to_inference']:.3f} of inference only (goal >= 0.95)",
        f"engine per pose, its thread's CPU time: {o['engine_cpu_us_median']} us median, "
        f"{o['engine_cpu_us_p99']} us p99 (goal <= 100 us median, <= 1000 us p99)",
        f"engine per pose, wall time with the pose threads running: {o['engine_us_median']} us "
        f"median, {o['engine_us_p95']} us p95, {o['engine_us_p99']} us p99; snapshot "
        f"{o['snapshot_us_median']} us median (once per display frame)",
        f"engine per pose alone (the same poses, no pose threads running): "
        f"{o['engine_alone_us_median']} us median, {o['engine_alone_us_p99']} us p99 CPU time "
        f"back to back; {o['engine_woken_us_median']} us median after sleeping a display frame "
        "before each, as the pipeline's loop does",
        f"paced at source fps, newest frame only: {o['paced_pose_fps']} poses/s, "
        f"{o['paced_dropped_frames']} frames dropped",
        f"capture -> result latency: {o['latency_ms_median']} ms median, "
        f"{o['latency_ms_p95']} ms p95 (budget: inference + one display frame = "
        f"{o['latency_budget_ms']} ms)",
    ]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
