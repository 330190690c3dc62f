"""``python main.py assess --patient CODE --protocol ID [--device sim:MODEL] [--source VIDEO]``.

Runs one assessment protocol for a patient: the machine's tests on the machine named by
``--device`` (a port, or ``sim:MODEL``: the simulator with its simulated patient doing the
protocol), the camera's tests on ``--source`` (a camera index, a video or a recording). In a
window the therapist sees each test's instruction, countdown, live value and result (Space:
start now, R: repeat the test, S: skip it, A: acknowledge a safety stop, Esc: end); headless it
runs on its own. The results are stored with the norm they were compared with, and printed.

Bad input gives one line on stderr and exit code 2; nothing is stored then.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from app.errors import UsageError

PROG = "main.py assess"
DISPLAY_FPS = 60.0
HANDSHAKE_S = 20.0  # the simulator shares the processor; a real machine answers far sooner


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description="Run an assessment protocol for a patient.")
    ap.add_argument("--patient", required=True, help="pseudonymous patient code")
    ap.add_argument("--protocol", required=True,
                    help="protocol id (main.py --check-assessments lists them) or a "
                    ".toml file")  # fmt: skip
    ap.add_argument("--device", help="machine: sim:MODEL, a port path or a pyserial URL "
                    "(default for a machine protocol: the simulator of its machine)")  # fmt: skip
    ap.add_argument("--sim-arg", action="append", default=[], metavar="ARG",
                    help="extra simulator switch, e.g. "
                    "--sim-arg=--patient-file=PATIENT.toml")  # fmt: skip
    ap.add_argument("--source", help="camera tests: camera index, video file or recording")
    ap.add_argument("--test", action="append", metavar="ID",
                    help="only this test of the protocol (repeatable); a recording usually "
                    "shows one")  # fmt: skip
    ap.add_argument("--db", default=None, help="database file or postgresql:// URL")
    ap.add_argument("--headless", action="store_true", help="no window: run on its own")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    return ap


@dataclass
class _Sources:
    bridge: Any = None
    stream: Any = None
    script_dir: tempfile.TemporaryDirectory | None = None
    t0: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        for thing in (self.stream, self.bridge):
            if thing is not None:
                thing.close()
        if self.script_dir is not None:
            self.script_dir.cleanup()


def apply_action(runner: Any, action: str) -> None:
    """One button or key of the assessment screen (``feedback.assessment_view``) as the
    runner's command; Close, which ends the screen, is the caller's."""
    from feedback import assessment_view as av

    if action == av.START:
        runner.start_now()
    elif action == av.REPEAT:
        runner.repeat()
    elif action == av.SKIP:
        runner.skip("skipped by the therapist")
    elif action == av.ACKNOWLEDGE:
        runner.acknowledge()
    elif action == av.END:
        runner.stop()


class AssessmentSession:
    """The runner with its inputs: ``pump()`` once a display frame feeds it what arrived."""

    def __init__(self, runner: Any, sources: _Sources, device: str) -> None:
        self.runner = runner
        self.sources = sources
        self.device = device
        self.started_at = ""

    def clock(self) -> float:
        return time.monotonic() - self.sources.t0

    def pump(self) -> None:
        src, runner = self.sources, self.runner
        if src.bridge is not None:
            from device_bridge.samples import sample_arrays

            for ev in src.bridge.safety_events():
                runner.safety(ev.host_time_s - src.t0, f"machine {ev.kind}: {ev.value:.0f}")
            samples = src.bridge.drain()
            if samples:
                runner.feed_machine(*sample_arrays(samples, src.t0))
        if src.stream is not None:
            for r in src.stream.poll(0.0):
                t = r.captured_at - src.t0 if src.stream.live else r.media_time
                runner.feed_pose(t, r.pose)
            if src.stream.exhausted and not src.stream.live:
                runner.source_ended()
        runner.tick(self.clock() if src.stream is None or src.stream.live else runner.now)

    def serial(self) -> str:
        hello = self.sources.bridge.hello if self.sources.bridge is not None else None
        return hello.serial if hello is not None else ""


def _open_machine(protocol: Any, device: str, sim_args: Sequence[str]) -> _Sources:
    from assessment.simulated import script_for
    from device_bridge import DeviceError, SafetyLimits, open_device

    src = _Sources()
    args = list(sim_args)
    if device.startswith("sim:"):
        if device[4:] != protocol.machine:
            raise UsageError(
                f"--device {device}: the protocol {protocol.id} is for the {protocol.machine} "
                f"machine (use --device sim:{protocol.machine})"
            )
        src.script_dir = tempfile.TemporaryDirectory(prefix="spinecoach-assess-")
        script = Path(src.script_dir.name) / "script.json"
        script.write_text(json.dumps(script_for(protocol)), encoding="utf-8")
        args = [f"--assessment-script={script}", *args]
    elif sim_args:
        raise UsageError("--sim-arg needs --device sim:MODEL")
    limit = protocol.effort.force_limit_n if protocol.effort else math.inf
    try:
        bridge = open_device(device, limits=SafetyLimits(max_force_n=limit), simulator_args=args)
        bridge.start()
    except DeviceError as exc:
        src.close()
        raise UsageError(f"--device: {exc}") from None
    src.bridge = bridge
    end = time.monotonic() + HANDSHAKE_S
    while bridge.hello is None and time.monotonic() < end:
        time.sleep(0.02)
    if bridge.hello is None:
        message = bridge.status().message
        src.close()
        raise UsageError(
            f"--device {device}: no hello from a machine within {HANDSHAKE_S:g} s ({message})"
        )
    if bridge.hello.model != protocol.machine:
        model = bridge.hello.model
        src.close()
        raise UsageError(
            f"--device {device}: this is a {model} machine; the protocol {protocol.id} needs "
            f"the {protocol.machine} machine"
        )
    src.t0 = time.monotonic()
    return src


def _open_camera(source: str | None, headless: bool, view: str) -> tuple[_Sources, bool, float]:
    """The pose stream; whether it is a recording (played once, as fast as it decodes when
    headless); the image aspect."""
    from app.inputs import choose_input, open_stream, peek_replay
    from vision.errors import VisionError

    try:
        choice = choose_input(source)
        replay = peek_replay(choice, view)
        stream = open_stream(choice, lossless=True, paced=not headless, replay=replay)
    except VisionError as exc:
        raise UsageError(str(exc)) from None
    src = _Sources(stream=stream)
    src.t0 = time.monotonic()
    aspect = stream.aspect if stream is not None else math.nan
    if replay is not None and not math.isfinite(aspect):
        aspect = float(replay.header.get("aspect", 1.0))
    return src, choice.kind in ("video", "replay"), aspect if math.isfinite(aspect) else 1.0


def prepare(args: argparse.Namespace, store: Any) -> AssessmentSession:
    from assessment.errors import AssessmentError
    from assessment.protocols import get_protocol
    from assessment.run import AssessmentRunner

    try:
        protocol = get_protocol(args.protocol)
    except AssessmentError as exc:
        raise UsageError(str(exc)) from None
    if protocol.kind == "machine":
        if args.test:
            raise UsageError("--test: only camera protocols run single tests")
        if args.source:
            raise UsageError(f"--source: {protocol.id} is a machine protocol; it needs --device")
        device = args.device or f"sim:{protocol.machine}"
        sources = _open_machine(protocol, device, args.sim_arg)
        camera = None
    else:
        from assessment.camera import CameraSteps, recorded

        if args.device:
            raise UsageError(f"--device: {protocol.id} is a camera protocol; it needs --source")
        device = args.source or "camera 0"
        try:
            chosen = recorded(protocol, args.test)  # checks the --test ids
        except AssessmentError as exc:
            raise UsageError(str(exc)) from None
        sources, from_file, aspect = _open_camera(args.source, args.headless, chosen.tests[0].view)
        if from_file:
            protocol = chosen  # a recording cannot wait through instructions
        elif args.test:
            protocol = replace(protocol, tests=chosen.tests, derived=chosen.derived)
        camera = CameraSteps(aspect=aspect)
    runner = AssessmentRunner(protocol, start_t=0.0, auto_advance=True, camera_steps=camera)
    session = AssessmentSession(runner, sources, device)
    from storage.journal import now_utc

    session.started_at = now_utc()
    return session


def run_headless(session: AssessmentSession, progress: bool = True) -> None:
    last = ""
    while not session.runner.finished:
        session.pump()
        v = session.runner.view()
        line = f"{v.index + 1}/{v.count} {v.label}: {v.phase.value}"
        if progress and line != last:
            print(line, flush=True)
            last = line
        time.sleep(1.0 / DISPLAY_FPS)


def print_results(saved: Any, out: Any = sys.stdout) -> None:
    for c in saved.compared:
        r, n = c.result, c.norm
        if not r.measured:
            print(f"  {r.label}: {r.reason}", file=out)
            continue
        value = f"{r.value:.1f} {r.unit}" + (" (at least)" if r.at_least else "")
        if n.has_norm:
            pct = f"{n.percent:.0f} % of norm" if math.isfinite(n.percent) else "norm has no mean"
            z = f", z {n.z:+.1f}" if math.isfinite(n.z) else ""
            flag = f", {n.position.value} the normal band" if n.position.value != "unknown" else ""
            print(f"  {r.label}: {value}; {pct}{z}{flag}", file=out)
        else:
            flag = " FLAGGED" if n.flagged else ""
            print(f"  {r.label}: {value}; no norm: {n.no_norm}{flag}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    from assessment.errors import AssessmentError
    from clinic.assessments import save_run
    from storage import NotFound, StorageError, open_store
    from storage.base import check_patient_code

    argv = list(sys.argv[1:] if argv is None else argv)
    store = None
    session = None
    try:
        args = build_parser().parse_args(argv)
        try:
            check_patient_code(args.patient)
            store = open_store(args.db)
            patient = store.get_patient(args.patient)
        except NotFound:
            raise UsageError(
                f"--patient: no patient {args.patient}; add one with 'main.py patient add "
                f"{args.patient} --sex female|male --birth-year YYYY'"
            ) from None
        except (StorageError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if not patient.sex or patient.birth_year is None:
            print(
                f"{PROG}: warning: {args.patient} has no sex or birth year recorded: results "
                "are stored without norms ('main.py patient details' records them)",
                file=sys.stderr,
            )
        from app.gui import display_available

        if not args.headless and not display_available():
            print(f"{PROG}: no display found: running headless (pass --headless to silence this)")
            args.headless = True
        session = prepare(args, store)
        if args.headless:
            run_headless(session)
        else:
            from app.assess_window import run_window

            run_window(session, store, args.patient)
        runner = session.runner
        stopped = any("stopped for safety" in r.reason for r in runner.results)
        saved = save_run(
            store, args.patient, runner.protocol, runner.results, device=session.device,
            machine_serial=session.serial(), stopped=stopped, started_at=session.started_at,
        )  # fmt: skip
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (AssessmentError, StorageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted; nothing stored", file=sys.stderr)
        return 2
    finally:
        if session is not None:
            session.sources.close()
        if store is not None:
            store.close()
    print(f"{PROG}: {args.patient}: {session.runner.protocol.name}, run {saved.run_id} stored")
    print_results(saved)
    if args.json:

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        rows = [
            {"test": c.result.test_id, "value": num(c.result.value), "unit": c.result.unit,
             "reason": c.result.reason, "percent_of_norm": num(c.norm.percent),
             "no_norm": c.norm.no_norm}
            for c in saved.compared
        ]  # fmt: skip
        args.json.write_text(json.dumps({"run_id": saved.run_id, "results": rows}, indent=1))
    return 0
