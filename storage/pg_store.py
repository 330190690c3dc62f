"""The PostgreSQL store: one server shared by every station of a clinic.

The tables, versions and SQL statements are SQLite's (``storage.sql_store``); what differs is
opening: a connection instead of a file, the schema version read from ``schema_versions``, the
migrations of ``storage/migrations/postgresql/`` applied in one transaction under an advisory
lock (two stations starting at once on a new database migrate it once), and a local folder
for the journal of writes the server could not take (it is on the station, not the server).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg

from storage import paths
from storage.errors import (
    CorruptDatabase,
    DatabaseReadOnly,
    NotFound,
    SchemaTooNew,
    StorageError,
)
from storage.migrate import (
    APPLICATION_ID,
    LATEST_VERSION,
    Dialect,
    migrations,
    now_utc,
    version_rows_sql,
)
from storage.pg_db import PgDb, _Conn
from storage.sql_db import Conn
from storage.sql_store import SqlStore
from storage.station_status import StatusLink, StatusListener

# Tables of version 1: one of them without ``schema_versions`` is someone else's database.
_OUR_TABLES = ("patients", "programmes", "sessions", "sets", "reps", "cues", "traces")


def default_journal_dir(params: dict[str, str]) -> Path:
    """``<data dir>/pending/<host>_<port>_<database>``: one folder per server database, on the
    station's own disk."""
    where = "_".join(
        params.get(k) or d for k, d in (("host", "localhost"), ("port", "5432"), ("dbname", ""))
    )
    return paths.data_dir() / "pending" / re.sub(r"[^A-Za-z0-9.-]+", "_", where).strip("_")


def _read_version(c: Conn, location: str) -> int:
    """The schema version, 0 for a database without SpineCoach tables. Refuses a database
    whose tables are not ours, without writing to it."""
    # Read from pg_tables, not with to_regclass: a name lookup without a lock answers from
    # this connection's catalog cache, which does not yet know of tables another station
    # committed while this one waited for the migration lock (a stale "no such table").
    found = {
        r[0]
        for r in c.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            f"AND tablename IN ({', '.join('?' for _ in (*_OUR_TABLES, 'schema_versions'))})",
            (*_OUR_TABLES, "schema_versions"),
        ).fetchall()
    }
    if "schema_versions" not in found:
        clash = sorted(found)
        if clash:
            raise CorruptDatabase(
                f"{location} has tables named like SpineCoach's ({', '.join(clash)}) "
                "but no schema_versions table: not a SpineCoach database; it was left "
                "untouched - use a database of its own",
                path=location,
            )
        return 0
    try:
        first = c.execute("SELECT name FROM schema_versions WHERE version = 1").fetchone()
        version = c.execute("SELECT max(version) FROM schema_versions").fetchone()[0]
    except psycopg.Error as exc:  # the table is not shaped as ours
        raise CorruptDatabase(
            f"{location} has a schema_versions table that is not SpineCoach's ({exc}); it was "
            "left untouched - use a database of its own",
            path=location,
        ) from None
    if first is None or first[0] != "0001_initial":
        raise CorruptDatabase(
            f"{location} has a schema_versions table that is not SpineCoach's; it was left "
            "untouched - use a database of its own",
            path=location,
        )
    return int(version)


class PostgresStore(SqlStore):
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        create: bool = True,
        journal_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Connect to the database named by ``url``; create or migrate the schema (with
        ``create``); write journals of earlier sessions; mark crashed sessions.

        ``journal_dir``: the station's folder for writes the server could not take
        (default: ``default_journal_dir``)."""
        self._db = PgDb(url, timeout_s)
        self._writers = []
        try:
            self._version = self._prepare(create)
            folder = Path(journal_dir) if journal_dir else default_journal_dir(self._db.params)
            self._journal_dir = Path(os.path.realpath(folder.expanduser()))
            self._ready()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, create: bool) -> int:
        """Every look at the schema runs under the migration lock, in its transaction: a
        station starting while another migrates a new database waits for it, instead of
        seeing its tables half committed between two statements (and taking them for a
        foreign database)."""
        loc = self._db.path
        with self._db.transaction("read the schema version") as c:
            # Shared: stations starting together read at once; a migration excludes them.
            c.execute("SELECT pg_advisory_xact_lock_shared(?)", (APPLICATION_ID,))
            version = _read_version(c, loc)
        self._check_version(version, create)
        if version == LATEST_VERSION:
            return version
        try:
            with self._db.transaction(f"migrate the schema from version {version}") as c:
                assert isinstance(c, _Conn)
                c.execute("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
                # Read again in this transaction: another station may have migrated meanwhile.
                version = _read_version(c, loc)
                self._check_version(version, create)
                for m in migrations(Dialect.POSTGRESQL):
                    if version < m.version <= LATEST_VERSION:
                        c.script(m.sql)
                        for statement in version_rows_sql(m, now_utc()):
                            c.script(statement)
        except DatabaseReadOnly as exc:
            # A station's role may not create tables (storage/postgresql_setup.sql).
            raise StorageError(
                f"{loc} is at schema version {version} and this program needs "
                f"{LATEST_VERSION}; this role may not change the tables: run "
                "'python -m storage.cli migrate --db URL' once with the owner role's URL "
                f"(docs/storage.md) [{exc}]",
                path=loc,
            ) from None
        return LATEST_VERSION

    def _check_version(self, version: int, create: bool) -> None:
        loc = self._db.path
        if version > LATEST_VERSION:
            raise SchemaTooNew(
                f"{loc} has schema version {version}, written by a newer SpineCoach; this one "
                f"knows versions up to {LATEST_VERSION}. Update SpineCoach on this station.",
                path=loc,
            )
        if version == 0 and not create:
            raise NotFound(
                f"no SpineCoach tables in {loc}; expected a database a station has already "
                "written to",
                path=loc,
            )

    @property
    def schema_version(self) -> int:
        return self._version

    def status_link(self) -> StatusLink:
        return StatusLink(self._db.sibling(), notify=True)

    def status_listener(self) -> StatusListener:
        from storage.pg_listen import PgListener

        return PgListener(self._db.params, self._db.path, self._db.timeout_s)

    @property
    def journal_dir(self) -> Path:
        return self._journal_dir

    def owned_paths(self) -> tuple[Path, ...]:
        return (self._journal_dir,)
