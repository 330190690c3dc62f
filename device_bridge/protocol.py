"""SpineCoach machine protocol, version 1.0: constants, framing and payload codecs.

The full specification is ``docs/device-protocol.md``; this module is its executable form and
is shared by the bridge and the simulator, so both ends always agree.

Frame: ``A5 5A | len u8 | type u8 | seq u16 | payload (len bytes) | crc u16``. All integers are
little-endian; the CRC (CRC-16/CCITT-FALSE) covers ``len`` through the payload.
"""

from __future__ import annotations

import math
import struct
from binascii import crc_hqx
from dataclasses import dataclass
from enum import IntEnum

from device_bridge.errors import HandshakeRefused, ProtocolError, UnsupportedProtocol

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

SYNC = b"\xa5\x5a"
HEADER = struct.Struct("<2sBBH")  # sync, len, type, seq
CRC = struct.Struct("<H")
OVERHEAD = HEADER.size + CRC.size  # 8 bytes around every payload
MAX_PAYLOAD = 255
SEQ_MODULO = 1 << 16
DEVICE_CLOCK_MODULO = 1 << 32  # device time is u32 microseconds and wraps after ~71.6 min


class FrameType(IntEnum):
    # machine -> host
    HELLO = 0x01
    SAMPLE = 0x02
    HEARTBEAT = 0x03
    ACK = 0x04
    NACK = 0x05
    # host -> machine
    HELLO_REQUEST = 0x10
    START = 0x11
    STOP = 0x12
    TARE = 0x13
    SET_LIMITS = 0x14
    PING = 0x15


COMMANDS = frozenset(
    {
        FrameType.HELLO_REQUEST,
        FrameType.START,
        FrameType.STOP,
        FrameType.TARE,
        FrameType.SET_LIMITS,
        FrameType.PING,
    }
)


class NackReason(IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    NOT_NOW = 3  # valid command the machine cannot carry out in its present state


class HeartbeatFlag(IntEnum):
    STREAMING = 0x01
    LIMITS_SET = 0x02
    LIMIT_BREACH = 0x04


TARE_ANGLE = 0x01
TARE_FORCE = 0x02


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); ``crc16(b"123456789") == 0x29B1``."""
    return crc_hqx(data, 0xFFFF)


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """One complete frame, sync to CRC."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload: expected at most {MAX_PAYLOAD} bytes, got {len(payload)}")
    body = HEADER.pack(SYNC, len(payload), ftype, seq % SEQ_MODULO)[2:] + payload
    return SYNC + body + CRC.pack(crc16(body))


def frame_size(payload_len: int) -> int:
    return OVERHEAD + payload_len


def sample_frame_size(n_channels: int) -> int:
    return frame_size(4 + 2 * n_channels)


def max_frame_rate(baud: int, frame_bytes: int) -> float:
    """Frames a second an 8N1 line carries: ten bits on the wire per byte."""
    return baud / 10.0 / frame_bytes


# --- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Channel:
    """One measured channel: raw int16 counts times ``scale`` give ``unit``."""

    name: str
    unit: str
    scale: float
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class Hello:
    """The machine's capabilities, as sent in its HELLO frame."""

    protocol: tuple[int, int]
    model: str
    serial: str
    firmware: str
    rate_hz: int
    channels: tuple[Channel, ...]

    def channel_index(self, name: str) -> int | None:
        for i, ch in enumerate(self.channels):
            if ch.name == name:
                return i
        return None


_HELLO_HEAD = struct.Struct("<BBHB")  # major, minor, rate_hz, n_channels
_CHANNEL_NUM = struct.Struct("<fff")  # scale, minimum, maximum


def _pack_str(s: str) -> bytes:
    raw = s.encode("utf-8")
    if len(raw) > 64:
        raise ValueError(f"protocol string: expected at most 64 UTF-8 bytes, got {len(raw)}")
    return bytes([len(raw)]) + raw


def _unpack_str(buf: bytes, pos: int) -> tuple[str, int]:
    n = buf[pos]
    end = pos + 1 + n
    if end > len(buf):
        raise ProtocolError(f"HELLO string: expected {n} bytes at offset {pos + 1}, frame ends")
    return buf[pos + 1 : end].decode("utf-8", errors="replace"), end


def encode_hello(hello: Hello) -> bytes:
    out = bytearray(
        _HELLO_HEAD.pack(hello.protocol[0], hello.protocol[1], hello.rate_hz, len(hello.channels))
    )
    for text in (hello.model, hello.serial, hello.firmware):
        out += _pack_str(text)
    for ch in hello.channels:
        out += _pack_str(ch.name) + _pack_str(ch.unit)
        out += _CHANNEL_NUM.pack(ch.scale, ch.minimum, ch.maximum)
    return bytes(out)


def decode_hello(payload: bytes) -> Hello:
    """Parse a HELLO; trailing bytes from a newer minor version are ignored on purpose."""
    try:
        major, minor, rate, n_ch = _HELLO_HEAD.unpack_from(payload, 0)
        if major != PROTOCOL_MAJOR:
            raise UnsupportedProtocol(PROTOCOL_MAJOR, (major, minor))
        pos = _HELLO_HEAD.size
        texts = []
        for _ in range(3):
            text, pos = _unpack_str(payload, pos)
            texts.append(text)
        channels = []
        for _ in range(n_ch):
            name, pos = _unpack_str(payload, pos)
            unit, pos = _unpack_str(payload, pos)
            nums = _CHANNEL_NUM.unpack_from(payload, pos)
            pos += _CHANNEL_NUM.size
            # float32 on the wire: 0.01 arrives as 0.00999999977; keep the intended value.
            scale, lo, hi = (float(f"{x:.7g}") for x in nums)
            channels.append(Channel(name, unit, scale, lo, hi))
    except (struct.error, IndexError) as exc:
        raise ProtocolError(f"HELLO: payload of {len(payload)} bytes is truncated") from exc
    if n_ch < 2:
        raise ProtocolError(f"HELLO: expected at least 2 channels (angle, force), got {n_ch}")
    hello = Hello((major, minor), texts[0], texts[1], texts[2], rate, tuple(channels))
    check_hello(hello)
    return hello


COUNT_TOP = 32767  # the largest int16 count
MIN_COUNTS = 100  # steps across a channel's declared range; coarser would hide a breach
SAFETY_UNITS = {"angle": "deg", "force": "N"}  # the host converts no units: limits are in these


def _shown(text: str) -> str:
    return text if text.isprintable() else repr(text)  # machine text stays on one line


def check_hello(hello: Hello) -> None:
    """Refuse capabilities the host could not check safety limits with.

    Every channel needs a finite positive scale and a finite range, minimum below maximum.
    Angle and force must be there by name, in deg and N, and their int16 counts must reach
    past the declared range (else an overload could never show) in at least ``MIN_COUNTS``
    steps. Raises ``HandshakeRefused`` naming the first field that fails.
    """

    def refuse(reason: str) -> None:
        raise HandshakeRefused(_shown(hello.serial), reason)

    for ch in hello.channels:
        name, unit = _shown(ch.name), _shown(ch.unit)
        if not (math.isfinite(ch.scale) and ch.scale > 0):
            refuse(f"{name} channel scale: expected a finite positive {unit} per count, "
                   f"got {ch.scale}")  # fmt: skip
        if not (math.isfinite(ch.minimum) and math.isfinite(ch.maximum)) or not (
            ch.minimum < ch.maximum
        ):
            refuse(f"{name} channel range: expected finite minimum < maximum, "
                   f"got {ch.minimum}..{ch.maximum}")  # fmt: skip
    for name, unit in SAFETY_UNITS.items():
        i = hello.channel_index(name)
        if i is None:
            names = ", ".join(_shown(c.name) for c in hello.channels)
            refuse(f"no {name} channel (got {names})")
            return
        ch = hello.channels[i]
        if ch.unit != unit:
            refuse(f"{name} channel unit: expected {unit!r}, got {ch.unit!r}")
        if COUNT_TOP * ch.scale <= max(abs(ch.minimum), abs(ch.maximum)):
            refuse(f"{name} channel scale {ch.scale:g}: {COUNT_TOP} counts cannot reach past "
                   f"its range {ch.minimum:g}..{ch.maximum:g} {unit}")  # fmt: skip
        if (ch.maximum - ch.minimum) / ch.scale < MIN_COUNTS:
            refuse(f"{name} channel scale {ch.scale:g}: fewer than {MIN_COUNTS} counts across "
                   f"its range {ch.minimum:g}..{ch.maximum:g} {unit}")  # fmt: skip
    force = hello.channels[hello.channel_index("force") or 0]
    if force.maximum <= 0:
        refuse(f"force channel range: expected a maximum above 0 N, got {force.maximum:g}")


_SAMPLE_TIME = struct.Struct("<I")


def encode_sample(device_time_us: int, raw: tuple[int, ...] | list[int]) -> bytes:
    return _SAMPLE_TIME.pack(device_time_us % DEVICE_CLOCK_MODULO) + struct.pack(
        f"<{len(raw)}h", *raw
    )


def decode_sample(payload: bytes, n_channels: int) -> tuple[int, tuple[int, ...]]:
    """Device time (us) and the first ``n_channels`` raw counts; extra trailing counts are a
    newer machine's channels and are ignored by design."""
    need = 4 + 2 * n_channels
    if len(payload) < need:
        raise ProtocolError(f"SAMPLE: expected at least {need} bytes, got {len(payload)}")
    (t_us,) = _SAMPLE_TIME.unpack_from(payload, 0)
    return t_us, struct.unpack_from(f"<{n_channels}h", payload, 4)


HEARTBEAT = struct.Struct("<IBH")  # device time us, flags, tx frames lost since boot
ACK = struct.Struct("<HBBI")  # acked host seq, acked type, reason (0 for ACK), device time us
LIMITS = struct.Struct("<fff")  # max force, min angle, max angle (machine units)
START = struct.Struct("<H")  # requested rate in Hz, 0 = the machine's default
TARE = struct.Struct("<B")  # channel mask: TARE_ANGLE | TARE_FORCE
