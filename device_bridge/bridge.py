"""DeviceBridge: one reader thread owns the port; everything else reads what it produced.

The reader parses frames, maps device time onto the host's monotonic clock, applies the
machine's calibration, checks safety limits, and pushes samples into the ring, in that order,
so a limit breach is known before the sample is visible to anyone. A lost port is a state:
the thread closes it, retries with back-off and re-handshakes when the machine is back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from calibration import CalibrationStore, MachineCalibration
from device_bridge import protocol as p
from device_bridge.clock import ClockMap
from device_bridge.errors import (
    CommandRejected,
    CommandTimeout,
    Disconnected,
    NotConnected,
    ProtocolError,
)
from device_bridge.link import Link
from device_bridge.parser import Frame, FrameParser
from device_bridge.ring import RateMeter, SampleRing
from device_bridge.safety import SafetyMonitor
from device_bridge.samples import BridgeStatus, DeviceSample, SafetyEvent, SafetyLimits
from device_bridge.simproc import SimulatorProcess

DEFAULT_BAUD = 460800
HELLO_RETRY_S = 0.5
START_RETRY_S = 1.0
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0
_TARE_MASK = {"angle": p.TARE_ANGLE, "force": p.TARE_FORCE}


class _Pending:
    __slots__ = ("device_us", "error", "event", "ftype", "reason", "seq", "t")

    def __init__(self, seq: int, ftype: int) -> None:
        self.seq, self.ftype, self.t = seq, ftype, time.monotonic()
        self.event = threading.Event()
        self.reason = 0
        self.device_us = 0
        self.error: Exception | None = None


class DeviceBridge:
    """Connection to one machine. Create with ``open_device``, then ``start()``."""

    def __init__(
        self,
        target: str,
        *,
        baudrate: int = DEFAULT_BAUD,
        limits: SafetyLimits | None = None,
        calibration_store: CalibrationStore | None = None,
        stall_timeout_s: float = 1.0,
        command_timeout_s: float = 0.5,
        ring_capacity: int = 16384,
        on_sample: Callable[[DeviceSample], None] | None = None,
        on_close: Callable[[], None] | None = None,
        label: str | None = None,
    ) -> None:
        self.target = target
        self.label = label or target
        self.simulator: SimulatorProcess | None = None  # set when the bridge owns one
        self._link = Link(target, baudrate)
        self._parser = FrameParser()
        self._clock = ClockMap()
        self._ring = SampleRing(ring_capacity)
        self._safety = SafetyMonitor(limits)
        self._events: deque[SafetyEvent] = deque(maxlen=4096)
        self._store = calibration_store
        self._cal = MachineCalibration()
        self._stall_timeout = stall_timeout_s
        self._command_timeout = command_timeout_s
        self._on_sample = on_sample
        self._on_close = on_close
        self._write_lock = threading.Lock()
        self._events_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._host_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._want_streaming = True
        self._closed = False
        self._message = "not started"
        self._hello: p.Hello | None = None
        self._connected = False
        self._ever_handshaken = False
        self._rate = RateMeter()
        self._samples = 0
        self._seq_gaps = 0
        self._lost_frames = 0
        self._reconnects = 0
        self._dropped_backwards = 0
        self._ignored = 0
        self._seq_total = -1
        self.reader_errors = 0
        self._new_connection(time.monotonic())

    # --- public ---------------------------------------------------------------------------

    def start(self) -> DeviceBridge:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="device-reader", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self._link.close()
        self._message = "closed"
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> DeviceBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def hello(self) -> p.Hello | None:
        """The connected machine's capabilities; the last known ones while reconnecting."""
        return self._hello

    @property
    def calibration(self) -> MachineCalibration:
        return self._cal

    def latest(self) -> DeviceSample | None:
        return self._ring.latest()

    def drain(self) -> list[DeviceSample]:
        """Every sample since the last drain, oldest first (for the recorder)."""
        return self._ring.drain()

    def safety_events(self) -> list[SafetyEvent]:
        with self._events_lock:
            out = list(self._events)
            self._events.clear()
        return out

    @property
    def limits(self) -> SafetyLimits | None:
        return self._safety.limits

    def status(self) -> BridgeStatus:
        now = time.monotonic()
        state, message = self._state(now)
        return BridgeStatus(
            state=state,
            rate_hz=self._rate.rate(self._samples, now),
            samples=self._samples,
            crc_errors=self._parser.crc_errors,
            seq_gaps=self._seq_gaps,
            lost_frames=self._lost_frames,
            resyncs=self._parser.resyncs,
            reconnects=self._reconnects,
            dropped_backwards=self._dropped_backwards,
            ring_overflows=self._ring.overflows,
            message=message,
        )

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until the machine said hello and its first sample arrived on this connection."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._conn_hello is not None and self._conn_samples > 0:
                return True
            time.sleep(0.01)
        return False

    def set_limits(self, limits: SafetyLimits | None, *, timeout: float | None = None) -> None:
        """Check ``limits`` on every sample from now on, and send them to the machine.

        The host-side check takes effect at once, before the machine answers; without a
        connection the limits go to the machine at the next handshake. Raises
        ``CommandTimeout`` or ``CommandRejected`` when the machine does not accept them.
        """
        self._safety.set_limits(limits)
        if self._connected and self._conn_hello is not None:
            self._command(p.FrameType.SET_LIMITS, self._limits_payload(limits), timeout)

    def tare(self, channels: Iterable[str] = ("force",), *, timeout: float | None = None) -> None:
        """Zero the machine's own sensors (``"force"``, ``"angle"``) at their present reading."""
        mask = 0
        for ch in channels:
            if ch not in _TARE_MASK:
                raise ValueError(f"tare channel: expected 'angle' or 'force', got {ch!r}")
            mask |= _TARE_MASK[ch]
        self._command(p.FrameType.TARE, p.TARE.pack(mask), timeout)

    def ping(self, *, timeout: float | None = None) -> float:
        """Round trip to the machine and back, seconds."""
        t = time.monotonic()
        self._command(p.FrameType.PING, b"", timeout)
        return time.monotonic() - t

    def start_streaming(self, rate_hz: int = 0, *, timeout: float | None = None) -> None:
        self._want_streaming = True
        self._command(p.FrameType.START, p.START.pack(rate_hz), timeout)

    def stop_streaming(self, *, timeout: float | None = None) -> None:
        self._want_streaming = False
        self._command(p.FrameType.STOP, b"", timeout)

    # --- commands -------------------------------------------------------------------------

    def _post(self, ftype: int, payload: bytes = b"") -> _Pending:
        with self._write_lock:
            if not self._connected:
                name = p.FrameType(ftype).name.lower()
                raise NotConnected(f"{name}: expected a connected machine; {self._message}")
            seq = self._host_seq
            self._host_seq = (seq + 1) % p.SEQ_MODULO
            pending = _Pending(seq, ftype)
            if ftype != p.FrameType.HELLO_REQUEST:  # answered by a HELLO, not an ACK
                self._pending[seq] = pending
            self._link.write(p.encode_frame(ftype, seq, payload))
        return pending

    def _command(self, ftype: int, payload: bytes, timeout: float | None) -> int:
        if threading.current_thread() is self._thread:
            raise RuntimeError("commands cannot wait for their ACK on the reader thread")
        name = p.FrameType(ftype).name.lower()
        timeout = self._command_timeout if timeout is None else timeout
        pending = self._post(ftype, payload)
        if not pending.event.wait(timeout):
            with self._write_lock:
                self._pending.pop(pending.seq, None)
            raise CommandTimeout(name, timeout)
        if pending.error is not None:
            raise pending.error
        if pending.reason:
            try:
                reason = p.NackReason(pending.reason).name.lower()
            except ValueError:
                reason = f"reason {pending.reason}"
            raise CommandRejected(name, reason)
        return pending.device_us

    def _limits_payload(self, limits: SafetyLimits | None) -> bytes:
        inf = float("inf")
        if limits is None:
            return p.LIMITS.pack(inf, -inf, inf)
        cal = self._cal
        a, b = cal.angle.invert(limits.min_angle_deg), cal.angle.invert(limits.max_angle_deg)
        fmax = cal.force.invert(limits.max_force_n)
        return p.LIMITS.pack(fmax, min(a, b), max(a, b))

    # --- reader thread --------------------------------------------------------------------

    def _new_connection(self, now: float) -> None:
        self._parser.reset()
        self._clock.reset()
        self._conn_hello: p.Hello | None = None
        self._conn_samples = 0
        self._conn_counted = False
        self._connect_t = now
        self._last_frame_t: float | None = None
        self._last_sample_t = -1.0
        self._last_seq: int | None = None
        self._last_t_us: int | None = None
        self._t_us = 0
        self._hello_req_t = -1e9
        self._start_t = -1e9

    def _run(self) -> None:
        backoff = BACKOFF_FIRST_S
        while not self._stop.is_set():
            try:
                self._link.open()
            except Disconnected as exc:
                self._message = f"{exc}; retrying in {backoff:.1f} s"
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            now = time.monotonic()
            self._new_connection(now)
            self._connected = True
            self._message = f"{self.label} open, waiting for the machine's hello"
            try:
                self._pump()
            except Disconnected as exc:
                self._message = f"{exc}; reconnecting"
            except Exception as exc:
                # A bug (or an on_sample callback) must not silently end the only reader:
                # report it, drop the connection and start over as after a lost port.
                self._message = f"reader error {exc!r}; reconnecting"
                self.reader_errors += 1
            finally:
                self._lost()
            if self._conn_hello is not None:
                backoff = BACKOFF_FIRST_S
            self._stop.wait(backoff)

    def _lost(self) -> None:
        with self._write_lock:
            self._connected = False
            self._link.close()
            pending, self._pending = self._pending, {}
        for cmd in pending.values():
            cmd.error = Disconnected(f"{self.label}: connection lost before the ACK")
            cmd.event.set()

    def _pump(self) -> None:
        link, parser, handle = self._link, self._parser, self._handle
        while not self._stop.is_set():
            data = link.read()
            now = time.monotonic()
            if data:
                for frame in parser.feed(data):
                    handle(frame, now)
            self._timers(now)

    def _timers(self, now: float) -> None:
        silent = now - (self._last_frame_t or self._connect_t)
        if self._conn_hello is None or silent > self._stall_timeout:
            # No hello yet, or a silent machine: ask who is there (a rebooted machine answers
            # with a hello and gets handshaken again).
            if now - self._hello_req_t >= HELLO_RETRY_S:
                self._hello_req_t = now
                self._post(p.FrameType.HELLO_REQUEST)
        elif (
            self._want_streaming
            and self._last_sample_t < self._start_t
            and now - self._start_t >= START_RETRY_S
        ):
            self._start_t = now
            self._post(p.FrameType.START, p.START.pack(0))
        if len(self._pending) > 64:
            with self._write_lock:
                for seq in [s for s, c in self._pending.items() if now - c.t > 10.0]:
                    del self._pending[seq]

    def _handle(self, f: Frame, now: float) -> None:
        t = f.ftype
        if t >= p.FrameType.HELLO_REQUEST:
            self._ignored += 1  # a host->machine frame, e.g. our own echoed by a loopback
            return
        self._last_frame_t = now
        delta = None if self._last_seq is None else (f.seq - self._last_seq) % p.SEQ_MODULO
        restarted = delta is None or not 0 < delta < p.SEQ_MODULO // 2
        if delta is None or (t == p.FrameType.HELLO and restarted):
            # A new connection, or a hello after a reboot restarted the machine's counter:
            # go on in a fresh block of 65536, so seq keeps rising and seq % 65536 is still
            # the number on the wire.
            delta = (-self._seq_total - 1) % p.SEQ_MODULO + 1 + f.seq
        elif delta == 0 or delta >= p.SEQ_MODULO // 2:
            self._dropped_backwards += 1  # a repeat or an old frame: never pass it on
            return
        elif delta > 1:
            self._seq_gaps += 1
            self._lost_frames += delta - 1
        self._last_seq = f.seq
        self._seq_total += delta
        if t == p.FrameType.SAMPLE:
            self._on_sample_frame(f, now)
        elif t == p.FrameType.HELLO:
            self._on_hello(f, now, restarted)
        elif t in (p.FrameType.ACK, p.FrameType.NACK):
            self._on_ack(f)
        elif t == p.FrameType.HEARTBEAT:
            self._on_heartbeat(f, now)
        else:
            self._ignored += 1  # a newer machine's frame type: skipped by design

    def _on_hello(self, f: Frame, now: float, restarted: bool) -> None:
        try:
            hello = p.decode_hello(f.payload)
        except ProtocolError as exc:
            self._message = f"{self.label}: {exc}"
            return
        if restarted:  # a new connection, or the machine rebooted: its clock starts over
            self._clock.reset()
            self._last_t_us = None
        self._conn_hello = hello
        self._hello = hello
        self._angle_i = hello.channel_index("angle")
        self._force_i = hello.channel_index("force")
        self._angle_i = 0 if self._angle_i is None else self._angle_i
        self._force_i = 1 if self._force_i is None else self._force_i
        known = {self._angle_i, self._force_i}
        self._extra_i = tuple(i for i in range(len(hello.channels)) if i not in known)
        self._scales = tuple(ch.scale for ch in hello.channels)
        if self._store is not None:
            self._cal = self._store.get(hello.serial)
        if self._ever_handshaken and not self._conn_counted:
            self._reconnects += 1
        self._conn_counted = True
        self._ever_handshaken = True
        self._message = (
            f"{hello.model} serial {hello.serial} firmware {hello.firmware}, protocol "
            f"{hello.protocol[0]}.{hello.protocol[1]}, {hello.rate_hz} Hz on {self.label}"
        )
        if self._safety.limits is not None:
            self._post(p.FrameType.SET_LIMITS, self._limits_payload(self._safety.limits))
        if self._want_streaming:
            self._start_t = now
            self._post(p.FrameType.START, p.START.pack(0))

    def _on_sample_frame(self, f: Frame, now: float) -> None:
        hello = self._conn_hello
        if hello is None:
            self._ignored += 1  # cannot decode channels before the hello
            return
        try:
            t_us, raw = p.decode_sample(f.payload, len(hello.channels))
        except ProtocolError:
            self._ignored += 1
            return
        if self._last_t_us is not None:
            d = (t_us - self._last_t_us) % p.DEVICE_CLOCK_MODULO
            if d >= p.DEVICE_CLOCK_MODULO // 2:
                self._dropped_backwards += 1
                return
            self._t_us += d
        else:
            self._t_us = t_us
        self._last_t_us = t_us
        device_s = self._t_us * 1e-6
        host_s = self._clock.observe(device_s, now)
        sc = self._scales
        cal = self._cal
        ai, fi = self._angle_i, self._force_i
        sample = DeviceSample(
            seq=self._seq_total,
            device_time_s=device_s,
            host_time_s=host_s,
            angle_deg=cal.angle.apply(raw[ai] * sc[ai]),
            force_n=cal.force.apply(raw[fi] * sc[fi]),
            extra=tuple(raw[i] * sc[i] for i in self._extra_i),
        )
        events = self._safety.check(sample)
        if events:
            with self._events_lock:
                self._events.extend(events)
        self._ring.push(sample)
        self._samples += 1
        self._conn_samples += 1
        self._last_sample_t = now
        self._rate.update(self._samples, now)
        if self._on_sample is not None:
            self._on_sample(sample)

    def _on_ack(self, f: Frame) -> None:
        if len(f.payload) < p.ACK.size:
            self._ignored += 1
            return
        seq, ftype, reason, device_us = p.ACK.unpack_from(f.payload)
        with self._write_lock:
            cmd = self._pending.get(seq)
            if cmd is None or cmd.ftype != ftype:
                return  # an answer that came after its command timed out
            del self._pending[seq]
        if f.ftype == p.FrameType.NACK and not reason:
            reason = p.NackReason.NOT_NOW
        cmd.reason = reason if f.ftype == p.FrameType.NACK else 0
        cmd.device_us = device_us
        if cmd.reason and not cmd.event.is_set():
            self._message = f"{self.label}: {p.FrameType(ftype).name.lower()} refused by machine"
        cmd.event.set()

    def _on_heartbeat(self, f: Frame, now: float) -> None:
        if len(f.payload) < p.HEARTBEAT.size:
            return
        _, flags, _ = p.HEARTBEAT.unpack_from(f.payload)
        streaming = bool(flags & p.HeartbeatFlag.STREAMING)
        if (
            self._want_streaming
            and not streaming
            and self._conn_hello is not None
            and now - self._start_t >= START_RETRY_S
        ):
            self._start_t = now
            self._post(p.FrameType.START, p.START.pack(0))

    # --- state ----------------------------------------------------------------------------

    def _state(self, now: float) -> tuple[str, str]:
        if self._closed:
            return "closed", "closed"
        if not self._connected:
            return ("reconnecting" if self._ever_handshaken else "connecting"), self._message
        last = self._last_frame_t if self._last_frame_t is not None else self._connect_t
        silent = now - last
        if silent > self._stall_timeout:
            what = "no data" if self._last_frame_t is not None else "no answer to hello"
            return "not_responding", f"machine not responding: {what} for {silent:.1f} s"
        if self._conn_hello is None:
            return "connecting", self._message
        return "ok", self._message
