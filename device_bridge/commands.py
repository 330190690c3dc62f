"""Commands in flight: each waits for the ACK or NACK that quotes its sequence number."""

from __future__ import annotations

import threading
import time

from device_bridge import protocol as p
from device_bridge.errors import CommandRejected, CommandTimeout, DeviceError
from device_bridge.parser import Frame


class Pending:
    __slots__ = ("device_us", "error", "event", "ftype", "reason", "seq", "t")

    def __init__(self, seq: int, ftype: int) -> None:
        self.seq, self.ftype, self.t = seq, ftype, time.monotonic()
        self.event = threading.Event()
        self.reason = 0
        self.device_us = 0
        self.error: DeviceError | None = None

    @property
    def name(self) -> str:
        return p.FrameType(self.ftype).name.lower()


class CommandTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, Pending] = {}
        self._seq = 0

    def new(self, ftype: int, *, expect_answer: bool = True) -> Pending:
        with self._lock:
            cmd = Pending(self._seq, ftype)
            self._seq = (self._seq + 1) % p.SEQ_MODULO
            if expect_answer:
                self._pending[cmd.seq] = cmd
        return cmd

    def answer(self, f: Frame) -> Pending | None:
        """Resolve the command an ACK/NACK answers; None for a late or unknown answer."""
        if len(f.payload) < p.ACK.size:
            return None
        seq, ftype, reason, device_us = p.ACK.unpack_from(f.payload)
        with self._lock:
            cmd = self._pending.get(seq)
            if cmd is None or cmd.ftype != ftype:
                return None  # it came after its command timed out
            del self._pending[seq]
        if f.ftype == p.FrameType.NACK:
            cmd.reason = reason or p.NackReason.NOT_NOW
        cmd.device_us = device_us
        cmd.event.set()
        return cmd

    def wait(self, cmd: Pending, timeout: float) -> int:
        """Device time (us) of the ACK; raises on time-out, NACK or a lost connection."""
        if not cmd.event.wait(timeout):
            with self._lock:
                self._pending.pop(cmd.seq, None)
            raise CommandTimeout(cmd.name, timeout)
        if cmd.error is not None:
            raise cmd.error
        if cmd.reason:
            try:
                reason = p.NackReason(cmd.reason).name.lower()
            except ValueError:
                reason = f"reason {cmd.reason}"
            raise CommandRejected(cmd.name, reason)
        return cmd.device_us

    def fail_all(self, error: DeviceError) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for cmd in pending.values():
            cmd.error = error
            cmd.event.set()

    def prune(self, now: float, max_age_s: float = 10.0) -> None:
        """Forget answers never to come (commands the reader sent without waiting)."""
        with self._lock:
            for seq in [s for s, c in self._pending.items() if now - c.t > max_age_s]:
                del self._pending[seq]
