"""Session events as ``.screc`` event records, and back.

A recording keeps the session's inputs (poses and machine samples as records of their own; a
``machine_frame`` marker closes each batch of samples the display frame delivered; safety
reports, commands, target changes and the end as event records) and, for a reader's benefit,
its outputs (phase changes and reps). Only inputs are fed back on replay: the outputs follow.
"""

from __future__ import annotations

from enum import StrEnum

from session.events import (
    Command,
    CommandInput,
    EndInput,
    PhaseChanged,
    RepDone,
    SafetyKind,
    SafetyReport,
    SessionEvent,
    SessionInput,
    TargetChange,
    TargetKey,
)
from vision.errors import RecordingError


class RecordType(StrEnum):
    """The ``type`` of an event record."""

    MACHINE_FRAME = "machine_frame"  # input: the last ``n`` device records form one batch
    SAFETY = "safety"  # input
    COMMAND = "command"  # input
    ADJUST = "adjust"  # input: a target change
    END = "end"  # input
    PHASE = "phase"  # output, not fed back
    REP = "rep"  # output, not fed back


INPUT_RECORDS = frozenset(
    {
        RecordType.MACHINE_FRAME,
        RecordType.SAFETY,
        RecordType.COMMAND,
        RecordType.ADJUST,
        RecordType.END,
    }
)


def machine_frame(n: int) -> dict:
    return {"type": RecordType.MACHINE_FRAME.value, "n": n}


def input_record(inp: SessionInput) -> dict:
    """The event record of an input that is not a pose or a machine sample."""
    match inp:
        case SafetyReport():
            return {
                "type": RecordType.SAFETY.value,
                "kind": inp.kind.value,
                "value": inp.value,
                "limit": inp.limit,
            }
        case CommandInput():
            return {"type": RecordType.COMMAND.value, "name": inp.command.value}
        case TargetChange():
            return {"type": RecordType.ADJUST.value, "key": inp.key.value, "delta": inp.delta}
        case EndInput():
            return {"type": RecordType.END.value}
    raise TypeError(f"not an input stored as an event record: {inp!r}")


def output_record(ev: SessionEvent) -> dict | None:
    """The event record kept for a reader (None: the output is not recorded)."""
    match ev:
        case PhaseChanged():
            return {
                "type": RecordType.PHASE.value,
                "from": ev.source.value,
                "to": ev.target.value,
                "trigger": ev.trigger.value,
                "reason": ev.reason,
            }
        case RepDone():
            return {"type": RecordType.REP.value, "index": ev.rep.index, "counted": ev.rep.counted}
    return None


def record_type(data: dict) -> RecordType | None:
    """The record's type, None for a type this version does not know (a newer writer's)."""
    try:
        return RecordType(data["type"])
    except ValueError:
        return None


def decode_input(t: float, data: dict, where: str) -> SessionInput | None:
    """The input an event record holds (None: an output or an unknown record, not fed).
    ``where`` names the record in the one-line error for a value the engine must not take."""
    kind = record_type(data)
    try:
        match kind:
            case RecordType.SAFETY:
                return SafetyReport(t, SafetyKind.named(data["kind"]), data["value"], data["limit"])
            case RecordType.COMMAND:
                return CommandInput(t, Command(data["name"]))
            case RecordType.ADJUST:
                return TargetChange(t, TargetKey(data["key"]), data["delta"])
            case RecordType.END:
                return EndInput(t)
    except ValueError:
        assert kind is not None  # only a known record's value can be refused
        field, what, choices = {
            RecordType.COMMAND: ("name", "command", Command),
            RecordType.ADJUST: ("key", "adjust", TargetKey),
        }[kind]
        expected = ", ".join(c.value for c in choices)
        found = str(data.get(field))[:40]
        raise RecordingError(f"{where}: {what} {found!r}: expected one of {expected}") from None
    return None
