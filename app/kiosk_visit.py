"""The kiosk visit wired to the live loop: after sign-in the patient's programme runs item by
item (``clinic.visit.VisitFlow``), each item as one stored session of the runner's engine with
the item's dose and targets; between items nothing is analysed or stored.

The therapist's programme view (behind the PIN) reads and changes the same programme through
``clinic.programme`` and ``clinic.progression``; its changes are stored as the kiosk
therapist's, with the reason "edited at the kiosk".
"""

from __future__ import annotations

import logging
import socket

from app.loop import Runner
from app.visit_items import item_result
from clinic.dose import session_plan
from clinic.errors import ClinicError
from clinic.programme import set_dose
from clinic.progression import confirm, decline, pending
from clinic.visit import VisitFlow, VisitStage
from feedback.intents import (
    AskSkip,
    CancelSkip,
    ConfirmProposals,
    DeclineProposals,
    GivePain,
    NextStep,
    SaveDose,
    SkipItem,
    StartItem,
)
from session.events import Command
from session.phases import Phase
from storage import StorageError

log = logging.getLogger(__name__)
KIOSK_THERAPIST = f"therapist at {socket.gethostname()} (kiosk PIN)"
_VISIT = (GivePain, StartItem, AskSkip, SkipItem, CancelSkip, NextStep)
_PROGRAMME = (SaveDose, ConfirmProposals, DeclineProposals)


def begin(runner: Runner, code: str) -> VisitFlow | None:
    """The signed-in patient's visit; no session runs until an item starts. None when the
    patient has no programme and the kiosk was started with an exercise of its own
    (``--exercise``): that exercise runs as a session, as without a programme store."""
    store = runner.opts.store
    if runner.opts.station_exercise and store.active_programme(code) is None:
        return None
    runner.new_session("")  # nothing analysed or stored while the visit's own screens show
    return VisitFlow(
        runner.opts.store,
        code,
        station_machine=runner.machine_model(),
        camera=runner.stream is not None,
        station=socket.gethostname(),
    )


def handles(intent: object) -> bool:
    return isinstance(intent, _VISIT + _PROGRAMME)


def apply(runner: Runner, visit: VisitFlow, screen: object, intent: object) -> None:
    try:
        _apply(runner, visit, screen, intent)
    except (ClinicError, StorageError, ValueError) as exc:
        # A refused edit or a database that cannot take it: said on screen, the kiosk goes on.
        log.warning("visit: %s", exc)
        screen.programme.data = _data(runner, visit, f"Not changed: {exc}")


def _apply(runner: Runner, visit: VisitFlow, screen: object, intent: object) -> None:
    code = visit.patient
    match intent:
        case GivePain(score=score):
            visit.pain(score)
        case StartItem():
            planned = visit.start_item()
            exercise, profile = session_plan(planned.item, code)
            runner.new_session(
                code, exercise=exercise, profile=profile, programme_item_id=planned.item.id
            )
        case AskSkip():
            visit.ask_skip()
        case SkipItem(reason=reason):
            visit.skip(reason)
        case CancelSkip():
            visit.cancel_skip()
        case NextStep():
            visit.next_now()
        case SaveDose(exercise_id=ex, side=side, changes=changes):
            set_dose(runner.opts.store, code, ex, side, dict(changes), by=KIOSK_THERAPIST,
                     reason="edited at the kiosk")  # fmt: skip
            screen.programme.show(_data(runner, visit, f"{ex}: new dose saved"))
        case ConfirmProposals():
            confirm(runner.opts.store, code, None, KIOSK_THERAPIST)
            screen.programme.show(_data(runner, visit, "Proposals applied"))
        case DeclineProposals():
            n = decline(runner.opts.store, code, None, KIOSK_THERAPIST)
            screen.programme.show(_data(runner, visit, f"{n} proposal(s) declined"))


def _data(runner: Runner, visit: VisitFlow, message: str = ""):
    from feedback.programme_view import ProgrammeData

    store, code = runner.opts.store, visit.patient
    return ProgrammeData(
        patient=code,
        programme=store.active_programme(code),
        waiting=tuple(pending(store, code)),
        visits=store.visits(code)[-3:],
        message=message,
    )


def after_frame(runner: Runner, visit: VisitFlow, screen: object) -> bool:
    """An item's session that ended hands its result to the visit; an ended visit sends the
    kiosk back to welcome. Returns False once the visit is over."""
    if visit.stage == VisitStage.ITEM_RUNNING:
        eng = runner.engine
        if runner.finished and eng.phases.phase != Phase.DONE:
            runner.command(Command.FINISH)  # the source ended under the item: it ends too
        if eng.phases.phase == Phase.DONE:
            sink = runner.sink
            session_id = sink.writer.session_id if sink is not None else None
            reason = runner.end_reason()
            runner.finish_storage(reason)
            visit.item_done(item_result(eng, session_id, reason))
            runner.new_session("")
    if screen.view == "therapist" and screen.showing_visit and screen.programme.data is None:
        screen.programme.show(_data(runner, visit))
    if visit.stage == VisitStage.ENDED:
        runner.new_session("")
        screen.end_session()  # the kiosk back at welcome, nothing of the visit kept on screen
        return False
    return True


def abandon(runner: Runner, visit: VisitFlow, why: str) -> None:
    """The kiosk ended the visit (idle, the therapist): an item in progress is stored as it
    stands, the rest as not reached."""
    if visit.stage == VisitStage.ITEM_RUNNING:
        sink = runner.sink
        session_id = sink.writer.session_id if sink is not None else None
        runner.command(Command.FINISH)
        reason = runner.end_reason("idle" if why == "idle" else "therapist")
        runner.finish_storage(reason)
        visit.item_done(item_result(runner.engine, session_id, reason))
    visit.abandon("the patient left" if why == "idle" else f"ended ({why})")
    runner.new_session("")
