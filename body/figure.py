"""A stick figure of standard proportions, posed by segment directions, as 33 landmarks.

The reference movement of every exercise is a few poses of this figure (see
``exercises/references/``). A pose gives each body segment's direction in the plane the
camera sees (the exercise's view), in degrees from straight up, positive toward where the
figure faces (side view) or toward the patient's left (front view), optionally tipped out of
that plane toward the camera by an elevation. Forward kinematics from the pelvis turns a
pose into the 33 BlazePose landmarks, in metres.

Frame of the returned points: x to the right of the picture, y up, z toward the camera,
origin at the mid-hip. In the side view the figure faces the picture's left with its left
side nearer the camera (as the virtual camera of ``vision/virtual_camera.py`` shows a
recording); in the front view it faces the camera, its left on the picture's right.

Proportions are shares of standing height (Winter, *Biomechanics and Motor Control of Human
Movement*, segment lengths as fractions of height), rounded, with joint centres where the
pose model puts its landmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from body.landmarks import INDEX, NUM_LANDMARKS

HEIGHT_M = 1.70
VIEWS = ("side", "front")

# Segment lengths and widths, shares of height.
TRUNK = 0.29  # mid-hip to mid-shoulder
NECK = 0.11  # mid-shoulder to the middle of the head (between the ears)
SHOULDER_HALF = 0.115
HIP_HALF = 0.06
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.06  # wrist to the knuckles the pose model marks
THIGH = 0.245
SHANK = 0.246
FOOT = 0.152  # heel to toe tip
ANKLE_HEIGHT = 0.039
HEAD_HALF = 0.045  # ear to the middle of the head
FACE = 0.055  # middle of the head to the nose

SIDED = ("upper_arm", "forearm", "hand", "thigh", "shank", "foot")
# Every segment whose direction a pose gives, in parameter order.
SEGMENTS: tuple[str, ...] = (
    "trunk",
    "pelvis",
    "neck",
    *(f"{side}_{seg}" for side in ("left", "right") for seg in SIDED),
)
# Segments that follow another when a pose leaves them out: the pelvis line stays square to
# the trunk, the head in line with it, the hand in line with the forearm.
FOLLOWS = {"pelvis": "trunk", "neck": "trunk", "left_hand": "left_forearm"}
FOLLOWS["right_hand"] = "right_forearm"
N_PARAMS = 2 * len(SEGMENTS) + 1  # (angle, elevation) per segment, then the twist
TWIST = N_PARAMS - 1
_SEG = {name: i for i, name in enumerate(SEGMENTS)}


def param_index(segment: str) -> int:
    """Column of ``segment``'s in-plane angle in a parameter vector (its elevation is next)."""
    return 2 * _SEG[segment]


def standing_params() -> np.ndarray:
    """Standing upright, arms hanging, feet flat: the pose every other pose starts from.
    NaN marks a direction that follows another segment (``FOLLOWS``) or, for the feet, the
    default: square to the shank, pointing forward."""
    p = np.zeros(N_PARAMS)
    for seg in SEGMENTS:
        p[param_index(seg)] = 180.0  # limbs hang
    for seg in ("trunk",):
        p[param_index(seg)] = 0.0
    for seg in ("pelvis", "neck", "left_hand", "right_hand", "left_foot", "right_foot"):
        p[param_index(seg)] = np.nan
    return p


@dataclass(frozen=True, slots=True)
class _Axes:
    u: np.ndarray  # in-plane horizontal: where positive angles point
    v: np.ndarray  # up
    n: np.ndarray  # out of the plane, toward the camera


_X, _Y, _Z = np.eye(3)
_AXES = {"side": _Axes(-_X, _Y, _Z), "front": _Axes(_X, _Y, _Z)}


def _direction(ax: _Axes, angle_deg: float, elevation_deg: float) -> np.ndarray:
    a, e = math.radians(angle_deg), math.radians(elevation_deg)
    return math.cos(e) * (math.sin(a) * ax.u + math.cos(a) * ax.v) + math.sin(e) * ax.n


def _in_plane_normal(ax: _Axes, angle_deg: float) -> np.ndarray:
    """The in-plane direction square to a segment at ``angle_deg``, turned toward +u at 0."""
    a = math.radians(angle_deg)
    return math.cos(a) * ax.u - math.sin(a) * ax.v


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v


def resolve_params(params: np.ndarray, view: str) -> np.ndarray:
    """A copy with the followed segments and the default feet filled in, so a pose can be
    blended with another smoothly."""
    p = np.array(params, dtype=np.float64)
    for seg, leader in FOLLOWS.items():
        i = param_index(seg)
        if math.isnan(p[i]):
            j = param_index(leader)
            p[i], p[i + 1] = p[j], p[j + 1]
    for side in ("left", "right"):
        i = param_index(f"{side}_foot")
        if math.isnan(p[i]):
            s = param_index(f"{side}_shank")
            if view == "side":
                p[i], p[i + 1] = p[s] - 90.0, p[s + 1]
            else:  # feet point at the camera
                p[i], p[i + 1] = p[s], 75.0
    return p


def figure_points(params: np.ndarray, view: str, height_m: float = HEIGHT_M) -> np.ndarray:
    """The 33 landmarks (33, 3) in metres for one pose: x right, y up, z toward the camera,
    origin at the mid-hip. ``params`` (N_PARAMS,): per segment of ``SEGMENTS`` its in-plane
    angle and elevation (degrees), then the twist of the shoulders about the trunk (degrees,
    positive turning toward the patient's left)."""
    if view not in VIEWS:
        raise ValueError(f"figure view: expected one of {VIEWS}, got {view!r}")
    params = np.asarray(params, dtype=np.float64)
    if params.shape != (N_PARAMS,):
        raise ValueError(f"figure pose: expected {N_PARAMS} parameters, got {params.shape}")
    ax = _AXES[view]
    p = resolve_params(params, view)
    h = height_m

    def seg(name: str) -> np.ndarray:
        i = param_index(name)
        return _direction(ax, p[i], p[i + 1])

    trunk = seg("trunk")
    # The body's left: toward the camera in the side view; in the front view square to the
    # segment in the picture's plane.
    if view == "side":
        left_trunk = ax.n
        left_pelvis = ax.n
    else:
        left_trunk = _in_plane_normal(ax, p[param_index("trunk")])
        left_pelvis = _in_plane_normal(ax, p[param_index("pelvis")])
    forward = _unit(np.cross(left_trunk, trunk))
    tw = math.radians(p[TWIST])
    # Turning to the left takes the left shoulder back, the right one forward.
    left_sh = math.cos(tw) * left_trunk - math.sin(tw) * forward
    face = math.cos(tw) * forward + math.sin(tw) * left_trunk
    pts = np.full((NUM_LANDMARKS, 3), np.nan)

    def put(name: str, xyz: np.ndarray) -> None:
        pts[INDEX[name]] = xyz

    mid_hip = np.zeros(3)
    mid_sh = mid_hip + TRUNK * h * trunk
    head = mid_sh + NECK * h * seg("neck")
    up_head = _unit(head - mid_sh)
    face = _unit(face - np.dot(face, up_head) * up_head)
    left_head = _unit(np.cross(up_head, face))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = mid_hip + sign * HIP_HALF * h * left_pelvis
        shoulder = mid_sh + sign * SHOULDER_HALF * h * left_sh
        elbow = shoulder + UPPER_ARM * h * seg(f"{side}_upper_arm")
        wrist = elbow + FOREARM * h * seg(f"{side}_forearm")
        hand = seg(f"{side}_hand")
        across = _unit(np.cross(hand, face)) if abs(np.dot(hand, face)) < 0.99 else left_head
        knee = hip + THIGH * h * seg(f"{side}_thigh")
        ankle = knee + SHANK * h * seg(f"{side}_shank")
        foot = seg(f"{side}_foot")
        sole = _unit(ankle - knee)
        put(f"{side}_hip", hip)
        put(f"{side}_shoulder", shoulder)
        put(f"{side}_elbow", elbow)
        put(f"{side}_wrist", wrist)
        put(f"{side}_index", wrist + HAND * h * hand + 0.01 * h * sign * across)
        put(f"{side}_pinky", wrist + 0.85 * HAND * h * hand - 0.015 * h * sign * across)
        put(f"{side}_thumb", wrist + 0.5 * HAND * h * hand + 0.025 * h * sign * across)
        put(f"{side}_knee", knee)
        put(f"{side}_ankle", ankle)
        put(f"{side}_heel", ankle - 0.25 * FOOT * h * foot + ANKLE_HEIGHT * h * sole)
        put(f"{side}_foot_index", ankle + 0.75 * FOOT * h * foot + ANKLE_HEIGHT * h * sole)
        put(f"{side}_ear", head + sign * HEAD_HALF * h * left_head)
        eye = head + 0.8 * FACE * h * face + 0.02 * h * up_head
        put(f"{side}_eye", eye + sign * 0.02 * h * left_head)
        put(f"{side}_eye_inner", eye + sign * 0.01 * h * left_head)
        put(f"{side}_eye_outer", eye + sign * 0.03 * h * left_head)
        put(f"mouth_{side}", head + 0.85 * FACE * h * face - 0.03 * h * up_head
            + sign * 0.015 * h * left_head)  # fmt: skip
    put("nose", head + FACE * h * face)
    return pts
