"""An exercise's reference movement as the inputs a session is fed: the poses a 16:9 camera
would give 30 times a second and, for machine work, the machine's samples 100 times a second
with the force inside the load band."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from exercises.reference import FPS, MACHINE_HZ, Reference, reference_poses
from exercises.schema import ExerciseDef
from session.events import MachineBatch, PoseInput


def reference_inputs(
    exercise: ExerciseDef, ref: Reference, fps: float = FPS
) -> Iterator[PoseInput | MachineBatch]:
    """The reference's inputs in time order: for machine work each pose comes after the
    machine samples up to its time."""
    machine = exercise.signal.source == "machine"
    force = math.nan
    if machine and exercise.load is not None:
        force = ref.load_share * exercise.load.default_max_force_n
    per_frame = max(1, round(MACHINE_HZ / fps))
    last_t = 0.0
    for pose in reference_poses(ref, fps):
        t = pose.timestamp
        if machine:
            if t == 0.0:
                ts = np.array([0.0])
            else:
                ts = last_t + (t - last_t) * np.arange(1, per_frame + 1) / per_frame
            angles = np.array([ref.machine_angle_at(float(x)) for x in ts])
            yield MachineBatch(ts, angles, np.full(ts.shape, force))
        yield PoseInput(t, pose)
        last_t = t
