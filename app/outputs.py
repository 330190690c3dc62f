"""Files a session writes besides the database (summary, recording, overlay video): checked
before the session starts, so a bad target costs one line and not a whole session, and kept
owner-only, as everything about a patient is."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from storage import StorageError
from storage.paths import FILE_MODE, private_output, restrict


def check_target(path: Path, flag: str) -> str | None:
    """Why ``path`` cannot take the output of ``flag``, or None when it can.

    Tries what the session will do: create a file in the folder (a summary is written to a
    temporary file there and renamed) and open an existing target for writing. An existing
    target we own is made owner-only now."""
    folder = path.parent
    if not folder.is_dir():
        return f"{flag}: folder does not exist: {folder}"
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        return f"{flag}: cannot use {path}: {exc.strerror}"
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "the folder" if stat.S_ISDIR(st.st_mode) else "a special file"
        return f"{flag}: expected a file name, got {kind} {path}"
    probe = folder / f".{path.name}.{os.getpid()}.probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        probe.unlink()
        if st is not None:
            os.close(os.open(path, os.O_WRONLY))  # no O_TRUNC: the old file stays as it is
            restrict(path)
    except OSError as exc:
        probe.unlink(missing_ok=True)
        verb = "write" if st is not None else "create"
        return f"{flag}: cannot {verb} {path}: {exc.strerror or exc}"
    return None


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only before a library that ignores modes (OpenCV's
    video writer) opens it: it truncates the file and keeps the mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_summary(path: Path, summary: dict) -> None:
    """The session summary, atomically and owner-only. Raises ``StorageError``."""
    try:
        with private_output(path) as f:
            f.write(json.dumps(summary, indent=2))
    except OSError as exc:
        raise StorageError(f"--summary-json: cannot write {path}: {exc.strerror or exc}") from None
