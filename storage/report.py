"""Therapist reports: per session and over time, as PDF (one page each), PNG or HTML.

Plots: range of motion against target and norm, load progression, form faults per set,
tempo compliance, reps against the dose, pain scores. matplotlib is used through its
object API with the Agg canvas only, so nothing touches a display or pyplot's global state.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from storage import paths
from storage.base import Store
from storage.metrics import SessionFigures, programme_item_for, session_figures
from storage.records import PatientHistory, SessionRecord

FORMATS = (".pdf", ".png", ".html")
MAX_SESSION_PAGES = 60  # the newest ones; the overview covers all
_A4_LANDSCAPE = (11.69, 8.27)
_OK, _BAD, _TARGET, _NORM, _MUTED = "#2e7d32", "#c62828", "#1565c0", "#6a1b9a", "#9e9e9e"
_FORM = "#ef6c00"


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_MUTED, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _hline(ax: Axes, y: float, color: str, label: str) -> None:
    if math.isfinite(y):
        ax.axhline(y, color=color, linestyle="--", linewidth=1.2, label=label)


def _integer_x(ax: Axes, label: str, n: int | None = None) -> None:
    """Whole numbers on the axis; with ``n`` sessions, each one a tick and half a step of
    room either side (one session drew an axis from 0.945 to 1.05)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if n:
        ax.set_xlim(0.5, n + 0.5)
        if n <= 20:
            ax.set_xticks(range(1, n + 1))
    ax.set_xlabel(label)


def _date(text: str) -> str:
    """Stored times are UTC; the therapist reads the clinic's local time, zone named."""
    return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def overview_figure(h: PatientHistory) -> Figure:
    """Progress over all sessions (x: session number, oldest first)."""
    fig = Figure(figsize=_A4_LANDSCAPE, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    sessions = h.sessions
    n = len(sessions)
    first = _date(sessions[0].info.started_at) if n else "-"
    last = _date(sessions[-1].info.started_at) if n else "-"
    fig.suptitle(
        f"Patient {h.patient.code} - progress over {n} session(s), {first} to {last}",
        fontsize=13,
    )
    x = np.arange(1, n + 1)
    figs = [session_figures(s) for s in sessions]
    exercises = sorted({s.info.exercise_id for s in sessions})

    ax = axes[0, 0]
    ax.set_title("Range of motion (largest counted rep)")
    if any(math.isfinite(f.max_rom_deg) for f in figs):
        for ex in exercises:
            idx = [i for i, s in enumerate(sessions) if s.info.exercise_id == ex]
            ax.plot(x[idx], [figs[i].max_rom_deg for i in idx], "o-", label=ex)
            item = next((programme_item_for(h, sessions[i]) for i in idx), None)
            if item is not None:
                _hline(ax, item.range_target_deg, _TARGET, f"target {ex}")
                _hline(ax, item.norm_rom_deg, _NORM, f"norm {ex}")
            base = [a.rom_deg for a in h.assessments if a.exercise_id == ex]
            if base and math.isfinite(base[-1]):
                _hline(ax, base[-1], _MUTED, f"baseline {ex}")
        _integer_x(ax, "session", n)
        ax.set_ylabel("degrees")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "no reps recorded yet")

    ax = axes[0, 1]
    ax.set_title("Load progression (mean peak force)")
    if any(math.isfinite(f.mean_peak_force_n) for f in figs):
        ax.plot(x, [f.mean_peak_force_n for f in figs], "o-", color=_TARGET, label="mean peak")
        ax.plot(x, [f.max_peak_force_n for f in figs], "v", color=_MUTED, label="max peak")
        lo = [_band(h, s)[0] for s in sessions]
        hi = [_band(h, s)[1] for s in sessions]
        if any(math.isfinite(v) for v in lo + hi):
            # One bar per session from the band's low to its high end (a filled area between
            # sessions drew nothing at all for a single session).
            ax.bar(x, np.subtract(hi, lo), bottom=lo, width=0.6, color=_OK, alpha=0.15,
                   label="load band")  # fmt: skip
        _integer_x(ax, "session", n)
        ax.set_ylabel("newtons")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "no machine load recorded")

    ax = axes[0, 2]
    ax.set_title("Tempo compliance")
    comp = [f.tempo_compliance * 100 for f in figs]
    if any(math.isfinite(c) for c in comp):
        ax.bar(x, np.nan_to_num(comp), color=[_OK if c >= 80 else _BAD for c in comp])
        for xi, c in zip(x, comp, strict=True):  # an empty bar says why it is empty
            if not math.isfinite(c) or c == 0:
                note = "no counted reps" if not math.isfinite(c) else "no rep on tempo"
                ax.text(xi, 2, note, ha="center", va="bottom", rotation=90, fontsize=7,
                        color=_MUTED)  # fmt: skip
        ax.set_ylim(0, 100)
        _integer_x(ax, "session", n)
        ax.set_ylabel("% of counted reps on tempo")
    else:
        _empty(ax, "no reps recorded yet")

    ax = axes[1, 0]
    ax.set_title("Reps counted against the dose")
    if n:
        ax.bar(x, [f.reps_counted for f in figs], color=_OK, label="counted")
        ax.bar(
            x,
            [f.reps_total - f.reps_counted for f in figs],
            bottom=[f.reps_counted for f in figs],
            color=_MUTED,
            label="partial",
        )
        dose = [_dose(h, s) for s in sessions]
        if any(d > 0 for d in dose):
            ax.plot(x, dose, "_", color=_TARGET, markersize=20, mew=2, label="dose")
        ax.set_ylim(0, 1.15 * max([*dose, *(f.reps_total for f in figs), 1]))
        _integer_x(ax, "session", n)
        ax.legend(fontsize=7)
    else:
        _empty(ax, "no sessions yet")

    ax = axes[1, 1]
    ax.set_title("Form faults per rep")
    totals: Counter[str] = Counter()
    for f in figs:
        totals.update(f.faults)
    if totals:
        bottom = np.zeros(n)
        for key, _ in totals.most_common(6):
            rate = np.array([f.faults.get(key, 0) / max(f.reps_total, 1) for f in figs])
            ax.bar(x, rate, bottom=bottom, label=key)
            bottom += rate
        _integer_x(ax, "session", n)
        ax.set_ylabel("faults per rep")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "no form faults recorded")
    _form_line(ax, x, [f.mean_form_score for f in figs], "mean form score")

    ax = axes[1, 2]
    ax.set_title("Pain (0-10)")
    if h.pain_scores:
        for moment in ("before", "during", "after", "assessment"):
            pts = [p for p in h.pain_scores if p.moment == moment]
            if pts:
                when = [datetime.fromisoformat(p.recorded_at) for p in pts]
                ax.plot(when, [p.score for p in pts], "o-", label=moment)
        ax.set_ylim(0, 10)
        ax.legend(fontsize=7)
        times = [datetime.fromisoformat(p.recorded_at) for p in h.pain_scores]
        if max(times) - min(times) < timedelta(days=1):
            # Within one day: the day and its hours, not ticks every few seconds.
            mid = min(times) + (max(times) - min(times)) / 2
            ax.set_xlim(mid - timedelta(hours=6), mid + timedelta(hours=6))
        loc = AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
    else:
        _empty(ax, "no pain scores entered")
    return fig


def _form_line(ax: Axes, x: np.ndarray, scores: list[float], label: str) -> None:
    """Form scores (0-100) on a right-hand axis over the panel, when there are any."""
    if not any(math.isfinite(v) for v in scores):
        return
    right = ax.twinx()
    right.plot(x, scores, "D-", color=_FORM, markersize=4, label=label)
    right.set_ylim(0, 105)
    right.set_ylabel(label + " (0-100)", color=_FORM)
    right.tick_params(axis="y", colors=_FORM)


def _form_text(f: SessionFigures) -> str:
    s = f.mean_form_score
    return f", mean form score {s:.0f}/100" if math.isfinite(s) else ""


def _band(h: PatientHistory, s: SessionRecord) -> tuple[float, float]:
    for st in s.sets:
        if math.isfinite(st.load_band_n[0]) or math.isfinite(st.load_band_n[1]):
            return st.load_band_n
    item = programme_item_for(h, s)
    return item.load_band_n if item else (math.nan, math.nan)


def _dose(h: PatientHistory, s: SessionRecord) -> int:
    planned = sum(st.target_reps for st in s.sets)
    if planned:
        return planned
    item = programme_item_for(h, s)
    return item.sets * item.reps if item else 0


def session_figure(h: PatientHistory, s: SessionRecord) -> Figure:
    fig = Figure(figsize=_A4_LANDSCAPE, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    info = s.info
    f = session_figures(s)
    item = programme_item_for(h, s)
    side = f" ({info.side})" if info.side else ""
    stop = f", {len(s.safety_events)} safety event(s)" if s.safety_events else ""
    fig.suptitle(
        f"Patient {h.patient.code} - {info.exercise_id}{side}, {_date(info.started_at)} - "
        f"{info.status} {info.end_reason}".rstrip()
        + f"\n{f.reps_counted} of {f.reps_total} reps counted{stop}{_form_text(f)}",
        fontsize=12,
    )
    reps = [(st.index, r) for st in s.sets for r in st.reps]
    x = np.arange(1, len(reps) + 1)

    ax = axes[0, 0]
    ax.set_title("Range of motion per rep")
    if reps:
        ax.bar(
            x, [r.rom_deg for _, r in reps], color=[_OK if r.counted else _MUTED for _, r in reps]
        )
        if item:
            _hline(ax, item.range_target_deg, _TARGET, "target")
            _hline(ax, item.norm_rom_deg, _NORM, "norm")
            _hline(ax, item.pain_free_limit_deg, _BAD, "pain-free limit")
        _integer_x(ax, "rep (grey: partial, not counted)")
        ax.set_ylabel("degrees")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        _form_line(ax, x, [r.form_score for _, r in reps], "form score")
    else:
        _empty(ax, "no reps")

    ax = axes[0, 1]
    ax.set_title("Tempo: rep duration")
    if reps:
        ax.bar(
            x, [r.duration_s for _, r in reps], color=[_OK if r.tempo_ok else _BAD for _, r in reps]
        )
        if item:
            _hline(ax, item.tempo_s, _TARGET, "target tempo")
            if math.isfinite(item.tempo_s):
                ax.legend(fontsize=7)
        _integer_x(ax, "rep (red: off tempo)")
        ax.set_ylabel("seconds")
    else:
        _empty(ax, "no reps")

    ax = axes[1, 0]
    ax.set_title("Form faults per set")
    keys = Counter(k for _, r in reps for k in r.faults)
    if keys:
        sx = np.array([st.index for st in s.sets])
        bottom = np.zeros(len(sx))
        for key, _ in keys.most_common(6):
            counts = np.array([sum(key in r.faults for r in st.reps) for st in s.sets])
            ax.bar(sx, counts, bottom=bottom, label=key)
            bottom += counts
        ax.set_xticks(sx)
        ax.set_xlabel("set")
        ax.set_ylabel("reps with the fault")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "no form faults")

    ax = axes[1, 1]
    if s.traces:
        tr = s.traces[0]
        ax.set_title(f"Trace: {tr.label}")
        ax.plot(*_break_gaps(tr.t, tr.values), linewidth=0.8, color=_TARGET)
        ax.set_xlabel("session time (s)")
        ax.set_ylabel(tr.unit)
        for e in s.safety_events:
            ax.axvline(e.t_s, color=_BAD, linewidth=1)
    elif any(math.isfinite(r.peak_force_n) for _, r in reps):
        ax.set_title("Peak force per rep")
        ax.plot(x, [r.peak_force_n for _, r in reps], "o-", color=_TARGET)
        lo, hi = _band(h, s)
        if math.isfinite(lo) and math.isfinite(hi):
            ax.axhspan(lo, hi, color=_OK, alpha=0.15, label="load band")
            ax.legend(fontsize=7)
        _integer_x(ax, "rep")
        ax.set_ylabel("newtons")
    else:
        ax.set_title("Trace")
        _empty(ax, "no trace stored")
    return fig


def _break_gaps(t: np.ndarray, v: np.ndarray, gap_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """NaN between samples more than ``gap_s`` apart, so rests are not drawn as movement."""
    cut = np.flatnonzero(np.diff(t) > gap_s) + 1
    return np.insert(t.astype(float), cut, np.nan), np.insert(v.astype(float), cut, np.nan)


def _png(fig: Figure, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _stack_png(figs: list[Figure], dpi: int = 100) -> bytes:
    """One tall PNG of several figures (overview on top)."""
    from matplotlib.image import imread

    images = [imread(io.BytesIO(_png(f, dpi)), format="png") for f in figs]
    width = max(im.shape[1] for im in images)
    padded = [
        np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=1.0) for im in images
    ]
    out = Figure(figsize=(width / dpi, sum(im.shape[0] for im in padded) / dpi), dpi=dpi)
    FigureCanvasAgg(out)
    out.figimage(np.concatenate(padded, axis=0), 0, 0)
    return _png(out, dpi)


def _html(h: PatientHistory, figs: list[tuple[str, Figure]]) -> str:
    rows = []
    for s in h.sessions:
        f = session_figures(s)
        comp = "-" if math.isnan(f.tempo_compliance) else f"{f.tempo_compliance:.0%}"
        rom = "-" if math.isnan(f.max_rom_deg) else f"{f.max_rom_deg:.0f}"
        form = "-" if math.isnan(f.mean_form_score) else f"{f.mean_form_score:.0f}"
        cells = (
            s.info.id,
            _date(s.info.started_at),
            s.info.exercise_id,
            s.info.status,
            f"{f.reps_counted}/{f.reps_total}",
            rom,
            comp,
            form,
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SpineCoach report {html.escape(h.patient.code)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>",
        "</head><body>",
        f"<h1>Patient {html.escape(h.patient.code)}</h1>",
        f"<p>Generated {_date(datetime.now(UTC).isoformat())}.</p>",
        "<table><tr><th>session</th><th>started</th><th>exercise</th><th>status</th>"
        "<th>reps counted</th><th>largest range (deg)</th><th>on tempo</th>"
        "<th>form score</th></tr>",
        *rows,
        "</table>",
    ]
    for title, fig in figs:
        data = base64.b64encode(_png(fig)).decode("ascii")
        parts += [
            f"<h2>{html.escape(title)}</h2>",
            f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">',
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(h: PatientHistory, out: Path) -> Path:
    """Write the report for one patient; the format follows ``out``'s suffix."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"report file: expected a name ending in .pdf, .png or .html, got {out}")
    sessions = h.sessions[-MAX_SESSION_PAGES:]
    if suffix == ".pdf":
        with paths.private_output(out, binary=True) as f, PdfPages(f) as pdf:
            pdf.savefig(overview_figure(h))
            for s in sessions:
                pdf.savefig(session_figure(h, s))
            meta = pdf.infodict()
            meta["Title"] = f"SpineCoach report {h.patient.code}"
    elif suffix == ".png":
        figs = [overview_figure(h)]
        if sessions:
            figs.append(session_figure(h, sessions[-1]))
        data = _stack_png(figs)
        with paths.private_output(out, binary=True) as f:
            f.write(data)
    else:
        figs = [("Progress over time", overview_figure(h))]
        figs += [(f"Session {s.info.id}", session_figure(h, s)) for s in reversed(sessions)]
        text = _html(h, figs)
        with paths.private_output(out) as f:
            f.write(text)
    return out


def report_patient(store: Store, patient_code: str, out: Path) -> Path:
    store.check_output(out)  # never write over the database or its journals
    return write_report(store.history(patient_code), out)
