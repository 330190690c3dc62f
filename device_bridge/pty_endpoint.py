"""The machine's end of a pseudo-terminal: the host opens the other end like a USB serial port.

With ``link`` set, a symlink at that path always points at the current terminal, the way a
udev rule gives a USB adapter a stable name; a simulated unplug removes it, the replug points
it at a fresh terminal.
"""

from __future__ import annotations

import errno
import os
import tty


class PtyEndpoint:
    def __init__(self, link: str | None = None) -> None:
        self.link = link
        self.path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def is_open(self) -> bool:
        return self._master is not None

    def open(self) -> str:
        master, slave = os.openpty()
        # Raw at once: until the host configures the port, echo would bounce our frames back.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link:
            tmp = f"{self.link}.new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link)
        return self.path

    def close(self) -> None:
        if self.link and os.path.lexists(self.link):
            os.unlink(self.link)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def read(self) -> bytes:
        if self._master is None:
            return b""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no reader on the host side yet
                return b""
            raise

    def write(self, data: bytes | memoryview) -> int:
        """Bytes accepted; 0 when the terminal's buffer is full (the host is not reading)."""
        if self._master is None:
            return 0
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
