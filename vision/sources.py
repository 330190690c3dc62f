"""Frame sources behind one interface: camera index, video file, folder of images."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

# FFmpeg's own log lines ("moov atom not found") would bury our one-line errors.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2
import numpy as np

from vision.cv_paths import CvName, read_image
from vision.errors import CameraUnavailable, NotAVideo, SourceNotFound

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image. ``image`` is RGB uint8 (h, w, 3).

    ``captured_at``: host monotonic time of capture. ``media_time``: position in the source
    in seconds (frame index / fps for files, time since start for a camera).
    """

    index: int
    captured_at: float
    media_time: float
    image: np.ndarray


class FrameSource(ABC):
    """A stream of frames. ``live`` sources (cameras) cannot be paused or replayed."""

    live: bool = False
    name: str = ""
    size: tuple[int, int] = (0, 0)  # width, height in pixels; (0, 0) until known
    ended_early: str = ""  # once read() returned None: why the source ended before its end

    @property
    @abstractmethod
    def fps(self) -> float: ...

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file source."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource(FrameSource):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not os.path.isfile(self.path):
            raise SourceNotFound(f"video file not found: {self.path}")
        self._cv_name = CvName(self.path)
        self._cap = cv2.VideoCapture(self._cv_name.name)
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        self.ended_early = ""
        if not ok or first is None:
            self._cap.release()
            self._cv_name.close()
            raise NotAVideo(
                f"cannot decode {self.path} as a video (expected a format OpenCV reads, "
                "such as .mp4 or .avi)"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(fps) if fps and 1.0 <= fps <= 1000.0 else 30.0
        self._pending: np.ndarray | None = first
        self.size = (first.shape[1], first.shape[0])
        self._index = 0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> Frame | None:
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._cap.read()
            if not ok:
                self._check_whole()
                return None
        frame = Frame(
            index=self._index,
            captured_at=time.monotonic(),
            media_time=self._index / self._fps,
            image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
        )
        self._index += 1
        return frame

    @property
    def index(self) -> int:
        """The index of the frame the next ``read`` returns."""
        return self._index

    def skip(self, n: int) -> bool:
        """Move on to frame ``n`` from the start, decoding without colour conversion; False
        when the video ends first. Exact on every codec, unlike a container seek."""
        if self._index != 0:
            raise ValueError("VideoFileSource.skip: only from the first frame")
        if n <= 0:
            return True
        self._pending = None  # frame 0, read on opening
        self._index = 1
        while self._index < n:
            if not self._cap.grab():
                self._check_whole()
                return False
            self._index += 1
        return True

    def _check_whole(self) -> None:
        """A file cut mid-stream (or damaged) still opens and plays up to the break: compare
        what was read with the frame count the container declares."""
        count = self.frame_count
        # Containers without a stored count give an estimate (duration x rate): a little slack.
        if count > 0 and self._index < count - max(2, count // 100):
            self.ended_early = (
                f"{self.name}: the video ended early: {self._index} of the {count} frames it "
                f"declares could be read ({self._index / self._fps:.1f} of "
                f"{count / self._fps:.1f} s); the file is cut short or damaged"
            )

    def close(self) -> None:
        self._cap.release()
        self._cv_name.close()


class ImageFolderSource(FrameSource):
    """Images in name order, played at a nominal rate."""

    def __init__(self, folder: str | Path, fps: float = 30.0) -> None:
        self.folder = Path(folder)
        self.name = self.folder.name
        if not self.folder.is_dir():
            raise SourceNotFound(f"image folder not found: {self.folder}")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise NotAVideo(
                f"no images in {self.folder} (expected files ending in {', '.join(IMAGE_SUFFIXES)})"
            )
        self._fps = fps
        self._index = 0
        first = read_image(self._files[0])
        if first is not None:
            self.size = (first.shape[1], first.shape[0])

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> Frame | None:
        while self._index < len(self._files):
            path = self._files[self._index]
            i = self._index
            self._index += 1
            bgr = read_image(path)
            if bgr is None:
                continue  # an unreadable file in the folder is skipped, not fatal
            return Frame(i, time.monotonic(), i / self._fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return None

    def close(self) -> None:
        self._files = []


class CameraSource(FrameSource):
    live = True

    def __init__(self, index: int, width: int = 1280, height: int = 720) -> None:
        self.index = index
        self.name = f"camera {index}"
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraUnavailable(f"camera {index} could not be opened (is it plugged in?)")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(fps) if fps and fps > 1.0 else 30.0
        self.size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._t0 = time.monotonic()
        self._index = 0

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise CameraUnavailable(f"camera {self.index} stopped delivering frames")
        now = time.monotonic()
        frame = Frame(self._index, now, now - self._t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        self._index += 1
        return frame

    def close(self) -> None:
        self._cap.release()


def camera_available(index: int = 0) -> bool:
    """True when camera ``index`` opens and delivers a frame."""
    if os.path.isdir("/dev") and not os.path.exists(f"/dev/video{index}"):
        return False  # Linux without the device node: skip OpenCV's noisy probing
    cap = cv2.VideoCapture(index)
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()


def open_frame_source(spec: str | int) -> FrameSource:
    """Camera index (``0``), video file, or folder of images."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    return VideoFileSource(path)
