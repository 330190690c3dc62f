"""Programme items run by the session engine: what an ended session means for the visit
(``item_result``), and a machine item done by the simulator's patient on a virtual clock
(``simulate_machine_item``), the way the scripted clinic run and its test do visits without
waiting for real time.

The simulated item is the real path apart from the clock: the item's dose and targets go to a
fresh ``SessionEngine`` (``clinic.dose.session_plan``), the simulated machine patient's samples
are fed in display-frame batches, and the engine's events are stored by the same
``StorageSink`` the live loop uses.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from app.storage_sink import StorageSink
from clinic.dose import session_plan
from clinic.visit import ItemResult, PlannedItem
from device_bridge.machine_model import MODELS, PatientModel
from session.engine import SessionConfig, SessionEngine
from session.events import EndInput, MachineBatch
from session.phases import Phase, Trigger
from storage import EndReason, Store
from storage.clinic_records import VisitOutcome

FRAME_S = 1.0 / 60.0


def item_result(engine: SessionEngine, session_id: int | None, reason: EndReason) -> ItemResult:
    ex = engine.exercise
    sets, reps = ex.dose.sets, ex.dose.reps
    if ex.mode == "hold":
        held = [h for h in engine.holds if h.completed]
        done = len(held)
        hold_s = float(np.mean([h.hold_s for h in held])) if held else math.nan
        faults = 0
    else:
        done = sum(1 for r in engine.reps if r.counted)
        hold_s = math.nan
        faults = sum(1 for r in engine.reps if r.counted and r.faults)
    stopped = engine.safety_events
    complete = any(tr.trigger == Trigger.LAST_SET_COMPLETE for tr in engine.phases.log)
    if stopped:
        outcome, why = VisitOutcome.STOPPED, str(stopped[0].kind)
    elif complete:
        outcome, why = VisitOutcome.DONE, ""
    else:
        outcome, why = VisitOutcome.UNFINISHED, str(reason)
    return ItemResult(
        outcome=outcome,
        reason=why,
        session_id=session_id,
        sets_done=min(sets, done // max(reps, 1)),
        sets_target=sets,
        reps_done=done,
        reps_target=sets * reps,
        fault_reps=faults,
        hold_s=hold_s,
    )


def simulate_machine_item(
    store: Store,
    patient_code: str,
    planned: PlannedItem,
    *,
    seed: int = 1,
    rate_hz: float = 200.0,
    reach: float = 1.05,
    max_s: float = 1800.0,
) -> ItemResult:
    """The simulated patient does the item's dose on the item's machine: out toward the range
    target (``reach`` of it), pushing in the middle of the load band."""
    exercise, profile = session_plan(planned.item, patient_code)
    if exercise.signal.source != "machine":
        raise ValueError(f"{exercise.id} is not a machine exercise")
    engine = SessionEngine(exercise, profile, SessionConfig())
    tg = engine.targets
    lo, hi = tg.load_band_n
    base = MODELS[exercise.machine]
    spec = replace(
        base,
        start_deg=tg.start,
        end_deg=tg.start + reach * (tg.target - tg.start),
        load_n=(lo + hi) / 2 if math.isfinite(lo) and math.isfinite(hi) else base.load_n,
    )
    patient = PatientModel(
        spec,
        seed=seed,
        reps_per_set=exercise.dose.reps,
        rest_s=exercise.dose.rest_s,
        start_delay_s=6.0,  # set-up and countdown first
        jerk_probability=0.0,
    )
    sink = StorageSink.begin(
        store, patient_code, engine, f"simulated {exercise.machine} (virtual time)",
        programme_item_id=planned.item.id, machine_serial=f"{base.serial_prefix}-SIM",
    )  # fmt: skip
    dt = 1.0 / rate_hz
    n = max(1, round(FRAME_S / dt))
    t = 0.0
    while engine.phases.phase not in (Phase.DONE, Phase.STOPPED) and t < max_s:
        ts = t + dt * np.arange(1, n + 1)
        samples = np.array([patient.measure(float(x)) for x in ts])
        engine.feed(MachineBatch(ts, samples[:, 0], samples[:, 1]))
        for ev in engine.take_events():
            sink.on_event(ev)
        sink.keep_traces()
        t = float(ts[-1])
    if engine.phases.phase != Phase.DONE:
        engine.feed(EndInput(t))
        for ev in engine.take_events():
            sink.on_event(ev)
    reason = EndReason.COMPLETED if engine.phases.phase == Phase.DONE else EndReason.TIME_LIMIT
    if engine.safety_events:
        reason = EndReason.SAFETY_STOP
    session_id = sink.writer.session_id
    sink.finish(reason)
    return item_result(engine, session_id, reason)
