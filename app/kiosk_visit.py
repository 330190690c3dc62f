"""The kiosk visit wired to the live loop: after sign-in the patient's programme runs item by
item (``clinic.visit.VisitFlow``), each item as one stored session of the runner's engine with
the item's dose and targets; between items nothing is analysed or stored.

The therapist's programme view (behind the PIN) reads and changes the same programme through
``clinic.programme`` and ``clinic.progression``; its changes are stored as the kiosk
therapist's, with the reason "edited at the kiosk".

The station's live status carries the visit: its patient between the items, and the pain flag
from the scores given so far (``VisitFlow.pain_flag``), which the dashboard alerts on.
"""

from __future__ import annotations

import logging
import socket
import threading

from app.loop import Runner
from app.visit_items import item_result
from assessment.errors import AssessmentError
from clinic.dose import session_plan
from clinic.errors import ClinicError
from clinic.programme import set_dose
from clinic.progression import confirm, decline, pending
from clinic.visit import VisitFlow, VisitStage
from feedback.intents import (
    AskSkip,
    AssessmentAction,
    CancelSkip,
    ConfirmProposals,
    DeclineProposals,
    GivePain,
    NextStep,
    SaveDose,
    SkipItem,
    StartAssessment,
    StartItem,
)
from session.events import Command
from session.phases import Phase
from storage import StorageError

log = logging.getLogger(__name__)
KIOSK_THERAPIST = f"therapist at {socket.gethostname()} (kiosk PIN)"
_VISIT = (GivePain, StartItem, AskSkip, SkipItem, CancelSkip, NextStep)
_PROGRAMME = (SaveDose, ConfirmProposals, DeclineProposals, StartAssessment, AssessmentAction)


def begin(runner: Runner, code: str) -> VisitFlow | None:
    """The signed-in patient's visit; no session runs until an item starts. None when the
    patient has no programme and the kiosk was started with an exercise of its own
    (``--exercise``): that exercise runs as a session, as without a programme store."""
    store = runner.opts.store
    if runner.opts.station_exercise and store.active_programme(code) is None:
        return None
    runner.new_session("")  # nothing analysed or stored while the visit's own screens show
    visit = VisitFlow(
        runner.opts.store,
        code,
        station_machine=runner.machine_model(),
        camera=runner.stream is not None,
        station=socket.gethostname(),
    )
    _show_visit(runner, visit)
    return visit


def _show_visit(runner: Runner, visit: VisitFlow | None) -> None:
    """What the station's status says of the visit (nothing once it is over)."""
    runner.visit_patient = visit.patient if visit is not None else ""
    runner.pain_flag = visit.pain_flag if visit is not None else None


def handles(intent: object) -> bool:
    return isinstance(intent, _VISIT + _PROGRAMME)


def apply(runner: Runner, visit: VisitFlow, screen: object, intent: object) -> None:
    try:
        _apply(runner, visit, screen, intent)
    except (ClinicError, AssessmentError, StorageError, ValueError) as exc:
        # A refused edit or a database that cannot take it: said on screen, the kiosk goes on.
        log.warning("visit: %s", exc)
        screen.programme.data = _data(runner, visit, f"Not changed: {exc}")


def _apply(runner: Runner, visit: VisitFlow, screen: object, intent: object) -> None:
    code = visit.patient
    match intent:
        case GivePain(score=score):
            visit.pain(score)
            _show_visit(runner, visit)
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
            set_dose(
                runner.opts.store,
                code,
                ex,
                side,
                dict(changes),
                by=KIOSK_THERAPIST,
                reason="edited at the kiosk",
            )
            screen.programme.show(_data(runner, visit, f"{ex}: new dose saved"))
        case ConfirmProposals():
            confirm(runner.opts.store, code, None, KIOSK_THERAPIST)
            screen.programme.show(_data(runner, visit, "Proposals applied"))
        case DeclineProposals():
            n = decline(runner.opts.store, code, None, KIOSK_THERAPIST)
            screen.programme.show(_data(runner, visit, f"{n} proposal(s) declined"))
        case StartAssessment(protocol_id=pid):
            start_assessment(runner, visit, screen, pid)
        case AssessmentAction(action=action):
            assessment_action(runner, visit, screen, action)


def station_protocols(runner: Runner) -> tuple[tuple[str, str], ...]:
    """The protocols this station can run: its machine's, and the camera's when it has one."""
    from assessment.protocols import load_protocols

    model = runner.machine_model()
    out = []
    for p in load_protocols().values():
        if (p.kind == "machine" and p.machine == model) or (
            p.kind == "camera" and runner.stream is not None
        ):
            out.append((p.id, p.name))
    return tuple(out)


def start_assessment(runner: Runner, visit: VisitFlow, screen: object, protocol_id: str) -> None:
    """The therapist runs an assessment for the signed-in patient at this station: the
    runner's poses and machine samples go to it; the machine's load limit is the protocol's
    (a maximal effort is not a training rep) until it ends."""
    from assessment.camera import CameraSteps
    from assessment.norms import load_norms
    from assessment.protocols import get_protocol
    from assessment.results import norm_note
    from assessment.run import AssessmentRunner
    from clinic.assessments import facts
    from feedback.assessment_view import AssessmentScreen

    if visit.stage == VisitStage.ITEM_RUNNING:
        raise ClinicError("an exercise is running: end it before an assessment")
    protocol = get_protocol(protocol_id)
    here = (
        protocol.machine == runner.machine_model()
        if protocol.kind == "machine"
        else runner.stream is not None
    )
    if not here:
        raise ClinicError(f"{protocol.name} needs equipment this station does not have")
    aspect = runner.stream.aspect if runner.stream is not None else 1.0
    camera = CameraSteps(aspect) if protocol.kind == "camera" else None
    assessment = AssessmentRunner(protocol, start_t=runner.clock(), camera_steps=camera)
    if runner.bridge is not None and protocol.effort is not None:
        from device_bridge import SafetyLimits

        limit = SafetyLimits(max_force_n=protocol.effort.force_limit_n)
        threading.Thread(target=_set_limits, args=(runner, limit), daemon=True).start()
    norms = load_norms()
    who = facts(runner.opts.store.get_patient(visit.patient))

    def note(result):
        test = protocol.test(result.test_id)
        return norm_note(test.norm_test, test.no_norm, result.value, norms, who)

    runner.tap = assessment
    screen.programme.assessment = AssessmentScreen(visit.patient, note)
    screen.programme.assessment.update(assessment.view())


def _set_limits(runner: Runner, limits: object) -> None:
    from device_bridge import DeviceError

    try:
        runner.bridge.set_limits(limits)
    except DeviceError as exc:  # the assessment's own check of every sample still applies
        log.warning("machine did not take the assessment's limit: %s", exc)


def assessment_action(runner: Runner, visit: VisitFlow, screen: object, action: str) -> None:
    from app.assess import apply_action
    from feedback import assessment_view as av

    a = runner.tap
    if a is None:
        return
    apply_action(a, action)
    if action == av.CLOSE and a.finished:
        finish_assessment(runner, visit, screen)


def finish_assessment(runner: Runner, visit: VisitFlow, screen: object) -> int:
    """Store the assessment and give the inputs back; returns the run's id."""
    from clinic.assessments import save_run

    a = runner.tap
    runner.tap = None
    runner._send_limits()  # the exercise's own load limit again
    stopped = any("stopped for safety" in r.reason for r in a.results)
    device = runner.opts.device or f"camera ({runner.opts.choice.spec})"
    serial = runner.bridge.hello.serial if runner.bridge and runner.bridge.hello else ""
    saved = save_run(
        runner.opts.store,
        visit.patient,
        a.protocol,
        a.results,
        device=device,
        machine_serial=serial,
        stopped=stopped,
    )
    if screen is not None:
        screen.programme.assessment = None
        screen.programme.show(_data(runner, visit, f"Assessment stored (run {saved.run_id})"))
    return saved.run_id


def _data(runner: Runner, visit: VisitFlow, message: str = ""):
    from feedback.programme_view import ProgrammeData

    store, code = runner.opts.store, visit.patient
    return ProgrammeData(
        patient=code,
        programme=store.active_programme(code),
        waiting=tuple(pending(store, code)),
        visits=store.visits(code)[-3:],
        message=message,
        protocols=station_protocols(runner),
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
    if runner.tap is not None and screen.programme.assessment is not None:
        from assessment.results import compare_results

        if screen.kiosk is not None:
            screen.kiosk.touch()  # the therapist runs it: not an idle kiosk
        a = runner.tap
        a.tick(runner.clock())
        screen.programme.assessment.update(a.view())
        if a.finished and screen.programme.assessment.compared is None:
            from assessment.norms import load_norms
            from clinic.assessments import facts

            who = facts(runner.opts.store.get_patient(visit.patient))
            screen.programme.assessment.compared = compare_results(
                a.protocol, a.results, load_norms(), who
            )
    if screen.view == "therapist" and screen.showing_visit and screen.programme.data is None:
        screen.programme.show(_data(runner, visit))
    if visit.stage == VisitStage.ENDED:
        runner.new_session("")
        _show_visit(runner, None)
        screen.end_session()  # the kiosk back at welcome, nothing of the visit kept on screen
        return False
    return True


def abandon(runner: Runner, visit: VisitFlow, why: str, screen: object = None) -> None:
    """The kiosk ended the visit (idle, the therapist): an item in progress is stored as it
    stands, the rest as not reached."""
    if visit.stage == VisitStage.ITEM_RUNNING:
        sink = runner.sink
        session_id = sink.writer.session_id if sink is not None else None
        runner.command(Command.FINISH)
        reason = runner.end_reason("idle" if why == "idle" else "therapist")
        runner.finish_storage(reason)
        visit.item_done(item_result(runner.engine, session_id, reason))
    if runner.tap is not None:  # an assessment ended with the visit keeps what it measured
        runner.tap.stop()
        finish_assessment(runner, visit, screen)
    visit.abandon("the patient left" if why == "idle" else f"ended ({why})")
    runner.new_session("")
    _show_visit(runner, None)
