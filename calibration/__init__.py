"""Per-machine calibration: zero offset and two-point scale for angle and force."""

from calibration.model import ChannelCalibration, MachineCalibration
from calibration.store import CalibrationError, CalibrationStore, default_path

__all__ = [
    "CalibrationError",
    "CalibrationStore",
    "ChannelCalibration",
    "MachineCalibration",
    "default_path",
]
