"""A real PostgreSQL server for the test session: the system's ``initdb`` and ``pg_ctl`` in a
temporary folder, on a free port, its unix socket in that folder.

PostgreSQL refuses to run as root, so when the tests run as root the server's commands run as
``nobody`` (``runuser``) in a folder handed to that user. Settings that only buy durability
(``fsync``, full page writes) are off: the tests check this program, not the server's crash
safety, and a start costs about a second.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_ENV = "SPINECOACH_PG_BIN"  # a folder with initdb and pg_ctl, if not the system's
SKIP_ENV = "SPINECOACH_NO_POSTGRES"  # "1": run the storage tests on SQLite only (local use)
BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"
PREFIX = "spinecoach-pg-"
OWNER_FILE = "test-session.pid"


class ServerError(RuntimeError):
    pass


def find_binaries() -> Path | None:
    """The newest installed server's bin folder (Debian keeps one per major version)."""
    if os.environ.get(BIN_ENV):
        found = [Path(os.environ[BIN_ENV])]
    else:
        found = sorted(
            (Path(p) for p in glob.glob(BIN_GLOB)),
            key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
            reverse=True,
        )
    for folder in found:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One cluster for the test session; ``new_database()`` gives each test its own database."""

    def __init__(self, bin_dir: Path, root: Path | None = None) -> None:
        self.bin = bin_dir
        self.root = root or Path(tempfile.mkdtemp(prefix=PREFIX))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._as: list[str] = []
        self._databases = 0
        if root is None:
            # Which test session started it: a session killed before its teardown leaves the
            # server running, and the next session stops it (``stop_orphans``).
            (self.root / OWNER_FILE).write_text(str(os.getpid()))
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "nobody", "--"]
            shutil.chown(self.root, "nobody", "nogroup")

    def _run(self, *argv: str, timeout: float = 60.0) -> None:
        cmd = [*self._as, str(self.bin / argv[0]), *argv[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServerError(
                f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start (again) on the same port; a first start picks a free one."""
        tries = 3 if self.port == 0 else 1
        for attempt in range(tries):
            if self.port == 0 or attempt:
                self.port = _free_port()
            options = (
                f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                          "-o", options, "start")  # fmt: skip
                return
            except ServerError:
                if attempt == tries - 1:
                    raise

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, dbname: str, user: str = SUPERUSER) -> str:
        """Over the unix socket in the server's folder."""
        return f"postgresql://{user}@/{dbname}?host={self.root}&port={self.port}"

    def tcp_url(self, dbname: str, user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self) -> str:
        """A fresh, empty database; returns its name."""
        self._databases += 1
        name = f"t{self._databases}"
        self.admin(f"CREATE DATABASE {name} STRATEGY FILE_COPY")
        return name

    def close(self) -> None:
        with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphans(bin_dir: Path) -> None:
    """Stop and remove the servers of test sessions that died without their teardown."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            owner = int((Path(folder) / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not (yet) one of ours
        if not _alive(owner):
            PostgresServer(bin_dir, Path(folder)).close()


def start_server() -> PostgresServer:
    """Raises ``ServerError`` when the binaries are missing or the server does not start."""
    bin_dir = find_binaries()
    if bin_dir is None:
        raise ServerError(
            f"no PostgreSQL server binaries (initdb, pg_ctl) in {BIN_GLOB} or ${BIN_ENV}: "
            f"install the 'postgresql' package (.ci/run does), or set {SKIP_ENV}=1 to run "
            "the storage tests on SQLite only"
        )
    stop_orphans(bin_dir)
    server = PostgresServer(bin_dir)
    try:
        server.init()
        server.start()
    except BaseException:
        server.close()
        raise
    return server
