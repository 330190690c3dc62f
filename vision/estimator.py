"""MediaPipe Pose (full model, the one inside the wheel) behind the project's ``Pose`` type."""

from __future__ import annotations

import time

import numpy as np

from body.pose import Pose
from vision.mediapipe_pose import pose_from_mediapipe

# Complexity 1 is the only model the pinned wheel carries; 0 and 2 are downloaded at run time.
MODEL_COMPLEXITY = 1


class PoseEstimator:
    """Single-person pose estimator.

    ``video=True`` tracks across frames (faster, steadier); ``video=False`` treats each
    image on its own (stills). MediaPipe's own landmark smoothing is off: the project's
    One Euro filter does that, once, with parameters the clinic can tune.
    """

    def __init__(self, video: bool = True, min_detection: float = 0.5, min_tracking: float = 0.5):
        import mediapipe as mp  # heavy import, kept inside vision/

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not video,
            model_complexity=MODEL_COMPLEXITY,
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=min_detection,
            min_tracking_confidence=min_tracking,
        )
        self.last_inference_s = float("nan")

    def estimate(self, rgb: np.ndarray, timestamp: float) -> Pose:
        """``rgb``: uint8 (h, w, 3). Returns the pose or ``Pose.empty`` when nobody is seen."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(
                f"PoseEstimator: expected an RGB uint8 image (h, w, 3), got {rgb.dtype} {rgb.shape}"
            )
        t0 = time.perf_counter()
        result = self._pose.process(rgb)
        self.last_inference_s = time.perf_counter() - t0
        return pose_from_mediapipe(result, timestamp)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
