"""Records a session slowly through the SessionWriter API, for crash tests.

Prints ``session ID`` once started, ``writing N`` just before rep N is handed to the writer
and ``rep N`` once it is committed (each line flushed), so a test that kills this process knows
what was committed and whether the kill fell inside the rep's write. Usage:

    python tests/storage_writer_driver.py --db FILE --patient CODE [--reps N] [--delay S]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from session.snapshot import Cue, RepView, Severity
from storage import SessionSummary, open_store


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--patient", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--reps-per-set", type=int, default=10)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds between reps")
    ap.add_argument("--trace-points", type=int, default=2000, help="raw trace samples per rep")
    args = ap.parse_args(argv)

    store = open_store(args.db)
    writer = store.begin_session(args.patient, "lumbar_extension", source="driver")
    print(f"session {writer.session_id}", flush=True)
    t = 0.0
    for i in range(1, args.reps + 1):
        in_set = (i - 1) % args.reps_per_set + 1
        if in_set == 1:
            writer.begin_set(target_reps=args.reps_per_set, load_band_n=(80.0, 160.0))
        # Work between reps, each its own commit: a trace chunk and a cue.
        ts = t + np.linspace(0.0, 4.8, args.trace_points)
        writer.add_trace("machine angle", "deg", ts, 30.0 * np.sin(ts))
        if i % 3 == 0:
            writer.add_cue(Cue("machine.slow_down", "Slower", Severity.WARNING, t + 1.0))
        rep = RepView(
            index=in_set,
            start_s=t,
            end_s=t + 4.8,
            min_angle_deg=0.0,
            max_angle_deg=60.0 + i % 7,
            range_fraction=0.9,
            duration_s=4.8,
            tempo_ok=i % 4 != 0,
            counted=True,
            faults=("machine.jerk",) if i % 5 == 0 else (),
        )
        print(f"writing {i}", flush=True)
        writer.add_rep(rep, hold_s=1.0, peak_force_n=100.0 + math.sin(i) * 10)
        print(f"rep {i}", flush=True)
        t += 5.0
        if args.delay:
            time.sleep(args.delay)
    writer.finish(SessionSummary())
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
