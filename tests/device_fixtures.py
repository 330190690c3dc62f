"""Helpers for the device tests: a simulator subprocess on a real pty and a bridge on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from device_bridge import DeviceBridge
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
