"""MediaPipe poses of a video file, estimated once and kept on disk for re-analysis.

The poses are exactly what ``main.py --source VIDEO --headless`` feeds the engine: every
frame decoded in order, the pose model in video (tracking) mode with the project's settings,
each pose stamped with the frame's media time. The cache file is keyed by the video's
SHA-256 and those settings, so a changed video or a changed model setting is estimated
afresh; a damaged cache file is estimated afresh too.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from body.pose import Pose
from vision.estimator import MODEL_COMPLEXITY, PoseEstimator
from vision.sources import VideoFileSource

CACHE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class VideoPoses:
    """Every frame's pose (``Pose.empty`` where nobody was found), in frame order."""

    poses: list[Pose]
    fps: float
    size: tuple[int, int]  # width, height in pixels
    from_cache: bool

    @property
    def aspect(self) -> float:
        return self.size[0] / self.size[1]


def estimator_settings() -> dict:
    """Everything that changes what the pose model returns for the same frames."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(PoseEstimator.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    try:
        mp_version = version("mediapipe")
    except PackageNotFoundError:
        mp_version = "unknown"
    return {
        "format": CACHE_FORMAT,
        "model_complexity": MODEL_COMPLEXITY,
        "estimator": defaults,
        "mediapipe": mp_version,
    }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_path(video: Path, cache_dir: Path) -> Path:
    key = json.dumps({"video": file_sha256(video), **estimator_settings()}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir / f"{video.stem}-{digest}.npz"


def _estimate(video: Path) -> tuple[dict, tuple[int, int], float]:
    source = VideoFileSource(video)
    times, images, worlds, detected = [], [], [], []
    try:
        with PoseEstimator(video=True) as estimator:
            while (frame := source.read()) is not None:
                pose = estimator.estimate(frame.image, frame.media_time)
                times.append(pose.timestamp)
                images.append(pose.image)
                worlds.append(pose.world)
                detected.append(pose.detected)
    finally:
        source.close()
    arrays = {
        "t": np.asarray(times, dtype=np.float64),
        "image": np.asarray(images, dtype=np.float32).reshape(-1, 33, 4),
        "world": np.asarray(worlds, dtype=np.float32).reshape(-1, 33, 3),
        "detected": np.asarray(detected, dtype=bool),
    }
    return arrays, source.size, source.fps


def _poses(arrays: dict) -> list[Pose]:
    return [
        Pose(float(t), img, wld, bool(det)) if det else Pose.empty(float(t))
        for t, img, wld, det in zip(
            arrays["t"], arrays["image"], arrays["world"], arrays["detected"], strict=True
        )
    ]


def _read(path: Path) -> tuple[dict, tuple[int, int], float] | None:
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in ("t", "image", "world", "detected")}
            width, height = (int(v) for v in data["size"])
            fps = float(data["fps"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # unreadable: estimate again
    return arrays, (width, height), fps


def video_poses(video: str | Path, cache_dir: str | Path) -> VideoPoses:
    """The video's poses from the cache, or estimated now and cached."""
    video = Path(video)
    cache_dir = Path(cache_dir)
    target = cache_path(video, cache_dir)
    cached = _read(target) if target.is_file() else None
    if cached is not None:
        arrays, size, fps = cached
        return VideoPoses(_poses(arrays), fps, size, from_cache=True)
    arrays, size, fps = _estimate(video)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.npz")
    np.savez_compressed(partial, size=np.array(size), fps=np.array(fps), **arrays)
    partial.replace(target)  # whole files only: a run killed mid-write leaves no cache entry
    return VideoPoses(_poses(arrays), fps, size, from_cache=False)
