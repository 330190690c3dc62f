"""Pose streams: frames in, poses out, off the UI thread.

A capture thread reads the source; a pose worker runs inference; the consumer (UI or
headless loop) drains finished ``PoseResult``s without ever waiting on inference.

``lossless=True`` (file analysis, benchmarks) processes every frame, the capture thread
blocking when the worker is behind. ``lossless=False`` (cameras, paced playback) keeps only
the newest frame and counts the ones it had to drop, so a slow model lowers the pose rate,
never the UI rate.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from body.pose import Pose
from vision.errors import VisionError
from vision.estimator import PoseEstimator
from vision.replay import PoseReplay
from vision.sources import Frame, FrameSource


@dataclass(frozen=True, slots=True)
class PoseResult:
    index: int  # frame index in the source
    media_time: float  # seconds into the source
    captured_at: float  # host monotonic time the frame was captured
    done_at: float  # host monotonic time the pose was ready
    pose: Pose
    image: np.ndarray | None  # RGB frame, None for landmark replays
    inference_s: float  # NaN for replays


_END = object()


class _LatestSlot:
    """Holds the newest item; overwriting an unconsumed item counts as a drop."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object | None = None
        self.dropped = 0

    def put(self, item: object) -> None:
        with self._cond:
            if self._item is not None and self._item is not _END:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def get(self, timeout: float) -> object | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item


class PoseStream:
    """Common consumer side: ``poll()`` returns finished results without blocking."""

    def __init__(self, fps: float, name: str, live: bool) -> None:
        self.fps = fps
        self.name = name
        self.live = live
        self._out: queue.Queue = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self.finished = threading.Event()
        self.error: Exception | None = None
        self.warning = ""  # set when a file source ended before its declared end
        self.aspect = float("nan")  # frame width / height, for image-space angles
        self.frames_in = 0
        self.poses_out = 0

    @property
    def dropped(self) -> int:
        return 0

    def poll(self, timeout: float = 0.0) -> list[PoseResult]:
        """Every result ready now; waits up to ``timeout`` for the first one."""
        results: list[PoseResult] = []
        try:
            results.append(
                self._out.get(timeout=timeout) if timeout > 0 else self._out.get_nowait()
            )
            while True:
                results.append(self._out.get_nowait())
        except queue.Empty:
            pass
        return results

    @property
    def exhausted(self) -> bool:
        return self.finished.is_set() and self._out.empty()

    def _emit(self, result: PoseResult) -> None:
        while not self._stop.is_set():
            try:
                self._out.put(result, timeout=0.1)
                self.poses_out += 1
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self._stop.set()


class VideoPoseStream(PoseStream):
    def __init__(
        self,
        source: FrameSource,
        estimator: PoseEstimator,
        lossless: bool,
        paced: bool,
        reopen: Callable[[], FrameSource] | None = None,
    ) -> None:
        super().__init__(source.fps, source.name, source.live)
        self.reopen = reopen  # live cameras: how to open the device again after it drops out
        self.source = source
        self.estimator = estimator
        w, h = source.size
        self.aspect = w / h if w and h else float("nan")
        self.lossless = lossless
        self.paced = paced and not source.live
        self._frames: queue.Queue | _LatestSlot = (
            queue.Queue(maxsize=2) if lossless else _LatestSlot()
        )
        self._capture = threading.Thread(target=self._capture_loop, name="capture", daemon=True)
        self._worker = threading.Thread(target=self._pose_loop, name="pose", daemon=True)

    @property
    def dropped(self) -> int:
        return self._frames.dropped if isinstance(self._frames, _LatestSlot) else 0

    def start(self) -> VideoPoseStream:
        self._capture.start()
        self._worker.start()
        return self

    def _put_frame(self, item: object) -> None:
        if isinstance(self._frames, _LatestSlot):
            self._frames.put(item)
            return
        while not self._stop.is_set():
            try:
                self._frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _reconnect(self, exc: Exception) -> bool:
        """A camera that stops is reopened with back-off; the UI shows "lost" meanwhile."""
        self.error = exc
        delay = 0.5
        while not self._stop.wait(delay):
            try:
                self.source.close()
                self.source = self.reopen()
                self.error = None
                return True
            except VisionError as again:
                self.error = again
                delay = min(delay * 2, 5.0)
        return False

    def _capture_loop(self) -> None:
        t0 = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except VisionError as exc:
                    if self.reopen is None or not self._reconnect(exc):
                        raise
                    continue
                if frame is None:
                    self.warning = self.source.ended_early
                    break
                self.frames_in += 1
                if self.paced:
                    delay = t0 + frame.media_time - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    frame = Frame(frame.index, time.monotonic(), frame.media_time, frame.image)
                self._put_frame(frame)
        except Exception as exc:  # reported as the camera's status, never a thread traceback
            self.error = (
                exc if isinstance(exc, VisionError) else VisionError(f"capture failed: {exc}")
            )
        finally:
            self._put_frame(_END)

    def _pose_loop(self) -> None:
        try:
            while not self._stop.is_set():
                if isinstance(self._frames, _LatestSlot):
                    item = self._frames.get(timeout=0.1)
                else:
                    try:
                        item = self._frames.get(timeout=0.1)
                    except queue.Empty:
                        item = None
                if item is None:
                    continue
                if item is _END:
                    break
                frame: Frame = item  # type: ignore[assignment]
                pose = self.estimator.estimate(frame.image, frame.media_time)
                self._emit(
                    PoseResult(
                        frame.index,
                        frame.media_time,
                        frame.captured_at,
                        time.monotonic(),
                        pose,
                        frame.image,
                        self.estimator.last_inference_s,
                    )
                )
        except Exception as exc:  # reported to the consumer, which shows it as a status
            self.error = exc
        finally:
            self.finished.set()

    def close(self) -> None:
        super().close()
        for t in (self._capture, self._worker):
            if t.is_alive():
                t.join(timeout=2.0)
        self.source.close()
        self.estimator.close()


class ReplayPoseStream(PoseStream):
    """Plays recorded poses, paced at the recording's rate or as fast as consumed."""

    def __init__(self, replay: PoseReplay, paced: bool) -> None:
        super().__init__(replay.fps, replay.name, live=False)
        self.replay = replay
        self.paced = paced
        self.aspect = float(replay.header.get("aspect", float("nan")))
        self._thread = threading.Thread(target=self._loop, name="replay", daemon=True)

    def start(self) -> ReplayPoseStream:
        self._thread.start()
        return self

    def _loop(self) -> None:
        t0 = time.monotonic()
        try:
            index = 0
            while not self._stop.is_set():
                pose = self.replay.read()
                if pose is None:
                    break
                if self.paced:
                    delay = t0 + pose.timestamp - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                now = time.monotonic()
                self.frames_in += 1
                self._emit(PoseResult(index, pose.timestamp, now, now, pose, None, float("nan")))
                index += 1
        finally:
            self.finished.set()

    def close(self) -> None:
        super().close()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
