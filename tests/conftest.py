"""Shared test set-up: headless SDL, the shared recordings, the hardware test tier, and the
storage backends (a SQLite file; a real PostgreSQL server started once per test session)."""

from __future__ import annotations

import os

import pytest

from tests.helpers import shared_data
from tests.storage_backends import BACKENDS, Backend, postgres_backend, sqlite_backend

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's start-up chatter out of logs


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--serial-port",
        default=None,
        help="run hardware tests against a real machine on this serial port",
    )


@pytest.fixture(scope="session")
def serial_port(request: pytest.FixtureRequest) -> str:
    port = request.config.getoption("--serial-port")
    if not port:
        pytest.skip("hardware test: pass --serial-port=/dev/ttyUSB0 with a machine attached")
    return port


@pytest.fixture(scope="session")
def squat_video():
    return shared_data("wissem_gym_rom/videos/squat.mp4")


@pytest.fixture(scope="session")
def pg_server():
    """The test session's PostgreSQL server. Missing binaries fail the tests that need it
    (CI installs them); only SPINECOACH_NO_POSTGRES=1 skips them."""
    from tests import pg_server as pg

    if os.environ.get(pg.SKIP_ENV) == "1":
        pytest.skip(f"{pg.SKIP_ENV}=1: PostgreSQL storage tests not run")
    try:
        server = pg.start_server()
    except pg.ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path) -> Backend:
    """The same storage test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return postgres_backend(request.getfixturevalue("pg_server"), tmp_path)
