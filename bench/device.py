"""Machine link benchmark: loss-free sample rate and write-to-ring latency over a real pty.

    python bench/device.py [--json] [--seconds S]

For each line rate (115200 and 1,000,000 baud) the simulator streams at rising sample rates
around the wire budget (baud / 10 bytes a second over the sample frame size); a rate counts
as sustained when every sample the machine generated arrived, with no sequence gap. The
simulator paces its output to the baud rate and has a small transmit buffer, as a UART does,
so a rate the line cannot carry shows up as loss, and so does a parser that cannot keep up.

Latency is from the moment the simulator's write of a frame returned to the moment the
sample was in the ring buffer, both on the host's monotonic clock.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device_bridge.bridge import DeviceBridge
from device_bridge.parser import FrameParser
from device_bridge.protocol import (
    FrameType,
    encode_frame,
    encode_sample,
    max_frame_rate,
    sample_frame_size,
)
from device_bridge.simproc import SimulatorProcess

FRAME = sample_frame_size(2)


def tx_buffer(baud: int) -> int:
    # About 40 ms of line time: room for the simulator's own scheduling hiccups, small enough
    # that a rate 2 % over the line's capacity overruns it within a trial.
    return max(512, int(baud / 10 * 0.04))


def trial(baud: int, rate: int, seconds: float, *, frame_log: bool = False) -> dict:
    arrivals: dict[int, float] = {}

    def on_sample(s) -> None:
        arrivals[s.seq % 65536] = time.monotonic()

    args = ["--rate", str(rate), "--baud", str(baud), "--tx-buffer", str(tx_buffer(baud))]
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimulatorProcess("lumbar_extension", args, workdir=tmp, frame_log=frame_log)
        bridge = DeviceBridge(sim.link, baudrate=baud, on_sample=on_sample if frame_log else None)
        try:
            bridge.start()
            if not bridge.wait_ready(5.0):
                raise RuntimeError(f"no samples at {baud} baud, {rate} Hz: {bridge.status()}")
            time.sleep(seconds)
            bridge.stop_streaming()
            time.sleep(0.3)
            st = bridge.status()
            received = st.samples
            bridge.drain()
        finally:
            bridge.close()
            truth = sim.close() or {}
    generated = truth.get("samples_generated", 0)
    out = {
        "rate_hz": rate,
        "generated": generated,
        "received": received,
        "lost": generated - received,
        "seq_gaps": st.seq_gaps,
        "crc_errors": st.crc_errors,
        "loss_free": generated > 0 and received == generated and st.seq_gaps == 0,
    }
    if frame_log and sim.frames:
        lat = sorted(
            arrivals[row[0]] - row[5]
            for row in sim.frames
            if row[5] is not None and row[0] in arrivals
        )
        lat = lat[len(lat) // 10 :]  # skip the first tenth: the clock map is still settling
        out["latency_ms"] = {
            "median": round(statistics.median(lat) * 1e3, 3),
            "p95": round(lat[int(0.95 * (len(lat) - 1))] * 1e3, 3),
            "max": round(lat[-1] * 1e3, 3),
            "n": len(lat),
        }
    return out


def highest_rate(baud: int, seconds: float) -> dict:
    budget = max_frame_rate(baud, FRAME)
    trials = []
    best = 0
    for share in (0.5, 0.8, 0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1):
        rate = int(budget * share)
        t = trial(baud, rate, seconds)
        trials.append(t)
        if not t["loss_free"]:
            break
        best = rate
    return {
        "baud": baud,
        "frame_bytes": FRAME,
        "wire_budget_hz": round(budget, 1),
        "max_loss_free_hz": best,
        "share_of_budget": round(best / budget, 3),
        "tx_buffer_bytes": tx_buffer(baud),
        "trials": trials,
    }


def reader_headroom(seconds: float) -> dict:
    """The same search with the pacing out of the way (a line far faster than any real one):
    where the reader thread itself, not the wire, starts to lose samples."""
    baud = 40_000_000
    best, trials = 0, []
    for rate in (8000, 12000, 16000, 20000, 25000, 30000):
        t = trial(baud, rate, seconds)
        trials.append(t)
        if not t["loss_free"]:
            break
        best = rate
    return {"baud": baud, "max_loss_free_hz": best, "trials": trials}


def parser_throughput(n: int = 200_000) -> float:
    frames = b"".join(
        encode_frame(FrameType.SAMPLE, i, encode_sample(i * 1000, (i % 3000, 2800)))
        for i in range(n)
    )
    parser = FrameParser()
    t = time.perf_counter()
    got = 0
    for i in range(0, len(frames), 4096):
        got += len(parser.feed(frames[i : i + 4096]))
    dt = time.perf_counter() - t
    assert got == n, (got, n)
    return n / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each trial")
    args = ap.parse_args()
    result = {
        "frame_bytes": FRAME,
        "parser_frames_per_s_in_memory": round(parser_throughput()),
        "rates": [highest_rate(b, args.seconds) for b in (115200, 1_000_000)],
        "reader_headroom": reader_headroom(args.seconds),
        "latency": [
            {"baud": 1_000_000, **trial(1_000_000, 1000, args.seconds, frame_log=True)},
            {"baud": 115200, **trial(115200, 500, args.seconds, frame_log=True)},
        ],
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"sample frame: {FRAME} bytes = {FRAME * 10} bits on an 8N1 line")
    print(f"parser alone (in memory): {result['parser_frames_per_s_in_memory']:,} frames/s")
    for r in result["rates"]:
        print(
            f"{r['baud']:>9} baud: wire budget {r['wire_budget_hz']:8.1f} samples/s, "
            f"highest loss-free measured {r['max_loss_free_hz']:6d} samples/s "
            f"({100 * r['share_of_budget']:.1f} % of budget)"
        )
    head = result["reader_headroom"]
    print(
        f"reader thread without pacing: loss-free up to {head['max_loss_free_hz']} samples/s "
        f"(tried {', '.join(str(t['rate_hz']) for t in head['trials'])})"
    )
    for lat in result["latency"]:
        ms = lat["latency_ms"]
        print(
            f"latency write -> ring at {lat['baud']} baud, {lat['rate_hz']} Hz: "
            f"median {ms['median']:.3f} ms, p95 {ms['p95']:.3f} ms, max {ms['max']:.3f} ms "
            f"({ms['n']} samples)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
