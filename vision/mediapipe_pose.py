"""MediaPipe's pose result into the project's own ``Pose``: the one place that reads it."""

from __future__ import annotations

import numpy as np

from body.pose import WORLD_SHAPE, Pose


def pose_from_mediapipe(result: object, timestamp: float) -> Pose:
    """Convert a MediaPipe Pose result (legacy solutions API) into our ``Pose``.

    Returns ``Pose.empty`` when no person was found. Duck-typed so MediaPipe is only imported
    by the estimator.
    """
    landmarks = getattr(result, "pose_landmarks", None)
    if landmarks is None:
        return Pose.empty(timestamp)
    image = np.array([(p.x, p.y, p.z, p.visibility) for p in landmarks.landmark], dtype=np.float32)
    world_lms = getattr(result, "pose_world_landmarks", None)
    if world_lms is None:
        world = np.full(WORLD_SHAPE, np.nan, dtype=np.float32)
    else:
        world = np.array([(p.x, p.y, p.z) for p in world_lms.landmark], dtype=np.float32)
    return Pose(timestamp=timestamp, image=image, world=world)
