"""The therapist's programme view at the kiosk (behind the therapist PIN): the signed-in
patient's programme, each item's dose with - / + buttons, the rules' waiting proposals, the
last visits' pain; Save stores an item's edited dose as the therapist's change, Confirm and
Decline decide the waiting proposals. Every change is checked and stored by
``clinic.programme`` / ``clinic.progression`` with who, when and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pygame

from feedback import style
from feedback.assessment_view import AssessmentScreen
from feedback.clinic_widgets import Button, draw_buttons, hit, paragraph
from feedback.intents import (
    AssessmentAction,
    ConfirmProposals,
    DeclineProposals,
    Intent,
    SaveDose,
    StartAssessment,
)
from storage.clinic_records import DoseChange, Programme, Visit
from storage.records import ProgrammeItem

# (field, label, step, unit)
FIELDS = (
    ("sets", "Sets", 1, ""),
    ("reps", "Reps", 1, ""),
    ("hold_s", "Hold", 2.0, "s"),
    ("load_band_n", "Load band", 5.0, "N"),
    ("range_target_deg", "Range target", 1.0, "deg"),
)


@dataclass(frozen=True, slots=True)
class ProgrammeData:
    """What the view shows, read from storage by the app when the view opens."""

    patient: str
    programme: Programme | None
    waiting: tuple[DoseChange, ...]
    visits: tuple[Visit, ...]  # the latest few
    message: str = ""  # the outcome of the last action (saved, refused and why)
    protocols: tuple[tuple[str, str], ...] = ()  # (id, name) this station can run


def _value(it: ProgrammeItem, field: str) -> str:
    if field == "load_band_n":
        lo, hi = it.load_band_n
        return f"{lo:.0f}-{hi:.0f} N" if math.isfinite(lo) else "-"
    v = getattr(it, field)
    if isinstance(v, float) and not math.isfinite(v):
        return "-"
    unit = {"hold_s": " s", "range_target_deg": " deg"}.get(field, "")
    return f"{v:g}{unit}"


def _editable(it: ProgrammeItem, field: str) -> bool:
    if field == "load_band_n":
        return math.isfinite(it.load_band_n[0])
    v = getattr(it, field)
    return not (isinstance(v, float) and not math.isfinite(v))


class ProgrammeView:
    def __init__(self) -> None:
        self.data: ProgrammeData | None = None
        self.edits: dict[tuple[str, str], ProgrammeItem] = {}  # staged, not yet saved
        # An assessment run from here (the app sets it): drawn instead of the programme.
        self.assessment: AssessmentScreen | None = None

    def show(self, data: ProgrammeData) -> None:
        self.data = data
        self.edits = {}

    def _items(self) -> list[ProgrammeItem]:
        p = self.data.programme if self.data else None
        if p is None:
            return []
        return [self.edits.get((i.exercise_id, i.side), i) for i in p.items]

    def _layout(self, size: tuple[int, int]) -> list[Button]:
        w, h = size
        out: list[Button] = []
        row_h = round(h * 0.075)
        y0 = round(h * 0.2)
        col0 = round(w * 0.25)
        col_w = round(w * 0.12)
        bs = round(row_h * 0.8)
        for r, it in enumerate(self._items()):
            y = y0 + r * row_h * 2
            for c, (field, _, _, _) in enumerate(FIELDS):
                if not _editable(it, field):
                    continue
                x = col0 + c * col_w
                key = f"{r}:{field}"
                out.append(Button(f"-{key}", "-", pygame.Rect(x, y + row_h, bs, bs)))
                out.append(
                    Button(f"+{key}", "+", pygame.Rect(x + col_w - bs - 8, y + row_h, bs, bs))
                )
            staged = (it.exercise_id, it.side) in self.edits
            out.append(
                Button(
                    f"save:{r}",
                    "Save",
                    pygame.Rect(round(w * 0.87), y + 4, round(w * 0.1), row_h),
                    True,
                    staged,
                )
            )
        bh = round(h * 0.09)
        for k, (pid, _name) in enumerate(self.data.protocols if self.data else ()):
            label = "Assess: camera" if pid.startswith("camera") else "Assess: machine"
            rect = pygame.Rect(
                round(w * 0.62) - k * round(w * 0.2),
                round(h * 0.02),
                round(w * 0.18),
                round(h * 0.08),
            )
            out.append(Button(f"assess:{pid}", label, rect))
        waiting = bool(self.data and self.data.waiting)
        out.append(
            Button(
                "confirm",
                "Confirm proposals",
                pygame.Rect(round(w * 0.52), round(h * 0.88), round(w * 0.22), bh),
                True,
                waiting,
            )
        )
        out.append(
            Button(
                "decline",
                "Decline",
                pygame.Rect(round(w * 0.76), round(h * 0.88), round(w * 0.2), bh),
                False,
                waiting,
            )
        )
        return out

    def handle_pointer(self, pos: tuple[int, int], size: tuple[int, int]) -> list[Intent]:
        if self.assessment is not None:
            event = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1)
            return [AssessmentAction(a) for a in self.assessment.handle_event(event)]
        key = hit(self._layout(size), pos)
        if key is None or self.data is None:
            return []
        if key.startswith("assess:"):
            return [StartAssessment(key[7:])]
        if key == "confirm":
            return [ConfirmProposals()]
        if key == "decline":
            return [DeclineProposals()]
        items = self._items()
        if key.startswith("save:"):
            it = items[int(key[5:])]
            orig = next(
                i
                for i in self.data.programme.items
                if (i.exercise_id, i.side) == (it.exercise_id, it.side)
            )
            changes = tuple(
                (f, getattr(it, f)) for f, *_ in FIELDS if getattr(it, f) != getattr(orig, f)
            )
            return [SaveDose(it.exercise_id, it.side, changes)] if changes else []
        sign = 1 if key[0] == "+" else -1
        row, field = key[1:].split(":", 1)
        it = items[int(row)]
        step = next(s for f, _, s, _ in FIELDS if f == field)
        if field == "load_band_n":
            lo, hi = it.load_band_n
            new = replace(it, load_band_n=(lo + sign * step, hi + sign * step))
        elif field in ("sets", "reps"):
            new = replace(it, **{field: max(1, getattr(it, field) + sign * int(step))})
        else:
            new = replace(it, **{field: max(0.0, getattr(it, field) + sign * step)})
        self.edits[(it.exercise_id, it.side)] = new
        return []

    def draw(self, surface: pygame.Surface) -> None:
        if self.assessment is not None:
            self.assessment.draw(surface)
            return
        w, h = surface.get_size()
        surface.fill(style.BACKGROUND)
        d = self.data
        if d is None:
            return
        style.text(
            surface, f"Programme - patient {d.patient}", h * 0.06, style.TEXT, (w * 0.03, h * 0.03)
        )
        p = d.programme
        if p is None:
            style.text(
                surface,
                "No programme: run an assessment, then 'main.py programme suggest'.",
                h * 0.045,
                style.TEXT_DIM,
                (w * 0.03, h * 0.15),
            )
            return
        mode = (
            "automatic after visits without a pain flag"
            if p.auto_progress
            else "therapist confirms each change"
        )
        style.text(
            surface,
            f"'{p.name}', progression: {mode}",
            h * 0.035,
            style.TEXT_DIM,
            (w * 0.03, h * 0.11),
            max_width=w * 0.94,
        )
        size = round(h * 0.034)
        row_h = round(h * 0.075)
        y0 = round(h * 0.2)
        col0 = round(w * 0.25)
        col_w = round(w * 0.12)
        for r, it in enumerate(self._items()):
            y = y0 + r * row_h * 2
            staged = (it.exercise_id, it.side) in self.edits
            name = it.exercise_id + (f" ({it.side})" if it.side else "")
            style.text(
                surface,
                name,
                size * 1.1,
                style.ORANGE if staged else style.TEXT,
                (w * 0.03, y + 6),
                max_width=col0 - w * 0.05,
            )
            if math.isfinite(it.pain_free_limit_deg):
                style.text(
                    surface,
                    f"pain-free limit {it.pain_free_limit_deg:.0f} deg",
                    size * 0.8,
                    style.TEXT_DIM,
                    (w * 0.03, y + row_h),
                )
            for c, (field, label, _, _) in enumerate(FIELDS):
                x = col0 + c * col_w
                style.text(surface, label, size * 0.8, style.TEXT_DIM, (x, y))
                style.text(
                    surface,
                    _value(it, field),
                    size,
                    style.TEXT,
                    (x, y + size),
                    max_width=col_w - 10,
                )
        draw_buttons(surface, self._layout((w, h)))
        y = h * 0.62
        if d.waiting:
            style.text(surface, "Waiting for your decision:", size, style.TEXT, (w * 0.03, y))
            y += size * 1.4
            for ch in d.waiting[:3]:
                y = paragraph(
                    surface,
                    f"{ch.exercise_id}: {ch.action}. {ch.reason}",
                    size * 0.8,
                    style.TEXT_DIM,
                    (w * 0.03, y),
                    w * 0.94,
                    2,
                )
        for v in d.visits[-3:]:
            flag = f"  flagged: {v.flag_reason}" if v.flagged else ""
            before, after = v.pain_at("before"), v.pain_at("after")
            text = f"visit {v.started_at[:10]}: pain {before:g} -> {after:g}{flag}"
            style.text(
                surface,
                text,
                size * 0.8,
                style.ORANGE if v.flagged else style.TEXT_DIM,
                (w * 0.03, y),
                max_width=w * 0.47,
            )
            y += size * 1.1
        if d.message:
            style.text(
                surface, d.message, size, style.SKY_BLUE, (w * 0.03, h * 0.9), max_width=w * 0.47
            )
