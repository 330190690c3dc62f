"""Fault injection for the simulator: what a worn cable, a noisy line or a hung machine does."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Faults:
    garbage_every_s: float = 0.0  # a burst of random bytes between frames every N s; 0 = off
    garbage_bytes: int = 24
    bitflip_rate: float = 0.0  # chance that a sample frame gets one bit flipped
    drop_rate: float = 0.0  # chance that a sample frame is never sent (its seq is used up)
    stall_at: tuple[float, ...] = ()  # the machine goes silent at these times ...
    stall_for_s: float = 2.0  # ... for this long
    disconnect_at: tuple[float, ...] = ()  # the port vanishes at these times ...
    disconnect_for_s: float = 1.0  # ... and a rebooted machine comes back this much later
    ignore_commands: tuple[str, ...] = ()  # commands the machine never answers

    def __post_init__(self) -> None:
        for name in ("bitflip_rate", "drop_rate"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')}: expected 0..1, got {p}")

    @property
    def any(self) -> bool:
        return bool(
            self.garbage_every_s
            or self.bitflip_rate
            or self.drop_rate
            or self.stall_at
            or self.disconnect_at
            or self.ignore_commands
        )

    def corrupt(self, frame: bytes, rng: random.Random) -> bytes:
        bit = rng.randrange(len(frame) * 8)
        out = bytearray(frame)
        out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)


def seconds_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated seconds such as 5,12.5, got {text!r}"
        ) from exc


def add_fault_arguments(p: argparse.ArgumentParser) -> None:
    """The fault switches, shared by the simulator and ``monitor --device sim:MODEL``."""
    g = p.add_argument_group("fault injection (times in seconds since the simulator started)")
    g.add_argument("--garbage-every", type=float, default=0.0, metavar="S")
    g.add_argument("--garbage-bytes", type=int, default=24, metavar="N")
    g.add_argument("--bitflip-rate", type=float, default=0.0, metavar="P")
    g.add_argument("--drop-rate", type=float, default=0.0, metavar="P")
    g.add_argument("--stall-at", type=seconds_list, default=(), metavar="T[,T...]")
    g.add_argument("--stall-for", type=float, default=2.0, metavar="S")
    g.add_argument("--disconnect-at", type=seconds_list, default=(), metavar="T[,T...]")
    g.add_argument("--disconnect-for", type=float, default=1.0, metavar="S")
    g.add_argument("--ignore-command", action="append", default=[], metavar="NAME",
                   choices=["start", "stop", "tare", "set_limits", "ping"])  # fmt: skip


def faults_from_args(ns: argparse.Namespace) -> Faults:
    return Faults(
        garbage_every_s=ns.garbage_every,
        garbage_bytes=ns.garbage_bytes,
        bitflip_rate=ns.bitflip_rate,
        drop_rate=ns.drop_rate,
        stall_at=tuple(ns.stall_at),
        stall_for_s=ns.stall_for,
        disconnect_at=tuple(ns.disconnect_at),
        disconnect_for_s=ns.disconnect_for,
        ignore_commands=tuple(ns.ignore_command),
    )


def fault_argv(ns: argparse.Namespace) -> list[str]:
    """The same switches as simulator arguments, for passing them through."""
    out: list[str] = []
    f = faults_from_args(ns)
    if f.garbage_every_s:
        out += ["--garbage-every", str(f.garbage_every_s), "--garbage-bytes", str(f.garbage_bytes)]
    if f.bitflip_rate:
        out += ["--bitflip-rate", str(f.bitflip_rate)]
    if f.drop_rate:
        out += ["--drop-rate", str(f.drop_rate)]
    if f.stall_at:
        out += ["--stall-at", ",".join(map(str, f.stall_at)), "--stall-for", str(f.stall_for_s)]
    if f.disconnect_at:
        out += ["--disconnect-at", ",".join(map(str, f.disconnect_at))]
        out += ["--disconnect-for", str(f.disconnect_for_s)]
    for name in f.ignore_commands:
        out += ["--ignore-command", name]
    return out
