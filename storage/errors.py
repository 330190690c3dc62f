"""The storage package's one exception family. Messages name the file and what was expected."""

from __future__ import annotations


class StorageError(Exception):
    """Anything the storage layer cannot do; ``path`` is the database or export file involved."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class CorruptDatabase(StorageError):
    """The file exists but is not a readable SpineCoach database. It is never overwritten."""


class DatabaseLocked(StorageError):
    """Another program holds the database lock longer than the busy timeout."""


class SchemaTooNew(StorageError):
    """The database was written by a newer SpineCoach than this one."""


class NotFound(StorageError):
    """No patient, session or programme with the given key."""


class BackendNotAvailable(StorageError):
    """The URL names a storage backend that is planned but not built yet."""
