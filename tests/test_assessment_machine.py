"""Machine assessments against the simulator's simulated patient: the whole protocol recovers
the patient's pain-free range and strength curve within 5 %, faulty efforts are refused, a
sample over the limit or not a number stops the test, strength is never tested outside the
range just measured; stored on both backends; run end to end over a real pty by main.py."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assessment.norms import load_norms
from assessment.protocols import TestKind, get_protocol
from assessment.run import AssessmentRunner, RunPhase
from assessment.simulated import simulate, truth_value
from clinic.assessments import save_run
from device_bridge.sim_patient import PatientTruth, StrengthCurve, default_truth
from tests.helpers import ROOT, run_main

QUICK = ROOT / "tests" / "data" / "protocol_le_quick.toml"
TOLERANCE = 0.05


def _errors(protocol, truth, results) -> dict[str, float]:
    out = {}
    for r in results:
        if r.measured and protocol.test(r.test_id).kind.machine:
            tv = truth_value(truth, protocol, r)
            out[r.test_id] = abs(r.value - tv) / abs(tv)
    return out


@pytest.mark.parametrize(
    ("protocol_id", "model"),
    [
        ("machine_lumbar_extension", "lumbar_extension"),
        ("machine_rotation", "rotation"),
        ("machine_lateral_flexion", "lateral_flexion"),
        ("machine_lumbar_flexion", "lumbar_flexion"),
    ],
)
def test_whole_machine_assessment_recovers_the_simulated_patient(protocol_id, model) -> None:
    protocol = get_protocol(protocol_id)
    truth = default_truth(model, seed=3)
    run = simulate(protocol, truth)
    errors = _errors(protocol, truth, run.results)
    lo, hi = sorted(truth.range_limits[d] for d in protocol.strength_limits)
    for test in protocol.tests:
        r = next(x for x in run.results if x.test_id == test.id)
        if test.kind is TestKind.MACHINE_STRENGTH and not lo + 3 <= test.angle_deg <= hi - 3:
            # Outside the patient's pain-free range: never tested.
            assert not r.measured and "outside the pain-free range measured" in r.reason
            continue
        assert r.measured, (test.id, r.reason)
        assert errors[test.id] <= TOLERANCE, (test.id, r.value, truth_value(truth, protocol, r))
        assert len(r.trials) == test.repeats
    assert max(errors.values()) < TOLERANCE


def test_faulty_efforts_are_refused_and_the_best_good_one_kept() -> None:
    protocol = get_protocol("machine_lumbar_extension")
    truth = replace(default_truth("lumbar_extension", seed=5), bad_effort_every=3)
    run = simulate(protocol, truth)
    jerks = [e for e in run.truth["efforts"] if e["kind"] == "jerk"]
    shorts = [e for e in run.truth["efforts"] if e["kind"] == "short_hold"]
    assert jerks and shorts
    rejected = [reason for r in run.results for reason in r.rejected]
    assert sum("too fast" in x for x in rejected) == len(jerks)
    assert sum("held" in x for x in rejected) == len(shorts)
    # A jerk peaks 12 % over the true maximum: had it counted, the error would show.
    assert max(_errors(protocol, truth, run.results).values()) < TOLERANCE


def test_stored_results_are_within_5_percent_and_say_why_there_is_no_norm(backend) -> None:
    protocol = get_protocol("machine_lumbar_extension")
    truth = default_truth("lumbar_extension", seed=7)
    run = simulate(protocol, truth)
    norms = load_norms()
    with backend.open() as store:
        store.ensure_patient("4711")
        store.set_patient_details("4711", sex="female", birth_year=1970)
        saved = save_run(store, "4711", protocol, run.results, device="sim:lumbar_extension")
        (stored,) = store.assessment_runs("4711")
    assert stored.id == saved.run_id and stored.norm_version == norms.version
    assert stored.sex == "female" and stored.age_years is not None
    measured = [r for r in stored.results if r.measured]
    assert len(measured) >= 6
    for r in measured:
        if r.kind in (TestKind.MACHINE_RANGE.value, TestKind.MACHINE_STRENGTH.value):
            tv = truth_value(
                truth, protocol, next(x for x in run.results if x.test_id == r.test_id)
            )
            assert abs(r.value - tv) / abs(tv) <= TOLERANCE
    for r in stored.results:
        # Strength at an angle: the norm file's documented gap (Graves 1990) is the reason.
        if r.kind == TestKind.MACHINE_STRENGTH.value and r.measured:
            assert r.norm_test.startswith("isometric_lumbar_extension_torque_")
            gap = norms.gaps(r.norm_test)[0].reason
            assert gap in r.no_norm and math.isnan(r.percent_of_norm)
    span = stored.result("range_total")
    assert span is not None and span.measured
    assert span.value == pytest.approx(
        stored.result("range_flexion").angle_deg - stored.result("range_extension").angle_deg
    )
    # The baseline desk sessions read: the tested maximum and the pain-free range.
    with backend.open() as store:
        (baseline,) = store.assessments("4711")
    best = max(r.value for r in measured if r.kind == TestKind.MACHINE_STRENGTH.value)
    assert baseline.exercise_id == "lumbar_extension" and baseline.max_force_n == best


def _feed(runner: AssessmentRunner, t0: float, n: int, angle: float, force: float) -> float:
    ts = t0 + np.arange(1, n + 1) / 100.0
    runner.feed_machine(ts, np.full(n, angle), np.full(n, force))
    return float(ts[-1])


def test_a_sample_over_the_limit_or_not_a_number_stops_the_test() -> None:
    protocol = get_protocol("machine_lumbar_extension")
    for bad_force in (protocol.effort.force_limit_n + 1.0, math.nan, math.inf):
        runner = AssessmentRunner(protocol)
        t = _feed(runner, 0.0, 200, 30.0, 8.0)
        angles = np.full(3, 30.0)
        forces = np.array([8.0, bad_force, 8.0])
        runner.feed_machine(t + np.array([0.01, 0.02, 0.03]), angles, forces)
        v = runner.view()
        assert v.phase is RunPhase.STOPPED, bad_force
        assert "stopped for safety" in v.result.reason
        # Nothing more is measured until the therapist acknowledges; then the next test.
        _feed(runner, t + 0.03, 100, 30.0, 8.0)
        assert runner.view().phase is RunPhase.STOPPED
        runner.acknowledge()
        assert runner.view().test_id == "range_extension"


def test_strength_is_not_tested_when_the_range_is_unknown() -> None:
    """A patient who does not move in the range tests: no angle is known to be safe."""
    protocol = get_protocol("machine_lumbar_extension")
    runner = AssessmentRunner(protocol)
    t = 0.0
    while not runner.finished and t < 600:
        t = _feed(runner, t, 100, 30.0, 8.0)
    assert runner.finished
    by_id = {r.test_id: r for r in runner.results}
    assert "no movement seen within 30 s" in by_id["range_flexion"].reason
    for test in protocol.tests:
        if test.kind is TestKind.MACHINE_STRENGTH:
            assert "pain-free range was not measured" in by_id[test.id].reason


def test_strength_curve_and_truth_validation() -> None:
    curve = StrengthCurve(((0.0, 400.0), (36.0, 610.0), (72.0, 780.0)))
    assert curve.at(-10) == 400.0 and curve.at(100) == 780.0
    assert curve.at(18) == pytest.approx(505.0)
    with pytest.raises(ValueError, match="rise strictly"):
        StrengthCurve(((10.0, 1.0), (0.0, 2.0)))
    with pytest.raises(ValueError, match="effort_variability"):
        PatientTruth({"flexion": 60.0}, {"extension": curve}, effort_variability=0.7)


def test_check_assessments_validates_every_protocol_and_refuses_a_bad_one(tmp_path: Path) -> None:
    proc = run_main("--check-assessments")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 valid, 0 invalid" in proc.stdout or " valid, 0 invalid" in proc.stdout
    bad = tmp_path / "protocol_le_quick.toml"
    bad.write_text(QUICK.read_text().replace('norm_test = "isometric_lumbar_extension_torque_36"',
                                             'norm_test = "made_up_norm"'))  # fmt: skip
    proc = run_main("--check-assessments", str(bad))
    assert proc.returncode == 1
    assert "norm_test: expected a test id of the norm file" in proc.stdout
    assert "made_up_norm" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_main_assess_runs_the_protocol_on_the_simulator_over_a_pty(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    pin = tmp_path / "pin"
    pin.write_text("135790\n")
    assert run_main("patient", "add", "4711", "--db", str(db), "--pin-file", str(pin),
                    "--sex", "male", "--birth-year", "1961").returncode == 0  # fmt: skip
    proc = run_main(
        "assess", "--patient", "4711", "--protocol", str(QUICK), "--device",
        "sim:lumbar_extension", "--db", str(db), "--headless",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "run 1 stored" in proc.stdout
    from storage import open_store

    protocol = get_protocol(str(QUICK))
    truth = default_truth("lumbar_extension", seed=1)  # the simulator's default patient
    with open_store(db) as store:
        (run,) = store.assessment_runs("4711")
    assert run.device == "sim:lumbar_extension" and run.machine_serial.startswith("LE-")
    for r in run.results:
        test = protocol.test(r.test_id) if r.test_id != "range_total" else None
        if test is None:
            continue
        if test.id == "strength_72":
            assert "outside the pain-free range" in r.reason
            continue
        assert r.measured, r.reason
        sign = test.toward.sign if test.toward else 1.0
        tv = (
            truth.range_limits[test.direction] * sign
            if test.kind is TestKind.MACHINE_RANGE
            else truth.strength[test.direction].at(test.angle_deg)
        )
        assert abs(r.value - tv) / abs(tv) <= TOLERANCE, (r.test_id, r.value, tv)


def test_assess_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    cases = [
        (("--patient", "nobody", "--protocol", "machine_rotation", "--db", str(db)), "no patient"),
        (("--patient", "4711"), "--protocol"),
    ]
    for args, expected in cases:
        proc = run_main("assess", *args, "--headless")
        assert proc.returncode == 2
        assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr
