"""Files a session writes besides the database (summary, recording, overlay video): checked
before the session starts, so a bad target costs one line and not a whole session, and kept
owner-only, as everything about a patient is."""

from __future__ import annotations

import json
import os
from pathlib import Path

from storage import StorageError
from storage.base import check_not_store_file
from storage.paths import FILE_MODE, not_a_file, overwritten, private_output, restrict


def check_target(path: Path, flag: str) -> str | None:
    """Why ``path`` cannot take the output of ``flag``, or None when it can.

    Tries what the session will do: create a file in the folder (a summary is written to a
    temporary file there and renamed) and open an existing target for writing. An existing
    target we own is made owner-only now."""
    folder = path.parent
    if not folder.is_dir():
        return f"{flag}: folder does not exist: {folder}"
    problem = not_a_file(path)
    if problem:
        return f"{flag}: {problem}"
    exists = path.exists()
    probe = folder / f".{path.name}.{os.getpid()}.probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
        probe.unlink()
        if exists:
            os.close(os.open(path, os.O_WRONLY))  # no O_TRUNC: the old file stays as it is
            restrict(path)
    except OSError as exc:
        probe.unlink(missing_ok=True)
        verb = "write" if exists else "create"
        return f"{flag}: cannot {verb} {path}: {exc.strerror or exc}"
    return None


def check_clashes(
    outputs: dict[str, Path],
    source: Path | None,
    store: tuple[str, tuple[Path, ...]] | None,
) -> str | None:
    """Why one of a session's ``outputs`` (by flag) would overwrite what the session reads or
    writes, or None: the database's files (``storage.store_files``), the ``source`` file or
    folder, or another output of the same run. Checked before anything is opened or created."""
    seen: list[tuple[str, Path]] = []
    for flag, path in outputs.items():
        if store is not None:
            try:
                check_not_store_file(path, store[1], store[0])
            except StorageError as exc:
                return f"{flag}: {exc}"
        if source is not None and overwritten(path, [source]) is not None:
            return (
                f"{flag}: refusing to write {path}: it is the source {source} the session "
                "reads; choose another output path"
            )
        for other_flag, other in seen:
            if overwritten(path, [other]) is not None:
                return (
                    f"{flag}: refusing to write {path}: {other_flag} writes it too; "
                    "give each output its own path"
                )
        seen.append((flag, path))
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
