"""Writes the analysed frames, with the skeleton drawn over them, to a video file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from body.landmarks import SKELETON
from vision.cv_paths import CvName
from vision.errors import VisionError

# BGR: bluish green (ok), orange (warning), vermillion (fault), grey (unknown).
_COLOURS = ((115, 158, 0), (0, 159, 230), (0, 94, 213), (150, 150, 150))


class OverlayVideoWriter:
    """``write(rgb, landmarks, segment_status, text)``; the size is fixed by the first frame."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise VisionError(f"--record-video: folder does not exist: {self.path.parent}")
        self.fps = fps if fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self._cv_name: CvName | None = None

    def write(
        self,
        rgb: np.ndarray,
        landmarks: np.ndarray | None,
        segment_status: tuple[int, ...] = (),
        text: str = "",
    ) -> None:
        h, w = rgb.shape[:2]
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._cv_name = CvName(self.path, default_suffix=".mp4")
            self._writer = cv2.VideoWriter(self._cv_name.name, fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise VisionError(f"--record-video: cannot write a video to {self.path}")
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if landmarks is not None:
            pts = landmarks[:, :2] * (w, h)
            for s, (a, b) in enumerate(SKELETON):
                if np.isfinite(pts[[a, b]]).all():
                    colour = (
                        _COLOURS[int(segment_status[s])] if s < len(segment_status) else _COLOURS[0]
                    )
                    p, q = pts[a].round().astype(int), pts[b].round().astype(int)
                    cv2.line(bgr, tuple(p), tuple(q), colour, 3, cv2.LINE_AA)
        if text:
            cv2.putText(
                bgr, text, (12, 32), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA
            )
        self._writer.write(bgr)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._cv_name is not None:
            self._cv_name.close()
            self._cv_name = None
