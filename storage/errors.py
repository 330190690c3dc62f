"""The storage package's one exception family. Messages name the file and what was expected."""

from __future__ import annotations


class StorageError(Exception):
    """Anything the storage layer cannot do; ``path`` is the database or export file involved."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class CorruptDatabase(StorageError):
    """The file exists but is not a readable SpineCoach database. It is never overwritten."""


class DatabaseUnavailable(StorageError):
    """The database cannot take writes just now (locked, full, read-only, unreachable). A
    session's writes that meet this are kept in its journal and written later."""


class DatabaseLocked(DatabaseUnavailable):
    """Another program holds the database lock longer than the busy timeout."""


class DatabaseFull(DatabaseUnavailable):
    """The disk (or the database's size limit) is full."""


class DatabaseReadOnly(DatabaseUnavailable):
    """The database file or its folder cannot be written by this user."""


class SchemaTooNew(StorageError):
    """The database was written by a newer SpineCoach than this one."""


class NotFound(StorageError):
    """No patient, session or programme with the given key."""


class ProgrammeChanged(StorageError):
    """The patient's programme is no longer the version a change was made from (another
    therapist, station or the progression rules saved one since); nothing was changed."""


class BackendNotAvailable(StorageError):
    """The URL names a storage backend whose driver is not installed (psycopg)."""
