"""The only module that touches pyserial: open by URL, read, write, close, list ports.

Everything pyserial raises is turned into ``Disconnected`` here, so its types never leave
``device_bridge/``.
"""

from __future__ import annotations

import contextlib

import serial
import serial.tools.list_ports

from device_bridge.errors import Disconnected

READ_TIMEOUT_S = 0.02  # bounds how late the reader notices a stop request or a stall


class Link:
    """One port, by path or URL (``/dev/ttyUSB0``, a pty, ``loop://``, ``socket://h:p``)."""

    def __init__(self, target: str, baudrate: int) -> None:
        self.target = target
        self.baudrate = baudrate
        self._port: serial.SerialBase | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        try:
            # A real port is locked to this process: two readers on one port would each get
            # half the frames and report it as loss.
            lock = {} if "://" in self.target else {"exclusive": True}
            self._port = serial.serial_for_url(
                self.target,
                baudrate=self.baudrate,
                timeout=READ_TIMEOUT_S,
                write_timeout=0.5,
                **lock,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise Disconnected(f"cannot open {self.target}: {exc}") from exc

    def read(self) -> bytes:
        """What has arrived; waits at most ``READ_TIMEOUT_S`` for the first byte."""
        port = self._port
        if port is None:
            raise Disconnected(f"{self.target} is not open")
        try:
            return port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise Disconnected(f"{self.target} lost: {exc}") from exc

    def write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise Disconnected(f"{self.target} is not open")
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise Disconnected(f"{self.target} write failed: {exc}") from exc

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()  # already gone; closing is best effort


def serial_ports() -> list[str]:
    """Serial ports the system knows, USB adapters first."""
    ports = list(serial.tools.list_ports.comports())
    ports.sort(key=lambda p: (p.vid is None, p.device))
    return [p.device for p in ports]
