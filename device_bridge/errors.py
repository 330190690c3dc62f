"""The one exception family of the machine link; each error carries what was expected."""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every error raised by ``device_bridge``."""


class DeviceNotFound(DeviceError):
    """No machine at the given port or URL, or none answered the hello."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"no machine at {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


class DeviceSpecError(DeviceError, ValueError):
    """A ``--device`` value that is none of auto, sim:MODEL, a port path or a URL."""


class ProtocolError(DeviceError):
    """A well-framed message whose content breaks the protocol."""


class ChecksumError(ProtocolError):
    """A frame whose CRC does not match its bytes."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"frame CRC: expected 0x{expected:04x}, got 0x{got:04x}")
        self.expected = expected
        self.got = got


class UnsupportedProtocol(ProtocolError):
    """The machine speaks a protocol major version this software does not know."""

    def __init__(self, supported: int, got: tuple[int, int]) -> None:
        super().__init__(
            f"protocol version: expected major {supported}, machine speaks {got[0]}.{got[1]}"
        )
        self.supported = supported
        self.got = got


class HandshakeRefused(ProtocolError):
    """A HELLO whose capabilities cannot be trusted: the samples could not be safety-checked.

    The link is faulty until the machine sends a hello the host accepts.
    """

    def __init__(self, serial: str, reason: str) -> None:
        super().__init__(f"HELLO from machine {serial!r} refused: {reason}")
        self.serial = serial
        self.reason = reason


class NotConnected(DeviceError):
    """A command was issued while no machine is connected."""


class CommandTimeout(DeviceError):
    """A command got no acknowledgement in time."""

    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(f"{command}: expected an ACK within {timeout_s:.3f} s, got none")
        self.command = command
        self.timeout_s = timeout_s


class CommandRejected(DeviceError):
    """The machine answered a command with a NACK."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: machine answered NACK ({reason})")
        self.command = command
        self.reason = reason


class Disconnected(DeviceError):
    """The port vanished (USB pulled, terminal closed) or cannot be opened right now."""
