"""Command line for the clinic's IT person.

    python -m device_bridge monitor --device auto|sim:MODEL|PORT|URL [--seconds N] [--json]
    python -m device_bridge calibration show|read|zero|two-point ...

``monitor`` connects, prints the machine's hello, streams live values, and ends with the link
statistics; with ``--json`` the live lines go to stderr and stdout gets one JSON object.
``calibration`` sets a machine's zero and scale (``device_bridge/calibrate.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from calibration import CalibrationStore
from device_bridge.bridge import DEFAULT_BAUD
from device_bridge.errors import DeviceError, DeviceNotFound
from device_bridge.factory import open_device
from device_bridge.faults import add_fault_arguments, fault_argv
from device_bridge.samples import SafetyLimits


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m device_bridge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("calibration", help="set a machine's zero and scale (calibration --help)")
    m = sub.add_parser("monitor", help="connect, show live values, print link statistics")
    m.add_argument("--device", default="auto", help="auto, sim:MODEL, a port path or a URL")
    m.add_argument("--seconds", type=float, default=10.0, help="how long to watch (default 10)")
    m.add_argument("--json", action="store_true", help="print one JSON object at the end")
    m.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    m.add_argument("--calibration", help="calibration file (default: the user's data dir)")
    m.add_argument("--max-force", type=float, metavar="N", help="load limit (default: none)")
    m.add_argument("--min-angle", type=float, metavar="DEG")
    m.add_argument("--max-angle", type=float, metavar="DEG")
    m.add_argument("--sim-rate", type=int, default=1000, help="simulator samples a second")
    m.add_argument("--sim-seed", type=int, default=1)
    add_fault_arguments(m)
    return ap


def _limits(args: argparse.Namespace) -> SafetyLimits | None:
    """The limits given, each finite (and the force above 0): a NaN or infinite limit would
    switch its check off, so it is refused rather than ignored."""
    given = {"--max-force": args.max_force, "--min-angle": args.min_angle,
             "--max-angle": args.max_angle}  # fmt: skip
    for flag, value in given.items():
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{flag}: expected a finite number, got {value}")
    if args.max_force is not None and args.max_force <= 0:
        raise ValueError(f"--max-force: expected a load limit above 0 N, got {args.max_force:g}")
    if all(v is None for v in given.values()):
        return None
    return SafetyLimits(
        math.inf if args.max_force is None else args.max_force,
        -math.inf if args.min_angle is None else args.min_angle,
        math.inf if args.max_angle is None else args.max_angle,
    )


def monitor(args: argparse.Namespace) -> dict[str, Any]:
    limits = _limits(args)
    # Fault switches only make sense for the simulator; open_device refuses them otherwise.
    sim_args = fault_argv(args)
    if args.device.strip().startswith("sim:"):
        sim_args = ["--rate", str(args.sim_rate), "--seed", str(args.sim_seed), *sim_args]
    store = CalibrationStore(args.calibration) if args.calibration else CalibrationStore()
    bridge = open_device(
        args.device,
        limits=limits,
        calibration_store=store,
        baudrate=args.baud,
        simulator_args=sim_args,
    )
    live = sys.stderr if args.json else sys.stdout
    first: float | None = None
    last: float | None = None
    events = 0
    prev_seq = -1
    out_of_order = 0
    with bridge:
        if bridge.wait_ready(timeout=min(5.0, args.seconds + 1.0)) and bridge.hello:
            h = bridge.hello
            print(f"hello: {h.model} serial {h.serial} firmware {h.firmware} protocol "
                  f"{h.protocol[0]}.{h.protocol[1]} at {h.rate_hz} Hz", file=live)  # fmt: skip
            for ch in h.channels:
                print(f"  channel {ch.name} [{ch.unit}] {ch.minimum:g}..{ch.maximum:g}", file=live)
        start = time.monotonic()
        end = start + args.seconds
        next_line = start
        while (now := time.monotonic()) < end:
            for s in bridge.drain():
                first = s.host_time_s if first is None else first
                last = s.host_time_s
                out_of_order += s.seq <= prev_seq
                prev_seq = s.seq
            for ev in bridge.safety_events():
                events += 1
                print(f"SAFETY {ev.kind}: {ev.value:.1f} beyond {ev.limit:.1f} (seq {ev.seq})",
                      file=live)  # fmt: skip
            if now >= next_line:
                next_line += 0.5
                st = bridge.status()
                s = bridge.latest()
                vals = f"angle {s.angle_deg:7.2f} deg  force {s.force_n:7.1f} N" if s else "-"
                print(f"{now - start:5.1f} s  {st.state:<14} {vals}  {st.rate_hz:7.1f} Hz",
                      file=live)  # fmt: skip
            time.sleep(0.02)
        for s in bridge.drain():
            first = s.host_time_s if first is None else first
            last = s.host_time_s
        status = bridge.status()
    h = bridge.hello
    span = (last - first) if first is not None and last is not None else 0.0
    result: dict[str, Any] = {
        "device": args.device,
        "model": h.model if h else None,
        "serial": h.serial if h else None,
        "firmware": h.firmware if h else None,
        "protocol": f"{h.protocol[0]}.{h.protocol[1]}" if h else None,
        "nominal_rate_hz": h.rate_hz if h else None,
        "seconds": args.seconds,
        "samples": status.samples,
        "rate_hz": round((status.samples - 1) / span, 2) if span > 0 else 0.0,
        "crc_errors": status.crc_errors,
        "seq_gaps": status.seq_gaps,
        "lost_frames": status.lost_frames,
        "resyncs": status.resyncs,
        "reconnects": status.reconnects,
        "dropped_backwards": status.dropped_backwards,
        "out_of_order": out_of_order,
        "clock_drift_ppm": round(status.clock_drift_ppm, 1),
        "safety_events": events,
        "state": status.state,
        "message": status.message,
    }
    truth = bridge.simulator.truth if bridge.simulator is not None else None
    if truth:
        keys = (
            *("samples_generated", "samples_sent", "frames_dropped", "frames_corrupted"),
            *("frames_overflowed", "garbage_bursts", "stalls", "disconnects", "rep_count"),
        )
        result["simulator"] = {k: truth.get(k) for k in keys}
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["calibration"]:
        from device_bridge.calibrate import main as calibration_main

        return calibration_main(argv[1:])
    args = _parser().parse_args(argv)
    if not (math.isfinite(args.seconds) and args.seconds > 0):  # NaN would watch nothing
        print(f"error: --seconds: expected a number of seconds above 0, got {args.seconds:g}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        result = monitor(args)
    except (DeviceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not result["samples"]:
        print(f"error: {DeviceNotFound(args.device, result['message'])}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print("statistics:")
        for key, value in result.items():
            print(f"  {key}: {value}")
    return 0 if result["samples"] else 1


if __name__ == "__main__":
    sys.exit(main())
