"""``.screc``: a compact, append-only, crash-tolerant session recording.

Layout: magic ``SCREC1\\n``, a u32 length and a UTF-8 JSON header, then records. Each record
is ``<type u8><payload length u32><time f64><crc32 u32>`` followed by the payload; the CRC
covers type, time and payload. A file cut short by a crash reads cleanly up to its last
whole record. Times are seconds on the recording's own clock (0 = session start).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vision.errors import RecordingError
from vision.landmarks import NUM_LANDMARKS
from vision.pose import Pose

MAGIC = b"SCREC1\n"
FORMAT_VERSION = 1

POSE = 1  # payload: detected u8, image float32 (33, 4), world float32 (33, 3)
DEVICE = 2  # payload: seq u32, device_time f64, angle f64, force f64 (replays must be exact)
EVENT = 3  # payload: UTF-8 JSON object

_RECORD = struct.Struct("<BIdI")
_DEVICE = struct.Struct("<Iddd")
_POSE_FLOATS = NUM_LANDMARKS * 4 + NUM_LANDMARKS * 3
_POSE_BYTES = 1 + 4 * _POSE_FLOATS


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    time: float  # recording clock, when the host received the sample
    seq: int
    device_time: float
    angle_deg: float
    force_n: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    time: float
    data: dict


@dataclass
class Recording:
    """A whole recording in memory. ``truncated`` is True when the file ended mid-record."""

    header: dict
    poses: list[Pose] = field(default_factory=list)
    device: list[DeviceRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    truncated: bool = False
    # Every record in the order it was written: (type, index into poses / device / events).
    timeline: list[tuple[int, int]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return float(self.header.get("fps", 30.0))


class RecordingWriter:
    """Appends records; ``flush()`` after each rep keeps a crash's loss to the rep in progress."""

    def __init__(self, path: str | Path, header: dict) -> None:
        self.path = Path(path)
        # Owner-only: a recording holds a patient's movements.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._f: BinaryIO = os.fdopen(fd, "wb")
        meta = {"format_version": FORMAT_VERSION, "landmarks": NUM_LANDMARKS, **header}
        blob = json.dumps(meta, sort_keys=True).encode()
        self._f.write(MAGIC + struct.pack("<I", len(blob)) + blob)

    def _record(self, kind: int, time: float, payload: bytes) -> None:
        head = struct.pack("<Bd", kind, time)
        crc = zlib.crc32(payload, zlib.crc32(head))
        self._f.write(_RECORD.pack(kind, len(payload), time, crc) + payload)

    def pose(self, time: float, pose: Pose) -> None:
        payload = (
            bytes([1 if pose.detected else 0])
            + np.ascontiguousarray(pose.image, dtype="<f4").tobytes()
            + np.ascontiguousarray(pose.world, dtype="<f4").tobytes()
        )
        self._record(POSE, time, payload)

    def device(self, time: float, seq: int, device_time: float, angle: float, force: float) -> None:
        self._record(DEVICE, time, _DEVICE.pack(seq, device_time, angle, force))

    def event(self, time: float, data: dict) -> None:
        self._record(EVENT, time, json.dumps(data, sort_keys=True).encode())

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_header(f: BinaryIO, path: Path) -> dict:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise RecordingError(f"{path}: not a SpineCoach recording (expected it to start {MAGIC!r})")
    size_raw = f.read(4)
    if len(size_raw) != 4:
        raise RecordingError(f"{path}: header cut short")
    (size,) = struct.unpack("<I", size_raw)
    try:
        header = json.loads(f.read(size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{path}: header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise RecordingError(f"{path}: header must be a JSON object, found {type(header).__name__}")
    fps = header.get("fps", 30.0)
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        raise RecordingError(f"{path}: header fps must be a number, found {fps!r}")
    if header.get("format_version") != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: format version {header.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    return header


def _records(f: BinaryIO) -> Iterator[tuple[int, float, bytes] | None]:
    """Yields (type, time, payload); yields None once if the file ends or breaks mid-record."""
    while True:
        head = f.read(_RECORD.size)
        if not head:
            return
        if len(head) < _RECORD.size:
            yield None
            return
        kind, length, time, crc = _RECORD.unpack(head)
        payload = f.read(length)
        if (
            len(payload) < length
            or zlib.crc32(payload, zlib.crc32(struct.pack("<Bd", kind, time))) != crc
        ):
            yield None
            return
        yield kind, time, payload


def read_recording(path: str | Path) -> Recording:
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"recording not found: {path}")
    with open(path, "rb") as f:
        rec = Recording(header=_read_header(f, path))
        for item in _records(f):
            if item is None:
                rec.truncated = True
                break
            kind, time, payload = item
            if kind == POSE and len(payload) == _POSE_BYTES:
                floats = np.frombuffer(payload, dtype="<f4", offset=1).astype(np.float32)
                image = floats[: NUM_LANDMARKS * 4].reshape(NUM_LANDMARKS, 4)
                world = floats[NUM_LANDMARKS * 4 :].reshape(NUM_LANDMARKS, 3)
                rec.timeline.append((POSE, len(rec.poses)))
                rec.poses.append(Pose(time, image.copy(), world.copy(), detected=payload[0] == 1))
            elif kind == DEVICE and len(payload) == _DEVICE.size:
                seq, dev_t, angle, force = _DEVICE.unpack(payload)
                rec.timeline.append((DEVICE, len(rec.device)))
                rec.device.append(DeviceRecord(time, seq, dev_t, angle, force))
            elif kind == EVENT:
                rec.timeline.append((EVENT, len(rec.events)))
                rec.events.append(EventRecord(time, json.loads(payload)))
            # Unknown record types come from newer writers: skipped, not fatal.
    return rec
