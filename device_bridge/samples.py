"""What crosses the boundary out of ``device_bridge/``: small frozen dataclasses only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STATES = ("connecting", "ok", "reconnecting", "not_responding", "closed")


@dataclass(frozen=True, slots=True)
class DeviceSample:
    """One machine sample, calibrated.

    ``seq``: the machine's frame number, unwrapped; it never goes backwards, also across
    reconnects, and ``seq % 65536`` is the number on the wire. It skips over the machine's
    other frames (heartbeats, answers) and over lost frames.
    ``device_time_s``: the machine's clock since its boot.
    ``host_time_s``: the same instant on the host's ``time.monotonic()`` clock, comparable with
    camera frame timestamps. ``extra``: channels after angle and force, in HELLO order.
    """

    seq: int
    device_time_s: float
    host_time_s: float
    angle_deg: float
    force_n: float
    extra: tuple[float, ...] = ()


def sample_arrays(
    samples: Sequence[DeviceSample], t0: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (host clock minus ``t0``), angles and forces of ``samples`` as float64 arrays,
    the form the session engine and the assessment take a batch in."""
    n = len(samples)
    ts = np.fromiter((s.host_time_s for s in samples), np.float64, n) - t0
    angles = np.fromiter((s.angle_deg for s in samples), np.float64, n)
    forces = np.fromiter((s.force_n for s in samples), np.float64, n)
    return ts, angles, forces


@dataclass(frozen=True, slots=True)
class SafetyLimits:
    """Pain-free and load limits for one patient on one machine, in calibrated units."""

    max_force_n: float = math.inf
    min_angle_deg: float = -math.inf
    max_angle_deg: float = math.inf

    def __post_init__(self) -> None:
        for name in ("max_force_n", "min_angle_deg", "max_angle_deg"):
            if math.isnan(getattr(self, name)):
                raise ValueError(f"SafetyLimits.{name}: expected a number or +-inf, got NaN")
        if self.min_angle_deg >= self.max_angle_deg:
            raise ValueError(
                "SafetyLimits: expected min_angle_deg < max_angle_deg, got "
                f"{self.min_angle_deg} >= {self.max_angle_deg}"
            )
        if self.max_force_n <= 0:
            raise ValueError(f"SafetyLimits.max_force_n: expected > 0 N, got {self.max_force_n}")


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    """A sample that crossed a safety limit; ``kind`` is "overload" or "range"."""

    host_time_s: float
    kind: str
    value: float
    limit: float
    seq: int


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    state: str
    rate_hz: float = math.nan
    samples: int = 0
    frames: int = 0  # frames with a good CRC handled, of every type
    crc_errors: int = 0
    seq_gaps: int = 0  # discontinuities in the frame sequence
    lost_frames: int = 0  # frames missing across those gaps
    resyncs: int = 0
    reconnects: int = 0
    dropped_backwards: int = 0  # samples whose device time went backwards
    ring_overflows: int = 0  # samples lost because nobody drained the ring in time
    clock_drift_ppm: float = math.nan  # machine clock against the host's, as fitted
    message: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "ok"
