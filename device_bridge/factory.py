"""``open_device``: one factory for every way a machine is reached."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from calibration import CalibrationStore
from device_bridge import protocol as p
from device_bridge.bridge import DEFAULT_BAUD, DeviceBridge
from device_bridge.errors import DeviceError, DeviceSpecError, Disconnected, HandshakeRefused
from device_bridge.link import Link, serial_ports
from device_bridge.machine_model import MODELS
from device_bridge.parser import FrameParser
from device_bridge.samples import SafetyLimits
from device_bridge.simproc import SimulatorProcess

AUTO_FALLBACK_MODEL = "lumbar_extension"


def probe(target: str, baudrate: int = DEFAULT_BAUD, timeout_s: float = 0.5) -> p.Hello | None:
    """Ask ``target`` for its hello; the machine's capabilities, or None if nothing answers.

    Raises ``HandshakeRefused`` for a machine whose hello cannot be trusted: it must be named,
    not skipped (``auto`` would otherwise quietly fall back to the simulator)."""
    link = Link(target, baudrate)
    try:
        link.open()
    except Disconnected:
        return None
    parser = FrameParser()
    try:
        link.write(p.encode_frame(p.FrameType.HELLO_REQUEST, 0))
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for f in parser.feed(link.read()):
                if f.ftype == p.FrameType.HELLO:
                    return p.decode_hello(f.payload)
    except HandshakeRefused:
        raise
    except DeviceError:  # a stranger on the port: not a machine of ours
        return None
    finally:
        link.close()
    return None


def open_device(
    spec: str,
    *,
    limits: SafetyLimits | None = None,
    calibration_store: CalibrationStore | None = None,
    baudrate: int = DEFAULT_BAUD,
    simulator_args: Sequence[str] = (),
    fallback_model: str = AUTO_FALLBACK_MODEL,
    **bridge_options: object,
) -> DeviceBridge:
    """A bridge (not yet started) for ``spec``.

    ``auto``: the first serial port whose device answers the hello, else the simulator of
    ``fallback_model`` (the bridge's ``simulator`` then says so);
    ``sim:MODEL``: the simulator on a pty in a subprocess, stopped by ``close()``
    (``simulator_args`` go to it, e.g. fault switches); otherwise a port path
    (``/dev/ttyUSB0``) or a pyserial URL (``loop://``, ``socket://host:port``).
    """
    spec = spec.strip()
    if not spec:
        raise DeviceSpecError("--device: expected auto, sim:MODEL, a port path or a URL, got ''")
    common = {"limits": limits, "calibration_store": calibration_store, "baudrate": baudrate}
    common.update(bridge_options)
    if spec == "auto":
        for port in serial_ports():
            if probe(port, baudrate) is not None:
                return DeviceBridge(port, **common)  # type: ignore[arg-type]
        spec = f"sim:{fallback_model}"
    if spec.startswith("sim:"):
        model = spec[4:]
        if model not in MODELS:
            raise DeviceSpecError(f"sim:MODEL: expected one of {sorted(MODELS)}, got {model!r}")
        sim = SimulatorProcess(model, [*simulator_args, "--baud", str(baudrate)])
        try:
            bridge = DeviceBridge(
                sim.link,
                label=f"simulator {model} ({sim.pty_path})",
                on_close=sim.close,
                **common,  # type: ignore[arg-type]
            )
            bridge.simulator = sim
            return bridge
        except Exception:
            sim.close()
            raise
    if simulator_args:
        args = shlex.join(simulator_args)
        raise DeviceSpecError(f"simulator arguments ({args}) need --device sim:MODEL, got {spec!r}")
    return DeviceBridge(spec, **common)  # type: ignore[arg-type]
