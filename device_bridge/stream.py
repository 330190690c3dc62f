"""From accepted frames to samples: frame numbering, device time and channel decoding.

No threads and no port here: the reader thread feeds frames in, in arrival order.
"""

from __future__ import annotations

import math
from enum import Enum

from calibration import MachineCalibration
from device_bridge import protocol as p
from device_bridge.clock import ClockMap
from device_bridge.errors import ProtocolError
from device_bridge.samples import DeviceSample


class Order(Enum):
    IN_ORDER = "in_order"
    RESTARTED = "restarted"  # a new connection, or the machine rebooted
    REPEATED = "repeated"  # a repeat or an older frame: never pass it on


class FrameSequence:
    """Unwraps the machine's u16 frame numbers and counts what went missing.

    ``number`` rises with every frame and never goes back, also across connections: after a
    restart it goes on in a fresh block of 65536, so ``number % 65536`` is always the number
    on the wire.
    """

    def __init__(self) -> None:
        self.number = -1
        self.gaps = 0
        self.lost = 0
        self.repeats = 0
        self._last: int | None = None

    def new_connection(self) -> None:
        self._last = None

    def accept(self, seq: int, is_hello: bool) -> Order:
        delta = None if self._last is None else (seq - self._last) % p.SEQ_MODULO
        forward = delta is not None and 0 < delta < p.SEQ_MODULO // 2
        if delta is None or (is_hello and not forward):
            order = Order.RESTARTED
            delta = (-self.number - 1) % p.SEQ_MODULO + 1 + seq
        elif not forward:
            self.repeats += 1
            return Order.REPEATED
        else:
            order = Order.IN_ORDER
            if delta > 1:
                self.gaps += 1
                self.lost += delta - 1
        self._last = seq
        self.number += delta
        return order


class SampleDecoder:
    """SAMPLE payloads to calibrated ``DeviceSample``s on the host's clock."""

    def __init__(self) -> None:
        self.clock = ClockMap()
        self.backwards = 0  # samples dropped because device time went back
        self.malformed = 0
        self.hello: p.Hello | None = None
        self.calibration = MachineCalibration()
        self.restart()

    def configure(self, hello: p.Hello, calibration: MachineCalibration) -> None:
        self.hello = hello
        self.calibration = calibration
        angle = hello.channel_index("angle")
        force = hello.channel_index("force")
        self._angle = 0 if angle is None else angle
        self._force = 1 if force is None else force
        known = {self._angle, self._force}
        self._extra = tuple(i for i in range(len(hello.channels)) if i not in known)
        self._scales = tuple(ch.scale for ch in hello.channels)

    def restart(self) -> None:
        """The machine's clock starts over (new connection or reboot)."""
        self.clock.reset()
        self._last_us: int | None = None
        self._unwrapped_us = 0

    def unconfigure(self) -> None:
        """No trusted hello (one was refused): no sample is decoded until the next one."""
        self.hello = None

    def _values(self, payload: bytes) -> tuple[int, float, float, tuple[float, ...]] | None:
        """Device time (us) and calibrated angle, force and extra channels."""
        hello = self.hello
        if hello is None:
            self.malformed += 1  # channels are unknown before the hello
            return None
        try:
            t_us, raw = p.decode_sample(payload, len(hello.channels))
        except ProtocolError:
            self.malformed += 1
            return None
        sc, cal, a, f = self._scales, self.calibration, self._angle, self._force
        angle = cal.angle.apply(raw[a] * sc[a])
        force = cal.force.apply(raw[f] * sc[f])
        return t_us, angle, force, tuple(raw[i] * sc[i] for i in self._extra)

    def decode(self, payload: bytes, number: int, receipt_s: float) -> DeviceSample | None:
        """The sample, or None when it is malformed or its time went back (dropped)."""
        values = self._values(payload)
        if values is None:
            return None
        t_us, angle, force, extra = values
        if self._last_us is None:
            self._unwrapped_us = t_us
        else:
            d = (t_us - self._last_us) % p.DEVICE_CLOCK_MODULO
            if d >= p.DEVICE_CLOCK_MODULO // 2:
                self.backwards += 1
                return None
            self._unwrapped_us += d
        self._last_us = t_us
        device_s = self._unwrapped_us * 1e-6
        return DeviceSample(
            seq=number,
            device_time_s=device_s,
            host_time_s=self.clock.observe(device_s, receipt_s),
            angle_deg=angle,
            force_n=force,
            extra=extra,
        )

    def peek(self, payload: bytes, number: int, receipt_s: float) -> DeviceSample | None:
        """A frame about to be dropped (a repeat, or its time went back), at its receipt time
        and without touching the clock: its values still go through the safety check."""
        values = self._values(payload)
        if values is None:
            return None
        _, angle, force, extra = values
        return DeviceSample(number, math.nan, receipt_s, angle, force, extra)
