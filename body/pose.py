"""The project's own pose type: what a camera, a recording or a skeleton file becomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body.landmarks import NUM_LANDMARKS

IMAGE_SHAPE = (NUM_LANDMARKS, 4)  # x, y (image-normalised 0..1), z (relative depth), visibility
WORLD_SHAPE = (NUM_LANDMARKS, 3)  # x, y, z in metres, hip-centred, y down


@dataclass(frozen=True, slots=True)
class Pose:
    """One person's pose in one frame.

    ``image``: float32 (33, 4) as x, y, z, visibility; x and y normalised to the image.
    ``world``: float32 (33, 3) in metres; NaN where the source has no world landmarks.
    ``timestamp``: seconds on the host's monotonic clock (or the recording's clock on replay).
    An empty pose ("no person") has ``detected`` False and all-NaN arrays.
    """

    timestamp: float
    image: np.ndarray
    world: np.ndarray
    detected: bool = True

    def __post_init__(self) -> None:
        for name, shape in (("image", IMAGE_SHAPE), ("world", WORLD_SHAPE)):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != shape:
                got = getattr(arr, "shape", type(arr).__name__)
                raise ValueError(f"Pose.{name}: expected array of shape {shape}, got {got}")
            if arr.dtype != np.float32:
                object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=np.float32))
        self.image.setflags(write=False)
        self.world.setflags(write=False)

    @classmethod
    def empty(cls, timestamp: float) -> Pose:
        """The explicit "no person in view" result."""
        return cls(
            timestamp=timestamp,
            image=np.full(IMAGE_SHAPE, np.nan, dtype=np.float32),
            world=np.full(WORLD_SHAPE, np.nan, dtype=np.float32),
            detected=False,
        )

    @property
    def visibility(self) -> np.ndarray:
        return self.image[:, 3]

    @property
    def has_world(self) -> bool:
        return bool(np.isfinite(self.world).any())
