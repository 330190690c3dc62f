"""A pinhole camera placed around a recorded 3-D skeleton, so motion capture replays as poses.

The camera stands ``distance_m`` from the body's centre (the median mid-hip over the
recording, raised to the middle of the body's height) and looks horizontally at it: in front
of the person for the ``front`` view, at the person's left side for ``side`` (the left side
nearer the camera, as the engine's working side starts on the left). The person's facing
direction comes from the median left-right axis of hips and shoulders in the horizontal
plane; the scene's vertical is the recording sensor's (within a few degrees for the
datasets used: see ``docs/sources.md``). A 1280 x 720 picture with a 60-degree horizontal
field of view:

    u = f x_c / z_c + W / 2,  v = f y_c / z_c + H / 2,  f = (W / 2) / tan(30 deg)

``x_c, y_c, z_c`` are a landmark's coordinates in the camera frame (x right, y down, z along
the view). Image landmarks are ``u / W, v / H`` (x, y), the relative depth
``(z_c - z_hips) f / (z_hips W)`` (z, as the pose model gives it) and the recorded
visibility; world landmarks are the camera-frame coordinates minus the mid-hip, in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from body.landmarks import INDEX
from body.pose import Pose
from vision.kinect import Skeleton

VIEWS = ("front", "side")
IMAGE_SIZE = (1280, 720)  # width, height
HFOV_DEG = 60.0
DISTANCE_M = 3.5  # keeps a 1.9 m person whole in the 36-degree vertical field of view

_HIPS = (INDEX["left_hip"], INDEX["right_hip"])
_SHOULDERS = (INDEX["left_shoulder"], INDEX["right_shoulder"])
_DOWN = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True, slots=True)
class VirtualCamera:
    """``rotation`` (3, 3) maps scene directions to camera axes; ``position`` (3,) metres."""

    position: np.ndarray
    rotation: np.ndarray
    focal_px: float
    size: tuple[int, int]

    @property
    def aspect(self) -> float:
        return self.size[0] / self.size[1]

    def to_camera(self, xyz: np.ndarray) -> np.ndarray:
        """Scene points (..., 3) -> camera frame (..., 3)."""
        return (xyz - self.position) @ self.rotation.T


def _mid(xyz: np.ndarray, idx: tuple[int, ...]) -> np.ndarray:
    """Mean of the landmarks ``idx`` per frame (NaN when any is missing): (n, 3)."""
    return xyz[:, list(idx)].mean(axis=1)


def body_centre(sk: Skeleton) -> np.ndarray:
    """Median mid-hip across the recording, raised to the middle of the body's height (the
    median midpoint between its highest and lowest landmarks), so the whole body is framed."""
    hips = _mid(sk.xyz, _HIPS)
    hips = hips[np.isfinite(hips).all(axis=1)]
    if hips.size == 0:
        raise ValueError("the recording has no frame with both hips tracked")
    centre = np.median(hips, axis=0)
    y = sk.xyz[..., 1]
    seen = np.isfinite(y).any(axis=1)
    top = np.nanmin(y[seen], axis=1)
    bottom = np.nanmax(y[seen], axis=1)
    centre[1] = float(np.median((top + bottom) / 2))
    return centre


def person_left(sk: Skeleton) -> np.ndarray:
    """Unit vector (scene frame, horizontal) toward the person's left: median of the
    right-to-left hip and shoulder lines."""
    lines = []
    for left, right in (_HIPS, _SHOULDERS):
        d = sk.xyz[:, left] - sk.xyz[:, right]
        lines.append(d[np.isfinite(d).all(axis=1)])
    d = np.concatenate(lines)
    if d.size == 0:
        raise ValueError("the recording has no frame with hips or shoulders tracked")
    axis = np.median(d, axis=0)
    axis[1] = 0.0  # horizontal
    norm = float(np.linalg.norm(axis))
    if not norm > 0:
        raise ValueError("cannot tell the person's left from right in this recording")
    return axis / norm


def place_camera(
    sk: Skeleton,
    view: str,
    distance_m: float = DISTANCE_M,
    size: tuple[int, int] = IMAGE_SIZE,
    hfov_deg: float = HFOV_DEG,
) -> VirtualCamera:
    """The virtual camera for ``view`` (``"front"`` or ``"side"``) around this recording."""
    if view not in VIEWS:
        raise ValueError(f"view: expected one of {', '.join(VIEWS)}, got {view!r}")
    centre = body_centre(sk)
    left = person_left(sk)
    # Right-handed (left, up, forward) body axes: forward = left x up.
    forward = np.cross(left, -_DOWN)
    toward_camera = forward if view == "front" else left
    position = centre + distance_m * toward_camera
    z_axis = -toward_camera  # the camera looks at the body
    x_axis = np.cross(_DOWN, z_axis)  # camera right = down x view
    rotation = np.stack([x_axis, _DOWN, z_axis])
    focal = (size[0] / 2) / math.tan(math.radians(hfov_deg) / 2)
    return VirtualCamera(position, rotation, focal, size)


def project(sk: Skeleton, cam: VirtualCamera) -> list[Pose]:
    """Every frame of the skeleton as a ``Pose`` seen by ``cam`` (timestamps from 0 s)."""
    w, h = cam.size
    c = cam.to_camera(sk.xyz)  # (n, 33, 3)
    hips = _mid(c, _HIPS)  # (n, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = cam.focal_px * c[..., 0] / c[..., 2] + w / 2
        v = cam.focal_px * c[..., 1] / c[..., 2] + h / 2
        depth = (c[..., 2] - hips[:, None, 2]) * cam.focal_px / (hips[:, None, 2] * w)
    behind = ~(c[..., 2] > 0.05)  # at or behind the lens: not in the picture
    image = np.stack([u / w, v / h, depth, sk.visibility], axis=-1)
    image[behind] = np.nan
    image[..., 3] = np.where(np.isfinite(image[..., 0]), sk.visibility, 0.0)
    world = c - hips[:, None, :]
    poses = []
    for f in range(len(sk)):
        t = f / sk.fps
        if not sk.present[f]:
            poses.append(Pose.empty(t))
            continue
        poses.append(Pose(t, image[f].astype(np.float32), world[f].astype(np.float32)))
    return poses


def skeleton_poses(sk: Skeleton, view: str) -> tuple[list[Pose], float]:
    """Poses of the skeleton seen from ``view`` and the picture's aspect ratio (width/height)."""
    cam = place_camera(sk, view)
    return project(sk, cam), cam.aspect
