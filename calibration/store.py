"""Calibrations on disk, one JSON file keyed by machine serial number.

The file is small and rarely written, so every change rewrites it whole, through a
temporary file and a rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from calibration.model import ChannelCalibration, MachineCalibration

FORMAT_VERSION = 1
ENV_PATH = "SPINECOACH_CALIBRATION"


class CalibrationError(ValueError):
    """A calibration file that is not what this version writes."""


def default_path() -> Path:
    """``$SPINECOACH_CALIBRATION``, else the user's data directory."""
    if env := os.environ.get(ENV_PATH):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "spinecoach" / "calibration.json"


def _channel(d: object, where: str) -> ChannelCalibration:
    if not isinstance(d, dict) or not {"zero", "scale"} <= d.keys():
        raise CalibrationError(f"{where}: expected an object with zero and scale, got {d!r}")
    try:
        return ChannelCalibration(float(d["zero"]), float(d["scale"]))
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{where}: {exc}") from exc


class CalibrationStore:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._machines: dict[str, MachineCalibration] = {}
        self._updated: dict[str, str] = {}
        if os.path.exists(self.path):  # never raises, not even for a name too long
            self._load()

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
            raise CalibrationError(f"{self.path}: expected calibration JSON, {exc}") from None
        except RecursionError:
            raise CalibrationError(
                f"{self.path}: expected calibration JSON, nested too deeply"
            ) from None
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
            got = doc.get("version") if isinstance(doc, dict) else type(doc).__name__
            raise CalibrationError(f"{self.path}: expected version {FORMAT_VERSION}, got {got!r}")
        machines = doc.get("machines", {})
        if not isinstance(machines, dict):
            raise CalibrationError(
                f"{self.path}: expected machines by serial number, got {machines!r:.60}"
            )
        for serial, entry in machines.items():
            where = f"{self.path}: machine {serial}"
            if not isinstance(entry, dict):
                raise CalibrationError(f"{where}: expected an object, got {entry!r}")
            self._machines[serial] = MachineCalibration(
                angle=_channel(entry.get("angle", {"zero": 0, "scale": 1}), f"{where} angle"),
                force=_channel(entry.get("force", {"zero": 0, "scale": 1}), f"{where} force"),
            )
            self._updated[serial] = str(entry.get("updated", ""))

    def reload(self) -> None:
        """Read the file again (another process changed it, e.g. ``python -m device_bridge
        calibration``)."""
        with self._lock:
            self._machines.clear()
            self._updated.clear()
            if self.path.exists():
                self._load()

    def get(self, serial: str) -> MachineCalibration:
        """The machine's calibration; the identity for a machine never calibrated."""
        with self._lock:
            return self._machines.get(serial, MachineCalibration())

    def serials(self) -> list[str]:
        with self._lock:
            return sorted(self._machines)

    def set(self, serial: str, calibration: MachineCalibration) -> None:
        if not serial:
            raise ValueError("calibration: expected a machine serial number, got ''")
        with self._lock:
            self._machines[serial] = calibration
            self._updated[serial] = datetime.now(UTC).isoformat(timespec="seconds")
            self._save()

    def set_channel(self, serial: str, channel: str, cal: ChannelCalibration) -> None:
        if channel not in ("angle", "force"):
            raise ValueError(f"calibration channel: expected 'angle' or 'force', got {channel!r}")
        self.set(serial, replace(self.get(serial), **{channel: cal}))

    def tare(self, serial: str, channel: str, reading: float) -> None:
        """Make the present machine ``reading`` read zero, keeping the channel's scale."""
        current = getattr(self.get(serial), channel, None)
        if current is None:
            raise ValueError(f"tare channel: expected 'angle' or 'force', got {channel!r}")
        self.set_channel(serial, channel, current.with_zero_at(reading))

    def _save(self) -> None:
        doc = {
            "version": FORMAT_VERSION,
            "machines": {
                s: {
                    "angle": {"zero": c.angle.zero, "scale": c.angle.scale},
                    "force": {"zero": c.force.zero, "scale": c.force.scale},
                    "updated": self._updated.get(s, ""),
                }
                for s, c in sorted(self._machines.items())
            },
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".calibration-", dir=self.path.parent)
        except OSError as exc:
            raise CalibrationError(f"cannot write {self.path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, self.path)
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):  # read-only folder, full disk, a name too long
                raise CalibrationError(f"cannot write {self.path}: {exc.strerror}") from None
            raise
