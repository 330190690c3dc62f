"""Sends what the engine finished to storage as it happens: every rep is committed at once
(on the storage worker thread, so the display never waits on the disk)."""

from __future__ import annotations

import math

from session.engine import SessionEngine
from session.snapshot import Cue, RepView
from session.targets import PatientProfile, RangeAssessment

TRACE_RATE_HZ = 20.0  # what the therapist's plots need; the recording keeps full rate
TRACE_CHUNK_S = 5.0


class StorageSink:
    def __init__(self, writer: object, engine: SessionEngine) -> None:
        self.writer = writer
        self.engine = engine
        self._reps = 0
        self._cues = 0
        self._holds = 0
        self._safety = 0
        self._set = 0
        self._trace_t = -math.inf

    @classmethod
    def begin(cls, store: object, patient: str, engine: SessionEngine, source: str) -> StorageSink:
        """Start a stored session; commits run on a background thread."""
        from storage import BackgroundWriter

        writer = store.begin_session(patient, engine.exercise.id, source=source)
        return cls(BackgroundWriter(writer), engine)

    def _ensure_set(self) -> None:
        eng = self.engine
        if eng.set_index != self._set:
            self._set = eng.set_index
            self.writer.begin_set(
                self._set,
                target_reps=eng.reps_target,
                load_band_n=eng.targets.load_band_n,
                started_s=eng.now,
            )

    def update(self) -> None:
        eng, w = self.engine, self.writer
        self._ensure_set()
        for i, rep in enumerate(eng.reps[self._reps :], start=self._reps):
            load = eng.load_reps[i] if i < len(eng.load_reps) else None
            w.add_rep(rep, peak_force_n=load.peak_force_n if load else math.nan)
        self._reps = len(eng.reps)
        for hold in eng.holds[self._holds :]:
            self._holds += 1
            view = RepView(self._holds, hold.start_s, hold.end_s, math.nan, math.nan, math.nan,
                           hold.end_s - hold.start_s, True, hold.completed)  # fmt: skip
            w.add_rep(view, hold_s=hold.hold_s)
        for entry in eng.cues.log[self._cues :]:
            w.add_cue(Cue(entry.key, entry.text, entry.severity, entry.t), entry.t)
        self._cues = len(eng.cues.log)
        for ev in eng.safety_events[self._safety :]:
            w.add_safety_event(
                ev.kind, ev.t, f"{ev.kind} past limit", value=ev.value, limit=ev.limit
            )
        self._safety = len(eng.safety_events)
        if eng.now - self._trace_t >= TRACE_CHUNK_S:
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

    def finish(self, end_reason: str) -> None:
        from storage import SessionSummary

        self.update()
        self._store_traces()
        self.writer.finish(SessionSummary(end_reason=end_reason))


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
