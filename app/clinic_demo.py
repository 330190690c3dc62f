"""The clinic's method end to end, scripted and headless:

    python -m app.clinic_demo --db clinic.sqlite [--patient 4711]

assessment on the lumbar extension machine (the simulator's patient, on a virtual clock) ->
the suggested programme (automatic progression on) -> three kiosk visits through the visit
state machine the kiosk uses, each with pain before and after and the machine item done by the
simulated patient: two good visits (the dose rises), then one where pain rises by 3 points (the
visit is flagged; the rules propose to hold and the proposal waits for the therapist). Prints
what happened; everything is stored in ``--db``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from app.visit_items import simulate_machine_item
from assessment.protocols import get_protocol
from assessment.simulated import simulate
from clinic.assessments import save_run
from clinic.programme import save_suggestion, suggest
from clinic.visit import VisitFlow, VisitStage
from device_bridge.sim_patient import default_truth
from storage import Store, open_store

# (pain before, pain after) of each visit
VISIT_PAIN = ((3.0, 3.0), (3.0, 2.0), (2.0, 5.0))
THERAPIST = "therapist (scripted run)"


@dataclass(frozen=True, slots=True)
class DemoResult:
    run_id: int
    visits: tuple[int, ...]


def run_visit(store: Store, code: str, before: float, after: float, seed: int) -> VisitFlow:
    flow = VisitFlow(store, code, station_machine="lumbar_extension", camera=False)
    flow.pain(before)
    while flow.stage in (VisitStage.ITEM_READY, VisitStage.BETWEEN):
        if flow.stage == VisitStage.BETWEEN:
            flow.next_now()
            continue
        planned = flow.start_item()
        flow.item_done(simulate_machine_item(store, code, planned, seed=seed))
    flow.pain(after)
    return flow


def run(
    store: Store,
    code: str = "4711",
    *,
    visit_pain: Sequence[tuple[float, float]] = VISIT_PAIN,
    out=sys.stdout,
) -> DemoResult:
    store.ensure_patient(code)
    store.set_patient_details(code, sex="female", birth_year=1966)
    protocol = get_protocol("machine_lumbar_extension")
    sim = simulate(protocol, default_truth("lumbar_extension"))
    saved = save_run(store, code, protocol, sim.results, device="sim:lumbar_extension")
    print(f"assessment run {saved.run_id}: {protocol.name}", file=out)
    for c in saved.compared:
        r = c.result
        shown = f"{r.value:.1f} {r.unit}" if r.measured else r.reason
        print(f"  {r.label}: {shown}", file=out)
    suggestion = suggest(store, code)
    save_suggestion(store, code, suggestion, by=THERAPIST, auto_progress=True)
    print("suggested programme (automatic progression on):", file=out)
    for note in suggestion.notes:
        print(f"  {note}", file=out)
    visits = []
    for k, (before, after) in enumerate(visit_pain, 1):
        flow = run_visit(store, code, before, after, seed=k)
        visits.append(flow.visit_id)
        a = flow.after
        assert a is not None
        state = "applied" if a.applied else f"waiting: {a.why_waiting}"
        print(f"visit {k}: pain {before:g} -> {after:g}; dose changes {state}", file=out)
        for ch in a.proposals:
            b, n = ch.before, ch.after
            print(
                f"  {ch.exercise_id}: {ch.action}: load {b.load_low_n:.0f}-{b.load_high_n:.0f} N"
                f" -> {n.load_low_n:.0f}-{n.load_high_n:.0f} N, range "
                f"{b.range_target_deg:.1f} -> {n.range_target_deg:.1f} deg; {ch.reason}",
                file=out,
            )
    return DemoResult(saved.run_id, tuple(v for v in visits if v is not None))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.clinic_demo", description=__doc__)
    ap.add_argument("--db", required=True, help="database file or postgresql:// URL")
    ap.add_argument("--patient", default="4711")
    args = ap.parse_args(argv)
    with open_store(args.db) as store:
        run(store, args.patient)
        programme = store.active_programme(args.patient)
    if programme is not None:
        for it in programme.items:
            band = it.load_band_n
            load = f"{band[0]:.0f}-{band[1]:.0f} N" if math.isfinite(band[0]) else "no load band"
            print(f"programme now: {it.exercise_id}: {it.sets} x {it.reps}, {load}, "
                  f"range target {it.range_target_deg:.1f} deg")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
