"""Machine simulator speaking the SpineCoach protocol on a real pseudo-terminal.

    python -m device_bridge.simulator --machine lumbar_extension --pty

prints the terminal's path on its first line; open it like any serial port. Output is paced
to ``--baud`` (8N1, ten bits a byte) through a bounded transmit buffer, as a UART would: a
rate the line cannot carry loses frames, visibly, as sequence gaps. On SIGTERM or SIGINT it
writes its ground truth (``--truth``) and, with ``--frame-log``, every sample frame it made.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from dataclasses import replace

from device_bridge.faults import add_fault_arguments, faults_from_args, seconds_list
from device_bridge.machine_model import MODELS, MachineSpec, PatientModel
from device_bridge.pty_endpoint import PtyEndpoint
from device_bridge.sim_machine import SimulatedMachine
from device_bridge.sim_patient import AssessmentPatient, default_truth, load_script, load_truth


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m device_bridge.simulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--machine", required=True, choices=sorted(MODELS))
    ap.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal (default)")
    ap.add_argument("--link", help="keep a symlink at this path pointing at the current pty")
    ap.add_argument("--serial", help="serial number (default: model prefix and seed)")
    ap.add_argument("--rate", type=int, default=1000, help="samples a second (default 1000)")
    ap.add_argument("--baud", type=int, default=460800, help="paced line rate (default 460800)")
    ap.add_argument("--tx-buffer", type=int, default=4096, help="UART transmit buffer, bytes")
    ap.add_argument("--extra-channel", action="store_true", help="send a third channel (torque)")
    ap.add_argument("--drift-ppm", type=float, default=40.0, help="machine clock error")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--side", choices=("left", "right"), default="left",
                    help="rotation / lateral flexion: the side the patient works to")  # fmt: skip
    ap.add_argument("--reps", type=int, default=20, help="reps a set")
    ap.add_argument("--rest", type=float, default=30.0, help="rest between sets, s")
    ap.add_argument("--start-delay", type=float, default=1.0, help="seconds before the first rep")
    ap.add_argument("--overshoot-at", type=seconds_list, default=(), metavar="T[,T...]",
                    help="the rep in progress at these times goes past the range")  # fmt: skip
    ap.add_argument("--overshoot-deg", type=float, default=12.0)
    ap.add_argument("--overload-at", type=seconds_list, default=(), metavar="T[,T...]")
    ap.add_argument("--overload-n", type=float, default=900.0)
    ap.add_argument("--jerk-probability", type=float, default=0.1)
    ap.add_argument("--force-bias", type=float, default=8.0, help="force reading at rest, N")
    ap.add_argument("--duration", type=float, default=0.0, help="stop after S seconds; 0: run on")
    ap.add_argument("--assessment-script", metavar="JSON",
                    help="run a machine assessment (the host's steps and timing) instead of "
                    "sets of reps")  # fmt: skip
    ap.add_argument("--patient-file", metavar="TOML",
                    help="with --assessment-script: the simulated patient's range and strength "
                    "(default: a plausible patient for the machine)")  # fmt: skip
    ap.add_argument("--truth", help="write the ground truth JSON here on exit")
    ap.add_argument("--frame-log", help="write every sample frame (JSON) here on exit")
    ap.add_argument("--exit-with-parent", action="store_true", help="stop when the parent dies")
    add_fault_arguments(ap)
    return ap


def _rep_patient(spec: MachineSpec, args: argparse.Namespace) -> PatientModel:
    return PatientModel(
        spec,
        seed=args.seed,
        reps_per_set=args.reps,
        rest_s=args.rest,
        start_delay_s=args.start_delay,
        overshoot_at=args.overshoot_at,
        overshoot_deg=args.overshoot_deg,
        overload_at=args.overload_at,
        overload_n=args.overload_n,
        jerk_probability=args.jerk_probability,
        force_bias_n=args.force_bias,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parent = os.getppid()  # before the path is printed: a parent that reads it may then exit
    if args.rate <= 0 or args.baud <= 0:
        raise SystemExit(f"--rate and --baud: expected > 0, got {args.rate} and {args.baud}")
    spec = MODELS[args.machine]
    if args.side == "right":
        # The same movement to the other side: the angle runs negative (0 = neutral).
        spec = replace(spec, start_deg=-spec.start_deg, end_deg=-spec.end_deg)
    patient: PatientModel | AssessmentPatient
    if args.assessment_script:
        truth = load_truth(args.patient_file, args.seed) if args.patient_file else None
        patient = AssessmentPatient(
            truth or default_truth(args.machine, args.seed),
            load_script(args.assessment_script),
            force_bias_n=args.force_bias,
        )
    elif args.patient_file:
        raise SystemExit("--patient-file needs --assessment-script")
    else:
        patient = _rep_patient(spec, args)
    port = PtyEndpoint(args.link)
    print(port.open(), flush=True)
    machine = SimulatedMachine(
        spec,
        patient,
        port,
        serial=args.serial or f"{spec.serial_prefix}-{1000 + args.seed:04d}",
        rate_hz=args.rate,
        baud=args.baud,
        faults=faults_from_args(args),
        seed=args.seed,
        extra_channel=args.extra_channel,
        drift_ppm=args.drift_ppm,
        tx_buffer=args.tx_buffer,
        frame_log=bool(args.frame_log),
    )
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    end = machine.t0 + args.duration if args.duration > 0 else math.inf
    next_parent_check = machine.t0
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if args.exit_with_parent and now >= next_parent_check:
            next_parent_check = now + 0.5
            if os.getppid() != parent:  # the host died without closing us: do not linger
                break
        machine.step(now)
        time.sleep(0.0005)
    truth = machine.finish(time.monotonic())
    if isinstance(patient, AssessmentPatient):
        truth["assessment"] = patient.ground_truth()
    port.close()
    if args.truth:
        with open(args.truth, "w", encoding="utf-8") as fh:
            json.dump(truth, fh, indent=1)
    if args.frame_log and machine.log is not None:
        with open(args.frame_log, "w", encoding="utf-8") as fh:
            json.dump(machine.log, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
