"""UI smoothness benchmark: display frame rate and pose rate while the model runs.

    python bench/ui.py [--display dummy|xvfb|both] [--worker thread|process|both]
                       [--seconds S] [--json]

Runs the real window loop (``app.gui.WindowLoop``: pump, snapshot, the patient view drawn,
the window presented) on squat.mp4 paced at its own 60 fps like a camera, with pose
inference off the UI thread, and measures it
- on SDL's ``dummy`` video driver (no window: drawing without presenting costs) and
- in a real X window: ``xvfb`` starts an X server (``Xvfb``) of its own for the run, so
  presenting the window to the X server is paid as on a desktop;
in two arrangements of the pose worker:
- ``thread``: the pose worker is a thread in the UI process (what the app uses);
- ``process``: the pose worker is a separate process, frames and poses passed by pipe.
Every measurement runs in a subprocess of its own (pygame and the model start cleanly), and
the same run measures the inference-only rate (the pose model alone over frames decoded in
advance) as the baseline. Prints UI frames per second (goal at least 55), the display frame
time median and p95 with its stages (pump, snapshot, draw, present) and the share of the
window presented, the pose rate (goal at least 30, a camera's rate) and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402

from app.inputs import InputChoice  # noqa: E402
from app.loop import DISPLAY_FPS, Runner, RunOptions  # noqa: E402
from app.streams import PoseResult, PoseStream  # noqa: E402
from body.pose import Pose  # noqa: E402
from exercises.library import get_exercise  # noqa: E402

VIDEO = ROOT / ".." / "shared" / "testdata" / "wissem_gym_rom" / "videos" / "squat.mp4"
SIZE = (1280, 720)
GOAL_UI_FPS, GOAL_POSE_FPS = 55.0, 30.0
STAGES = ("pump", "snapshot", "draw", "present")


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


class StageTimes:
    """Time spent in each stage of the current display frame, kept per frame."""

    def __init__(self) -> None:
        self.now = dict.fromkeys(STAGES, 0.0)
        self.frames: list[dict[str, float]] = []
        self.presented_px: list[int] = []

    def wrap(self, stage: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.now[stage] += time.perf_counter() - t

        return timed

    def end_frame(self) -> None:
        self.frames.append(self.now)
        self.now = dict.fromkeys(STAGES, 0.0)


def measure_window(mode: str, seconds: float) -> dict:
    """The window loop for ``seconds`` on this process's SDL video driver."""
    import pygame

    from app.gui import WindowLoop
    from feedback.app_window import Screen

    # The runner's own time limit stays out of the way: this loop ends the measurement.
    opts = RunOptions(
        InputChoice("video", str(VIDEO), "bench"), get_exercise("squat"), seconds=seconds + 60
    )
    runner = Runner(opts)
    if mode == "process":
        runner.stream.close()
        runner.stream = ProcessPoseStream(VIDEO)
    pygame.init()
    surface = pygame.display.set_mode(SIZE)
    screen = Screen(SIZE)
    times = StageTimes()
    runner.pump = times.wrap("pump", runner.pump)
    runner.snapshot = times.wrap("snapshot", runner.snapshot)
    screen.draw = times.wrap("draw", screen.draw)
    window_px = SIZE[0] * SIZE[1]

    def flip() -> None:
        times.presented_px.append(window_px)
        real_flip()

    def update(rects=None) -> None:
        if rects is None:
            times.presented_px.append(window_px)
        else:
            rs = [pygame.Rect(r) for r in rects] if isinstance(rects, list | tuple) else [rects]
            times.presented_px.append(sum(r.clip(surface.get_rect()).w * r.h for r in rs))
        real_update(rects) if rects is not None else real_update()

    real_flip, real_update = pygame.display.flip, pygame.display.update
    pygame.display.flip = times.wrap("present", flip)
    pygame.display.update = times.wrap("present", update)
    loop = WindowLoop(runner, surface, screen)
    clock = pygame.time.Clock()
    t0 = time.monotonic()
    poses0, frames0 = runner.stats.poses, runner.stats.ui_frames
    try:
        while time.monotonic() - t0 < seconds and not runner.finished and loop.step():
            times.end_frame()
            clock.tick(DISPLAY_FPS)
        wall = time.monotonic() - t0
    finally:
        pygame.display.flip, pygame.display.update = real_flip, real_update
        runner.close()
        screen.close()
        pygame.quit()
    frame_s = runner.stats.ui_frame_s
    lat = runner.stats.latencies_s
    out = {
        "driver": os.environ.get("SDL_VIDEODRIVER", ""),
        "ui_fps": (runner.stats.ui_frames - frames0) / wall,
        "frame_ms_median": statistics.median(frame_s) * 1e3,
        "frame_ms_p95": float(np.percentile(frame_s, 95)) * 1e3,
        "pose_fps": (runner.stats.poses - poses0) / wall,
        "latency_ms_median": statistics.median(lat) * 1e3 if lat else float("nan"),
        "presented_share": float(np.mean(times.presented_px)) / window_px
        if times.presented_px
        else 0.0,
    }
    for stage in STAGES:
        xs = [f[stage] for f in times.frames]
        out[f"{stage}_ms_median"] = statistics.median(xs) * 1e3
        out[f"{stage}_ms_p95"] = float(np.percentile(xs, 95)) * 1e3
    return out


def measure_inference(frames: int) -> dict:
    """The pose model alone over frames decoded in advance, as fast as it goes (the same
    measurement as ``bench/pipeline.py``'s baseline)."""
    from pipeline import inference_only  # bench/pipeline.py, beside this file

    r = inference_only(VIDEO, frames)
    return {"pose_fps": r["fps"], "frames": r["frames"]}


class BenchError(Exception):
    """A measurement that could not run; the message says why."""


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An X server of this run's own; it picks a free display number and reports it."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise BenchError("no Xvfb on this machine (Debian: apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    w, h = SIZE
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()  # written once the server accepts connections
    if not number.isdigit():
        proc.kill()
        proc.wait()
        raise BenchError(f"Xvfb did not start (exit code {proc.poll()})")
    return proc, f":{number}"


def run_child(what: str, env: dict[str, str], seconds: float) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        what,
        "--seconds",
        str(seconds),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 180)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{what} measurement failed (exit {done.returncode}): {tail}")
    return json.loads(lines[-1])


def child_main(what: str, seconds: float) -> int:
    out = measure_inference(300) if what == "inference" else measure_window(what, seconds)
    print(json.dumps(out))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--display", choices=("dummy", "xvfb", "both"), default="both")
    ap.add_argument("--worker", choices=("thread", "process", "both"), default="both")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args.child, args.seconds)
    if not VIDEO.is_file():
        print(f"bench/ui.py: error: no such video: {VIDEO}", file=sys.stderr)
        return 2
    if not args.seconds > 0:
        print(
            f"bench/ui.py: error: --seconds must be positive, got {args.seconds}", file=sys.stderr
        )
        return 2
    displays = ("dummy", "xvfb") if args.display == "both" else (args.display,)
    workers = ("thread", "process") if args.worker == "both" else (args.worker,)
    base_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    load_before = os.getloadavg()
    xvfb: subprocess.Popen | None = None
    out: dict = {"load_average_before": [round(x, 2) for x in load_before]}
    try:
        out["inference_only"] = run_child("inference", base_env, args.seconds)
        for display in displays:
            env = dict(base_env, SDL_VIDEODRIVER="dummy")
            if display == "xvfb":
                xvfb, number = start_xvfb()
                env = dict(base_env, SDL_VIDEODRIVER="x11", DISPLAY=number)
            for worker in workers:
                out[f"{display}/{worker}"] = run_child(worker, env, args.seconds)
            if xvfb is not None:
                xvfb.terminate()
                xvfb.wait(timeout=10)
                xvfb = None
    except BenchError as exc:
        print(f"bench/ui.py: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if xvfb is not None:
            xvfb.kill()
            xvfb.wait()
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(out))
        return 0
    report(out)
    return 0


def report(out: dict) -> None:
    print(
        f"load average before {out['load_average_before']}, after {out['load_average_after']} "
        f"(1, 5, 15 min; {os.cpu_count()} cores)"
    )
    inf = out["inference_only"]["pose_fps"]
    print(f"inference only: {inf:6.2f} poses/s (the pose model alone, frames decoded in advance)")
    for key, r in out.items():
        if "/" not in key:
            continue
        ok = r["ui_fps"] >= GOAL_UI_FPS and r["pose_fps"] >= GOAL_POSE_FPS
        stages = ", ".join(f"{s} {r[f'{s}_ms_median']:.2f}/{r[f'{s}_ms_p95']:.2f}" for s in STAGES)
        print(
            f"{key:14} UI {r['ui_fps']:5.1f} frames/s, display frame {r['frame_ms_median']:.1f} ms "
            f"median / {r['frame_ms_p95']:.1f} ms p95, pose {r['pose_fps']:5.1f} /s "
            f"({r['pose_fps'] / inf:.2f} of inference only), capture->pose "
            f"{r['latency_ms_median']:.0f} ms median  [{'meets' if ok else 'misses'} the goal: "
            f"UI >= {GOAL_UI_FPS:.0f}, pose >= {GOAL_POSE_FPS:.0f}]"
        )
        print(
            f"{'':14} stages ms median/p95: {stages}; presented "
            f"{r['presented_share']:.0%} of the window a frame"
        )


if __name__ == "__main__":
    sys.exit(main())
