"""Recording off the frame loop: a SessionWriter whose calls run, in order, on one thread.

A commit is fsynced (a few ms, tails above one 60 Hz frame on a busy disk: docs/storage.md),
so the UI or session thread should not wait for it. Calls here return at once; the worker
commits each one as ``SessionWriter`` does. What a crash can lose grows by what is queued
and not yet committed - in practice nothing, as a rep takes seconds and a commit milliseconds.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from storage.base import SessionWriter
from storage.errors import StorageError
from storage.journal import WriteOp
from storage.records import (
    CueLike,
    RepLike,
    RepRecord,
    SessionInfo,
    SessionSummary,
    WriteStatus,
)

_STOP = object()


class BackgroundWriter(SessionWriter):
    """Wraps a writer from ``Store.begin_session``. Errors do not reach the caller of
    ``add_*`` (it has moved on); they go to ``on_error`` and are kept in ``errors``.
    ``finish`` and ``abandon`` wait for the queue to drain, then return as usual."""

    def __init__(
        self,
        writer: SessionWriter,
        *,
        on_error: Callable[[StorageError], None] | None = None,
        max_queue: int = 10_000,
    ) -> None:
        self._inner = writer
        self.session_id = writer.session_id
        self.key = writer.key
        self.errors: list[StorageError] = []
        self._on_error = on_error
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._set_index = 0
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{self.session_id}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                # Writes waiting for the database are retried while no new call comes.
                item = self._queue.get(timeout=self._inner.retry_in())
            except queue.Empty:
                self._call(self._inner.retry)
                continue
            try:
                if item is _STOP:
                    return
                fn, args, kwargs = item
                self._call(fn, *args, **kwargs)
            finally:
                self._queue.task_done()

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except (StorageError, ValueError) as exc:
            err = exc if isinstance(exc, StorageError) else StorageError(str(exc))
            self.errors.append(err)
            if self._on_error is not None:
                self._on_error(err)

    def _put(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._closed:
            raise StorageError(f"session {self.session_id} is already finished")
        try:
            self._queue.put_nowait((fn, args, kwargs))
        except queue.Full:
            err = StorageError(f"recording queue full (disk stalled?); dropped {fn.__name__}")
            self.errors.append(err)
            if self._on_error is not None:
                self._on_error(err)

    def flush(self) -> None:
        """Wait until everything queued so far is committed (or has failed)."""
        self._queue.join()

    @property
    def finished(self) -> bool:
        return self._closed

    def apply(self, op: WriteOp, *, replay: bool = False) -> bool:
        """Queued like the other calls; returns True (whether it wrote is not known yet)."""
        self._put(self._inner.apply, op, replay=replay)
        return True

    def info(self) -> SessionInfo:
        self.flush()
        return self._inner.info()

    def detach(self) -> None:
        self._inner.detach()

    def write_status(self) -> WriteStatus:
        """Safe to call from any thread (the screen asks every frame)."""
        return self._inner.write_status()

    def begin_set(
        self,
        set_index: int | None = None,
        *,
        target_reps: int = 0,
        load_band_n: tuple[float, float] = (math.nan, math.nan),
        started_s: float = math.nan,
    ) -> int:
        index = self._set_index + 1 if set_index is None else int(set_index)
        self._set_index = index
        self._put(
            self._inner.begin_set,
            index,
            target_reps=target_reps,
            load_band_n=load_band_n,
            started_s=started_s,
        )
        return index

    def add_rep(
        self, rep: RepLike, *, hold_s: float | None = None, peak_force_n: float | None = None
    ) -> None:
        # Copy now: the caller's object may change before the worker gets to it.
        record = RepRecord.from_rep(rep, hold_s=hold_s, peak_force_n=peak_force_n)
        self._put(self._inner.add_rep, record)

    def add_cue(self, cue: CueLike, t_s: float | None = None) -> None:
        self._put(self._inner.add_cue, cue, t_s)

    def add_safety_event(
        self,
        kind: str,
        t_s: float,
        message: str = "",
        *,
        value: float = math.nan,
        limit: float = math.nan,
        unit: str = "",
    ) -> None:
        self._put(
            self._inner.add_safety_event, kind, t_s, message, value=value, limit=limit, unit=unit
        )

    def add_trace(
        self,
        label: str,
        unit: str,
        t: np.ndarray,
        values: np.ndarray,
        *,
        max_rate_hz: float | None = None,
    ) -> int:
        """Returns the number of raw samples queued (downsampling happens on the worker)."""
        t, values = np.array(t, dtype=np.float64), np.array(values, dtype=np.float64)
        self._put(self._inner.add_trace, label, unit, t, values, max_rate_hz=max_rate_hz)
        return int(t.size)

    def add_pain_score(self, score: float, moment: str = "after") -> None:
        self._put(self._inner.add_pain_score, score, moment)

    def _stop(self) -> None:
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    def finish(self, summary: SessionSummary | None = None) -> SessionInfo:
        if self._closed:
            raise StorageError(f"session {self.session_id} is already finished")
        self._stop()
        return self._inner.finish(summary)

    def abandon(self, reason: str) -> None:
        if not self._closed:
            self._stop()
        self._inner.abandon(reason)
