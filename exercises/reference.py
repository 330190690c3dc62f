"""The reference movement of an exercise: a few named poses of the stick figure and when to
be in each, as data (``exercises/references/<id>.toml``), played as 33 landmarks.

A file names the exercise, the landmark held in place while the figure moves (``anchor``:
the feet of a squat, the knee of a bird dog), the poses and the timeline::

    exercise = "squat"
    anchor = "left_ankle"

    [poses.stand]
    upper_arm = 180            # a number: the direction in the camera's plane, degrees
                               # from straight up, positive toward where the figure faces
    [poses.bottom]
    base = "stand"             # start from another pose (default: standing upright)
    trunk = 35
    thigh = 95                 # side-free names set both sides; left_thigh one side
    left_upper_arm = [90, 20]  # [angle, elevation toward the camera]

    timeline = [{ pose = "stand", t = 0.0 }, { pose = "bottom", t = 2.0 }, ...]

Between keyframes the figure moves smoothly (eased in and out); two keyframes of one pose
hold it. Machine exercises give each pose its ``machine_angle`` and the file a
``load_share`` (force as a share of the exercise's default maximum). The segments, their
defaults and the angle convention are those of :mod:`body.figure`.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from body import figure
from body.landmarks import INDEX, NAMES
from body.pose import Pose
from exercises.errors import ExerciseError
from exercises.schema import ExerciseDef, _Table

REFERENCES = Path(__file__).resolve().parent / "references"
FPS = 30.0
ASPECT = 16 / 9  # the picture the reference is played into (a webcam's)
FRAME_MARGIN = 1.3  # the picture spans this many times the figure's extent
MACHINE_HZ = 100.0  # machine samples a second, as the simulator sends them
# A webcam's vertical field of view (a 16:9 picture of about 70 degrees diagonal): what the
# camera distance on the demonstration screen is worked out with.
CAMERA_VFOV_DEG = 37.0
MAX_TURN_DEG = 270.0  # between two keyframes; more is a sign of an angle meant the other way

_POSE_KEYS = {"base", "twist", "machine_angle"}
_SEGMENT_NAMES = set(figure.SEGMENTS) | set(figure.SIDED)


@dataclass(frozen=True, slots=True)
class Keyframe:
    t: float  # seconds from the start of the reference
    pose: str
    params: np.ndarray  # body.figure parameters (N_PARAMS,)
    machine_angle: float  # machine exercises: the machine's angle (deg); NaN otherwise


@dataclass(frozen=True, slots=True)
class Frames:
    """The reference sampled at ``fps``: times (n,), points (n, 33, 3) in metres (x right,
    y up, z toward the camera, anchored), and for machine work the angle (n,) per frame."""

    t: np.ndarray
    points: np.ndarray
    machine_angle: np.ndarray
    fps: float


@dataclass(frozen=True)
class Reference:
    exercise_id: str
    view: str  # "side" or "front": the plane the figure moves in
    anchor: str  # landmark name held in place
    keyframes: tuple[Keyframe, ...]
    load_share: float  # machine work: force as a share of the default maximum; NaN otherwise
    source_file: str

    @property
    def duration_s(self) -> float:
        return self.keyframes[-1].t

    def params_at(self, t: float) -> np.ndarray:
        """The figure's parameters at time ``t`` (clamped to the timeline), eased between
        keyframes."""
        k = self.keyframes
        if t <= k[0].t:
            return k[0].params.copy()
        for a, b in itertools.pairwise(k):
            if t <= b.t:
                s = (t - a.t) / (b.t - a.t) if b.t > a.t else 1.0
                w = 0.5 - 0.5 * math.cos(math.pi * s)
                return _blend(a.params, b.params, w)
        return k[-1].params.copy()

    def machine_angle_at(self, t: float) -> float:
        k = self.keyframes
        ts = [f.t for f in k]
        angles = [f.machine_angle for f in k]
        if not math.isfinite(angles[0]):
            return math.nan
        i = int(np.searchsorted(ts, t, side="right"))
        if i <= 0:
            return angles[0]
        if i >= len(k):
            return angles[-1]
        a, b = k[i - 1], k[i]
        s = (t - a.t) / (b.t - a.t) if b.t > a.t else 1.0
        w = 0.5 - 0.5 * math.cos(math.pi * s)
        return a.machine_angle + w * (b.machine_angle - a.machine_angle)

    def points_at(self, t: float) -> np.ndarray:
        """Landmarks (33, 3) in metres at ``t``, moved so the anchor stays where the first
        keyframe puts it."""
        pts = figure.figure_points(self.params_at(t), self.view)
        return pts - pts[INDEX[self.anchor]] + self._anchor_home

    @cached_property
    def _anchor_home(self) -> np.ndarray:
        first = figure.figure_points(self.keyframes[0].params, self.view)
        return first[INDEX[self.anchor]] - first[[INDEX["left_hip"], INDEX["right_hip"]]].mean(0)

    def frames(self, fps: float = FPS) -> Frames:
        n = math.floor(self.duration_s * fps) + 1
        t = np.arange(n) / fps
        pts = np.stack([self.points_at(float(x)) for x in t])
        angle = np.array([self.machine_angle_at(float(x)) for x in t])
        return Frames(t, pts, angle, fps)

    @cached_property
    def extent_m(self) -> tuple[float, float]:
        """Width and height (m) the figure sweeps in the camera's picture over the timeline."""
        pts = self.frames(10.0).points
        span = np.nanmax(pts, axis=(0, 1)) - np.nanmin(pts, axis=(0, 1))
        return float(span[0]), float(span[1])

    def camera_distance_m(self, aspect: float = ASPECT) -> float:
        """How far away a webcam must stand to see the whole movement with some room."""
        w, h = self.extent_m
        half = math.tan(math.radians(CAMERA_VFOV_DEG) / 2)
        need = max(h, w / aspect) * 1.2 / 2  # 10 % room on either side
        return need / half


def _blend(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """``a`` to ``b`` by ``w`` (both resolved: no direction left to follow another)."""
    return a + w * (b - a)


def project(points: np.ndarray, frames_box: tuple[float, float, float], aspect: float,
            near_visibility: float = 1.0, far_visibility: float = 0.8, view: str = "front",
            t: float = 0.0) -> Pose:  # fmt: skip
    """One frame's points (33, 3) as a pose: image landmarks in a picture of ``aspect``
    centred on ``frames_box`` (centre x, centre y, picture height in metres), and world
    landmarks (hip-centred, y down, smaller z nearer the camera, as the pose model gives).
    In the side view the right side is farther from the camera and a little less visible."""
    cx, cy, height_m = frames_box
    width_m = height_m * aspect
    image = np.empty((33, 4), dtype=np.float32)
    image[:, 0] = 0.5 + (points[:, 0] - cx) / width_m
    image[:, 1] = 0.5 - (points[:, 1] - cy) / height_m
    image[:, 2] = -points[:, 2] / width_m
    image[:, 3] = near_visibility
    if view == "side":
        image[[i for i, n in enumerate(NAMES) if n.startswith("right_")], 3] = far_visibility
    hips = points[[INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=0)
    world = (points - hips) * np.array([1.0, -1.0, -1.0])
    return Pose(t, image, world.astype(np.float32))


def framing(frames: Frames, aspect: float = ASPECT) -> tuple[float, float, float]:
    """Centre x, centre y and picture height (m) that keep every frame in view."""
    lo = np.nanmin(frames.points, axis=(0, 1))
    hi = np.nanmax(frames.points, axis=(0, 1))
    height = max(hi[1] - lo[1], (hi[0] - lo[0]) / aspect) * FRAME_MARGIN
    return float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2), float(max(height, 0.5))


def reference_poses(ref: Reference, fps: float = FPS, aspect: float = ASPECT) -> list[Pose]:
    """The reference as the poses a camera of ``aspect`` would give, ``fps`` a second."""
    fr = ref.frames(fps)
    box = framing(fr, aspect)
    return [
        project(p, box, aspect, view=ref.view, t=float(t))
        for t, p in zip(fr.t, fr.points, strict=True)
    ]


# -- reading ---------------------------------------------------------------------------------


def reference_path(exercise_file: str | Path, exercise_id: str) -> Path:
    """Where an exercise file's reference lives: ``references/<id>.toml`` beside the folder
    that holds the definition (``exercises/definitions`` -> ``exercises/references``)."""
    return Path(exercise_file).resolve().parent.parent / "references" / f"{exercise_id}.toml"


def _angle(t: _Table, key: str) -> tuple[float, float]:
    value = t.get(key)
    if isinstance(value, list):
        if len(value) != 2:
            raise ExerciseError(t.file, t._key(key), "[angle, elevation]", value)
        angle, elevation = value
    else:
        angle, elevation = value, 0.0
    for v in (angle, elevation):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ExerciseError(t.file, t._key(key), "a finite angle in degrees", value)
    if not -360 <= angle <= 360 or not -90 <= elevation <= 90:
        raise ExerciseError(
            t.file, t._key(key), "an angle in -360..360 and an elevation in -90..90", value
        )
    return float(angle), float(elevation)


def _poses(file: str, raw: object, machine: bool) -> dict[str, tuple[np.ndarray, float]]:
    top = _Table(file, raw, "poses")
    names = list(top.data)
    if not names:
        raise ExerciseError(file, "poses", "at least one pose", "none")
    done: dict[str, tuple[np.ndarray, float]] = {}
    pending = dict.fromkeys(names)
    while pending:
        progressed = False
        for name in list(pending):
            t = _Table(file, top.get(name), f"poses.{name}")
            base = t.str("base", "")
            if base and base not in top.data:
                raise ExerciseError(file, t._key("base"), f"a pose of this file {names}", base)
            if base and base not in done:
                continue
            params, angle = done[base] if base else (figure.standing_params(), math.nan)
            params = params.copy()
            for key in t.data:
                if key in _POSE_KEYS:
                    continue
                if key not in _SEGMENT_NAMES:
                    known = sorted(_SEGMENT_NAMES | _POSE_KEYS)
                    raise ExerciseError(file, t._key(key), f"one of the known keys {known}", key)
                a, e = _angle(t, key)
                segs = [f"{s}_{key}" for s in ("left", "right")] if key in figure.SIDED else [key]
                for seg in segs:
                    i = figure.param_index(seg)
                    params[i], params[i + 1] = a, e
            params[figure.TWIST] = t.num("twist", float(params[figure.TWIST]), lo=-90, hi=90)
            if machine:
                default = angle if math.isfinite(angle) else ...
                angle = t.num("machine_angle", default, lo=-360, hi=360)
            elif "machine_angle" in t.data:
                raise ExerciseError(file, t._key("machine_angle"), "no machine angle for a "
                                    "camera exercise", t.data["machine_angle"])  # fmt: skip
            t.seen.update(t.data)
            t.done()
            done[name] = (params, angle)
            del pending[name]
            progressed = True
        if not progressed:
            raise ExerciseError(file, "poses", "bases that do not go round in a circle",
                                sorted(pending))  # fmt: skip
    return done


def _check_turn(file: str, key: str, prev: Keyframe, name: str, params: np.ndarray) -> None:
    """Angles are eased as numbers: -170 to 170 turns the long way round, through straight
    up, where the author meant 20 degrees (write 190 instead). A limb may sweep more than
    half a turn (an arm over the head), but not three quarters."""
    jump = np.abs(params - prev.params)
    for seg in figure.SEGMENTS:
        i = figure.param_index(seg)
        if jump[i] > MAX_TURN_DEG:
            raise ExerciseError(
                file, key, f"{seg} to turn at most {MAX_TURN_DEG:g} deg from pose {prev.pose!r} "
                f"to {name!r} "
                "(add or subtract 360)", f"{prev.params[i]:g} -> {params[i]:g}",
            )  # fmt: skip


def parse_reference(data: dict, file: str, exercise: ExerciseDef) -> Reference:
    top = _Table(file, data, "")
    ex_id = top.str("exercise")
    if ex_id != exercise.id:
        raise ExerciseError(file, "exercise", f"the exercise's id ({exercise.id})", ex_id)
    anchor = top.str("anchor", choices=NAMES)
    view = "front" if exercise.view == "front" else "side"
    machine = exercise.signal.source == "machine"
    poses = _poses(file, top.get("poses"), machine)
    raw = top.get("timeline")
    if not isinstance(raw, list) or len(raw) < 2:
        raise ExerciseError(file, "timeline", "at least two keyframes", raw)
    keyframes = []
    last = -math.inf
    for i, entry in enumerate(raw):
        kt = _Table(file, entry, f"timeline[{i}]")
        name = kt.str("pose", choices=tuple(poses))
        at = kt.num("t", lo=0.0, hi=120.0)
        if i == 0 and at != 0.0:
            raise ExerciseError(file, kt._key("t"), "0 for the first keyframe", at)
        if at < last:
            raise ExerciseError(file, kt._key("t"), f"a time >= the one before ({last})", at)
        kt.done()
        last = at
        params, angle = poses[name]
        params = figure.resolve_params(params, view)
        if keyframes:
            _check_turn(file, f"timeline[{i}]", keyframes[-1], name, params)
        keyframes.append(Keyframe(at, name, params, angle))
    if keyframes[-1].t <= 0:
        raise ExerciseError(file, "timeline", "a timeline longer than 0 s", keyframes[-1].t)
    share = top.num("load_share", math.nan if not machine else ..., lo=0.0, hi=1.0)
    top.done()
    return Reference(ex_id, view, anchor, tuple(keyframes), share, file)


def load_reference(exercise: ExerciseDef, path: str | Path | None = None) -> Reference:
    """The reference of ``exercise`` (by default the file beside its definition's folder);
    raises ``ExerciseError`` naming the file and key when it is missing or malformed."""
    path = Path(path) if path is not None else reference_path(exercise.source_file, exercise.id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExerciseError(path, "<file>", "a reference movement file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExerciseError(path, "<file>", "a readable UTF-8 file", str(exc)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseError(path, "<file>", "valid TOML", str(exc)) from None
    return parse_reference(data, str(path), exercise)
