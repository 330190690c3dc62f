"""Linear calibration of one channel: ``calibrated = (reading - zero) * scale``.

The machine already reports engineering units (its hello declares them), so a calibration
only corrects them: a scale far from 1 is a wrong reference or a misread number, and a
negative or tiny one would switch the load limit off. Both are refused where they enter.

The zero is bounded too. A tare removes a small offset of the sensor (the lever's own weight,
drift); a zero far from the machine's own zero is a tare taken under load or a misread
reference, and every calibrated value would be shifted by it: a force zero of 2500 N on a
0..3000 N sensor reads an overload of 700 N as -1800 N, under any load limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCALE_MIN, SCALE_MAX = 0.8, 1.25  # a sensor off by more than a quarter needs service
# A load cell's zero offset is a share of its full scale: 5 % (150 N on 0..3000 N) covers a
# lever's weight and drift; more is a tare under load. An angle sensor is mounted and zeroed
# in the factory: 10 deg covers a worn coupling, more is a lever not at its zero.
FORCE_ZERO_SHARE = 0.05
ANGLE_ZERO_MAX_DEG = 10.0
# The force range every machine of this protocol declares (0..3000 N): the bound for a
# two-point calibration made without the machine at hand; its hello checks its own range.
STANDARD_FORCE_SPAN_N = 3000.0


def zero_bound(channel: str, span: float) -> float:
    """The largest zero offset a calibration of ``channel`` may hold (its own units), for a
    channel whose declared range spans ``span``."""
    return FORCE_ZERO_SHARE * span if channel == "force" else ANGLE_ZERO_MAX_DEG


def _bound_text(channel: str, span: float) -> str:
    if channel == "force":
        return f"{zero_bound(channel, span):g} N ({FORCE_ZERO_SHARE:.0%} of the {span:g} N range)"
    return f"{ANGLE_ZERO_MAX_DEG:g} deg"


@dataclass(frozen=True, slots=True)
class ChannelCalibration:
    zero: float = 0.0  # machine reading at the true zero (goniometer at 0 deg, no load)
    scale: float = 1.0  # true units per machine unit

    def __post_init__(self) -> None:
        if not math.isfinite(self.zero):
            raise ValueError(f"ChannelCalibration.zero: expected a finite number, got {self.zero}")
        if not (math.isfinite(self.scale) and SCALE_MIN <= self.scale <= SCALE_MAX):
            raise ValueError(
                f"calibration scale: expected a factor between {SCALE_MIN} and {SCALE_MAX} "
                f"on the machine's own units, got {self.scale:g}"
            )

    def check_fits(self, channel: str, minimum: float, maximum: float) -> None:
        """Refuse a zero the machine could never read (outside its declared range), or one
        further from the machine's own zero than a tare can honestly correct."""
        if not minimum <= self.zero <= maximum:
            raise ValueError(
                f"calibration {channel} zero {self.zero:g}: expected a reading inside the "
                f"machine's range {minimum:g}..{maximum:g}"
            )
        self.check_zero(channel, maximum - minimum)

    def check_zero(self, channel: str, span: float = STANDARD_FORCE_SPAN_N) -> None:
        """Refuse a zero offset beyond ``zero_bound`` (``span``: the channel's range)."""
        if abs(self.zero) > zero_bound(channel, span):
            raise ValueError(
                f"calibration {channel} zero {self.zero:g}: expected at most "
                f"{_bound_text(channel, span)} from the machine's own zero; a larger offset is "
                "a tare under load or a misread reference"
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
        for name, x in (("reading a", reading_a), ("true a", true_a),
                        ("reading b", reading_b), ("true b", true_b)):  # fmt: skip
            if not math.isfinite(x):
                raise ValueError(f"two-point calibration: {name} must be a finite number, got {x}")
        scale = (true_b - true_a) / (reading_b - reading_a)
        if not (math.isfinite(scale) and SCALE_MIN <= scale <= SCALE_MAX):
            raise ValueError(
                f"two-point calibration: the references give a scale of {scale:g}; expected "
                f"{SCALE_MIN} to {SCALE_MAX} (true units per machine unit): check the readings"
            )
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
