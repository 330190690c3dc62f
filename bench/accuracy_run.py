"""Runs one labelled case through the application's own session run path.

Every case goes through ``app.loop.Runner`` headless and ``app.loop.summarize``, exactly as
``main.py --source ... --exercise ... --headless --summary-json`` does; only the way the
poses are obtained differs by source:

- video: MediaPipe over every frame as the app's video stream does, cached on disk per video
  (``vision.pose_cache``) and replayed with the video's frame size, so a re-run after a rule
  change takes seconds;
- replay: the file opened by ``recording.replay.open_replay`` as ``--source`` opens it (Kinect
  files seen from the case's view);
- uiprmd_set: UI-PRMD single-repetition files played one after the other through one
  virtual camera;
- npy17 / csv_runs: other people's MediaPipe landmark tables (``vision.landmark_tables``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.inputs import InputChoice
from app.loop import Runner, RunOptions, summarize
from bench.accuracy_cases import Case
from body.pose import Pose
from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from exercises.schema import ExerciseDef
from recording.replay import open_replay
from session.targets import PatientProfile
from vision.errors import VisionError
from vision.kinect import concatenate, load_uiprmd
from vision.landmark_tables import load_labelled_csv, load_npy17
from vision.pose_cache import video_poses
from vision.replay import PoseReplay
from vision.virtual_camera import skeleton_poses

NPY17_ASPECT = 16 / 9  # the kaiakol uploader's videos: 1280x720 and 640x360


@dataclass
class Outcome:
    """What the program reported for one case, or why it could not run it."""

    case_id: str
    ran: bool
    reason: str = ""  # why it could not run
    rep_count: int = 0  # counted repetitions
    partial_reps: int = 0  # repetitions recognised but short of the range
    hold_s: float = 0.0
    flags: list[str] = field(default_factory=list)  # form faults and warnings, in order
    frames: int = 0
    pose_from_cache: bool | None = None
    seconds: float = 0.0


def form_flags(summary: dict, exercise: ExerciseDef) -> list[str]:
    """The keys of the faults and warnings that judge form. Position rules (a hold's "get
    into position") and visibility rules ("face the camera") say nothing about form and are
    left out; a partial repetition's range cue counts."""
    ignore = set(exercise.position_rules)
    ignore.update(rd.key for rd in exercise.rules if rd.kind == "visibility")
    return [f["key"] for f in summary["faults"] if f["key"] not in ignore]


def _restamp(poses: list[Pose]) -> list[Pose]:
    """Poses from the middle of a table, timed from 0 s."""
    t0 = poses[0].timestamp
    return [
        Pose(p.timestamp - t0, p.image, p.world, p.detected)
        if p.detected
        else Pose.empty(p.timestamp - t0)
        for p in poses
    ]


def _replay_for(case: Case, exercise: ExerciseDef, testdata: Path, cache_dir: Path):
    """(replay, pose cache used or None) for the case's source."""
    paths = [testdata / p for p in case.paths]
    view = case.view or ("side" if exercise.view == "side" else "front")
    name = paths[0].name
    if case.source == "video":
        vp = video_poses(paths[0], cache_dir)
        header = {"aspect": vp.aspect}
        return PoseReplay(vp.poses, vp.fps, name, header=header), vp.from_cache
    if case.source == "replay":
        return open_replay(paths[0], view), None
    if case.source == "uiprmd_set":
        skeleton = concatenate([load_uiprmd(p) for p in paths], case.id)
        poses, aspect = skeleton_poses(skeleton, view)
        return PoseReplay(poses, skeleton.fps, case.id, header={"aspect": aspect}), None
    if case.source == "npy17":
        poses = load_npy17(paths[0])
        header = {"aspect": case.aspect or NPY17_ASPECT}
        return PoseReplay(poses, 30.0, name, header=header), None
    if case.source == "csv_runs":
        _, poses = load_labelled_csv(paths[0])
        first, end = case.frames
        header = {"aspect": case.aspect} if case.aspect else None
        return PoseReplay(_restamp(poses[first:end]), 30.0, name, header=header), None
    raise ValueError(f"unknown source {case.source!r}")


def run_case(case: Case, testdata: Path, cache_dir: Path) -> Outcome:
    """The case through the app's run path; a case that cannot run says why."""
    started = time.perf_counter()
    if case.problem:
        return Outcome(case.id, False, case.problem)
    try:
        exercise = get_exercise(case.exercise)
    except UnknownExercise:
        return Outcome(case.id, False, f"no exercise {case.exercise!r} in the library")
    except ExerciseError as exc:
        return Outcome(case.id, False, f"exercise file invalid: {exc}")
    try:
        replay, from_cache = _replay_for(case, exercise, testdata, cache_dir)
    except (VisionError, OSError, ValueError) as exc:
        return Outcome(case.id, False, f"cannot read the recording: {exc}")
    choice = InputChoice("replay", str(testdata / case.paths[0]), "accuracy bench")
    # The working side, as a therapist sets it in the patient's profile (--profile).
    profile = PatientProfile(code="bench", side=case.side) if case.side else None
    try:
        runner = Runner(RunOptions(choice, exercise, headless=True, profile=profile), replay=replay)
    except (VisionError, ValueError) as exc:
        return Outcome(case.id, False, f"session could not start: {exc}")
    try:
        runner.run_headless()
    finally:
        runner.close()
    s = summarize(runner)
    hold = float(s["hold_s"]) if math.isfinite(s["hold_s"]) else 0.0
    return Outcome(
        case_id=case.id,
        ran=True,
        rep_count=int(s["rep_count"]),
        partial_reps=int(s["partial_reps"]),
        hold_s=hold,
        flags=form_flags(s, exercise),
        frames=int(s["frames"]),
        pose_from_cache=from_cache,
        seconds=time.perf_counter() - started,
    )
