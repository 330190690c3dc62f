"""DeviceBridge: one reader thread owns the port; everything else reads what it produced.

The reader parses frames, maps device time onto the host's monotonic clock, applies the
machine's calibration, checks safety limits, and pushes samples into the ring, in that order,
so a limit breach is known before the sample is visible to anyone. A lost port is a state:
the thread closes it, retries with back-off and re-handshakes when the machine is back.

A hello the host cannot check limits with (``protocol.check_hello``), or a stored calibration
that does not fit the machine's declared range, leaves the link ``faulty``: no sample passes
until a hello is accepted. The bridge reports ``ok`` only while samples arrive.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from calibration import CalibrationStore, MachineCalibration
from device_bridge import protocol as p
from device_bridge.commands import CommandTable, Pending
from device_bridge.errors import Disconnected, NotConnected, ProtocolError
from device_bridge.link import Link
from device_bridge.parser import Frame, FrameParser
from device_bridge.ring import RateMeter, SampleRing
from device_bridge.safety import SafetyMonitor, floors
from device_bridge.samples import BridgeStatus, DeviceSample, SafetyEvent, SafetyLimits
from device_bridge.simproc import SimulatorProcess
from device_bridge.stream import FrameSequence, Order, SampleDecoder

DEFAULT_BAUD = 460800
HELLO_RETRY_S = 0.5
START_RETRY_S = 1.0
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0
_TARE_MASK = {"angle": p.TARE_ANGLE, "force": p.TARE_FORCE}


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
        self._sequence = FrameSequence()
        self._decoder = SampleDecoder()
        self._commands = CommandTable()
        self._ring = SampleRing(ring_capacity)
        self._safety = SafetyMonitor(limits)
        self._events: deque[SafetyEvent] = deque(maxlen=4096)
        self._events_lock = threading.Lock()
        self._store = calibration_store
        self._stall_timeout = stall_timeout_s
        self._command_timeout = command_timeout_s
        self._on_sample = on_sample
        self._on_close = on_close
        self._write_lock = threading.Lock()  # one writer at a time, and never on a closed port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._want_streaming = True
        self._closed = False
        self._connected = False
        self._ever_handshaken = False
        self._fault = ""  # why the machine's hello was refused; "" when it was not
        self._message = "not started"
        self._hello: p.Hello | None = None
        self._rate = RateMeter()
        self._samples = 0
        self._frames = 0
        self._reconnects = 0
        self._ignored = 0
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
        return self._decoder.calibration

    def reload_calibration(self) -> MachineCalibration:
        """Re-read the calibration file and apply the machine's entry from the next sample on
        (a calibration done while the machine stays connected)."""
        hello = self._conn_hello
        if self._store is not None and hello is not None:
            self._store.reload()
            cal = self._store.get(hello.serial)
            _check_calibration(hello, cal)  # a misfit keeps the calibration in use
            # One reference swap: the reader sees the old or the new calibration, never a mix.
            self._decoder.calibration = cal
            self._safety.set_measuring_range(*_measuring_range(hello, cal))
        return self._decoder.calibration

    @property
    def limits(self) -> SafetyLimits | None:
        return self._safety.limits

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

    def status(self) -> BridgeStatus:
        now = time.monotonic()
        state, message = self._state(now)
        return BridgeStatus(
            state=state,
            rate_hz=self._rate.rate(self._samples, now),
            samples=self._samples,
            frames=self._frames,
            crc_errors=self._parser.crc_errors,
            seq_gaps=self._sequence.gaps,
            lost_frames=self._sequence.lost,
            resyncs=self._parser.resyncs,
            reconnects=self._reconnects,
            dropped_backwards=self._sequence.repeats + self._decoder.backwards,
            ring_overflows=self._ring.overflows,
            clock_drift_ppm=self._decoder.clock.drift_ppm,
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

    def _post(self, ftype: int, payload: bytes = b"") -> Pending:
        with self._write_lock:
            if not self._connected:
                name = p.FrameType(ftype).name.lower()
                raise NotConnected(f"{name}: expected a connected machine; {self._message}")
            # A hello request is answered by a HELLO, not an ACK: nothing to wait for.
            cmd = self._commands.new(ftype, expect_answer=ftype != p.FrameType.HELLO_REQUEST)
            self._link.write(p.encode_frame(ftype, cmd.seq, payload))
        return cmd

    def _command(self, ftype: int, payload: bytes, timeout: float | None) -> int:
        if threading.current_thread() is self._thread:
            raise RuntimeError("commands cannot wait for their ACK on the reader thread")
        cmd = self._post(ftype, payload)
        return self._commands.wait(cmd, self._command_timeout if timeout is None else timeout)

    def _limits_payload(self, limits: SafetyLimits | None) -> bytes:
        """The limits in the machine's own units (it knows nothing of our calibration)."""
        inf = float("inf")
        if limits is None:
            return p.LIMITS.pack(inf, -inf, inf)
        cal = self._decoder.calibration
        a, b = cal.angle.invert(limits.min_angle_deg), cal.angle.invert(limits.max_angle_deg)
        fmax = cal.force.invert(limits.max_force_n)
        return p.LIMITS.pack(fmax, min(a, b), max(a, b))

    # --- reader thread --------------------------------------------------------------------

    def _new_connection(self, now: float) -> None:
        self._parser.reset()
        self._sequence.new_connection()
        self._decoder.restart()
        self._conn_hello: p.Hello | None = None
        self._fault = ""
        self._hello_t = now
        self._conn_samples = 0
        self._conn_counted = False
        self._connect_t = now
        self._last_frame_t: float | None = None
        self._last_sample_t = -1.0
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
            self._new_connection(time.monotonic())
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
        self._commands.fail_all(Disconnected(f"{self.label}: connection lost before the ACK"))

    def _pump(self) -> None:
        link, parser, handle = self._link, self._parser, self._handle
        while not self._stop.is_set():
            data = link.read()
            now = time.monotonic()
            if data:
                for frame in parser.feed(data):
                    handle(frame, now)
                    self._frames += 1
            self._timers(now)

    def _timers(self, now: float) -> None:
        silent = now - (self._last_frame_t or self._connect_t)
        if self._conn_hello is None or silent > self._stall_timeout:
            # No hello yet, or a silent machine: ask who is there (a rebooted machine answers
            # with a hello and gets handshaken again).
            if now - self._hello_req_t >= HELLO_RETRY_S:
                self._hello_req_t = now
                self._post(p.FrameType.HELLO_REQUEST)
                self._commands.prune(now)
        elif (
            self._want_streaming and now - max(self._last_sample_t, self._start_t) >= START_RETRY_S
        ):  # no sample since the last START, or the samples stopped: ask again
            self._start_t = now
            self._post(p.FrameType.START, p.START.pack(0))

    def _handle(self, f: Frame, now: float) -> None:
        t = f.ftype
        if t >= p.FrameType.HELLO_REQUEST:
            self._ignored += 1  # a host->machine frame, e.g. our own echoed by a loopback
            return
        self._last_frame_t = now
        order = self._sequence.accept(f.seq, t == p.FrameType.HELLO)
        if order is Order.REPEATED:
            if t == p.FrameType.SAMPLE:
                self._check_dropped(f.payload, now)
            return
        if t == p.FrameType.SAMPLE:
            self._on_sample_frame(f, now)
        elif t == p.FrameType.HELLO:
            self._on_hello(f, now, order is Order.RESTARTED)
        elif t in (p.FrameType.ACK, p.FrameType.NACK):
            cmd = self._commands.answer(f)
            if cmd is not None and cmd.reason:
                self._message = f"{self.label}: {cmd.name} refused by the machine"
        elif t == p.FrameType.HEARTBEAT:
            self._on_heartbeat(f, now)
        else:
            self._ignored += 1  # a newer machine's frame type: skipped by design

    def _on_hello(self, f: Frame, now: float, restarted: bool) -> None:
        try:
            hello = p.decode_hello(f.payload)
            cal = self._store.get(hello.serial) if self._store is not None else MachineCalibration()
            _check_calibration(hello, cal)
        except (ProtocolError, ValueError) as exc:
            # Untrusted scales or ranges: no sample can be checked, so none passes.
            self._refuse(f"{self.label}: {exc}")
            return
        if restarted:  # a new connection, or the machine rebooted: its clock starts over
            self._decoder.restart()
        self._decoder.configure(hello, cal)
        self._safety.set_measuring_range(*_measuring_range(hello, cal))
        self._fault = ""
        self._hello_t = now
        self._conn_hello = hello
        self._hello = hello
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

    def _refuse(self, reason: str) -> None:
        self._fault = reason
        self._message = reason
        self._conn_hello = None
        self._hello = None  # not a machine whose capabilities anyone should rely on
        self._decoder.unconfigure()

    def _check(self, sample: DeviceSample) -> None:
        events = self._safety.check(sample)
        if events:
            with self._events_lock:
                self._events.extend(events)

    def _check_dropped(self, payload: bytes, now: float) -> None:
        """A sample dropped for its order is not passed on, but its values are checked: an
        overload in it is still an overload."""
        sample = self._decoder.peek(payload, self._sequence.number, now)
        if sample is not None:
            self._check(sample)

    def _on_sample_frame(self, f: Frame, now: float) -> None:
        backwards = self._decoder.backwards
        sample = self._decoder.decode(f.payload, self._sequence.number, now)
        if sample is None:
            if self._decoder.backwards != backwards:  # dropped: its time went back
                self._check_dropped(f.payload, now)
            return
        # Safety first: a breach is recorded before the sample is visible to anyone.
        self._check(sample)
        self._ring.push(sample)
        self._samples += 1
        self._conn_samples += 1
        self._last_sample_t = now
        self._rate.update(self._samples, now)
        if self._on_sample is not None:
            self._on_sample(sample)

    def _on_heartbeat(self, f: Frame, now: float) -> None:
        if len(f.payload) < p.HEARTBEAT.size:
            return
        _, flags, _ = p.HEARTBEAT.unpack_from(f.payload)
        if (
            self._want_streaming
            and not flags & p.HeartbeatFlag.STREAMING
            and self._conn_hello is not None
            and now - self._start_t >= START_RETRY_S
        ):
            self._start_t = now  # the machine lost our START (or rebooted): ask again
            self._post(p.FrameType.START, p.START.pack(0))

    # --- state ----------------------------------------------------------------------------

    def _state(self, now: float) -> tuple[str, str]:
        if self._closed:
            return "closed", "closed"
        if not self._connected:
            return ("reconnecting" if self._ever_handshaken else "connecting"), self._message
        last = self._last_frame_t if self._last_frame_t is not None else self._connect_t
        silent = now - last
        if self._fault:
            return "faulty", self._fault
        if silent > self._stall_timeout:
            what = "no data" if self._last_frame_t is not None else "no answer to hello"
            return "not_responding", f"machine not responding: {what} for {silent:.1f} s"
        if self._conn_hello is None:
            return "connecting", self._message
        if self._want_streaming:
            # Heartbeats say the machine is alive, only samples say its load is checked.
            quiet = now - max(self._last_sample_t, self._hello_t)
            if quiet > self._stall_timeout:
                return "not_responding", (
                    f"machine not responding: no samples for {quiet:.1f} s "
                    f"({self._decoder.malformed} malformed)"
                )
            if self._conn_samples == 0:
                return "connecting", f"{self._message}; waiting for the first sample"
        return "ok", self._message


def _check_calibration(hello: p.Hello, cal: MachineCalibration) -> None:
    """A stored calibration must fit the machine it is applied to (``ValueError`` if not)."""
    for name in ("angle", "force"):
        ch = hello.channels[hello.channel_index(name) or 0]
        try:
            getattr(cal, name).check_fits(name, ch.minimum, ch.maximum)
        except ValueError as exc:
            raise ValueError(f"stored calibration for {hello.serial!r} refused: {exc}") from None


def _measuring_range(
    hello: p.Hello, cal: MachineCalibration
) -> tuple[float, float, float, tuple[float, float]]:
    """The machine's declared top force and angle range, in calibrated units, and the lowest
    force and angle a calibrated sample may read: the declared minimums scaled but not shifted
    by the calibration's zero (a zero that moves values below them is wrong, not the patient)."""
    angle = hello.channels[hello.channel_index("angle") or 0]
    force = hello.channels[hello.channel_index("force") or 0]
    a, b = cal.angle.apply(angle.minimum), cal.angle.apply(angle.maximum)
    fs, as_ = cal.force.scale, cal.angle.scale
    low = floors(force.minimum * fs, force.maximum * fs, angle.minimum * as_)
    return cal.force.apply(force.maximum), min(a, b), max(a, b), low
