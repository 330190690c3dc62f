"""What the dashboard tests share: a clinic database on the test server with a patient (made by
``main.py patient``), a programme and a therapist (``main.py therapist``), the dashboard
itself as a real process on a free port, and the system's Chromium for the browser test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from storage import ProgrammeItem, open_store
from tests.helpers import ROOT

PATIENT, THERAPIST, PASSWORD = "LBP-7", "anna", "correct horse battery"
CHROMIUM_ENV = "SPINECOACH_CHROMIUM"  # a Chromium binary, if not the system's
SKIP_BROWSER_ENV = "SPINECOACH_NO_BROWSER"  # "1": skip the browser test (local use)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # The alarm must sound without a click first (a therapist's click allows it in use).
    "--autoplay-policy=no-user-gesture-required",
)  # fmt: skip


def main_py(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


@dataclass
class Clinic:
    url: str
    env: dict[str, str]

    def store(self):
        if not self.url.startswith("postgres"):  # a SQLite file keeps its own journals
            return open_store(self.url)
        return open_store(self.url, journal_dir=Path(self.env["XDG_DATA_HOME"]) / "j")


def make_clinic(url: str, tmp_path: Path) -> Clinic:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for args, stdin in (
        (("patient", "add", PATIENT, "--db", url, "--pin-stdin"), "482913\n"),
        (("therapist", "add", THERAPIST, "--db", url, "--password-stdin"), PASSWORD + "\n"),
    ):
        done = main_py(*args, env=env, stdin=stdin)
        assert done.returncode == 0, done.stderr
    clinic = Clinic(url, env)
    with clinic.store() as store:
        store.save_programme(
            PATIENT,
            [
                ProgrammeItem(
                    "lumbar_extension",
                    sets=1,
                    reps=20,
                    tempo_s=4.8,
                    load_band_n=(80.0, 160.0),
                    range_target_deg=40.0,
                )
            ],
            "start",
        )
    return clinic


class Dashboard:
    """``main.py dashboard`` on a free port of 127.0.0.1."""

    def __init__(self, clinic: Clinic, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "dashboard", "--db", clinic.url,
             "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clinic.env,
        )  # fmt: skip
        line = self.proc.stdout.readline()  # blocks until it listens (or ends)
        if not line.startswith("main.py dashboard: http://"):
            self.close()
            raise AssertionError(f"dashboard did not start: {line!r} {self.proc.stderr.read()}")
        self.base = line.split()[2].rstrip("/")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def chromium() -> str | None:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    return found or shutil.which("chromium-browser")


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition"):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = condition()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
