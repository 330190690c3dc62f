"""Both cores for a recorded video: its frames cut into consecutive parts, each part decoded
and estimated by a pose model of its own on its own thread, the poses handed on in frame order.

The pose model runs its graph on one core; a second graph on the second core nearly doubles
the poses a second of a headless analysis. The engine is still fed one pose at a time in frame
order, so it cannot tell the difference but for one thing, at each join: the model tracks the
person from frame to frame, and the first frames of a later part are found afresh, as the
first frame of the file is, rather than tracked on from the frame before (docs/architecture.md
has what this changes: at most a few hundredths of the body's height on the first frames of a
part).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

from app.streams import PoseResult, PoseStream
from vision.errors import VisionError
from vision.estimator import PoseEstimator
from vision.sources import VideoFileSource

MIN_FRAMES_PER_PART = 120  # a shorter video is not worth a second model's start-up


def parts_for(frame_count: int, cores: int | None = None) -> int:
    """How many parts to cut a video of ``frame_count`` frames into (1: do not cut)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, 4, frame_count // MIN_FRAMES_PER_PART))


class SplitVideoPoseStream(PoseStream):
    """Every frame of a video file (lossless, unpaced), ``parts`` pose models at once."""

    def __init__(
        self,
        path: str,
        parts: int,
        estimator_factory: Callable[[], PoseEstimator] = PoseEstimator,
    ) -> None:
        first = VideoFileSource(path)
        super().__init__(first.fps, first.name, live=False)
        w, h = first.size
        self.aspect = w / h if w and h else float("nan")
        self.frame_count = first.frame_count
        step = -(-self.frame_count // parts)  # the last part reads on to the end of the file
        starts = [k * step for k in range(parts)]
        self._bounds = [(s, starts[k + 1] if k + 1 < parts else None) for k, s in enumerate(starts)]
        self._sources = [first, *(VideoFileSource(path) for _ in starts[1:])]
        self._factory = estimator_factory
        self._done: list[deque[PoseResult]] = [deque() for _ in starts]
        self._ended = [False] * parts
        self._cond = threading.Condition()
        self._workers = [
            threading.Thread(target=self._work, args=(k,), name=f"pose-part-{k}", daemon=True)
            for k in range(parts)
        ]
        self._handover = threading.Thread(target=self._hand_over, name="pose-order", daemon=True)

    def start(self) -> SplitVideoPoseStream:
        for t in (*self._workers, self._handover):
            t.start()
        return self

    def _work(self, k: int) -> None:
        source = self._sources[k]
        start, end = self._bounds[k]
        estimator = None
        try:
            estimator = self._factory()
            if not source.skip(start):
                self.warning = self.warning or source.ended_early
                return
            while not self._stop.is_set() and (end is None or source.index < end):
                frame = source.read()
                if frame is None:  # a file cut short may end in any part
                    self.warning = self.warning or source.ended_early
                    break
                pose = estimator.estimate(frame.image, frame.media_time)
                # No image is kept: a part may finish long before its turn comes.
                done = time.monotonic()
                result = PoseResult(
                    frame.index, frame.media_time, frame.captured_at, done, pose, None,
                    estimator.last_inference_s,
                )  # fmt: skip
                with self._cond:
                    self.frames_in += 1
                    self._done[k].append(result)
                    self._cond.notify_all()
        except Exception as exc:  # reported to the consumer, which shows it as a status
            self.error = exc if isinstance(exc, VisionError) else VisionError(str(exc))
        finally:
            if estimator is not None:
                estimator.close()
            with self._cond:
                self._ended[k] = True
                self._cond.notify_all()

    def _hand_over(self) -> None:
        """Results to the consumer in frame order: a part's, then the next part's."""
        try:
            for k in range(len(self._workers)):
                while not self._stop.is_set():
                    with self._cond:
                        while not self._done[k] and not self._ended[k] and not self._stop.is_set():
                            self._cond.wait(0.1)
                        batch = list(self._done[k])
                        self._done[k].clear()
                        ended = self._ended[k]
                    for result in batch:
                        self._emit(result)
                    if ended and not batch:
                        break
                if self.error is not None:
                    return
        finally:
            self.finished.set()

    def close(self) -> None:
        super().close()
        for t in (*self._workers, self._handover):
            if t.is_alive():
                t.join(timeout=2.0)
        for s in self._sources:
            s.close()
