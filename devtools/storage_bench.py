"""What recording costs: commit time per rep and per other call, and open time.

    python -m devtools.storage_bench [--dir DIR] [--reps 500] [--sessions 200]

Run it on the disk the kiosk uses: the commit cost is dominated by fsync (synchronous=FULL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from storage import open_store
from storage.records import RepRecord


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _line(name: str, ms: list[float]) -> str:
    a = np.asarray(ms)
    return (
        f"{name:<28} median {statistics.median(ms):7.3f} ms   p99 {np.percentile(a, 99):7.3f} ms"
        f"   max {a.max():7.3f} ms   (n={len(ms)})"
    )


def run(folder: Path, reps: int, sessions: int) -> list[str]:
    db = folder / "bench.sqlite"
    lines = []
    with open_store(db) as store:
        w = store.begin_session("BENCH-1", "lumbar_extension")
        w.begin_set(target_reps=reps)
        counter = iter(range(1, 10**9))

        def rep() -> None:
            i = next(counter)
            w.add_rep(
                RepRecord(
                    i,
                    i * 5.0,
                    i * 5.0 + 4.8,
                    0.0,
                    60.0,
                    0.9,
                    4.8,
                    True,
                    True,
                    ("machine.jerk",),
                    1.0,
                    120.0,
                )
            )

        lines.append(_line("add_rep (commit)", _timed(rep, reps)))
        t = np.linspace(0.0, 5.0, 1000)  # 5 s at 200 Hz
        lines.append(
            _line(
                "add_trace 5 s @ 200 Hz",
                _timed(lambda: w.add_trace("machine angle", "deg", t, np.sin(t)), 50),
            )
        )
        w.finish()
        lines.append(
            _line(
                "begin_session",
                _timed(lambda: store.begin_session("BENCH-1", "squat").finish(), 20),
            )
        )
        for _ in range(sessions):
            s = store.begin_session("BENCH-2", "lumbar_extension")
            s.begin_set(target_reps=40)
            for i in range(1, 41):
                s.add_rep(RepRecord(i, i, i + 1, 0, 60, 0.9, 1, True, True))
            s.add_trace("machine angle", "deg", np.linspace(0, 200, 5000), np.zeros(5000))
            s.finish()
    size_mb = db.stat().st_size / 1e6
    opens = _timed(lambda: open_store(db).close(), 5)
    lines.append(_line(f"open incl. quick_check {size_mb:.1f} MB", opens))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.storage_bench")
    ap.add_argument("--dir", type=Path, default=None, help="folder on the disk to measure")
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--sessions", type=int, default=200)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for line in run(Path(tmp), args.reps, args.sessions):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
