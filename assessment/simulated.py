"""A machine assessment against the simulator's simulated patient.

``script_for(protocol)`` is what the simulated patient is told (``--assessment-script``): the
protocol's steps and timing, in the plain JSON form ``device_bridge.sim_patient`` reads.
``simulate(protocol, truth)`` runs a whole assessment in this process on a virtual clock: the
same patient the simulator's firmware samples, fed to the same ``AssessmentRunner`` the app
uses, in display-frame batches, without waiting for real time to pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assessment.protocols import Protocol, TestKind
from assessment.results import TestResult
from assessment.run import AssessmentRunner
from device_bridge.sim_patient import AssessmentPatient, AssessmentScript, PatientTruth

FRAME_S = 1.0 / 60.0  # samples reach the runner once a display frame, as in the app


def script_for(protocol: Protocol, start_delay_s: float = 4.0) -> dict[str, Any]:
    if protocol.kind != "machine":
        raise ValueError(f"{protocol.id} is a camera protocol: no machine to simulate")
    timing = protocol.timing
    steps = []
    for test in protocol.tests:
        if test.kind is TestKind.MACHINE_RANGE:
            sign = test.toward.sign if test.toward else 1.0
            steps.append(
                {"kind": "range", "direction": test.direction, "sign": sign, "count": test.repeats}
            )
        elif test.kind is TestKind.MACHINE_STRENGTH:
            steps.append(
                {
                    "kind": "strength",
                    "direction": test.direction,
                    "angle_deg": test.angle_deg,
                    "count": test.repeats,
                }
            )
    return {
        "rest_deg": protocol.rest_deg,
        "limits": list(protocol.strength_limits),
        "timing": {
            "start_delay_s": start_delay_s,
            "instruction_s": timing.instruction_s,
            "countdown_s": timing.countdown_s,
            "rest_s": timing.rest_s,
            "result_s": timing.result_s,
        },
        "steps": steps,
    }


@dataclass(frozen=True, slots=True)
class SimulatedRun:
    results: list[TestResult]
    truth: dict[str, Any]  # the simulated patient's ground truth
    duration_s: float


def truth_value(truth: PatientTruth, protocol: Protocol, result: TestResult) -> float:
    """What the simulated patient really can do in ``result``'s test, in the test's unit."""
    test = protocol.test(result.test_id)
    if test.kind is TestKind.MACHINE_RANGE:
        sign = test.toward.sign if test.toward else 1.0
        return truth.range_limits[test.direction] * sign
    if test.kind is TestKind.MACHINE_STRENGTH:
        return truth.strength[test.direction].at(test.angle_deg)
    return math.nan


def simulate(
    protocol: Protocol,
    truth: PatientTruth,
    *,
    rate_hz: float = 200.0,
    start_delay_s: float = 4.0,
    max_s: float = 3600.0,
) -> SimulatedRun:
    """The whole assessment on a virtual clock; the runner starts when the host would (at 0)."""
    script = AssessmentScript.from_json(script_for(protocol, start_delay_s))
    patient = AssessmentPatient(truth, script)
    runner = AssessmentRunner(protocol, start_t=0.0)
    dt = 1.0 / rate_hz
    t = 0.0
    while not runner.finished and t < max_s:
        n = max(1, round(FRAME_S / dt))
        ts = t + dt * np.arange(1, n + 1)
        samples = np.array([patient.measure(float(x)) for x in ts])
        runner.feed_machine(ts, samples[:, 0], samples[:, 1])
        t = float(ts[-1])
    if not runner.finished:
        runner.stop()
    return SimulatedRun(runner.results, patient.ground_truth(), t)
