"""Sends what the engine finished to storage as it happens: every rep is committed at once
(on the storage worker thread, so the display never waits on the disk).

A database that cannot take a write (locked, full, read-only) loses nothing: the write waits
in the session's journal and is retried (``storage.journaled``); the console gets one line
when that starts and one when it is over, the screens a storage banner meanwhile.
"""

from __future__ import annotations

import math
import sys

from session.engine import SessionEngine
from session.events import CueShown, HoldDone, RepDone, SafetyStop, SessionEvent, SetStarted
from session.snapshot import Cue, RepView, SourceState, SourceStatus
from session.targets import PatientProfile, RangeAssessment
from storage import (
    EndReason,
    ReplayReport,
    StorageError,
    Store,
    WriteStatus,
    record_session,
)

TRACE_RATE_HZ = 20.0  # what the therapist's plots need; the recording keeps full rate
TRACE_CHUNK_S = 5.0


class StorageSink:
    """Takes the engine's events in order: sets, reps, holds, cues and safety stops go to the
    session's writer as they happen; traces in chunks."""

    def __init__(self, writer: object, engine: SessionEngine) -> None:
        self.writer = writer
        self.engine = engine
        self._holds = 0
        self._trace_t = -math.inf

    @classmethod
    def begin(
        cls, store: Store, patient: str, engine: SessionEngine, source: str, **session: object
    ) -> StorageSink:
        """Start a stored session (raises ``StorageError`` when the database cannot take it);
        commits run on a background thread. Journals an earlier session of this process left
        are written first, if the database takes them now."""
        report_replayed(store, store.replay_journals())
        writer = record_session(
            store,
            patient,
            engine.exercise.id,
            source=source,
            **session,  # programme_item_id, machine_serial
            on_status=_say_status,
            on_error=_say_error,
        )
        return cls(writer, engine)

    def status(self) -> SourceStatus | None:
        """For the screens: None while every write is in the database."""
        st: WriteStatus = self.writer.write_status()
        if st.ok:
            return None
        where = "in memory" if st.in_memory == st.waiting else "kept safe in a journal"
        return SourceStatus(
            "storage", SourceState.DELAYED, errors=st.waiting,
            message=f"{st.waiting} record(s) {where}",
        )  # fmt: skip

    def on_event(self, ev: SessionEvent) -> None:
        w = self.writer
        match ev:
            case SetStarted():
                w.begin_set(
                    ev.set_index,
                    target_reps=ev.reps_target,
                    load_band_n=ev.load_band_n,
                    started_s=ev.t,
                )
            case RepDone():
                load = ev.load
                w.add_rep(ev.rep, peak_force_n=load.peak_force_n if load else math.nan)
            case HoldDone():
                self._holds += 1
                view = RepView(self._holds, ev.start_s, ev.end_s, math.nan, math.nan, math.nan,
                               ev.end_s - ev.start_s, True, ev.completed,
                               form_score=ev.form_score)  # fmt: skip
                w.add_rep(view, hold_s=ev.hold_s)
            case CueShown():
                w.add_cue(Cue(ev.key, ev.text, ev.severity, ev.t), ev.t)
            case SafetyStop():
                w.add_safety_event(
                    str(ev.kind), ev.t, f"{ev.kind} past limit", value=ev.value, limit=ev.limit
                )

    def keep_traces(self) -> None:
        """Every few seconds of session time, the trace points since the last chunk."""
        if self.engine.now - self._trace_t >= TRACE_CHUNK_S:
            self._store_traces()

    def _store_traces(self) -> None:
        """The trace points since the last chunk, so a crash loses at most one chunk."""
        eng, since = self.engine, self._trace_t
        now = eng.now
        for buf, label, unit in (
            (eng.signal_trace, eng.exercise.signal.label, eng.exercise.signal.unit),
            (eng.force_trace, "force", "N"),
        ):
            t, v = buf.window(now, now - since if math.isfinite(since) else math.inf)
            keep = t > since
            if keep.any():
                self.writer.add_trace(label, unit, t[keep], v[keep], max_rate_hz=TRACE_RATE_HZ)
        self._trace_t = now

    def finish(self, end_reason: EndReason) -> None:
        """End the stored session; a crash marks it interrupted. Never raises: the session
        is over either way, and what could not be written waits in the journal."""
        from storage import SessionSummary

        try:
            self._store_traces()
            if end_reason == EndReason.CRASH:
                self.writer.abandon(str(EndReason.CRASH))
            else:
                self.writer.finish(SessionSummary(end_reason=end_reason))
        except StorageError as exc:
            _say_error(exc)
        st = self.writer.write_status()
        if not st.ok:
            where = st.journal or "memory (the journal could not be written)"
            lost = " (lost when this program ends)" if not st.journal else ""
            print(
                f"main.py: warning: session {self.writer.session_id} is not finished in the "
                f"database: {st.waiting} write(s) wait in {where}{lost}; they are written the "
                "next time SpineCoach opens the database",
                file=sys.stderr,
            )


def _say_status(st: WriteStatus) -> None:
    """One line when writes start waiting, and one when they are all in the database."""
    if st.ok:
        print(
            f"main.py: the database takes writes again: {st.written_later} waiting write(s) "
            "are stored",
            file=sys.stderr,
        )
    elif st.in_memory:
        print(
            f"main.py: warning: {st.reason}; {st.in_memory} write(s) held in memory until "
            "the database or the journal takes them",
            file=sys.stderr,
        )
    else:
        print(
            f"main.py: warning: {st.reason}; this session's writes wait in {st.journal} and "
            "are written as soon as the database takes them",
            file=sys.stderr,
        )


def _say_error(exc: StorageError) -> None:
    print(f"main.py: warning: {' '.join(str(exc).split())}", file=sys.stderr)


def report_replayed(store: Store, report: ReplayReport | None = None) -> None:
    """Say what journals of earlier sessions did at ``store``'s opening (or ``report``)."""
    report = store.replayed if report is None else report
    if not report:
        return
    if report.written or report.sessions:
        ids = ", ".join(str(i) for i in report.sessions)
        print(
            f"main.py: {report.written} write(s) that waited in a journal are now in "
            f"{store.location} (session {ids})",
            file=sys.stderr,
        )
    for line in report.kept:
        print(f"main.py: warning: {line}", file=sys.stderr)


def profile_from_store(store, patient: str, exercise) -> PatientProfile | None:
    """The patient's latest assessment for this exercise, as personal targets: the measured
    range (degrees of movement from the exercise's start) and the tested maximum force."""
    from storage import NotFound

    try:
        found = [a for a in store.assessments(patient) if a.exercise_id == exercise.id]
    except NotFound:
        return None
    if not found:
        return None
    a = found[-1]
    start = exercise.signal.start
    sign = 1.0 if exercise.signal.target > start else -1.0
    ranges, forces = {}, {}
    if math.isfinite(a.rom_deg):
        limit = (
            start + sign * a.pain_free_rom_deg if math.isfinite(a.pain_free_rom_deg) else math.nan
        )
        ranges[exercise.id] = RangeAssessment(start, start + sign * a.rom_deg, limit)
    if math.isfinite(a.max_force_n):
        forces[exercise.id] = a.max_force_n
    return PatientProfile(patient, ranges, forces)
