"""The assessment screens, drawn from one frozen ``AssessmentView`` a frame: the instruction,
the countdown, the live value while measuring, the rest between trials, the result with its
percentage of norm (or "could not be measured" and why), a safety stop, and the summary.

Buttons (touch, or keys in brackets): Start now [Space], Repeat [R], Skip [S], Acknowledge
[A] after a safety stop, End [Esc]. They leave as action names; the app carries them out.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pygame

from assessment.protocols import TestKind
from assessment.results import ComparedResult, NormNote, TestResult
from assessment.run import AssessmentView, RunPhase
from feedback import style, widgets
from feedback.clinic_widgets import (
    Button,
    button_row,
    draw_buttons,
    header,
    hit,
    paragraph,
    value_bar,
)

START, REPEAT, SKIP, ACKNOWLEDGE, END, CLOSE = (
    "start",
    "repeat",
    "skip",
    "acknowledge",
    "end",
    "close",
)
KEYS = {
    pygame.K_SPACE: START,
    pygame.K_r: REPEAT,
    pygame.K_s: SKIP,
    pygame.K_a: ACKNOWLEDGE,
    pygame.K_ESCAPE: END,
}
_LIVE_LABEL = {
    TestKind.MACHINE_RANGE: "angle now",
    TestKind.MACHINE_STRENGTH: "force now",
    TestKind.CAMERA_RANGE: "now",
    TestKind.CAMERA_COUNT: "stands so far",
    TestKind.CAMERA_HOLD: "held",
}


def fmt_value(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "--"
    if unit == "N":
        return f"{value:.0f} N"
    if unit == "deg":
        return f"{value:.0f} deg"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "%":
        return f"{value:.0f} %"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:.0f} {unit}"


def norm_line(note: NormNote) -> tuple[str, str]:
    """The norm as one short line and a detail line (the band, or why there is none)."""
    if not note.has_norm:
        return "No norm", note.no_norm
    pct = f"{note.percent:.0f} % of norm" if math.isfinite(note.percent) else "norm has no mean"
    lo, hi = note.band
    band = f"normal {lo:.0f}-{hi:.0f}" if math.isfinite(lo) and math.isfinite(hi) else "no band"
    where = {"below": "below the normal band", "above": "above the normal band"}.get(
        note.position.value, "within the normal band" if note.position.value == "within" else ""
    )
    verified = "" if note.verified else " (norm not verified against the paper)"
    return pct, f"{band}{', ' + where if where else ''}{verified}"


class AssessmentScreen:
    """update(view) -> draw(surface); handle_event returns action names."""

    def __init__(self, patient: str, notes: Callable[[TestResult], NormNote] | None = None) -> None:
        self.patient = patient
        self.notes = notes or (lambda r: NormNote(no_norm="not compared"))
        self.view: AssessmentView | None = None
        self.compared: list[ComparedResult] | None = None  # the summary, with derived results
        self._size = (1280, 720)

    def update(self, view: AssessmentView) -> None:
        self.view = view

    def buttons(self, size: tuple[int, int]) -> list[Button]:
        v = self.view
        if v is None:
            return []
        items: list[tuple[str, str, bool]] = []
        if v.phase == RunPhase.INSTRUCTION:
            items = [(SKIP, "Skip test", False), (START, "Start now", True)]
        elif v.phase in (RunPhase.COUNTDOWN, RunPhase.MEASURE, RunPhase.REST):
            items = [(SKIP, "Skip test", False)]
        elif v.phase == RunPhase.RESULT:
            items = [(REPEAT, "Repeat test", False)]
        elif v.phase == RunPhase.STOPPED:
            items = [(ACKNOWLEDGE, "Acknowledge", True)]
        if v.phase != RunPhase.DONE:
            items.insert(0, (END, "End", False))
        else:
            items = [(CLOSE, "Close", True)]
        return button_row(size, items)

    def handle_event(self, event: pygame.event.Event) -> list[str]:
        if event.type == pygame.KEYDOWN and event.key in KEYS:
            return [KEYS[event.key]]
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            key = hit(self.buttons(self._size), event.pos)
            return [key] if key else []
        return []

    # -- drawing ----------------------------------------------------------------------------

    def draw(self, surface: pygame.Surface) -> None:
        self._size = surface.get_size()
        surface.fill(style.BACKGROUND)
        v = self.view
        if v is None:
            return
        w, h = self._size
        header(
            surface,
            f"Assessment - {v.protocol} - patient {self.patient}",
            "Summary" if v.phase == RunPhase.DONE else f"Test {v.index + 1} of {v.count}",
        )
        if v.phase == RunPhase.DONE:
            self._summary(surface, v)
        else:
            style.text(
                surface, v.label, h * 0.07, style.TEXT, (w * 0.04, h * 0.09), max_width=w * 0.92
            )
            body = {
                RunPhase.INSTRUCTION: self._instruction,
                RunPhase.COUNTDOWN: self._countdown,
                RunPhase.MEASURE: self._measure,
                RunPhase.REST: self._measure,
                RunPhase.RESULT: self._result,
                RunPhase.STOPPED: self._stopped,
            }[v.phase]
            body(surface, v)
        draw_buttons(surface, self.buttons(self._size))

    def _instruction(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        y = paragraph(surface, v.instruction, h * 0.075, style.TEXT, (w * 0.04, h * 0.24), w * 0.9)
        tries = f"{v.repeats} {'try' if v.repeats == 1 else 'tries'}; the best one counts"
        style.text(surface, tries, h * 0.045, style.TEXT_DIM, (w * 0.04, y + h * 0.03))
        if math.isfinite(v.phase_left_s):
            style.text(
                surface,
                f"Starts in {math.ceil(v.phase_left_s)} s",
                h * 0.055,
                style.SKY_BLUE,
                (w * 0.04, h * 0.72),
            )

    def _countdown(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        n = max(1, math.ceil(v.phase_left_s)) if math.isfinite(v.phase_left_s) else 0
        style.text(surface, str(n), h * 0.4, style.SKY_BLUE, (w * 0.5, h * 0.5), "center")
        style.text(surface, "Get ready", h * 0.06, style.TEXT_DIM, (w * 0.5, h * 0.26), "center")

    def _measure(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        x = w * 0.04
        if v.phase == RunPhase.REST:
            left = math.ceil(v.phase_left_s) if math.isfinite(v.phase_left_s) else 0
            style.text(surface, f"Rest {left} s", h * 0.16, style.SKY_BLUE, (x, h * 0.2))
            style.text(
                surface, "Relax. The next try follows.", h * 0.05, style.TEXT_DIM, (x, h * 0.4)
            )
        else:
            label = _LIVE_LABEL.get(v.kind, "now")
            style.text(surface, fmt_value(v.live, v.unit), h * 0.2, style.TEXT, (x, h * 0.18))
            style.text(surface, label, h * 0.045, style.TEXT_DIM, (x, h * 0.4))
            scale = (
                max(
                    [
                        abs(v.live) if math.isfinite(v.live) else 0.0,
                        *(abs(t) for t in v.trials),
                        1.0,
                    ]
                )
                * 1.25
            )
            bar = pygame.Rect(round(x), round(h * 0.5), round(w * 0.5), round(h * 0.05))
            marks = [(v.best, "best")] if math.isfinite(v.best) else []
            value_bar(
                surface, bar, abs(v.live) if math.isfinite(v.live) else math.nan, scale, marks
            )
        if v.message:
            style.icon(surface, "info", (x + h * 0.025, h * 0.68), h * 0.022)
            style.text(
                surface,
                v.message,
                h * 0.045,
                style.TEXT,
                (x + h * 0.06, h * 0.66),
                max_width=w * 0.5,
            )
        self._trials(
            surface, v, pygame.Rect(round(w * 0.6), round(h * 0.2), round(w * 0.36), round(h * 0.6))
        )

    def _trials(self, surface: pygame.Surface, v: AssessmentView, r: pygame.Rect) -> None:
        style.panel(surface, r)
        h = surface.get_height()
        size = round(h * 0.04)
        y = r.y + size * 0.6
        done = len(v.trials)
        style.text(
            surface,
            f"Tries counted: {done} of {v.repeats}",
            size,
            style.TEXT,
            (r.x + size * 0.6, y),
        )
        y += size * 1.5
        for i, t in enumerate(v.trials, 1):
            style.icon(surface, "ok", (r.x + size, y + size * 0.45), size * 0.4)
            style.text(
                surface, f"{i}: {fmt_value(t, v.unit)}", size, style.TEXT, (r.x + size * 1.8, y)
            )
            y += size * 1.3
        for reason in v.rejected[-3:]:
            style.icon(surface, "fault", (r.x + size, y + size * 0.45), size * 0.4)
            y = paragraph(
                surface,
                f"not counted: {reason}",
                size * 0.8,
                style.TEXT_DIM,
                (r.x + size * 1.8, y),
                r.w - size * 2.4,
                2,
            )

    def _result(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        x = w * 0.04
        r = v.result
        if r is None:
            return
        if not r.measured:
            style.icon(surface, "warning", (x + h * 0.04, h * 0.3), h * 0.04)
            style.text(
                surface, "Could not be measured", h * 0.08, style.ORANGE, (x + h * 0.1, h * 0.26)
            )
            paragraph(surface, r.reason, h * 0.05, style.TEXT, (x, h * 0.4), w * 0.9, 4)
            return
        value = fmt_value(r.value, r.unit) + (" or more" if r.at_least else "")
        style.text(surface, value, h * 0.2, style.TEXT, (x, h * 0.2))
        main, detail = norm_line(self.notes(r))
        style.text(surface, main, h * 0.07, style.SKY_BLUE, (x, h * 0.46), max_width=w * 0.55)
        paragraph(surface, detail, h * 0.038, style.TEXT_DIM, (x, h * 0.56), w * 0.52, 4)
        self._trials(
            surface, v, pygame.Rect(round(w * 0.6), round(h * 0.2), round(w * 0.36), round(h * 0.6))
        )

    def _stopped(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        band = pygame.Rect(0, round(h * 0.22), w, round(h * 0.4))
        pygame.draw.rect(surface, style.VERMILLION, band)
        sh = max(10, round(band.h * 0.1))
        widgets.stripes(surface, pygame.Rect(0, band.y, w, sh), style.BLACK, style.YELLOW)
        widgets.stripes(surface, pygame.Rect(0, band.bottom - sh, w, sh), style.BLACK, style.YELLOW)
        style.icon(surface, "stop", (w * 0.1, band.centery), band.h * 0.25)
        style.text(
            surface, "STOPPED FOR SAFETY", band.h * 0.22, style.WHITE, (w * 0.2, band.y + sh * 1.6)
        )
        paragraph(
            surface,
            v.stop_reason,
            band.h * 0.11,
            style.WHITE,
            (w * 0.2, band.y + band.h * 0.5),
            w * 0.75,
            2,
        )
        style.text(
            surface,
            "The therapist acknowledges, then the next test follows.",
            h * 0.045,
            style.TEXT,
            (w * 0.04, h * 0.68),
        )

    def _summary(self, surface: pygame.Surface, v: AssessmentView) -> None:
        w, h = surface.get_size()
        size = round(h * 0.036)
        x0, y = w * 0.04, h * 0.1
        cols = (x0, w * 0.42, w * 0.58, w * 0.74)
        for x, title in zip(cols, ("Test", "Result", "Norm", "Note"), strict=True):
            style.text(surface, title, size, style.TEXT_DIM, (x, y))
        y += size * 1.5
        rows = self.compared or [ComparedResult(r, self.notes(r)) for r in v.results]
        for c in rows:
            r, note = c.result, c.norm
            if y > h * 0.82:
                style.text(surface, "...", size, style.TEXT_DIM, (x0, y))
                break
            style.text(
                surface, r.label, size, style.TEXT, (cols[0], y), max_width=cols[1] - cols[0] - 10
            )
            if not r.measured:
                style.icon(surface, "warning", (cols[1] + size * 0.4, y + size * 0.45), size * 0.4)
                style.text(
                    surface,
                    r.reason,
                    size * 0.8,
                    style.TEXT_DIM,
                    (cols[1] + size, y + 2),
                    max_width=w * 0.96 - cols[1] - size,
                )
            else:
                style.text(surface, fmt_value(r.value, r.unit), size, style.TEXT, (cols[1], y))
                main, detail = norm_line(note)
                colour = style.ORANGE if note.flagged else style.TEXT
                if note.flagged:
                    style.icon(
                        surface, "warning", (cols[2] - size * 0.6, y + size * 0.45), size * 0.4
                    )
                style.text(
                    surface, main, size, colour, (cols[2], y), max_width=cols[3] - cols[2] - 10
                )
                style.text(
                    surface,
                    detail,
                    size * 0.8,
                    style.TEXT_DIM,
                    (cols[3], y + 2),
                    max_width=w * 0.96 - cols[3],
                )
            y += size * 1.35
