"""Linear calibration of one channel: ``calibrated = (reading - zero) * scale``."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelCalibration:
    zero: float = 0.0  # machine reading at the true zero (goniometer at 0 deg, no load)
    scale: float = 1.0  # true units per machine unit

    def __post_init__(self) -> None:
        if not math.isfinite(self.zero):
            raise ValueError(f"ChannelCalibration.zero: expected a finite number, got {self.zero}")
        if not math.isfinite(self.scale) or self.scale == 0.0:
            raise ValueError(
                f"ChannelCalibration.scale: expected a finite non-zero number, got {self.scale}"
            )

    def apply(self, reading: float) -> float:
        return (reading - self.zero) * self.scale

    def invert(self, value: float) -> float:
        """The machine reading that calibrates to ``value`` (for limits sent to the machine)."""
        return value / self.scale + self.zero

    @classmethod
    def two_point(
        cls, reading_a: float, true_a: float, reading_b: float, true_b: float
    ) -> ChannelCalibration:
        """From two reference points, e.g. a goniometer at 0 and 60 deg, or two known weights."""
        if reading_a == reading_b:
            raise ValueError(
                f"two-point calibration: expected two different readings, got {reading_a} twice"
            )
        scale = (true_b - true_a) / (reading_b - reading_a)
        return cls(zero=reading_a - true_a / scale, scale=scale)

    def with_zero_at(self, reading: float) -> ChannelCalibration:
        """Same scale, with ``reading`` becoming zero (a host-side tare)."""
        return ChannelCalibration(zero=reading, scale=self.scale)


@dataclass(frozen=True, slots=True)
class MachineCalibration:
    angle: ChannelCalibration = ChannelCalibration()
    force: ChannelCalibration = ChannelCalibration()

    @property
    def is_identity(self) -> bool:
        return self == MachineCalibration()
