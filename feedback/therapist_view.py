"""The therapist's screen: traces, rule table, rep table, source health and live targets.

Read from arm's length, so the type is smaller than on the patient view; the same palette
and status shapes apply. Target changes leave as ``AdjustTarget`` intents.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pygame

from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from feedback import style
from feedback.intents import AdjustTarget, Intent
from session.snapshot import RuleStatus, Snapshot, SourceStatus, Trace

TRACE_WINDOW_S = 15.0


@dataclass(frozen=True, slots=True)
class TargetControl:
    key: str
    label: str
    step: float
    value: Callable[[Snapshot], float]
    fmt: Callable[[float], str]
    machine_only: bool = False


# The load safety limit is not here on purpose: raising it needs the settings screen.
TARGET_CONTROLS: tuple[TargetControl, ...] = (
    TargetControl(
        "range_target", "Range target", 0.05, lambda s: s.range_target, lambda v: f"{v:.0%}"
    ),
    TargetControl(
        "pain_free_limit",
        "Pain-free limit",
        0.05,
        lambda s: s.pain_free_limit,
        lambda v: f"{v:.0%}",
    ),
    TargetControl("reps_target", "Reps per set", 1, lambda s: s.reps_target, lambda v: f"{v:.0f}"),
    TargetControl("hold_target_s", "Hold", 0.5, lambda s: s.hold_target_s, lambda v: f"{v:.1f} s"),
    TargetControl(
        "load_band_low_n",
        "Load band low",
        5,
        lambda s: s.load_band_n[0],
        lambda v: f"{v:.0f} N",
        True,
    ),
    TargetControl(
        "load_band_high_n",
        "Load band high",
        5,
        lambda s: s.load_band_n[1],
        lambda v: f"{v:.0f} N",
        True,
    ),
)


def controls_for(snap: Snapshot | None) -> tuple[TargetControl, ...]:
    machine = snap is not None and snap.machine is not None and snap.machine.state != "off"
    return tuple(c for c in TARGET_CONTROLS if machine or not c.machine_only)


@dataclass(frozen=True, slots=True)
class TherapistLayout:
    size: tuple[int, int]
    top_bar: pygame.Rect
    traces: pygame.Rect
    rules: pygame.Rect
    status: pygame.Rect
    targets: pygame.Rect
    reps: pygame.Rect
    text_size: int
    row_h: int

    @property
    def ghost_button(self) -> pygame.Rect:
        """The ghost's on / off switch in the top bar (key G does the same)."""
        w, h = self.size
        bh = self.top_bar.h - 12
        r = pygame.Rect(0, 0, round(h * 0.2), bh)
        r.midright = (round(w * 0.74), self.top_bar.centery)
        return r

    def target_buttons(self, n: int) -> list[tuple[pygame.Rect, pygame.Rect, pygame.Rect]]:
        """(row, minus, plus) rectangles for the first ``n`` target rows."""
        out = []
        y = self.targets.y + self.row_h * 1.4
        bw = round(self.row_h * 1.25)
        for _ in range(n):
            row = pygame.Rect(self.targets.x + 6, round(y), self.targets.w - 12, self.row_h - 4)
            plus = pygame.Rect(row.right - bw, row.y, bw, row.h)
            minus = pygame.Rect(plus.x - bw - 6, row.y, bw, row.h)
            out.append((row, minus, plus))
            y += self.row_h
        return out


def therapist_layout(size: tuple[int, int]) -> TherapistLayout:
    w, h = size
    m = max(6, round(h * 0.012))
    ts = max(14, round(h * 0.03))
    row_h = round(ts * 1.45)
    top = pygame.Rect(0, 0, w, round(h * 0.07))
    left_w = round(w * 0.58)
    y0 = top.bottom + m
    traces = pygame.Rect(m, y0, left_w - m, round(h * 0.46))
    rules = pygame.Rect(m, traces.bottom + m, left_w - m, h - traces.bottom - 2 * m)
    rx = left_w + m
    rw = w - rx - m
    status = pygame.Rect(rx, y0, rw, round(row_h * 4.6))
    targets = pygame.Rect(rx, status.bottom + m, rw, round(row_h * (len(TARGET_CONTROLS) + 1.7)))
    reps = pygame.Rect(rx, targets.bottom + m, rw, h - targets.bottom - 2 * m)
    return TherapistLayout((w, h), top, traces, rules, status, targets, reps, ts, row_h)


def validation_label(exercise_id: str) -> str:
    """How far the exercise's judgement has been checked on real motion, in a few words."""
    try:
        validated = get_exercise(exercise_id).validated
    except (ExerciseError, UnknownExercise):
        return ""
    return "validated on real motion" if validated else "not validated on real motion"


class TherapistView:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._snap: Snapshot | None = None
        self._layout: TherapistLayout | None = None
        self.selected = 0
        self._clock = clock
        self._draw_times: deque[float] = deque(maxlen=120)
        self._static: tuple[TherapistLayout, pygame.Surface] | None = None
        self.sound_note = "off"  # set by the Screen: "on, 80% (M mutes)", "muted (M), 80%", "off"
        self.access_note = ""  # set by the Screen in the kiosk: lock-out alerts since start
        self.ghost_on = True  # set by the Screen: whether the patient view draws the ghost
        self._validation: tuple[str, str] = ("", "")  # (exercise id, its label)

    def update(self, snapshot: Snapshot) -> None:
        self._snap = snapshot
        if snapshot.exercise_id != self._validation[0]:
            self._validation = (snapshot.exercise_id, validation_label(snapshot.exercise_id))

    def close(self) -> None:
        self._draw_times.clear()
        self._static = None

    def layout_for(self, size: tuple[int, int]) -> TherapistLayout:
        if self._layout is None or self._layout.size != tuple(size):
            self._layout = therapist_layout(tuple(size))
        return self._layout

    @property
    def ui_fps(self) -> float:
        d = self._draw_times
        if len(d) < 2 or d[-1] <= d[0]:
            return math.nan
        return (len(d) - 1) / (d[-1] - d[0])

    # input -----------------------------------------------------------------------------
    def hit_ghost(self, pos: tuple[int, int], size: tuple[int, int]) -> bool:
        return self.layout_for(size).ghost_button.collidepoint(pos)

    def handle_event(self, event: pygame.event.Event, size: tuple[int, int]) -> list[Intent]:
        controls = controls_for(self._snap)
        if not controls:
            return []
        self.selected = min(self.selected, len(controls) - 1)
        if event.type == pygame.KEYDOWN:
            if event.key == pygame.K_UP:
                self.selected = (self.selected - 1) % len(controls)
            elif event.key == pygame.K_DOWN:
                self.selected = (self.selected + 1) % len(controls)
            elif event.key in (pygame.K_RIGHT, pygame.K_PLUS, pygame.K_KP_PLUS, pygame.K_EQUALS):
                c = controls[self.selected]
                return [AdjustTarget(c.key, c.step)]
            elif event.key in (pygame.K_LEFT, pygame.K_MINUS, pygame.K_KP_MINUS):
                c = controls[self.selected]
                return [AdjustTarget(c.key, -c.step)]
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            lay = self.layout_for(size)
            for i, (row, minus, plus) in enumerate(lay.target_buttons(len(controls))):
                c = controls[i]
                if minus.collidepoint(event.pos):
                    self.selected = i
                    return [AdjustTarget(c.key, -c.step)]
                if plus.collidepoint(event.pos):
                    self.selected = i
                    return [AdjustTarget(c.key, c.step)]
                if row.collidepoint(event.pos):
                    self.selected = i
        return []

    def _static_layer(self, lay: TherapistLayout) -> pygame.Surface:
        """Background and panels, drawn once per layout."""
        if self._static is None or self._static[0] is not lay:
            bg = pygame.Surface(lay.size)
            bg.fill(style.BACKGROUND)
            pygame.draw.rect(bg, style.PANEL, lay.top_bar)
            for r in (lay.traces, lay.rules, lay.status, lay.targets, lay.reps):
                style.panel(bg, r)
            self._static = (lay, bg)
        return self._static[1]

    # drawing ---------------------------------------------------------------------------
    def draw(self, surface: pygame.Surface) -> None:
        self._draw_times.append(self._clock())
        lay = self.layout_for(surface.get_size())
        surface.blit(self._static_layer(lay), (0, 0))
        snap = self._snap
        ts = lay.text_size
        if snap is None:
            style.text(
                surface, "Waiting for a session", ts, style.TEXT_DIM, lay.top_bar.center, "center"
            )
            return
        validation = f" ({self._validation[1]})" if self._validation[1] else ""
        head = (
            f"{snap.exercise_name}{validation}  |  {snap.phase}  |  "
            f"set {snap.set_index}/{snap.sets_total}  rep {snap.rep_count}"
        )
        if snap.patient_code:
            head += f"  |  patient {snap.patient_code}"
        style.text(
            surface,
            head,
            ts * 1.2,
            style.TEXT,
            (12, lay.top_bar.centery),
            "midleft",
            lay.ghost_button.x - 24,
        )
        b = lay.ghost_button
        style.panel(surface, b, style.BLUE if self.ghost_on else style.TRACK, edge=False)
        label = "Ghost on [G]" if self.ghost_on else "Ghost off [G]"
        style.text(surface, label, ts, style.WHITE, b.center, "center", b.w * 0.9)
        style.text(
            surface,
            f"t {snap.t:7.1f} s   [T] patient view",
            ts,
            style.TEXT_DIM,
            (lay.size[0] - 12, lay.top_bar.centery),
            "midright",
        )
        if snap.safety_stop:
            pygame.draw.rect(surface, style.VERMILLION, lay.top_bar, width=5)
        self._draw_traces(surface, lay, snap)
        self._draw_rules(surface, lay, snap)
        self._draw_status(surface, lay, snap)
        self._draw_targets(surface, lay, snap)
        self._draw_reps(surface, lay, snap)

    def _draw_traces(self, surface, lay: TherapistLayout, snap: Snapshot) -> None:
        traces = snap.traces[:3]
        if not traces:
            style.text(
                surface, "no traces", lay.text_size, style.TEXT_DIM, lay.traces.center, "center"
            )
            return
        inner = lay.traces.inflate(-16, -16)
        gap = 10
        ph = (inner.h - gap * (len(traces) - 1)) // len(traces)
        colours = (style.SKY_BLUE, style.ORANGE, style.REDDISH_PURPLE)
        for k, tr in enumerate(traces):
            r = pygame.Rect(inner.x, inner.y + k * (ph + gap), inner.w, ph)
            band = snap.load_band_n if tr.unit == "N" else None
            limit = snap.load_limit_n if tr.unit == "N" else math.nan
            self._plot(surface, r, tr, snap.t, colours[k], lay.text_size, band, limit)

    def _plot(
        self, surface, r: pygame.Rect, tr: Trace, now: float, colour, ts: int, band, limit
    ) -> None:
        label_w = round(ts * 3.2)
        plot = pygame.Rect(
            r.x + label_w, r.y + round(ts * 1.1), r.w - label_w, r.h - round(ts * 2.1)
        )
        pygame.draw.rect(surface, (22, 25, 31), plot)
        t = np.asarray(tr.t, dtype=np.float64)
        v = np.asarray(tr.values, dtype=np.float64)
        keep = (t >= now - TRACE_WINDOW_S) & (t <= now)
        t, v = t[keep], v[keep]
        finite = np.isfinite(v)
        last = v[finite][-1] if finite.any() else math.nan
        style.text(
            surface,
            f"{tr.label}  {style.fmt_number(last, '.1f')} {tr.unit}",
            ts,
            colour,
            (plot.x, r.y),
        )
        refs = [x for x in (*(band or ()), limit) if math.isfinite(x)]
        vals = np.concatenate([v[finite], np.asarray(refs, dtype=np.float64)])
        if vals.size == 0:
            style.text(surface, "no data", ts, style.TEXT_DIM, plot.center, "center")
            return
        lo, hi = float(vals.min()), float(vals.max())
        pad = max((hi - lo) * 0.08, 1e-6)
        lo, hi = lo - pad, hi + pad

        def ypix(val: float) -> float:
            return plot.bottom - (val - lo) / (hi - lo) * plot.h

        if band is not None and all(math.isfinite(b) for b in band):
            y0, y1 = ypix(band[1]), ypix(band[0])
            pygame.draw.rect(surface, (18, 64, 52), (plot.x, y0, plot.w, max(1, y1 - y0)))
        if math.isfinite(limit):
            pygame.draw.line(
                surface, style.VERMILLION, (plot.x, ypix(limit)), (plot.right - 1, ypix(limit)), 2
            )
        for val in (lo + pad, hi - pad):
            style.text(
                surface,
                f"{val:.0f}",
                ts * 0.85,
                style.TEXT_DIM,
                (plot.x - 6, ypix(val)),
                "midright",
            )
        style.text(
            surface,
            f"-{TRACE_WINDOW_S:.0f} s",
            ts * 0.85,
            style.TEXT_DIM,
            (plot.x, plot.bottom + 2),
        )
        style.text(
            surface, "now", ts * 0.85, style.TEXT_DIM, (plot.right, plot.bottom + 2), "topright"
        )
        if t.size < 2:
            return
        # At most two points per pixel column: enough for the eye, bounded cost per frame.
        stride = max(1, t.size // (plot.w * 2))
        t, v = t[::stride], v[::stride]
        xs = plot.x + (t - (now - TRACE_WINDOW_S)) / TRACE_WINDOW_S * plot.w
        ys = plot.bottom - (v - lo) / (hi - lo) * plot.h
        ok = np.isfinite(ys)
        # Break the line at gaps (NaN) instead of bridging them.
        breaks = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        for seg_idx in np.split(np.arange(t.size), breaks):
            if seg_idx.size >= 2 and ok[seg_idx[0]]:
                pygame.draw.lines(
                    surface, colour, False, np.stack([xs[seg_idx], ys[seg_idx]], 1), 2
                )

    def _draw_rules(self, surface, lay: TherapistLayout, snap: Snapshot) -> None:
        r = lay.rules
        ts, rh = lay.text_size, lay.row_h
        cols = (r.x + 12, r.x + 12 + rh, r.x + r.w * 0.52, r.x + r.w * 0.72)
        y = r.y + 8
        for x, head in zip(cols[1:], ("Rule", "Value", "Allowed"), strict=True):
            style.text(surface, head, ts, style.TEXT_DIM, (x, y))
        y += rh
        for rule in snap.rules:
            if y + rh > r.bottom:
                break
            style.icon(
                surface,
                style.STATUS_ICON[rule.status],
                (cols[0] + rh * 0.35, y + ts * 0.38),
                ts * 0.42,
            )
            colour = style.TEXT if rule.status != RuleStatus.UNKNOWN else style.TEXT_DIM
            style.text(
                surface, rule.label, ts, colour, (cols[1], y), max_width=cols[2] - cols[1] - 8
            )
            # Small type stays white for contrast; the icon in the first column carries status.
            # A rule the camera cannot see well enough is neither passed nor failed.
            judged = rule.status != RuleStatus.UNKNOWN
            value = f"{style.fmt_number(rule.value, '.1f')} {rule.unit}" if judged else "not judged"
            style.text(surface, value, ts, style.TEXT if judged else style.TEXT_DIM, (cols[2], y))
            style.text(
                surface,
                _allowed(rule.low, rule.high, rule.unit),
                ts,
                style.TEXT_DIM,
                (cols[3], y),
                max_width=r.right - cols[3] - 8,
            )
            y += rh

    def _draw_status(self, surface, lay: TherapistLayout, snap: Snapshot) -> None:
        r = lay.status
        ts, rh = lay.text_size, lay.row_h
        y = r.y + 8
        for src in (snap.camera, snap.machine, snap.storage):
            if src is None:
                continue
            _source_row(surface, src, r, y, ts, rh)
            y += rh * 1.25
        style.text(
            surface,
            f"pose {style.fmt_number(snap.pose_fps, '.1f')} fps   "
            f"UI {style.fmt_number(self.ui_fps, '.0f')} fps   sound {self.sound_note}",
            ts,
            style.TEXT_DIM,
            (r.x + 12, min(y, r.bottom - rh)),
            max_width=r.w - 24,
        )
        if self.access_note and y + 2 * rh <= r.bottom:
            style.text(
                surface,
                f"access alerts: {self.access_note}",
                ts,
                style.ORANGE,
                (r.x + 12, y + rh),
                max_width=r.w - 24,
            )

    def _draw_targets(self, surface, lay: TherapistLayout, snap: Snapshot) -> None:
        r = lay.targets
        ts = lay.text_size
        style.text(
            surface,
            "Targets  (up/down select, -/+ change)",
            ts,
            style.TEXT_DIM,
            (r.x + 12, r.y + 8),
            max_width=r.w - 24,
        )
        controls = controls_for(snap)
        self.selected = min(self.selected, max(0, len(controls) - 1))
        for i, (c, (row, minus, plus)) in enumerate(
            zip(controls, lay.target_buttons(len(controls)), strict=False)
        ):
            if i == self.selected:
                pygame.draw.rect(surface, style.BLUE, row, width=3, border_radius=6)
            style.text(surface, c.label, ts, style.TEXT, (row.x + 8, row.centery), "midleft")
            v = float(c.value(snap))
            style.text(
                surface,
                c.fmt(v) if math.isfinite(v) else "--",
                ts,
                style.TEXT,
                (minus.x - 14, row.centery),
                "midright",
            )
            for b, sign in ((minus, "-"), (plus, "+")):
                pygame.draw.rect(surface, style.TRACK, b, border_radius=6)
                style.text(surface, sign, ts * 1.3, style.WHITE, b.center, "center")

    def _draw_reps(self, surface, lay: TherapistLayout, snap: Snapshot) -> None:
        r = lay.reps
        ts, rh = lay.text_size, lay.row_h
        cols = [r.x + 12 + r.w * f for f in (0.0, 0.1, 0.27, 0.44, 0.56, 0.7)]
        y = r.y + 8
        heads = ("#", "range", "time", "tempo", "form", "faults")
        for x, head in zip(cols, heads, strict=True):
            style.text(surface, head, ts, style.TEXT_DIM, (x, y))
        y += rh
        for rep in reversed(snap.reps):  # newest first: that is the one the therapist watched
            if y + rh > r.bottom:
                break
            colour = style.TEXT if rep.counted else style.TEXT_DIM
            style.text(
                surface, f"{rep.index}" + ("" if rep.counted else "*"), ts, colour, (cols[0], y)
            )
            style.text(
                surface,
                style.fmt_number(rep.range_fraction * 100, ".0f") + " %",
                ts,
                colour,
                (cols[1], y),
            )
            style.text(surface, f"{rep.duration_s:.1f} s", ts, colour, (cols[2], y))
            style.icon(
                surface,
                "ok" if rep.tempo_ok else "warning",
                (cols[3] + ts * 0.45, y + ts * 0.38),
                ts * 0.4,
            )
            style.text(surface, style.fmt_number(rep.form_score), ts, colour, (cols[4], y))
            style.text(
                surface,
                ", ".join(f.rsplit(".", 1)[-1] for f in rep.faults) or "-",
                ts * 0.9,
                colour,
                (cols[5], y),
                max_width=r.right - cols[5] - 8,
            )
            y += rh


def _allowed(low: float, high: float, unit: str) -> str:
    lo, hi = math.isfinite(low), math.isfinite(high)
    if lo and hi:
        return f"{low:g} .. {high:g} {unit}"
    if hi:
        return f"<= {high:g} {unit}"
    if lo:
        return f">= {low:g} {unit}"
    return "-"


def _source_row(surface, src: SourceStatus, r: pygame.Rect, y: float, ts: int, rh: int) -> None:
    kind = "ok" if src.healthy else ("warning" if src.state == "reconnecting" else "fault")
    style.icon(surface, kind, (r.x + 12 + ts * 0.45, y + ts * 0.38), ts * 0.42)
    line = (
        f"{src.name}: {src.state}   {style.fmt_number(src.rate_hz, '.1f')} Hz   "
        f"drops {src.dropped}   errors {src.errors}"
    )
    style.text(
        surface, line, ts, style.TEXT, (r.x + 12 + ts * 1.3, y), max_width=r.w - ts * 1.3 - 24
    )
    if src.message:
        style.text(
            surface,
            src.message,
            ts * 0.85,
            style.TEXT_DIM,
            (r.x + 12 + ts * 1.3, y + ts * 0.85),
            max_width=r.w - ts * 1.3 - 24,
        )
