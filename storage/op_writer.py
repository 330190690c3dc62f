"""A session writer whose every call becomes one write (``storage.journal.WriteOp``), handed on
in call order: the SQL writer stores it in a transaction of its own (``storage.sql_writer``),
the journaled writer stores it or keeps it for later (``storage.journaled``). The turning of
calls into writes is here, once."""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np

from storage.base import SessionWriter, check_pain_score
from storage.journal import (
    AddCue,
    AddPainScore,
    AddRep,
    AddSafetyEvent,
    BeginSet,
    WriteOp,
    trace_op,
)
from storage.records import CueLike, RepLike, RepRecord


class OpWriter(SessionWriter):
    _set_index: int  # the set the next rep belongs to (0: none started yet)

    @abstractmethod
    def _write(self, op: WriteOp) -> None:
        """Hand on one write, in call order."""

    def _check_open(self) -> None:
        """Refuse a call before any of it is written (the SQL writer: a finished session)."""

    def begin_set(
        self,
        set_index: int | None = None,
        *,
        target_reps: int = 0,
        load_band_n: tuple[float, float] = (math.nan, math.nan),
        started_s: float = math.nan,
    ) -> int:
        self._check_open()
        index = self._set_index + 1 if set_index is None else int(set_index)
        if index < 1:
            raise ValueError(f"set index: expected 1 or more, got {index}")
        low, high = (float(x) for x in load_band_n)
        self._write(BeginSet(index, int(target_reps), low, high, float(started_s)))
        self._set_index = index
        return index

    def add_rep(
        self, rep: RepLike, *, hold_s: float | None = None, peak_force_n: float | None = None
    ) -> None:
        self._check_open()
        record = RepRecord.from_rep(rep, hold_s=hold_s, peak_force_n=peak_force_n)
        if self._set_index == 0:
            self.begin_set()
        self._write(AddRep(self._set_index, record))

    def add_cue(self, cue: CueLike, t_s: float | None = None) -> None:
        t = float(cue.since_s if t_s is None else t_s)
        self._write(AddCue(t, cue.key, cue.text, int(cue.severity)))

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
        self._write(AddSafetyEvent(float(t_s), kind, message, float(value), float(limit), unit))

    def add_trace(
        self,
        label: str,
        unit: str,
        t: np.ndarray,
        values: np.ndarray,
        *,
        max_rate_hz: float | None = None,
    ) -> int:
        self._check_open()
        op = trace_op(label, unit, t, values, max_rate_hz)
        if op is None:
            return 0
        self._write(op)
        return len(op.t)

    def add_pain_score(self, score: float, moment: str = "after") -> None:
        self._write(AddPainScore(check_pain_score(score, moment), moment))
