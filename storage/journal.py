"""The session journal: writes the database could not take, kept in order in a local file
until it can.

A session writer that meets a locked, full, read-only or unreachable database appends the
write here instead and goes on; the journal is written into the database, in order, as soon
as it takes writes again, and otherwise the next time any program opens the store. Nothing
here knows SQLite: an entry is one ``SessionWriter`` call (``WriteOp``) and is written with
``SessionWriter.apply(op, replay=True)``, which skips what the database already holds, so a
journal replayed twice (a crash halfway through a replay) stores nothing twice.

Files: ``<folder>/session-<id>-<token>.journal``, owner-only, one per session and stretch of
trouble. Line 1 names the session (``SessionKey``), then one line per write and a ``done``
line when a write reached the database. Each line is ``<crc32 hex> <json>`` and is fsynced
before the call returns; a torn last line (a crash mid-append) is ignored. The writer holds
an exclusive ``flock`` on its file while it lives, so no other process replays it meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from storage import paths, traces
from storage.errors import DatabaseUnavailable, StorageError
from storage.records import RepRecord, SessionKey

FORMAT_VERSION = 1
SUFFIX = ".journal"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# One write each; ``at`` is when the call was made (UTC ISO 8601), kept for a late replay.
@dataclass(frozen=True, slots=True)
class BeginSet:
    set_index: int
    target_reps: int = 0
    load_low_n: float = float("nan")
    load_high_n: float = float("nan")
    started_s: float = float("nan")
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AddRep:
    set_index: int
    rep: RepRecord
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AddCue:
    t_s: float
    key: str
    text: str
    severity: int
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AddSafetyEvent:
    t_s: float
    kind: str
    message: str = ""
    value: float = float("nan")
    limit: float = float("nan")
    unit: str = ""
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AddTrace:
    """An already downsampled chunk (``storage.traces.downsample``)."""

    label: str
    unit: str
    t: tuple[float, ...]
    values: tuple[float, ...]
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AddPainScore:
    score: float
    moment: str
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class FinishSession:
    end_reason: str
    notes: str = ""
    at: str = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class AbandonSession:
    reason: str
    at: str = field(default_factory=now_utc)


WriteOp = (
    BeginSet
    | AddRep
    | AddCue
    | AddSafetyEvent
    | AddTrace
    | AddPainScore
    | FinishSession
    | AbandonSession
)
_OPS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        BeginSet,
        AddRep,
        AddCue,
        AddSafetyEvent,
        AddTrace,
        AddPainScore,
        FinishSession,
        AbandonSession,
    )
}


def trace_op(
    label: str, unit: str, t: np.ndarray, values: np.ndarray, max_rate_hz: float | None
) -> AddTrace | None:
    """A trace chunk downsampled for storage, or None when it has no points."""
    rate = traces.DEFAULT_RATE_HZ if max_rate_hz is None else max_rate_hz
    td, vd = traces.downsample(t, values, rate)
    if td.size == 0:
        return None
    return AddTrace(label, unit, tuple(td.tolist()), tuple(float(v) for v in vd.tolist()))


def encode_op(op: WriteOp) -> dict[str, Any]:
    data = {f.name: getattr(op, f.name) for f in fields(op)}
    if isinstance(op, AddRep):
        data["rep"] = asdict(op.rep)
    if isinstance(op, AddTrace):
        data["t"], data["values"] = list(op.t), list(op.values)
    return {"op": type(op).__name__, **data}


def decode_op(data: dict[str, Any]) -> WriteOp:
    data = dict(data)
    cls = _OPS.get(data.pop("op", None))
    if cls is None:
        raise ValueError("unknown journal entry")
    if cls is AddRep:
        rep = dict(data["rep"])
        rep["faults"] = tuple(rep.get("faults", ()))
        data["rep"] = RepRecord(**rep)
    if cls is AddTrace:
        data["t"] = tuple(float(x) for x in data["t"])
        data["values"] = tuple(float(x) for x in data["values"])
    return cls(**data)


def _line(record: dict[str, Any]) -> bytes:
    body = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _parse(line: bytes) -> dict[str, Any] | None:
    """A line's record, or None if it is damaged (bad CRC, not JSON)."""
    crc, _, body = line.partition(b" ")
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """One journal file, held (``flock``) by whoever writes or replays it."""

    def __init__(self, path: Path, fd: int, key: SessionKey, pending: list[tuple[int, WriteOp]]):
        self.path = path
        self.key = key
        self.pending = pending  # (seq, op) not yet in the database, in order
        self.damaged_lines = 0
        self._fd: int | None = fd
        self._next_seq = max((s for s, _ in pending), default=0) + 1

    @classmethod
    def create(cls, folder: Path, key: SessionKey) -> Journal:
        """A new, empty journal for ``key``'s session. Raises ``OSError`` / ``StorageError``."""
        paths.ensure_private_dir(folder)
        token = secrets.token_hex(4)
        tmp = folder / f".session-{key.session_id}-{token}.tmp"
        final = folder / f"session-{key.session_id}-{token}{SUFFIX}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, paths.FILE_MODE)
        try:
            os.fchmod(fd, paths.FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            header = {
                "journal": FORMAT_VERSION,
                "session": asdict(key),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "created_at": now_utc(),
            }
            _write_all(fd, _line(header))
            os.fsync(fd)
            # Only whole, locked files carry the name a replay looks for.
            os.rename(tmp, final)
            _fsync_dir(folder)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return cls(final, fd, key, [])

    @classmethod
    def take_over(cls, path: Path) -> Journal | None:
        """Open a journal left by an earlier writer for replay; None while its writer holds it.
        Raises ``StorageError`` for a file whose first line does not name a session."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return None  # replayed by someone else meanwhile
        except OSError as exc:
            raise StorageError(
                f"cannot open journal {path}: {exc.strerror}", path=str(path)
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            with open(path, "rb") as f:
                data = f.read()
            if not os.path.exists(path):
                os.close(fd)
                return None  # removed by the replay that held it before us
            lines = data.split(b"\n")
            torn = lines.pop()  # b"" when the file ends with a newline
            header = _parse(lines[0]) if lines else None
            if not header or header.get("journal") != FORMAT_VERSION:
                raise StorageError(
                    f"journal {path}: the first line does not name a session; it was kept",
                    path=str(path),
                )
            key = SessionKey(**header["session"])
            ops: dict[int, WriteOp] = {}
            done: set[int] = set()
            damaged = 0
            for raw in lines[1:]:
                rec = _parse(raw)
                try:
                    if rec is None:
                        raise ValueError
                    if "done" in rec:
                        done.add(int(rec["done"]))
                    else:
                        ops[int(rec["seq"])] = decode_op(rec["entry"])
                except (KeyError, TypeError, ValueError):
                    damaged += 1
            if torn:
                _write_all(fd, b"\n")  # so the next line does not join the torn one
        except BaseException:
            os.close(fd)
            raise
        journal = cls(path, fd, key, [(s, op) for s, op in sorted(ops.items()) if s not in done])
        journal.damaged_lines = damaged
        journal._next_seq = max(ops, default=0) + 1
        return journal

    def _fd_or_fail(self) -> int:
        if self._fd is None:
            raise StorageError(f"journal {self.path} is closed", path=str(self.path))
        return self._fd

    def append(self, op: WriteOp) -> int:
        """Add a write, on disk when this returns; its sequence number. Raises ``OSError``."""
        fd = self._fd_or_fail()
        seq = self._next_seq
        _write_all(fd, _line({"seq": seq, "entry": encode_op(op)}))
        os.fsync(fd)
        self._next_seq += 1
        self.pending.append((seq, op))
        return seq

    def mark_done(self, seq: int) -> None:
        """The write reached the database. Best effort: a lost mark only means a replay that
        finds it already there."""
        self.pending = [(s, op) for s, op in self.pending if s != seq]
        with contextlib.suppress(OSError, StorageError):
            _write_all(self._fd_or_fail(), _line({"done": seq}))

    def remove(self) -> None:
        """Everything is in the database: the file goes."""
        self.path.unlink(missing_ok=True)
        self.close()
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # only if empty

    def set_aside(self) -> None:
        """Keep a damaged journal under a name no replay picks up again."""
        with contextlib.suppress(OSError):
            self.path.rename(self.path.with_name(self.path.name + ".damaged"))
        self.close()

    def close(self) -> None:
        """Release the file (and its lock), keeping it for the next replay."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    written: int = 0  # journal entries now in the database
    sessions: tuple[int, ...] = ()  # sessions whose journal was written whole
    kept: tuple[str, ...] = ()  # one line per journal that is still waiting, and why

    def __bool__(self) -> bool:
        return bool(self.written or self.sessions or self.kept)


def journal_files(folder: Path) -> list[Path]:
    try:
        found = [p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StorageError(f"cannot read journal folder {folder}: {exc.strerror}") from None
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def replay_folder(folder: Path, resume: Callable[[SessionKey], Any]) -> ReplayReport:
    """Write every journal in ``folder`` that no live writer holds into the database.

    ``resume(key)`` returns a ``SessionWriter`` for the journal's session (or raises
    ``StorageError`` when the database has no such session). Stops at the first write the
    database cannot take (it is unavailable: the rest waits for the next try)."""
    written, sessions, kept = 0, [], []
    for path in journal_files(folder):
        try:
            journal = Journal.take_over(path)
        except StorageError as exc:
            kept.append(str(exc))
            continue
        if journal is None:
            continue
        try:
            if journal.damaged_lines:
                kept.append(
                    f"journal {path}: {journal.damaged_lines} damaged line(s) skipped "
                    "(the file is kept)"
                )
            writer = resume(journal.key)
            for seq, op in list(journal.pending):
                writer.apply(op, replay=True)
                journal.mark_done(seq)
                written += 1
        except DatabaseUnavailable as exc:
            kept.append(f"journal {path}: {len(journal.pending)} write(s) still waiting: {exc}")
            journal.close()
            break
        except StorageError as exc:
            kept.append(f"journal {path}: kept, not written: {exc}")
            journal.close()
            continue
        sessions.append(journal.key.session_id)
        if journal.damaged_lines:
            journal.set_aside()  # evidence of the damage, for a person to look at
        else:
            journal.remove()
    return ReplayReport(written, tuple(sessions), tuple(kept))
