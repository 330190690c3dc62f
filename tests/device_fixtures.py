"""Helpers for the device tests: a simulator subprocess on a real pty and a bridge on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from device_bridge import DeviceBridge
from device_bridge import protocol as p
from device_bridge.parser import FrameParser
from device_bridge.pty_endpoint import PtyEndpoint
from device_bridge.simproc import SimulatorProcess


@contextmanager
def simulator(
    workdir: Path, *args: str, model: str = "lumbar_extension", frame_log: bool = False
) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(model, list(args), workdir=workdir, frame_log=frame_log)
    try:
        yield sim
    finally:
        sim.close()


@contextmanager
def bridge_on(sim: SimulatorProcess, **options: object) -> Iterator[DeviceBridge]:
    bridge = DeviceBridge(sim.link, **options)  # type: ignore[arg-type]
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def sent_frames(sim: SimulatorProcess) -> dict[int, list]:
    """The simulator's frame log, keyed by the low 16 bits of the sequence number, for the
    sample frames that went out intact."""
    assert sim.frames is not None, "start the simulator with frame_log=True and close it first"
    return {row[0]: row for row in sim.frames if row[3] == "sent" and row[5] is not None}


class ScriptedMachine:
    """A machine played frame by frame by the test, on the machine's end of a real pty.

    The host opens ``path`` like a USB serial port (and flushes what was waiting), so the
    test waits for the host's first hello request before it plays anything. What the host
    writes is parsed, so its requests never fill the terminal.
    """

    def __init__(self) -> None:
        self.endpoint = PtyEndpoint()
        self.path = self.endpoint.open()
        self.seq = 0
        self.sent = 0
        self._parser = FrameParser()
        self.host_frames: list[int] = []

    def _read_host(self) -> None:
        self.host_frames += [f.ftype for f in self._parser.feed(self.endpoint.read())]

    def host_asked(self) -> bool:
        """Whether the host has opened the port and asked who is there."""
        self._read_host()
        return p.FrameType.HELLO_REQUEST in self.host_frames

    def send(self, ftype: int, payload: bytes = b"", seq: int | None = None) -> None:
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) % p.SEQ_MODULO
        data = memoryview(p.encode_frame(ftype, seq, payload))
        while data:
            self._read_host()
            n = self.endpoint.write(data)
            data = data[n:]
            if not n:
                time.sleep(0.001)
        self.sent += 1

    def hello(self, hello: p.Hello) -> None:
        self.send(p.FrameType.HELLO, p.encode_hello(hello))

    def sample(self, t_us: int, raw: tuple[int, ...], seq: int | None = None) -> None:
        self.send(p.FrameType.SAMPLE, p.encode_sample(t_us, raw), seq)

    def heartbeat(self, t_us: int, flags: int = p.HeartbeatFlag.STREAMING) -> None:
        self.send(p.FrameType.HEARTBEAT, p.HEARTBEAT.pack(t_us, flags, 0))

    def close(self) -> None:
        self.endpoint.close()


def channels(
    angle_scale: float = 0.01, force_scale: float = 0.1, force_max: float = 3000.0
) -> tuple[p.Channel, p.Channel]:
    return (
        p.Channel("angle", "deg", angle_scale, -30.0, 90.0),
        p.Channel("force", "N", force_scale, 0.0, force_max),
    )


def machine_hello(*chans: p.Channel, serial: str = "LE-7") -> p.Hello:
    return p.Hello((1, 0), "lumbar_extension", serial, "test", 100, chans or channels())


def processed(bridge: DeviceBridge, machine: ScriptedMachine, timeout: float = 5.0) -> bool:
    """Wait until the bridge's reader has handled every frame the machine sent."""
    return wait_for(lambda: bridge.status().frames >= machine.sent, timeout)
