"""Command line: ``python main.py [options]``, ``python main.py patient|report|export ...``.

Bad input prints one line, ``main.py: error: ...``, and exits with code 2.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path
from typing import NoReturn

from app.errors import UsageError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(message)


def one_line(text: object) -> str:
    """A message as one line, whatever a file name or a value in it holds."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def _name(text: str) -> str:
    """A file name the system can at least look up: a name longer than it allows is refused
    here, before any part of the program trips over it."""
    from storage.paths import name_too_long

    problem = name_too_long(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _path(text: str) -> Path:
    return Path(_name(text))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="main.py",
        description="SpineCoach: camera and machine guided exercise for low back pain.",
        epilog="Subcommands: 'main.py patient --help', 'main.py report --help', "
        "'main.py export --help', 'main.py therapist --help', 'main.py dashboard --help', "
        "'main.py assess --help', 'main.py programme --help'.",
    )
    p.add_argument("--source", type=_name,
                   help="camera index (0), video file, image folder, recording (.screc, "
                   "KERAAL .json, KIMORE .csv, UI-PRMD *_positions.txt[.gz]), or "
                   "'none' for machine-only; default: camera 0, else the bundled "
                   "recording")  # fmt: skip
    p.add_argument("--exercise", help="exercise id (see --list-exercises); default: squat, "
                   "or the exercise a recording names")  # fmt: skip
    p.add_argument("--view", choices=("front", "side"),
                   help="Kinect skeleton sources (KIMORE .csv, UI-PRMD *_positions.txt[.gz]): "
                   "where the virtual camera stands; default: the exercise's view")  # fmt: skip
    p.add_argument("--device", type=_name,
                   help="machine: auto, sim:MODEL, a port path or a pyserial URL")  # fmt: skip
    p.add_argument("--sim-arg", action="append", default=[], metavar="ARG",
                   help="extra simulator switch for --device sim:MODEL (repeatable), e.g. "
                   "--sim-arg=--overload-at=12")  # fmt: skip
    p.add_argument("--headless", action="store_true", help="run the loop without a window")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N pose frames")
    p.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--summary-json", type=_path, metavar="PATH", help="write the session summary")
    p.add_argument("--record", type=_path, metavar="PATH", help="record the session (.screc)")
    p.add_argument("--record-video", type=_path, metavar="PATH",
                   help="write the frames with the skeleton overlay to a video file")  # fmt: skip
    p.add_argument(
        "--profile", type=_path, metavar="TOML", help="patient profile with personal targets"
    )
    p.add_argument("--db", type=_name, metavar="PATH|URL",
                   help="session database: a SQLite file, or postgresql://[user@]host/db "
                   "for a server the clinic's stations share")  # fmt: skip
    p.add_argument("--patient", metavar="CODE", help="pseudonymous patient code")
    p.add_argument("--station", metavar="NAME",
                   help="publish this station's live status under NAME for the therapist "
                   "dashboard; default with a postgresql:// --db: the host name")  # fmt: skip
    p.add_argument("--kiosk", action="store_true", help="full-screen kiosk mode")
    p.add_argument("--lang", default="en", help="cue language (en, de)")
    p.add_argument(
        "--mute",
        action="store_true",
        help="start muted: no coaching speech or tones (a safety stop is still heard)",
    )
    p.add_argument("--list-exercises", action="store_true", help="list the exercise library")
    p.add_argument("--check-exercises", nargs="*", type=_name, metavar="FILE",
                   help="validate exercise files (default: the whole library)")  # fmt: skip
    p.add_argument("--check-assessments", nargs="*", type=_name, metavar="FILE",
                   help="validate assessment protocol files (default: every protocol)")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _list_exercises() -> int:
    from exercises.library import load_library

    for ex in load_library().values():
        driver = f"machine angle ({ex.machine})" if ex.signal.source == "machine" else (
            f"camera {ex.signal.label}")  # fmt: skip
        real = f"validated on real motion: {ex.validated}" if ex.validated else (
            "NOT validated on real motion")  # fmt: skip
        print(f"{ex.id:28} {ex.category:8} {ex.mode:5} view={ex.view:6} {driver}  - {ex.name}"
              f"  [{real}]")  # fmt: skip
    return 0


def _check_reference(ex, path: Path) -> str:
    """The exercise's reference movement replayed through the session engine: it must pass
    the exercise's own rules and count as one rep (or hold). Required in the library; a file
    elsewhere is checked when a reference lies beside it (``../references/<id>.toml``)."""
    from exercises.errors import ExerciseError
    from exercises.library import DEFINITIONS
    from exercises.reference import load_reference, reference_path
    from session.reference_check import reference_problems

    ref_path = reference_path(path, ex.id)
    in_library = path.resolve().parent == DEFINITIONS
    if not ref_path.is_file() and not in_library:
        return "no reference movement beside it"
    ref = load_reference(ex, ref_path)
    problems = reference_problems(ex, ref)
    if problems:
        raise ExerciseError(ref_path, "timeline", "a reference that passes the exercise's own "
                            "rules as one " + ex.mode.rstrip("s"), "; ".join(problems))  # fmt: skip
    return "reference: one clean " + ("hold" if ex.mode == "hold" else "rep")


def _check_exercises(files: list[str]) -> int:
    from exercises.errors import ExerciseError
    from exercises.library import definition_files
    from exercises.schema import load_exercise_file

    paths = [Path(f) for f in files] or definition_files()
    failed = 0
    for path in paths:
        try:
            ex = load_exercise_file(path)
            note = _check_reference(ex, path)
            print(f"ok      {path} ({ex.id}: {len(ex.rules)} rules; {note})")
        except ExerciseError as exc:
            failed += 1
            print(f"invalid {exc}")
    print(f"{len(paths) - failed} valid, {failed} invalid")
    return 0 if failed == 0 else 1


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if args.list_exercises:
        return _list_exercises()
    if args.check_exercises is not None:
        return _check_exercises(args.check_exercises)
    if args.check_assessments is not None:
        from assessment.check import check_files

        return check_files(args.check_assessments)
    from app.session_setup import prepare

    runner, summary_path = prepare(args)
    from app.loop import summarize
    from app.outputs import write_summary
    from storage import EndReason, StorageError

    reason = None
    try:
        if args.headless:
            runner.run_headless(progress=args.verbose)
        else:
            from app.gui import run_window

            run_window(runner)
    except KeyboardInterrupt:
        reason = EndReason.STOPPED_BY_THERAPIST  # the console's Ctrl-C
    except BaseException:
        reason = EndReason.CRASH
        raise
    finally:
        # Judged before closing: a closed source looks like one that ran to its end.
        reason = reason or runner.end_reason()
        runner.close()
        runner.finish_storage(reason)
        if runner.opts.store is not None:
            runner.opts.store.close()
    summary = summarize(runner)
    for warning in summary["source_warnings"]:
        print(f"main.py: warning: {one_line(warning)}", file=sys.stderr)
    if summary_path:
        try:
            write_summary(summary_path, summary)
        except StorageError as exc:
            raise UsageError(str(exc)) from None
    if args.headless:
        print(
            f"{summary['exercise']}: {summary['rep_count']} reps, {summary['frames']} frames, "
            f"{summary['frames_with_pose']} with a person, {summary['pose_fps']} poses/s"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "patient":
            from access import cli as access_cli

            return access_cli.main(argv[1:])
        if argv and argv[0] == "therapist":
            from access import therapist_cli

            return therapist_cli.main(argv[1:])
        if argv and argv[0] == "dashboard":
            from dashboard import cli as dashboard_cli

            return dashboard_cli.main(argv[1:])
        if argv and argv[0] == "assess":
            from app import assess

            return assess.main(argv[1:])
        if argv and argv[0] == "programme":
            from clinic import cli as clinic_cli

            return clinic_cli.main(argv[1:])
        if argv and argv[0] in ("report", "export"):
            from storage import cli as storage_cli

            return (storage_cli.report_main if argv[0] == "report" else storage_cli.export_main)(
                argv[1:]
            )
        return run(argv)
    except UsageError as exc:
        print(f"main.py: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # any subcommand's path the system cannot even look up
        if exc.errno != errno.ENAMETOOLONG:
            raise
        from storage.paths import too_long

        print(f"main.py: error: {too_long(str(exc.filename or ''))}", file=sys.stderr)
        return EXIT_USAGE
