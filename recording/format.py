"""``.screc``: a compact, append-only, crash-tolerant session recording.

Layout: magic ``SCREC1\\n``, a u32 length and a UTF-8 JSON header, then records. Each record
is ``<type u8><payload length u32><time f64><crc32 u32>`` followed by the payload; the CRC
covers type, time and payload. A file cut short by a crash reads cleanly up to its last
whole record. A damaged record (a flipped bit) is skipped: reading resynchronises on the next
record whose CRC holds, and the skip is counted. Times are seconds on the recording's own
clock (0 = session start).

A record whose CRC holds but whose content is not what the writer writes (an event that is not
a JSON object, a safety event without a value, a pose of the wrong size, a time that is not a
number) is not damage but a foreign or crafted file: ``RecordingError``, naming the record.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from body.landmarks import NUM_LANDMARKS
from body.pose import Pose
from vision.errors import RecordingError

MAGIC = b"SCREC1\n"
FORMAT_VERSION = 1

POSE = 1  # payload: detected u8, image float32 (33, 4), world float32 (33, 3)
DEVICE = 2  # payload: seq u32, device_time f64, angle f64, force f64 (replays must be exact)
EVENT = 3  # payload: UTF-8 JSON object

_RECORD = struct.Struct("<BIdI")
_DEVICE = struct.Struct("<Iddd")
_POSE_FLOATS = NUM_LANDMARKS * 4 + NUM_LANDMARKS * 3
_POSE_BYTES = 1 + 4 * _POSE_FLOATS
_MAX_EVENT_BYTES = 1 << 20  # far above any event the writer makes; bounds the resync search
_SIZES = {POSE: _POSE_BYTES, DEVICE: _DEVICE.size}

# Events the session replay feeds to the engine, with the fields it reads. Other event types
# ("phase", "rep", or a newer writer's) are kept but never fed.
_NUMBER, _FINITE = "number", "finite number"
EVENT_FIELDS: dict[str, dict[str, object]] = {
    "machine_frame": {"n": int},
    "safety": {"kind": str, "value": _NUMBER, "limit": _NUMBER},  # NaN: no value (link lost)
    "command": {"name": str},
    "adjust": {"key": str, "delta": _FINITE},
    "end": {},
}
SESSION_KEYS = {"setup_s": _FINITE, "countdown_s": _FINITE, "open_ended": bool}


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
    """A whole recording in memory. ``truncated`` is True when the file ended mid-record;
    ``damaged`` counts the stretches of damaged bytes skipped (each held at least one record),
    ``damaged_bytes`` their total size."""

    header: dict
    poses: list[Pose] = field(default_factory=list)
    device: list[DeviceRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    truncated: bool = False
    damaged: int = 0
    damaged_bytes: int = 0
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


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_ok(value: object, kind: object) -> bool:
    if kind in (_NUMBER, _FINITE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        try:
            number = float(value)  # JSON integers have no size limit
        except OverflowError:
            return False
        return kind == _NUMBER or math.isfinite(number)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, kind)  # type: ignore[arg-type]


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
    except RecursionError:
        raise RecordingError(f"{path}: header is not valid: values nested too deeply") from None
    if not isinstance(header, dict):
        raise RecordingError(f"{path}: header must be a JSON object, found {type(header).__name__}")
    fps = header.get("fps", 30.0)
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        raise RecordingError(f"{path}: header fps must be a number, found {_show(fps)}")
    if header.get("format_version") != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: format version {_show(header.get('format_version'))}, "
            f"expected {FORMAT_VERSION}"
        )
    if header.get("landmarks", NUM_LANDMARKS) != NUM_LANDMARKS:
        raise RecordingError(
            f"{path}: header landmarks must be {NUM_LANDMARKS}, found {_show(header['landmarks'])}"
        )
    for key in ("exercise", "source"):
        if not isinstance(header.get(key, ""), str):
            raise RecordingError(
                f"{path}: header {key} must be a string, found {_show(header[key])}"
            )
    if not _field_ok(header.get("aspect", math.nan), _NUMBER):
        raise RecordingError(
            f"{path}: header aspect must be a number, found {_show(header['aspect'])}"
        )
    session = header.get("session", {})
    if not isinstance(session, dict):
        raise RecordingError(f"{path}: header session must be an object, found {_show(session)}")
    for key, value in session.items():
        kind = SESSION_KEYS.get(key)
        if kind is None or not _field_ok(value, kind) or (kind == _FINITE and value < 0):
            raise RecordingError(
                f"{path}: header session.{_show(key)}: expected one of {', '.join(SESSION_KEYS)} "
                f"with a non-negative number or true/false, found {_show(value)}"
            )
    return header


_HEAD = struct.Struct("<Bd")


def _record_at(data: memoryview, pos: int, resync: bool) -> tuple[int, float, int, int] | None:
    """(type, time, payload start, end) when a whole record with a good CRC starts at ``pos``.
    While resynchronising only the known types at their sizes count, which also keeps the
    search cheap."""
    if len(data) - pos < _RECORD.size:
        return None
    kind, length, time, crc = _RECORD.unpack_from(data, pos)
    if resync and (
        kind not in (POSE, DEVICE, EVENT)
        or length != _SIZES.get(kind, length)
        or length > _MAX_EVENT_BYTES
    ):
        return None
    start = pos + _RECORD.size
    end = start + length
    if end > len(data) or zlib.crc32(data[start:end], zlib.crc32(_HEAD.pack(kind, time))) != crc:
        return None
    return kind, time, start, end


def _cut_short(data: memoryview, pos: int) -> bool:
    """The bytes from ``pos`` are the start of a record the writer never finished."""
    if len(data) - pos < _RECORD.size:
        return True
    _, length, _, _ = _RECORD.unpack_from(data, pos)
    return pos + _RECORD.size + length > len(data)


def _event(path: Path, number: int, payload: bytes) -> dict:
    where = f"{path}: record {number} (event)"
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{where}: expected a JSON object ({exc})") from None
    except RecursionError:
        raise RecordingError(f"{where}: expected a JSON object, values nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise RecordingError(f'{where}: expected a JSON object with a "type", found {_show(data)}')
    for key, kind in EVENT_FIELDS.get(data["type"], {}).items():
        if not _field_ok(data.get(key), kind):
            what = kind if isinstance(kind, str) else {int: "whole number >= 0"}.get(kind, "string")
            raise RecordingError(
                f"{where}: {data['type']} event: expected {key} to be a {what}, "
                f"found {_show(data.get(key))}"
            )
    return data


def read_recording(path: str | Path) -> Recording:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            header = _read_header(f, path)
            data = memoryview(f.read())
    except IsADirectoryError:
        raise RecordingError(f"{path}: expected a recording file, found a folder") from None
    except FileNotFoundError:
        raise RecordingError(f"recording not found: {path}") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc.strerror})") from None
    rec = Recording(header=header)
    pos, number, bad_from = 0, 0, -1
    while pos < len(data):
        found = _record_at(data, pos, resync=bad_from >= 0)
        if found is None:
            if bad_from < 0:
                if _cut_short(data, pos) and _next_record(data, pos) is None:
                    rec.truncated = True  # a crash mid-write: the rest was never written
                    break
                bad_from = pos
            pos += 1
            continue
        if bad_from >= 0:
            rec.damaged += 1
            rec.damaged_bytes += pos - bad_from
            bad_from = -1
        kind, time, start, pos = found
        number += 1
        _add(rec, path, number, kind, time, bytes(data[start:pos]))
    if bad_from >= 0:
        rec.damaged += 1
        rec.damaged_bytes += len(data) - bad_from
    return rec


def _next_record(data: memoryview, pos: int) -> int | None:
    for q in range(pos + 1, len(data)):
        if _record_at(data, q, resync=True) is not None:
            return q
    return None


def _add(rec: Recording, path: Path, number: int, kind: int, time: float, payload: bytes) -> None:
    if not math.isfinite(time):
        raise RecordingError(f"{path}: record {number}: expected a time in seconds, found {time}")
    if kind in _SIZES and len(payload) != _SIZES[kind]:
        raise RecordingError(
            f"{path}: record {number}: expected {_SIZES[kind]} bytes for its type {kind}, "
            f"found {len(payload)}"
        )
    if kind == POSE:
        floats = np.frombuffer(payload, dtype="<f4", offset=1).astype(np.float32)
        image = floats[: NUM_LANDMARKS * 4].reshape(NUM_LANDMARKS, 4)
        world = floats[NUM_LANDMARKS * 4 :].reshape(NUM_LANDMARKS, 3)
        rec.timeline.append((POSE, len(rec.poses)))
        rec.poses.append(Pose(time, image.copy(), world.copy(), detected=payload[0] == 1))
    elif kind == DEVICE:
        seq, dev_t, angle, force = _DEVICE.unpack(payload)
        rec.timeline.append((DEVICE, len(rec.device)))
        rec.device.append(DeviceRecord(time, seq, dev_t, angle, force))
    elif kind == EVENT:
        rec.timeline.append((EVENT, len(rec.events)))
        rec.events.append(EventRecord(time, _event(path, number, payload)))
    # Unknown record types come from newer writers: skipped, not fatal.
