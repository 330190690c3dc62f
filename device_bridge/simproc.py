"""Runs the machine simulator in a subprocess on a pty, for ``--device sim:MODEL`` and tests."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device_bridge.errors import DeviceError
from device_bridge.machine_model import MODELS

_ROOT = Path(__file__).resolve().parent.parent


class SimulatorProcess:
    """``python -m device_bridge.simulator`` as a child; ``link`` is the stable port path."""

    def __init__(
        self,
        model: str,
        args: Sequence[str] = (),
        *,
        workdir: str | os.PathLike[str] | None = None,
        frame_log: bool = False,
        start_timeout_s: float = 10.0,
    ) -> None:
        if model not in MODELS:
            raise DeviceError(f"simulator model: expected one of {sorted(MODELS)}, got {model!r}")
        self.model = model
        self._own_dir = workdir is None
        self.dir = Path(tempfile.mkdtemp(prefix="spinecoach-sim-") if workdir is None else workdir)
        self.link = str(self.dir / "machine.tty")
        self.truth_path = self.dir / "truth.json"
        self.frame_log_path = self.dir / "frames.json" if frame_log else None
        self.truth: dict[str, Any] | None = None
        self.frames: list[list[Any]] | None = None
        cmd = [sys.executable, "-m", "device_bridge.simulator", "--machine", model, "--pty"]
        cmd += ["--link", self.link, "--truth", str(self.truth_path), "--exit-with-parent", *args]
        if self.frame_log_path is not None:
            cmd += ["--frame-log", str(self.frame_log_path)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        self._stderr = open(self.dir / "simulator.log", "wb")  # noqa: SIM115 - lives with the child
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(_ROOT)
        )
        # Also stopped when this object is collected or the interpreter exits unclosed.
        self._finalizer = weakref.finalize(self, _terminate, self.proc)
        self.pty_path = self._read_path(start_timeout_s)

    def _read_path(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if ready:
                line = self.proc.stdout.readline().decode().strip()
                if line:
                    return line
            if self.proc.poll() is not None:
                break
        log_path = self.dir / "simulator.log"
        log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        self.close()  # removes the folder the log lives in: read it first
        last = log.strip().splitlines()[-1] if log.strip() else "no output"
        raise DeviceError(f"simulator did not start ({last})")

    def close(self) -> dict[str, Any] | None:
        """Stop the simulator; returns (and keeps) its ground truth."""
        self._finalizer.detach()
        _terminate(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        if self.truth is None and self.truth_path.exists():
            self.truth = json.loads(self.truth_path.read_text())
        if self.frames is None and self.frame_log_path and self.frame_log_path.exists():
            self.frames = json.loads(self.frame_log_path.read_text())
        if self._own_dir:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.dir)
        return self.truth


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: the simulator writes its truth and exits
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
