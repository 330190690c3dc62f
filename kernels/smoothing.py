"""One Euro filter (Casiez et al., CHI 2012) over many channels at once, visibility-gated.

Low jitter when the patient holds still, low lag when they move: the cutoff frequency rises
with the signal's speed. A channel whose input is NaN outputs NaN and restarts from its next
finite value, so a landmark that reappears is never dragged from where it vanished.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.config import JIT

_TWO_PI = 2.0 * math.pi


@njit(**JIT)
def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (_TWO_PI * cutoff)
    return 1.0 / (1.0 + tau / dt)


@njit(**JIT)
def _one_euro_step(x, t, state, min_cutoff, beta, d_cutoff, out):
    # state[i] = (x_hat, dx_hat, t_prev); t_prev NaN means "no history".
    for i in range(x.shape[0]):
        xi = x[i]
        if not math.isfinite(xi):
            out[i] = np.nan
            state[i, 0] = np.nan
            state[i, 1] = 0.0
            state[i, 2] = np.nan
            continue
        t_prev = state[i, 2]
        dt = t - t_prev
        if not math.isfinite(t_prev) or not dt > 0.0:
            # First sample, or a repeated/backwards timestamp: take the value as it is.
            if not math.isfinite(t_prev):
                state[i, 1] = 0.0
            state[i, 0] = xi
            state[i, 2] = t
            out[i] = xi
            continue
        dx = (xi - state[i, 0]) / dt
        dx_hat = state[i, 1] + _alpha(d_cutoff, dt) * (dx - state[i, 1])
        cutoff = min_cutoff + beta * abs(dx_hat)
        x_hat = state[i, 0] + _alpha(cutoff, dt) * (xi - state[i, 0])
        state[i, 0] = x_hat
        state[i, 1] = dx_hat
        state[i, 2] = t
        out[i] = x_hat


class OneEuroFilter:
    """Filters ``n`` independent channels; call once per frame with their values and time (s).

    ``min_cutoff`` (Hz) sets smoothing at rest, ``beta`` how fast the cutoff rises with speed
    (per unit of the signal per second), ``d_cutoff`` (Hz) smooths the speed estimate.
    """

    def __init__(
        self, n: int, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0
    ) -> None:
        if n <= 0:
            raise ValueError(f"OneEuroFilter: expected a positive channel count, got {n}")
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(
                "OneEuroFilter: expected min_cutoff > 0, d_cutoff > 0, beta >= 0, got "
                f"{min_cutoff}, {d_cutoff}, {beta}"
            )
        self.n = n
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._state = np.empty((n, 3), dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        self._state[:, 0] = np.nan
        self._state[:, 1] = 0.0
        self._state[:, 2] = np.nan

    def __call__(self, values: np.ndarray, t: float) -> np.ndarray:
        x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n:
            raise ValueError(f"OneEuroFilter: expected {self.n} values, got {x.shape[0]}")
        out = np.empty_like(x)
        _one_euro_step(x, float(t), self._state, self.min_cutoff, self.beta, self.d_cutoff, out)
        return out.reshape(np.shape(values))


class LandmarkSmoother:
    """One Euro smoothing of a pose's image (x, y) and world (x, y, z) landmarks.

    Landmarks below ``min_visibility`` are treated as missing (NaN), never as zero.
    """

    def __init__(
        self,
        n_landmarks: int = 33,
        min_visibility: float = 0.5,
        min_cutoff: float = 1.5,
        beta: float = 0.3,
        world_beta: float = 0.5,
    ) -> None:
        self.n = n_landmarks
        self.min_visibility = min_visibility
        self._image = OneEuroFilter(n_landmarks * 2, min_cutoff=min_cutoff, beta=beta)
        self._world = OneEuroFilter(n_landmarks * 3, min_cutoff=min_cutoff, beta=world_beta)

    def reset(self) -> None:
        self._image.reset()
        self._world.reset()

    def __call__(
        self, image: np.ndarray, world: np.ndarray, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """``image`` (n, 4) x, y, z, visibility; ``world`` (n, 3) metres.

        Returns smoothed image (n, 2) and world (n, 3) as float64, NaN where not visible.
        """
        if image.shape != (self.n, 4) or world.shape != (self.n, 3):
            raise ValueError(
                f"LandmarkSmoother: expected image ({self.n}, 4) and world ({self.n}, 3), "
                f"got {image.shape} and {world.shape}"
            )
        hidden = ~(image[:, 3] >= self.min_visibility)  # NaN visibility counts as hidden
        xy = np.array(image[:, :2], dtype=np.float64)
        xyz = np.array(world, dtype=np.float64)
        xy[hidden] = np.nan
        xyz[hidden] = np.nan
        return self._image(xy, t), self._world(xyz, t)
