"""Time the draw calls: ``python -m devtools.drawbench [--frames 300] [--size 1280x720]``.

Replays the real landmark recording through the patient and therapist views (headless) and
prints the median and 95th percentile draw time per frame. The 60 fps budget is 16.7 ms for
everything the UI thread does, so drawing should stay well under it.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

from feedback import demo_snapshots as demo
from feedback.patient_view import PatientView
from feedback.therapist_view import TherapistView


def _time_draws(view, snaps, surface) -> np.ndarray:
    """(frames, 2) milliseconds: wall clock and this thread's CPU time per draw.

    CPU time is the cost of drawing itself; wall time also holds waits for a busy machine.
    """
    out = np.empty((len(snaps), 2))
    for i, s in enumerate(snaps):
        view.update(s)
        w0, c0 = time.perf_counter(), time.thread_time()
        view.draw(surface)
        out[i] = time.perf_counter() - w0, time.thread_time() - c0
    return out * 1e3


def run(frames: int, size: tuple[int, int]) -> dict[str, np.ndarray]:
    pygame.init()
    surface = pygame.Surface(size)
    lm, _ = demo.floor_series()
    base = demo.floor_snapshot()
    floor = [
        replace(base, t=i / 60, landmarks=lm[i % len(lm)].astype(np.float32)) for i in range(frames)
    ]
    # Timing only needs pixels of a camera's size; a real frame when the video is there.
    frame = demo.load_frame()
    if frame is None:
        frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    machine0 = demo.machine_snapshot(frame=frame)
    # A new camera image on every other UI frame: a 30 fps camera under a 60 fps UI.
    frames_30 = [frame.copy() for _ in range(2)]
    machine = [
        replace(
            machine0, t=i / 60, frame=frames_30[(i // 2) % 2], force_n=150 + 40 * np.sin(i / 20)
        )
        for i in range(frames)
    ]
    return {
        "patient, landmark replay": _time_draws(PatientView(), floor, surface),
        "patient, camera image + load bar": _time_draws(PatientView(), machine, surface),
        "therapist, machine (2 traces)": _time_draws(TherapistView(), machine, surface),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    print(f"draw time per frame at {size[0]}x{size[1]}, {args.frames} frames")
    print(f"  {'':34s} wall median / p95     CPU median / p95")
    for name, ms in run(args.frames, size).items():
        w, c = ms[:, 0], ms[:, 1]
        print(
            f"  {name:34s} {np.median(w):5.2f} / {np.percentile(w, 95):5.2f} ms"
            f"    {np.median(c):5.2f} / {np.percentile(c, 95):5.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
