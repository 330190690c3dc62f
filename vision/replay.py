"""Landmark replay: recorded pose sequences played without a camera or model.

Formats: the BlazePose JSON of the KERAAL
low-back-pain dataset (``{"positions": {frame: {Joint_name: [x, y, z]}}}``), and Kinect v2
skeletons (KIMORE ``.csv``, UI-PRMD ``*_positions*.txt[.gz]``) seen by a virtual camera
(``vision/kinect.py``, ``vision/virtual_camera.py``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from body.landmarks import INDEX, NUM_LANDMARKS
from body.pose import Pose
from vision.errors import RecordingError, SourceNotFound
from vision.kinect import kinect_format, load_kinect
from vision.virtual_camera import skeleton_poses

KERAAL_FPS = 30.0  # the dataset's videos and Kinect stream run at 30 Hz
# The BlazePose x, y are normalised to 16:9 videos: the OpenPose files of the same executions
# lie on OpenPose's 656 x 368 grid for a 16:9 frame, and with 16/9 the shoulder tilt agrees
# with Vicon within a few degrees (docs/accuracy.md). Read as square, tilts come out steeper.
KERAAL_ASPECT = 16 / 9


class PoseReplay:
    """Plays a pose sequence in order. ``Pose.timestamp`` is the time within the recording.

    ``header`` holds what the source knows of itself (``aspect``, ``view``). A whole recorded
    session (``recording.replay.SessionReplay``) adds its machine samples and events.
    """

    def __init__(
        self, poses: list[Pose], fps: float, name: str, header: dict | None = None
    ) -> None:
        self.poses = poses
        self.fps = fps
        self.name = name
        self.header = header or {}
        self.damaged = 0  # damaged stretches skipped on reading (each one record or more)
        self.damaged_bytes = 0
        self._i = 0
        if not self.has_content():
            raise RecordingError(f"{name}: the recording holds no pose frames or machine samples")

    def has_content(self) -> bool:
        return bool(self.poses)

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def damage_note(self) -> str:
        """One line for the user when damaged records were skipped, else ""."""
        if not self.damaged:
            return ""
        return (
            f"{self.name}: skipped {self.damaged} damaged record(s) ({self.damaged_bytes} bytes); "
            "the replay goes on without what they held"
        )

    def read(self) -> Pose | None:
        if self._i >= len(self.poses):
            return None
        pose = self.poses[self._i]
        self._i += 1
        return pose

    def rewind(self) -> None:
        self._i = 0

    def close(self) -> None:
        self._i = len(self.poses)


def _coordinate(value: object) -> bool:
    """A finite number, or null for a joint not seen."""
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_keraal(path: str | Path, fps: float = KERAAL_FPS) -> list[Pose]:
    """Read a KERAAL BlazePose JSON file into poses. Visibility is 1 (the file has none);
    world landmarks are NaN (the file has only image-normalised coordinates)."""
    path = Path(path)
    if not os.path.isfile(path):
        raise SourceNotFound(f"recording not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        positions = data["positions"]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise RecordingError(f"{path}: not a BlazePose file: values nested too deeply") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read the file ({exc.strerror})") from None
    except (KeyError, TypeError):
        raise RecordingError(
            f'{path}: expected a BlazePose JSON object with a "positions" key'
        ) from None
    if not isinstance(positions, dict) or not positions:
        raise RecordingError(f'{path}: "positions" must map frame numbers to joints, found none')
    try:
        frames = sorted(positions.items(), key=lambda kv: float(kv[0]))
    except ValueError:
        frames = []
    if not frames or not all(math.isfinite(float(k)) for k, _ in frames):
        raise RecordingError(f'{path}: frame keys must be numbers like "1.0"')
    poses: list[Pose] = []
    for i, (key, joints) in enumerate(frames):
        image = np.full((NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
        if not isinstance(joints, dict):
            raise RecordingError(f"{path}: frame {_show(key)}: expected an object of joints")
        for joint, xyz in joints.items():
            idx = INDEX.get(joint.lower())
            if idx is None:
                continue
            if not (isinstance(xyz, list) and len(xyz) == 3 and all(map(_coordinate, xyz))):
                raise RecordingError(
                    f"{path}: frame {_show(key)}, joint {_show(joint)}: expected [x, y, z] "
                    f"numbers, found {_show(xyz)}"
                )
            if None in xyz:
                continue  # a missing coordinate: the joint was not seen in this frame
            image[idx, :3] = xyz
            image[idx, 3] = 1.0
        world = np.full((NUM_LANDMARKS, 3), np.nan, dtype=np.float32)
        detected = bool(np.isfinite(image[:, 0]).any())
        poses.append(Pose(i / fps, image, world, detected=detected))
    return poses


def open_kinect_replay(path: str | Path, view: str | None = None) -> PoseReplay:
    """A Kinect skeleton file as poses seen from ``view`` (``"front"``, the default, or
    ``"side"``); the header carries the virtual picture's aspect ratio and the view."""
    path = Path(path)
    skeleton = load_kinect(path)
    view = view or "front"
    try:
        poses, aspect = skeleton_poses(skeleton, view)
    except ValueError as exc:
        raise RecordingError(f"{path}: {exc}") from None
    return PoseReplay(poses, skeleton.fps, path.name, header={"aspect": aspect, "view": view})


def open_landmarks(path: str | Path, view: str | None = None) -> PoseReplay:
    """A KERAAL BlazePose ``.json`` file or a Kinect skeleton file (seen from ``view``, see
    :func:`open_kinect_replay`). The project's own ``.screc`` recordings are read by
    ``recording.replay``."""
    path = Path(path)
    if not os.path.exists(path):  # never raises, not even for a name too long
        raise SourceNotFound(f"recording not found: {path}")
    if kinect_format(path) is not None:
        return open_kinect_replay(path, view)
    if path.suffix != ".json":
        raise RecordingError(f"{path}: expected a KERAAL .json or a Kinect skeleton file")
    header = {"aspect": KERAAL_ASPECT}
    return PoseReplay(load_keraal(path), KERAAL_FPS, path.name, header=header)


def is_landmark_path(spec: str) -> bool:
    return spec.endswith(".json") or kinect_format(spec) is not None


def is_skeleton_path(spec: str) -> bool:
    """A Kinect skeleton file: replayed through a virtual camera placed for a view."""
    return kinect_format(spec) is not None
