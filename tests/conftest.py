"""Shared test set-up: headless SDL, the shared recordings, and the hardware test tier."""

from __future__ import annotations

import os

import pytest

from tests.helpers import shared_data

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
