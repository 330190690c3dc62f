"""Calibrate a machine, by serial number.

    python -m device_bridge calibration show
    python -m device_bridge calibration read --device sim:lumbar_extension [--seconds 1]
    python -m device_bridge calibration zero --device PORT --channel force
    python -m device_bridge calibration two-point --serial LE-1001 --channel angle \\
        --reading-a 2.0 --true-a 0 --reading-b 62.5 --true-b 60

``read`` prints the machine's own (uncalibrated) mean readings, to note down at each
reference point; ``zero`` stores the present reading as the channel's zero (a host-side tare,
kept in the file, unlike the machine's own tare command); ``two-point`` sets zero and scale
from two reference readings. ``--file`` picks the calibration file (default: the user's
data directory, or ``$SPINECOACH_CALIBRATION``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

from calibration.model import ChannelCalibration
from calibration.store import CalibrationError, CalibrationStore
from device_bridge.errors import DeviceError
from device_bridge.factory import open_device


def _read(device: str, seconds: float) -> tuple[str, float, float, dict[str, tuple[float, float]]]:
    """Serial number, mean machine readings (angle, force) over ``seconds``, and the
    machine's declared range per channel."""

    try:
        with open_device(device) as bridge:
            if not bridge.wait_ready(5.0) or bridge.hello is None:
                raise DeviceError(f"no samples from {device}: {bridge.status().message}")
            bridge.drain()
            time.sleep(seconds)
            samples = bridge.drain()
            hello = bridge.hello
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if not samples:
        raise SystemExit(f"error: {device} sent no samples in {seconds} s")
    angle = statistics.fmean(s.angle_deg for s in samples)
    force = statistics.fmean(s.force_n for s in samples)
    ranges = {}
    for name in ("angle", "force"):
        ch = hello.channels[hello.channel_index(name) or 0]
        ranges[name] = (ch.minimum, ch.maximum)
    return hello.serial, angle, force, ranges


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m device_bridge calibration", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--file", help="calibration file")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="list calibrated machines")
    for name in ("read", "zero"):
        sp = sub.add_parser(name)
        sp.add_argument("--device", required=True, help="sim:MODEL, a port path or a URL")
        sp.add_argument("--seconds", type=float, default=1.0)
        if name == "zero":
            sp.add_argument("--channel", required=True, choices=["angle", "force"])
    tp = sub.add_parser("two-point")
    tp.add_argument("--serial", required=True)
    tp.add_argument("--channel", required=True, choices=["angle", "force"])
    for arg in ("--reading-a", "--true-a", "--reading-b", "--true-b"):
        tp.add_argument(arg, type=float, required=True)
    args = ap.parse_args(argv)
    seconds = getattr(args, "seconds", 1.0)
    if not (math.isfinite(seconds) and 0 < seconds <= 60):
        print(
            f"error: --seconds: expected more than 0 and at most 60 seconds, got {seconds:g}",
            file=sys.stderr,
        )
        return 2
    try:
        store = CalibrationStore(args.file)
    except CalibrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "show":
        print(f"{store.path}")
        for serial in store.serials():
            cal = store.get(serial)
            print(f"  {serial}: angle zero {cal.angle.zero:g} scale {cal.angle.scale:g}, "
                  f"force zero {cal.force.zero:g} scale {cal.force.scale:g}")  # fmt: skip
    elif args.command == "read":
        serial, angle, force, _ = _read(args.device, args.seconds)
        print(f"{serial}: angle {angle:.3f} deg, force {force:.2f} N (machine units)")
    elif args.command == "zero":
        serial, angle, force, ranges = _read(args.device, args.seconds)
        reading = angle if args.channel == "angle" else force
        try:
            getattr(store.get(serial), args.channel).with_zero_at(reading).check_fits(
                args.channel, *ranges[args.channel]
            )
        except ValueError as exc:
            print(f"error: {serial}: {exc}", file=sys.stderr)
            return 2
        try:
            store.tare(serial, args.channel, reading)
        except CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{serial}: {args.channel} zero set at machine reading {reading:.3f} in {store.path}")
    else:
        try:
            cal = ChannelCalibration.two_point(
                args.reading_a, args.true_a, args.reading_b, args.true_b
            )
            # No machine at hand: its hello checks the zero against its own range again.
            cal.check_zero(args.channel)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        try:
            store.set_channel(args.serial, args.channel, cal)
        except CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(
            f"{args.serial}: {args.channel} zero {cal.zero:g} scale {cal.scale:g} in {store.path}"
        )
    return 0
