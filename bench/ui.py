"""UI smoothness benchmark: display frame rate and pose rate while the model runs.

    python bench/ui.py [--seconds S] [--json]

Runs the real window loop (patient view drawn every frame, SDL dummy driver unless a
display is set) on squat.mp4 paced at its own rate like a camera, with pose inference off
the UI thread, in two arrangements measured in the same run:
- ``thread``: the pose worker is a thread in the UI process (what the app uses);
- ``process``: the pose worker is a separate process, frames and poses passed by pipe.
Prints UI frames per second (goal 60), display frame time median and p95, pose rate, and
the inference-only rate as the baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402

from app.inputs import InputChoice  # noqa: E402
from app.loop import DISPLAY_FPS, Runner, RunOptions  # noqa: E402
from app.streams import PoseResult, PoseStream  # noqa: E402
from body.pose import Pose  # noqa: E402
from exercises.library import get_exercise  # noqa: E402

VIDEO = ROOT / ".." / "shared" / "testdata" / "wissem_gym_rom" / "videos" / "squat.mp4"


def _worker(path: str, conn) -> None:  # runs in the pose process
    from vision.estimator import PoseEstimator
    from vision.sources import VideoFileSource

    src = VideoFileSource(path)
    est = PoseEstimator()
    t0 = time.monotonic()
    while (frame := src.read()) is not None:
        delay = t0 + frame.media_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if conn.poll():  # the UI asked us to stop
            break
        captured = time.monotonic()
        pose = est.estimate(frame.image, frame.media_time)
        conn.send((frame.index, frame.media_time, captured, pose.image, pose.world, pose.detected,
                   frame.image, est.last_inference_s))  # fmt: skip
    conn.send(None)


class ProcessPoseStream(PoseStream):
    """Capture and inference in a child process; results arrive over a pipe."""

    def __init__(self, path: Path) -> None:
        super().__init__(60.0, path.name, live=False)
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(
            target=_worker, args=(str(path), child), daemon=True
        )
        self._proc.start()
        self.aspect = 898 / 506

    def poll(self, timeout: float = 0.0) -> list[PoseResult]:
        out = []
        while self._conn.poll(timeout if not out else 0):
            msg = self._conn.recv()
            if msg is None:
                self.finished.set()
                break
            i, mt, cap, image, world, detected, rgb, inf = msg
            pose = Pose(mt, image, world, detected) if detected else Pose.empty(mt)
            out.append(PoseResult(i, mt, cap, time.monotonic(), pose, rgb, inf))
        return out

    @property
    def exhausted(self) -> bool:
        return self.finished.is_set()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the worker may have exited already
            self._conn.send("stop")
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()


def run(mode: str, seconds: float) -> dict:
    import pygame

    from feedback.app_window import Screen

    opts = RunOptions(
        InputChoice("video", str(VIDEO), "bench"), get_exercise("squat"), seconds=seconds
    )
    runner = Runner(opts)
    if mode == "process":
        runner.stream.close()
        runner.stream = ProcessPoseStream(VIDEO)
    pygame.init()
    surface = pygame.display.set_mode((1280, 720))
    screen = Screen((1280, 720))
    clock = pygame.time.Clock()
    frame_s = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and not runner.finished:
        t = time.perf_counter()
        runner.pump()
        screen.update(runner.snapshot())
        pygame.event.pump()
        screen.draw(surface)
        pygame.display.flip()
        frame_s.append(time.perf_counter() - t)
        clock.tick(DISPLAY_FPS)
    wall = time.monotonic() - t0
    poses = runner.stats.poses
    lat = runner.stats.latencies_s
    runner.close()
    screen.close()
    pygame.quit()
    return {
        "ui_fps": len(frame_s) / wall,
        "frame_ms_median": statistics.median(frame_s) * 1e3,
        "frame_ms_p95": float(np.percentile(frame_s, 95)) * 1e3,
        "pose_fps": poses / wall,
        "latency_ms_median": statistics.median(lat) * 1e3 if lat else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not VIDEO.is_file():
        print(f"bench/ui.py: error: no such video: {VIDEO}", file=sys.stderr)
        return 2
    out = {
        mode: {k: round(v, 2) for k, v in run(mode, args.seconds).items()}
        for mode in ("thread", "process")
    }
    if args.json:
        print(json.dumps(out))
        return 0
    for mode, r in out.items():
        print(
            f"{mode:8} UI {r['ui_fps']:6.2f} frames/s (frame {r['frame_ms_median']} ms median, "
            f"{r['frame_ms_p95']} ms p95), pose {r['pose_fps']:6.2f} /s, "
            f"capture->pose {r['latency_ms_median']} ms median"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
