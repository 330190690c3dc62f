"""A patient's history as one SVG, drawn on the server with matplotlib (Agg, no pyplot):
range of motion against target and norm, strength (peak force) against the load band, pain
before and after, and form quality (the mean form score of the counted reps, 0-100), one
point per session."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from storage.metrics import programme_item_for, session_figures
from storage.records import PatientHistory

_TARGET, _NORM, _OK, _BAD, _MUTED = "#1565c0", "#6a1b9a", "#2e7d32", "#c62828", "#9e9e9e"


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_MUTED, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _line(ax, y: float, color: str, label: str) -> None:
    if math.isfinite(y):
        ax.axhline(y, color=color, linestyle="--", linewidth=1.2, label=label)


# session.form_score: 50 is a movement one tolerance off the reference on average.
_ONE_TOLERANCE = 50.0


def history_svg(h: PatientHistory) -> bytes:
    fig = history_figure(h)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def history_figure(h: PatientHistory) -> Figure:
    """The four panels; the form panel is the last axes."""
    fig = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasSVG(fig)
    (a_rom, a_force), (a_pain, a_form) = fig.subplots(2, 2)
    sessions = h.sessions
    x = np.arange(1, len(sessions) + 1)
    figs = [session_figures(s) for s in sessions]

    a_rom.set_title("Range of motion (largest counted rep)")
    if any(math.isfinite(f.max_rom_deg) for f in figs):
        a_rom.plot(x, [f.max_rom_deg for f in figs], "o-", color="#37474f", label="measured")
        item = next((programme_item_for(h, s) for s in reversed(sessions)), None)
        if item is not None:
            _line(a_rom, item.range_target_deg, _TARGET, "target")
            _line(a_rom, item.norm_rom_deg, _NORM, "norm")
        a_rom.set_ylabel("degrees")
        a_rom.legend(fontsize=7)
    else:
        _empty(a_rom, "no reps recorded yet")

    a_force.set_title("Strength (mean peak force)")
    if any(math.isfinite(f.mean_peak_force_n) for f in figs):
        a_force.plot(x, [f.mean_peak_force_n for f in figs], "o-", color=_TARGET, label="mean peak")
        item = next((programme_item_for(h, s) for s in reversed(sessions)), None)
        if item is not None and all(math.isfinite(v) for v in item.load_band_n):
            a_force.axhspan(*item.load_band_n, color=_OK, alpha=0.15, label="load band")
        a_force.set_ylabel("newtons")
        a_force.legend(fontsize=7)
    else:
        _empty(a_force, "no machine load recorded")

    a_pain.set_title("Pain (0-10)")
    scores = [p for p in h.pain_scores if p.moment in ("before", "after")]
    if scores:
        for moment, color in (("before", _MUTED), ("after", _BAD)):
            ys = [p.score for p in scores if p.moment == moment]
            a_pain.plot(np.arange(1, len(ys) + 1), ys, "o-", color=color, label=moment)
        a_pain.set_ylim(0, 10)
        a_pain.set_xlabel("entry")
        a_pain.legend(fontsize=7)
    else:
        _empty(a_pain, "no pain scores recorded")

    a_form.set_title("Form quality (mean form score of the counted reps)")
    if any(f.reps_counted for f in figs):
        scores = [f.mean_form_score for f in figs]
        scored = [(xi, v) for xi, v in zip(x, scores, strict=True) if math.isfinite(v)]
        if scored:
            a_form.bar([xi for xi, _ in scored], [v for _, v in scored], color=_OK)
            a_form.axhline(_ONE_TOLERANCE, color=_MUTED, linestyle="--", linewidth=1,
                           label="one tolerance off the reference")  # fmt: skip
            a_form.legend(fontsize=7, loc="lower left", framealpha=0.9)  # over bars' feet
        for xi, f, v in zip(x, figs, scores, strict=True):
            if f.reps_counted and not math.isfinite(v):
                # Reps without a score: an exercise without a reference movement, a session
                # stored before reps were scored.
                a_form.text(xi, 50, "no score", rotation=90, ha="center", va="center",
                            color=_MUTED, backgroundcolor="white")  # fmt: skip
        a_form.set_ylim(0, 100)
        a_form.set_ylabel("score (0-100)")
    else:
        _empty(a_form, "no reps recorded yet")
    for ax in (a_rom, a_force, a_form):
        if sessions:
            # Whole sessions on the axis, also for one (else it runs 0.945-1.05).
            ax.set_xlim(0.5, len(sessions) + 0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set_xlabel("session")
    return fig
