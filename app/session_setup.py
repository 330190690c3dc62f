"""From parsed arguments to a ready ``Runner``: every bad input becomes a ``UsageError``."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from app.errors import UsageError
from app.inputs import BUNDLED_RECORDING, InputChoice, choose_input, peek_replay
from app.loop import Runner, RunOptions
from app.outputs import check_clashes, check_target
from app.storage_sink import profile_from_store, report_replayed
from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from exercises.schema import ExerciseDef
from language import catalog
from recording.replay import check_replayable
from session.targets import load_profile
from vision.errors import VisionError
from vision.replay import PoseReplay, is_skeleton_path

DEFAULT_EXERCISE = "squat"


def _exercise_id(args: argparse.Namespace, replay: PoseReplay | None) -> str:
    """--exercise, else the exercise a recording names; squat for poses that name none."""
    if args.exercise:
        return args.exercise
    if replay is None:
        return DEFAULT_EXERCISE
    named = replay.header.get("exercise", "")
    if named:
        try:
            get_exercise(named)
        except UnknownExercise:
            raise UsageError(
                f"--source {replay.name}: the recording names the exercise {named[:60]!r}, "
                "which the library does not have; pass --exercise ID"
            ) from None
        return named
    if not replay.poses:
        raise UsageError(
            f"--source {replay.name}: a machine recording that names no exercise; "
            "pass --exercise ID"
        )
    return DEFAULT_EXERCISE


def _check_combination(
    args: argparse.Namespace, choice: InputChoice, replay: PoseReplay | None, exercise: ExerciseDef
) -> None:
    """Sources that cannot drive the exercise: refused, not run as a silent empty session."""
    machine_data = bool(getattr(replay, "device", None))
    if (
        exercise.signal.source == "machine"
        and not args.device
        and choice.kind in ("video", "replay")
        and not machine_data
    ):
        raise UsageError(
            f"--exercise {exercise.id} is a machine exercise and {choice.spec} holds no machine "
            f"samples: add --device sim:{exercise.machine} for the simulator or --device PORT"
        )
    if exercise.signal.source == "camera" and replay is not None and not replay.poses:
        raise UsageError(
            f"--exercise {exercise.id} is a camera exercise and {choice.spec} holds no poses "
            "(a machine recording)"
        )


def prepare(args: argparse.Namespace) -> tuple[Runner, Path | None]:
    from app.gui import display_available

    if not args.headless and not display_available():
        print("main.py: no display found: running headless (pass --headless to silence this)")
        args.headless = True
    for name in ("max_frames", "seconds"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{name.replace('_', '-')}: expected a positive number, got {value}")
    outputs = {
        "--" + name.replace("_", "-"): path
        for name in ("summary_json", "record", "record_video")
        if (path := getattr(args, name)) is not None
    }
    problem = check_clashes(outputs, _source_path(args), _store_files(args) if outputs else None)
    if problem:
        raise UsageError(problem)
    for flag, path in outputs.items():
        # Tried now (create, open for writing), not found out after the whole session.
        problem = check_target(path, flag)
        if problem:
            raise UsageError(problem)
    try:
        catalog(args.lang)
    except ValueError as exc:
        raise UsageError(f"--lang: {exc}") from None
    try:
        choice = choose_input(args.source)
        replay = peek_replay(choice, args.view)
        if replay is not None:
            check_replayable(replay)
    except VisionError as exc:
        raise UsageError(str(exc)) from None
    try:
        exercise = get_exercise(_exercise_id(args, replay))
    except (UnknownExercise, ExerciseError) as exc:
        raise UsageError(str(exc).strip('"')) from None
    view = args.view or ("side" if exercise.view == "side" else "front")
    if replay is not None and is_skeleton_path(choice.spec) and replay.header["view"] != view:
        replay = peek_replay(choice, view)  # the camera where the exercise needs it
    if exercise.signal.source == "machine" and args.source is None and choice.kind == "replay":
        choice, replay = InputChoice("none", "none", "no camera: machine only"), None
    _check_combination(args, choice, replay, exercise)
    asked = args.device  # what the user named: a simulator they did not name is said below
    if exercise.signal.source == "machine" and not args.device:
        args.device = f"sim:{exercise.machine}" if exercise.machine else "auto"
    sim_model = args.device[4:] if args.device and args.device.startswith("sim:") else ""
    if sim_model and exercise.machine and sim_model != exercise.machine:
        raise UsageError(
            f"--device {args.device}: the exercise {exercise.id} needs the {exercise.machine} "
            f"machine (use --device sim:{exercise.machine})"
        )
    if args.device and args.device.startswith("/dev/") and not os.path.exists(args.device):
        raise UsageError(f"--device: no such port {args.device} (is the machine plugged in?)")
    if choice.kind == "none" and exercise.signal.source == "camera":
        raise UsageError(
            f"--source none: {exercise.id} is a camera exercise; it needs a camera or video"
        )
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
        profile = profile_from_store(store, args.patient, exercise)
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
        station=_station(args, store),
        station_exercise=bool(args.exercise) or not args.kiosk,
    )
    try:
        runner = Runner(opts, replay=replay)
    except (VisionError, ValueError) as exc:  # ValueError: targets the kernels refuse
        raise UsageError(str(exc)) from None
    except Exception as exc:
        from device_bridge import DeviceError
        from storage import StorageError

        if isinstance(exc, StorageError):  # the session cannot be stored: say so, start nothing
            raise UsageError(str(exc)) from None
        if isinstance(exc, DeviceError):
            raise UsageError(f"--device: {exc}") from None
        raise
    _say_simulated(runner, asked)
    return runner, args.summary_json


def _say_simulated(runner: Runner, asked: str | None) -> None:
    """The make-run contract is the simulator when there is no machine; never silently."""
    sim = runner.bridge.simulator if runner.bridge is not None else None
    if sim is None or (asked or "").startswith("sim:"):
        return
    why = "no --device given" if not asked else f"--device {asked}: no serial port answered"
    print(
        f"main.py: no machine ({why}): using the simulator of a {sim.model} machine "
        f"(pass --device PORT for the real one)",
        file=sys.stderr,
    )


def _source_path(args: argparse.Namespace) -> Path | None:
    """The file or folder the session reads poses from, when it is one (not a camera)."""
    if args.source is None:
        return BUNDLED_RECORDING  # what plays when no camera is found
    if args.source == "none" or args.source.isdigit() or not os.path.exists(args.source):
        return None
    return Path(args.source)


def _store_files(args: argparse.Namespace) -> tuple[str, tuple[Path, ...]] | None:
    """The database the session will open and its files, before it is opened."""
    from storage import StorageError, store_files

    if not (args.db or args.patient or args.kiosk):
        return None
    try:
        return store_files(args.db)
    except StorageError as exc:
        raise UsageError(str(exc)) from None


def _station(args: argparse.Namespace, store: object | None) -> str:
    """The name the live status goes under: --station, else the host name on a server (the
    dashboard's), else none (a file is one station's own)."""
    import re
    import socket

    if args.station is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}", args.station):
            raise UsageError(
                "--station: expected 1-64 letters, digits, spaces, '.', '_' or '-' starting "
                f"with a letter or digit, got {args.station[:70]!r}"
            )
        if store is None:
            raise UsageError("--station needs --db (the database the dashboard reads)")
        return args.station
    if store is not None and str(args.db or "").startswith("postgres"):
        return socket.gethostname()[:64]
    return ""


def _open_store(args: argparse.Namespace):
    """The session database; a bad patient code or an unusable file is a usage error."""
    from storage import StorageError, open_store
    from storage.base import check_patient_code

    if args.db and not args.patient and not args.kiosk:
        raise UsageError("--db needs --patient CODE (the pseudonymous patient code)")
    if args.kiosk and args.patient:
        raise UsageError(
            "--kiosk with --patient: at the kiosk patients sign in with their code and PIN"
        )
    try:
        if args.patient:
            check_patient_code(args.patient)
        store = open_store(args.db)
        store.recover_interrupted()
    except (StorageError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    report_replayed(store)
    return store
