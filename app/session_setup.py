"""From parsed arguments to a ready ``Runner``: every bad input becomes a ``UsageError``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from app.cli import UsageError
from app.inputs import BUNDLED_RECORDING, InputChoice, choose_input, peek_replay
from app.loop import Runner, RunOptions
from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from session.targets import PatientProfile, RangeAssessment, load_profile
from vision.errors import VisionError

DEFAULT_EXERCISE = "squat"


def _exercise_id(args: argparse.Namespace, header: dict) -> str:
    if args.exercise:
        return args.exercise
    named = header.get("exercise", "")
    try:
        if named:
            get_exercise(named)
            return named
    except UnknownExercise:
        pass
    return DEFAULT_EXERCISE


def prepare(args: argparse.Namespace) -> tuple[Runner, Path | None]:
    from app.gui import display_available

    if not args.headless and not display_available():
        print("main.py: no display found: running headless (pass --headless to silence this)")
        args.headless = True
    for name in ("max_frames", "seconds"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')}: expected a positive number, got {value}")
    if args.summary_json and not args.summary_json.parent.exists():
        raise UsageError(f"--summary-json: folder does not exist: {args.summary_json.parent}")
    try:
        choice = choose_input(args.source)
        replay = peek_replay(choice)
    except VisionError as exc:
        raise UsageError(str(exc)) from None
    try:
        exercise = get_exercise(_exercise_id(args, replay.header if replay else {}))
    except (UnknownExercise, ExerciseError) as exc:
        raise UsageError(str(exc).strip('"')) from None
    if exercise.signal.source == "machine" and args.source is None and choice.kind == "replay":
        choice, replay = InputChoice("none", "none", "no camera: machine only"), None
    if exercise.signal.source == "machine" and not args.device:
        args.device = f"sim:{exercise.machine}" if exercise.machine else "auto"
    if args.device and args.device.startswith("sim:") and exercise.id.endswith("_right"):
        args.sim_arg.append("--side=right")  # the simulated patient works to the right
    profile = None
    if args.profile:
        try:
            profile = load_profile(args.profile)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    store = _open_store(args) if (args.db or args.patient or args.kiosk) else None
    if profile is None and store is not None and args.patient:
        profile = _profile_from_store(store, args.patient, exercise)
    opts = RunOptions(
        choice=choice,
        exercise=exercise,
        headless=args.headless,
        max_frames=args.max_frames,
        seconds=args.seconds,
        device=args.device,
        simulator_args=tuple(args.sim_arg),
        profile=profile,
        record=args.record,
        record_video=args.record_video,
        kiosk=args.kiosk,
        lang=args.lang,
        mute=args.mute,
        loop_replay=args.source is None
        and choice.spec == str(BUNDLED_RECORDING)
        and not args.headless,
        store=store,
        patient=args.patient or "",
    )
    try:
        runner = Runner(opts, replay=replay)
    except VisionError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:
        from device_bridge import DeviceError

        if isinstance(exc, DeviceError):
            raise UsageError(f"--device: {exc}") from None
        raise
    return runner, args.summary_json


def _open_store(args: argparse.Namespace):
    """The session database; a bad patient code or an unusable file is a usage error."""
    from storage import StorageError, open_store
    from storage.base import check_patient_code

    if args.db and not args.patient and not args.kiosk:
        raise UsageError("--db needs --patient CODE (the pseudonymous patient code)")
    try:
        if args.patient:
            check_patient_code(args.patient)
        store = open_store(args.db)
        store.recover_interrupted()
    except (StorageError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return store


def _profile_from_store(store, patient: str, exercise) -> PatientProfile | None:
    """The patient's latest assessment for this exercise, as personal targets: the measured
    range (degrees of movement from the exercise's start) and the tested maximum force."""
    from storage import NotFound

    try:
        found = [a for a in store.assessments(patient) if a.exercise_id == exercise.id]
    except NotFound:
        return None
    if not found:
        return None
    a = found[-1]
    start = exercise.signal.start
    sign = 1.0 if exercise.signal.target > start else -1.0
    ranges, forces = {}, {}
    if math.isfinite(a.rom_deg):
        limit = (
            start + sign * a.pain_free_rom_deg if math.isfinite(a.pain_free_rom_deg) else math.nan
        )
        ranges[exercise.id] = RangeAssessment(start, start + sign * a.rom_deg, limit)
    if math.isfinite(a.max_force_n):
        forces[exercise.id] = a.max_force_n
    return PatientProfile(patient, ranges, forces)
