"""Pipeline benchmark: how much of the pose model's throughput the whole loop keeps.

    python bench/pipeline.py [--source VIDEO] [--frames N] [--json]

Measured in one run on the same frames:
- inference only: the pose model alone over frames decoded in advance (the baseline);
- full pipeline: decode thread + pose worker + smoothing, rules, reps, cues, snapshot, as
  ``main.py --headless`` runs it (every frame processed);
- latency: the source paced at its own frame rate with newest-frame-only capture, as with a
  camera; capture-to-result time per frame (median, p95), which a display adds at most one
  frame (16.7 ms at 60 Hz) to.
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
from app.loop import Runner, RunOptions  # noqa: E402
from exercises.library import get_exercise  # noqa: E402
from session.events import PoseInput  # noqa: E402
from vision.estimator import PoseEstimator  # noqa: E402
from vision.sources import VideoFileSource  # noqa: E402

DEFAULT_SOURCE = ROOT / ".." / "shared" / "testdata" / "wissem_gym_rom" / "videos" / "squat.mp4"


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


def full_pipeline(source: Path, frames: int, paced: bool) -> dict:
    opts = RunOptions(
        InputChoice("video", str(source), "bench"),
        get_exercise("squat"),
        headless=not paced,
        max_frames=frames,
    )
    runner = Runner(opts)
    t0 = time.perf_counter()
    engine_s: list[float] = []
    try:
        while not runner.finished:
            results = runner.stream.poll(0.2)
            for r in results:
                t = time.perf_counter()
                runner.engine.feed(PoseInput(r.media_time, r.pose))
                runner.engine.snapshot()
                engine_s.append(time.perf_counter() - t)
                runner.stats.poses += 1
                runner.stats.latencies_s.append(time.monotonic() - r.captured_at)
    finally:
        wall = time.perf_counter() - t0
        dropped = runner.stream.dropped
        runner.close()
    lat = np.array(runner.stats.latencies_s) * 1e3
    return {
        "frames": runner.stats.poses,
        "fps": runner.stats.poses / wall,
        "dropped": dropped,
        "latency_ms_median": float(np.median(lat)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "engine_us_median": statistics.median(engine_s) * 1e6,
        "engine_us_p95": float(np.percentile(engine_s, 95)) * 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.source.is_file():
        print(f"bench/pipeline.py: error: no such video: {args.source}", file=sys.stderr)
        return 2
    base = inference_only(args.source, args.frames)
    full = full_pipeline(args.source, args.frames, paced=False)
    live = full_pipeline(args.source, args.frames, paced=True)
    out = {
        "source": str(args.source),
        "frames": base["frames"],
        "inference_only_fps": round(base["fps"], 2),
        "inference_ms_median": round(base["ms_median"], 2),
        "pipeline_fps": round(full["fps"], 2),
        "ratio": round(full["fps"] / base["fps"], 3),
        "engine_us_median": round(full["engine_us_median"], 1),
        "engine_us_p95": round(full["engine_us_p95"], 1),
        "paced_pose_fps": round(live["fps"], 2),
        "paced_dropped_frames": live["dropped"],
        "latency_ms_median": round(live["latency_ms_median"], 2),
        "latency_ms_p95": round(live["latency_ms_p95"], 2),
        "latency_budget_ms": round(base["ms_median"] + 1000 / 60, 2),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    o = out
    lines = [
        f"source: {o['source']} ({o['frames']} frames)",
        f"inference only   : {o['inference_only_fps']:7.2f} frames/s "
        f"({o['inference_ms_median']} ms/frame median)",
        f"full pipeline    : {o['pipeline_fps']:7.2f} frames/s   ratio {o['ratio']:.3f} "
        "(goal >= 0.90)",
        f"engine per frame : {o['engine_us_median']} us median, {o['engine_us_p95']} us p95 "
        "(smoothing, rules, reps, cues, snapshot)",
        f"paced at source fps, newest frame only: {o['paced_pose_fps']} poses/s, "
        f"{o['paced_dropped_frames']} frames dropped",
        f"capture -> result latency: {o['latency_ms_median']} ms median, "
        f"{o['latency_ms_p95']} ms p95 (budget: inference + one display frame = "
        f"{o['latency_budget_ms']} ms)",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
