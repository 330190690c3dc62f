"""Firmware of a simulated machine: answers commands, samples the patient, paces its UART.

The transport is a ``PtyEndpoint``; ``step(now)`` does one pass of the firmware's main loop.
Faults (``faults.py``) act on sample frames only, so commands stay testable under them.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import deque
from typing import Any

from device_bridge import protocol as p
from device_bridge.faults import Faults
from device_bridge.machine_model import MachineSpec, PatientModel
from device_bridge.parser import Frame, FrameParser
from device_bridge.pty_endpoint import PtyEndpoint

FIRMWARE = "1.4.2-sim"
ANGLE_SCALE = 0.01  # deg per count: +-327 deg in an int16
FORCE_SCALE = 0.1  # N per count: +-3276 N
TORQUE_SCALE = 0.01  # N m per count, the optional third channel
HEARTBEAT_S = 0.25
_COMMAND_NAMES = {
    p.FrameType.START: "start",
    p.FrameType.STOP: "stop",
    p.FrameType.TARE: "tare",
    p.FrameType.SET_LIMITS: "set_limits",
    p.FrameType.PING: "ping",
}


def _count(x: float, scale: float) -> int:
    return max(-32768, min(32767, round(x / scale)))


class SimulatedMachine:
    """Firmware of one machine: answers commands, samples the patient, paces the UART."""

    def __init__(
        self,
        spec: MachineSpec,
        patient: PatientModel,
        port: PtyEndpoint,
        *,
        serial: str,
        rate_hz: int,
        baud: int,
        faults: Faults,
        seed: int = 1,
        extra_channel: bool = False,
        drift_ppm: float = 40.0,
        tx_buffer: int = 4096,
        frame_log: bool = False,
    ) -> None:
        self.spec, self.patient, self.port, self.faults = spec, patient, port, faults
        self.serial, self.rate_hz, self.baud = serial, rate_hz, baud
        self.extra_channel = extra_channel
        self.drift = drift_ppm * 1e-6
        self.tx_buffer = tx_buffer
        self.rng = random.Random(seed + 7)
        self.t0 = time.monotonic()
        self.parser = FrameParser()
        self.log: list[list[Any]] | None = [] if frame_log else None
        self.truth: dict[str, Any] = {
            "model": spec.model,
            "serial": serial,
            "rate_hz": rate_hz,
            "baud": baud,
            "started_host_s": self.t0,
            "samples_generated": 0,
            "samples_sent": 0,
            "frames_dropped": 0,
            "frames_corrupted": 0,
            "frames_overflowed": 0,
            "garbage_bursts": 0,
            "garbage_bytes": 0,
            "stalls": 0,
            "disconnects": 0,
            "boots": 0,
            "commands": {},
            "tares": 0,
            "limits": None,
        }
        self._boot(self.t0)
        self._next_garbage = faults.garbage_every_s or math.inf
        self._stalls = sorted(faults.stall_at)
        self._disconnects = sorted(faults.disconnect_at)
        self._stalled_until = -math.inf
        self._down_until = -math.inf

    # --- device state ---------------------------------------------------------------------

    def _boot(self, now: float) -> None:
        # A machine is switched on some time before the host connects: its clock is not ours.
        self.boot_host = now - self.rng.uniform(100.0, 5000.0)
        self.seq = 0
        self.streaming = False
        self.sample_k = 0
        self.sample_t0_us = 0
        self.tare_angle = 0.0
        self.tare_force = 0.0
        self.limits: tuple[float, float, float] | None = None
        self.breach = False
        self.tx = bytearray()
        self.tx_sent = 0  # bytes handed to the terminal since boot
        self.tx_frames: deque[tuple[int, int, bool]] = deque()  # (end offset, log index, clean)
        self.tx_lost = 0
        self.credit = 0.0
        self.last_pace = now
        self.next_heartbeat = now
        self.truth["boots"] += 1
        self._queue(p.FrameType.HELLO, p.encode_hello(self.hello()), force=True)

    def device_us(self, now: float) -> int:
        return int((now - self.boot_host) * (1.0 + self.drift) * 1e6)

    def hello(self) -> p.Hello:
        s = self.spec
        channels = [
            p.Channel("angle", "deg", ANGLE_SCALE, s.angle_min, s.angle_max),
            p.Channel("force", "N", FORCE_SCALE, 0.0, s.force_max),
        ]
        if self.extra_channel:
            channels.append(p.Channel("torque", "N m", TORQUE_SCALE, -300.0, 300.0))
        proto = (p.PROTOCOL_MAJOR, p.PROTOCOL_MINOR)
        return p.Hello(proto, s.model, self.serial, FIRMWARE, self.rate_hz, tuple(channels))

    def _queue(self, ftype: int, payload: bytes, *, force: bool = False) -> bytes | None:
        frame = p.encode_frame(ftype, self.seq, payload)
        self.seq = (self.seq + 1) % p.SEQ_MODULO
        if not force and len(self.tx) + len(frame) > self.tx_buffer:
            self.tx_lost += 1
            return None
        self.tx += frame
        return frame

    # --- commands -------------------------------------------------------------------------

    def _handle(self, f: Frame, now: float) -> None:
        t = f.ftype
        if t not in p.COMMANDS:
            if t >= p.FrameType.HELLO_REQUEST:
                self._answer(f, now, p.NackReason.UNKNOWN_COMMAND)
            return  # a machine->host frame echoed back: not for us
        name = _COMMAND_NAMES.get(t, "hello_request")
        cmds = self.truth["commands"]
        cmds[name] = cmds.get(name, 0) + 1
        if name in self.faults.ignore_commands:
            return
        if t == p.FrameType.HELLO_REQUEST:
            self._queue(p.FrameType.HELLO, p.encode_hello(self.hello()), force=True)
            return
        reason = 0
        if t == p.FrameType.START:
            rate = p.START.unpack_from(f.payload)[0] if len(f.payload) >= 2 else 0
            if rate > 20000:
                reason = p.NackReason.BAD_ARGUMENT
            else:
                new_rate = rate or self.rate_hz
                if not self.streaming or new_rate != self.rate_hz:
                    # A new sample grid from now: a changed period must not move past samples.
                    self.streaming = True
                    self.rate_hz = new_rate
                    self.sample_k = 0
                    self.sample_t0_us = self.device_us(now)
        elif t == p.FrameType.STOP:
            self.streaming = False
        elif t == p.FrameType.TARE:
            mask = f.payload[0] if f.payload else p.TARE_FORCE
            angle, force = self.patient.measure(now - self.t0)
            if mask & p.TARE_ANGLE:
                self.tare_angle = angle
            if mask & p.TARE_FORCE:
                self.tare_force = force
            self.truth["tares"] += 1
        elif t == p.FrameType.SET_LIMITS:
            if len(f.payload) < p.LIMITS.size:
                reason = p.NackReason.BAD_ARGUMENT
            else:
                fmax, amin, amax = p.LIMITS.unpack_from(f.payload)
                if any(math.isnan(v) for v in (fmax, amin, amax)) or amin >= amax or fmax <= 0:
                    reason = p.NackReason.BAD_ARGUMENT
                else:
                    self.limits = (fmax, amin, amax)
                    self.truth["limits"] = [fmax, amin, amax]
        self._answer(f, now, reason)

    def _answer(self, f: Frame, now: float, reason: int) -> None:
        ftype = p.FrameType.NACK if reason else p.FrameType.ACK
        payload = p.ACK.pack(f.seq, f.ftype, int(reason), self.device_us(now) % (1 << 32))
        self._queue(ftype, payload, force=True)

    # --- output ---------------------------------------------------------------------------

    def _sample(self, now: float) -> None:
        """Every sample due by now, on the machine's own sample grid."""
        if not self.streaming:
            return
        due_us = self.device_us(now)
        period_us = 1e6 / self.rate_hz
        while self.sample_t0_us + self.sample_k * period_us <= due_us:
            t_us = int(self.sample_t0_us + self.sample_k * period_us)
            self.sample_k += 1
            # Patient time for this sample, back on the simulator's clock.
            t_host = self.boot_host + t_us / 1e6 / (1.0 + self.drift)
            angle, force = self.patient.measure(t_host - self.t0)
            angle -= self.tare_angle
            force -= self.tare_force
            raw = [_count(angle, ANGLE_SCALE), _count(force, FORCE_SCALE)]
            if self.extra_channel:
                raw.append(_count(force * 0.3, TORQUE_SCALE))  # 0.3 m lever arm
            if self.limits is not None:
                fmax, amin, amax = self.limits
                self.breach = force > fmax or not amin <= angle <= amax
            self._emit_sample(t_us, raw, t_host)

    def _emit_sample(self, t_us: int, raw: list[int], t_host: float) -> None:
        truth = self.truth
        truth["samples_generated"] += 1
        seq = self.seq
        frame = p.encode_frame(p.FrameType.SAMPLE, seq, p.encode_sample(t_us, raw))
        self.seq = (self.seq + 1) % p.SEQ_MODULO
        fate = "sent"
        if self.faults.drop_rate and self.rng.random() < self.faults.drop_rate:
            fate = "dropped"
            truth["frames_dropped"] += 1
        elif len(self.tx) + len(frame) > self.tx_buffer:
            fate = "overflow"
            truth["frames_overflowed"] += 1
            self.tx_lost += 1
        else:
            if self.faults.bitflip_rate and self.rng.random() < self.faults.bitflip_rate:
                frame = self.faults.corrupt(frame, self.rng)
                fate = "corrupted"
                truth["frames_corrupted"] += 1
            self.tx += frame
        index = -1
        if self.log is not None:
            self.log.append([seq, t_us, raw, fate, t_host, None])
            index = len(self.log) - 1
        if fate in ("sent", "corrupted"):
            self.tx_frames.append((self.tx_sent + len(self.tx), index, fate == "sent"))

    def _garbage(self, now: float) -> None:
        if now - self.t0 < self._next_garbage:
            return
        self._next_garbage += self.faults.garbage_every_s
        n = self.faults.garbage_bytes
        self.tx += bytes(self.rng.randrange(256) for _ in range(n))
        self.truth["garbage_bursts"] += 1
        self.truth["garbage_bytes"] += n

    def _pace(self, now: float) -> None:
        """Hand bytes to the terminal no faster than the line's baud rate."""
        bps = self.baud / 10.0
        # A UART drains its buffer while the firmware is busy; a simulator process that the OS
        # scheduled late may catch up to that, but never beyond what the buffer held.
        self.credit = min(self.credit + (now - self.last_pace) * bps, self.tx_buffer)
        self.last_pace = now
        if not self.tx:
            self.credit = min(self.credit, 64.0)  # an idle UART does not bank time
            return
        n = min(len(self.tx), int(self.credit))
        if n <= 0:
            return
        sent = self.port.write(memoryview(self.tx)[:n])
        if sent <= 0:
            return
        del self.tx[:sent]
        self.credit -= sent
        self.tx_sent += sent
        done = time.monotonic()
        while self.tx_frames and self.tx_frames[0][0] <= self.tx_sent:
            _, i, clean = self.tx_frames.popleft()
            if self.log is not None:
                self.log[i][5] = done
            self.truth["samples_sent"] += clean

    def _heartbeat(self, now: float) -> None:
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + HEARTBEAT_S
        flags = p.HeartbeatFlag.STREAMING if self.streaming else 0
        if self.limits is not None:
            flags |= p.HeartbeatFlag.LIMITS_SET
        if self.breach:
            flags |= p.HeartbeatFlag.LIMIT_BREACH
        payload = p.HEARTBEAT.pack(self.device_us(now) % (1 << 32), flags, self.tx_lost & 0xFFFF)
        self._queue(p.FrameType.HEARTBEAT, payload)

    # --- the loop -------------------------------------------------------------------------

    def step(self, now: float) -> None:
        t = now - self.t0
        if self._disconnects and t >= self._disconnects[0]:
            self._disconnects.pop(0)
            self.port.close()
            self.truth["disconnects"] += 1
            self._down_until = now + self.faults.disconnect_for_s
            return
        if not self.port.is_open:
            if now >= self._down_until:
                path = self.port.open()
                print(f"reopened {path}", file=sys.stderr, flush=True)
                self._boot(now)
            return
        if self._stalls and t >= self._stalls[0]:
            self._stalls.pop(0)
            self.truth["stalls"] += 1
            self._stalled_until = now + self.faults.stall_for_s
        if now < self._stalled_until:
            self.sample_t0_us = self.device_us(now)  # a hung firmware samples nothing
            self.sample_k = 0
            return
        data = self.port.read()
        if data:
            for f in self.parser.feed(data):
                self._handle(f, now)
        self._garbage(now)
        self._sample(now)
        self._heartbeat(now)
        self._pace(now)

    def finish(self, now: float) -> dict[str, Any]:
        truth = self.truth
        t = now - self.t0
        reps = self.patient.completed_reps(t)
        truth["duration_s"] = t
        truth["rep_count"] = len(reps)
        truth["peak_angles_deg"] = [
            None if math.isnan(r.peak) else round(self.spec.start_deg + r.peak, 3) for r in reps
        ]
        truth["overload_times_s"] = list(self.patient.overload_at)
        truth["overload_host_s"] = [self.t0 + x for x in self.patient.overload_at]
        truth["overshoot_times_s"] = self.patient.overshoot_peaks()
        truth["overshoot_host_s"] = [self.t0 + x for x in self.patient.overshoot_peaks()]
        truth["tx_lost_frames"] = self.tx_lost
        return truth
