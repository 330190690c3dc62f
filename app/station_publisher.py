"""The station's live status for the therapist dashboard, published from its own thread.

The loop hands over each frame's snapshot (``offer``: one assignment, never a wait); the
publisher thread looks at the newest one ``PUBLISH_HZ`` times a second and publishes it when
something a therapist would see changed, or every ``HEARTBEAT_S`` so the dashboard knows the
station is alive. A server out of reach costs the loop nothing: the publish fails on this
thread, is dropped (the next one says where the station is by then) and is tried again with
back-off.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from session.snapshot import Snapshot
from storage import StorageError
from storage.station_status import IDLE, VISIT, StationStatus, StatusLink

PUBLISH_HZ = 4.0
HEARTBEAT_S = 5.0
_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Offer:
    """What the loop knows at one frame beyond the snapshot."""

    snapshot: Snapshot
    waiting: bool  # a kiosk with nobody signed in
    session_id: int | None  # the stored session, None when not stored
    safety_kind: str  # session.events.SafetyKind value of the stop, "" when none
    pain_flag: bool | None  # None: pain not asked at this station
    # The patient whose kiosk visit runs ("" none): between the visit's exercises (pain,
    # rests, the summary) no session runs, yet the patient is at the station.
    visit_patient: str = ""


def status_from(offer: Offer, station: str, seq: int, now: float) -> StationStatus:
    snap = offer.snapshot
    cue = snap.cue
    between = offer.waiting and bool(offer.visit_patient)
    idle = offer.waiting  # no session runs: nothing of one is shown
    return StationStatus(
        station=station,
        seq=seq,
        published_unix=now,
        host=socket.gethostname(),
        pid=os.getpid(),
        patient_code=offer.visit_patient if between else "" if idle else snap.patient_code,
        session_id=None if idle else offer.session_id,
        exercise_id="" if between else snap.exercise_id,
        phase=VISIT if between else IDLE if idle else snap.phase.value,
        set_index=0 if idle else snap.set_index,
        sets_total=0 if idle else snap.sets_total,
        rep_count=0 if idle else snap.rep_count,
        reps_target=0 if idle else snap.reps_target,
        cue_key=cue.key if cue is not None and not idle else "",
        cue_text=cue.text if cue is not None and not idle else "",
        cue_severity=cue.severity.name.lower() if cue is not None and not idle else "",
        safety_stop=bool(snap.safety_stop) and not idle,
        safety_kind=offer.safety_kind if snap.safety_stop and not idle else "",
        pain_flag=offer.pain_flag if between or not idle else None,
        camera_state=snap.camera.state.value,
        machine_state=snap.machine.state.value if snap.machine is not None else "off",
        storage_state=snap.storage.state.value if snap.storage is not None else "ok",
    )


class StationPublisher:
    def __init__(
        self,
        link: StatusLink,
        station: str,
        *,
        clock: Callable[[], float] = time.time,
        rate_hz: float = PUBLISH_HZ,
    ) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"status rate: expected a positive number, got {rate_hz}")
        self.station = station
        self._link = link
        self._clock = clock
        self._period_s = 1.0 / rate_hz
        self._offer: Offer | None = None
        self._last: StationStatus | None = None
        self._seq = 0
        self._failures = 0
        self._retry_at = -math.inf
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one publish at a time (the thread, or close)
        self.published = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="station-status", daemon=True)
        self._thread.start()

    def offer(self, offer: Offer) -> None:
        """The newest frame's status; called on the loop thread, returns at once."""
        self._offer = offer

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.publish_due()

    def publish_due(self, *, force: bool = False) -> bool:
        """Publish the newest offer if it changed, a heartbeat is due, or ``force``; returns
        whether it was published."""
        with self._lock:
            offer = self._offer
            now = self._clock()
            if offer is None or (now < self._retry_at and not force):
                return False
            status = status_from(offer, self.station, self._seq + 1, now)
            last = self._last
            if (
                not force and status.same_state(last) and now - last.published_unix < HEARTBEAT_S  # type: ignore[union-attr]
            ):
                return False
            try:
                self._link.publish(status)
            except StorageError as exc:
                self.failed += 1
                self._failures += 1
                if self._failures == 1:
                    log.warning("station status not published: %s", exc)
                self._retry_at = now + _BACKOFF_S[min(self._failures, len(_BACKOFF_S)) - 1]
                return False
            if self._failures:
                log.warning("station status published again")
            self._failures = 0
            self._retry_at = -math.inf
            self._seq = status.seq
            self._last = status
            self.published += 1
            return True

    def close(self) -> None:
        """Stop the thread; publish the last state once more (the session's end), if the
        database takes it."""
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.publish_due(force=True)
        self._link.close()
