"""A long kiosk soak: the real window loop (see ``devtools/kiosk_soak.py``) for hours of
simulated kiosk life, under the dummy SDL driver.

    python bench/kiosk_soak.py [--hours 2] [--seed 10] [--no-memory]

Prints the report (sign-ins, refusals, lock-outs, idle returns checked, threads, memory
growth over the second half) and the wall time; exits 1 if anything went wrong. The normal
test suite runs five simulated minutes of the same (``tests/test_kiosk_soak.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.kiosk_soak import FPS, run_soak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--no-memory", action="store_true", help="skip tracemalloc (faster)")
    args = ap.parse_args(argv)
    frames = round(args.hours * 3600 * FPS)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_soak(Path(tmp), frames, args.seed, trace_memory=not args.no_memory)
    wall = time.perf_counter() - t0
    for key, value in asdict(report).items():
        print(f"{key:20} {value}")
    print(f"{'wall_s':20} {wall:.1f} ({report.sim_s / wall:.0f}x real time)")
    return 1 if report.problems or not report.exited else 0


if __name__ == "__main__":
    sys.exit(main())
