"""Where the database lives and how files are created owner-only (patient data)."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from storage.errors import StorageError

APP_DIR = "spinecoach"
DB_NAME = "spinecoach.sqlite"
FILE_MODE = 0o600
DIR_MODE = 0o700


def data_dir() -> Path:
    """The user's data directory for SpineCoach: ``$XDG_DATA_HOME/spinecoach`` or
    ``~/.local/share/spinecoach``."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    # The XDG spec says a relative value is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / APP_DIR


def default_db_path() -> Path:
    return data_dir() / DB_NAME


def redact_url(url: str) -> str:
    """A database URL as it may be shown in a message: a password in it becomes ``***``."""
    url = re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    if at and ":" in auth:
        auth = auth.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{auth}{at}{hosts}{slash}{tail}"


def too_long(text: str) -> str:
    """The message for a name longer than the system allows, the name shortened to be read."""
    shown = text if len(text) <= 80 else f"{text[:50]}...{text[-20:]}"
    return f"path too long for the system ({len(text)} characters): {shown}"


def name_too_long(text: str) -> str | None:
    """``too_long(text)`` when the system cannot even look the name up, else None."""
    try:
        os.stat(text)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return too_long(text)
    return None


def not_a_file(path: Path, *, folder_ok: bool = False) -> str | None:
    """Why an output cannot go to ``path`` as it stands, or None: writing it would replace an
    existing folder or special file (a device node, pipe or socket) by a regular file."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # nothing there to replace; creating it reports what is in the way
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return too_long(str(path))
        return f"cannot use {path}: {exc.strerror or exc}"
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return None
    kind = "the folder" if stat.S_ISDIR(mode) else "a special file"
    return f"expected a file name, got {kind} {path}"


def overwritten(path: str | os.PathLike[str], kept: Iterable[Path]) -> Path | None:
    """The file or folder of ``kept`` that writing ``path`` would overwrite (or write into),
    or None. Compared resolved (symlinks, relative paths) and by file identity (hard links)."""
    target = Path(os.path.realpath(Path(path).expanduser()))
    for item in kept:
        item = Path(os.path.realpath(item))
        if target == item or item in target.parents or _same_file(target, item):
            return item
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # one of them does not exist: not the same file


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) owner-only if missing; existing folders stay as they are."""
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    # mkdir(parents=True) gives parents the umask's mode; each folder we create is ours to close.
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
            os.chmod(d, DIR_MODE)
        except FileExistsError:
            if not d.is_dir():
                raise StorageError(f"{d} exists and is not a folder", path=str(d)) from None
        except OSError as exc:
            raise StorageError(f"cannot create folder {d}: {exc.strerror}", path=str(d)) from None


def create_private_file(path: Path) -> None:
    """Create an empty owner-only file; fails if it already exists (never clobbers data)."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise StorageError(f"{path} appeared while it was being created", path=str(path)) from None
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}", path=str(path)) from None
    os.close(fd)
    os.chmod(path, FILE_MODE)  # the umask may have removed bits, never added: make it exact


def restrict(path: Path) -> None:
    """Make an existing file owner-only if we own it (older files may be group-readable)."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
    except OSError:
        pass  # not ours to change; opening will report real problems


@contextmanager
def private_output(path: Path, *, binary: bool = False) -> Iterator[IO]:
    """Write ``path`` atomically and owner-only: a temporary file beside it, renamed on success."""
    path = Path(path)
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}", path=str(path)) from None
    os.fchmod(fd, FILE_MODE)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
