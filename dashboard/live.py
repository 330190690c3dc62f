"""The stations' live status inside the dashboard: one thread listens (``Store.status_listener``:
LISTEN/NOTIFY on a server), keeps each station's newest status and hands every change to the
open pages' event streams. A page that cannot keep up is dropped (it reconnects and starts
from every station's newest status), so one slow browser never holds the others up."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from storage import StorageError
from storage.station_status import STALE_AFTER_S, StationStatus, StatusListener

log = logging.getLogger(__name__)
QUEUE_SIZE = 256


def event_json(kind: str, statuses: list[StationStatus], *, link_ok: bool = True) -> str:
    """One event for a page: ``kind`` "all" (every station) or "change"; ``server_unix`` lets
    the page tell a station that has gone quiet from its own clock."""
    return json.dumps(
        {
            "type": kind,
            "server_unix": time.time(),
            "stale_after_s": STALE_AFTER_S,
            "link_ok": link_ok,
            "stations": [asdict(s) for s in statuses],
        },
        separators=(",", ":"),
        allow_nan=False,
    )


class StatusHub:
    def __init__(self, open_listener: Callable[[], StatusListener]) -> None:
        self._open_listener = open_listener
        self._lock = threading.Lock()
        self._latest: dict[str, StationStatus] = {}
        self._subscribers: set[queue.Queue[str | None]] = set()
        self._stop = threading.Event()
        self.link_ok = False
        self.heard = 0  # changes heard since the start
        self._thread = threading.Thread(target=self._run, name="status-hub", daemon=True)

    def start(self) -> StatusHub:
        self._thread.start()
        return self

    def stations(self) -> list[StationStatus]:
        with self._lock:
            return sorted(self._latest.values(), key=lambda s: s.station)

    def subscribe(self) -> queue.Queue[str | None]:
        """A queue of events for one page; the first is every station's newest status."""
        q: queue.Queue[str | None] = queue.Queue(QUEUE_SIZE)
        with self._lock:
            q.put_nowait(event_json("all", sorted(self._latest.values(), key=lambda s: s.station),
                                    link_ok=self.link_ok))  # fmt: skip
            self._subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[str | None]) -> None:
        with self._lock:
            self._subscribers.discard(q)

    def _publish(self, kind: str, statuses: list[StationStatus]) -> None:
        with self._lock:
            for s in statuses:
                old = self._latest.get(s.station)
                # A restarted station counts again from 1: its time says which is newer.
                if old is None or s.published_unix >= old.published_unix:
                    self._latest[s.station] = s
            text = event_json(kind, statuses, link_ok=self.link_ok)
            for q in list(self._subscribers):
                try:
                    q.put_nowait(text)
                except queue.Full:
                    self._subscribers.discard(q)
                    _close(q)

    def _set_link(self, ok: bool) -> None:
        if ok != self.link_ok:
            self.link_ok = ok
            log.warning("stations' status %s", "heard again" if ok else "out of reach")
            self._publish("all", self.stations())

    def _run(self) -> None:
        listener: StatusListener | None = None
        while not self._stop.is_set():
            try:
                if listener is None:
                    listener = self._open_listener()
                    rows = list(listener.current())
                    self._set_link(True)
                    self._publish("all", rows)
                    continue
                changes = listener.wait(1.0)
                connected = getattr(listener, "connected", True)
                self._set_link(connected)
                if changes:
                    self.heard += len(changes)
                    # A re-read after a lost connection is every row, not news: "all".
                    resynced = getattr(listener, "resynced", False)
                    self._publish("all" if resynced else "change", changes)
            except StorageError as exc:
                log.warning("stations' status: %s", exc)
                self._set_link(False)
                if listener is not None:
                    listener.close()
                listener = None
                self._stop.wait(1.0)
        if listener is not None:
            listener.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for q in self._subscribers:
                _close(q)
            self._subscribers.clear()
        self._thread.join(timeout=5.0)


def _close(q: queue.Queue[str | None]) -> None:
    """Tell the page's stream to end (it reconnects by itself)."""
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
    q.put_nowait(None)
