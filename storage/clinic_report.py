"""The clinic's two documents, as PDF (one page each) or PNG:

- the assessment report: a header (patient, sex and age used for the norms, protocol, date,
  device, norm file version), a summary table (each result, its norm mean and SD or band,
  percent of norm, z-score, flag, or why there is no norm), then the patient against the norm
  with the normal band drawn, the asymmetries and ratios, and the strength curve or ranges;
- the progress report: a header (patient, period, programme), a summary table (visits, pain,
  the dose at the start and now), then pain before and after each visit, the dose over the
  visits with each change marked, form quality per visit, and range and strength across
  assessments as percent of norm where a norm exists.

Visits are on the axis as whole visit numbers, each labelled with its date; a plot with
nothing to show says why. matplotlib through its object API and the Agg canvas only.
"""

from __future__ import annotations

import math
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from storage import paths
from storage.base import Store
from storage.clinic_records import AssessmentResultRecord, AssessmentRun, DoseDecision
from storage.errors import NotFound
from storage.metrics import session_figures

FORMATS = (".pdf", ".png")
_A4_LANDSCAPE = (11.69, 8.27)
_OK, _BAD, _BLUE, _NORM, _MUTED, _BAND = (
    "#2e7d32",
    "#c62828",
    "#1565c0",
    "#6a1b9a",
    "#9e9e9e",
    "#c8e6c9",
)


def _date(text: str, with_time: bool = True) -> str:
    if not text:
        return "-"
    fmt = "%Y-%m-%d %H:%M %Z" if with_time else "%Y-%m-%d"
    return datetime.fromisoformat(text).astimezone().strftime(fmt)


def _empty(ax: Axes, text: str) -> None:
    text = "\n".join(textwrap.wrap(text, 42)[:6])
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        color=_MUTED,
        wrap=True,
        transform=ax.transAxes,
        fontsize=9,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _num(x: float, spec: str = ".0f", unit: str = "") -> str:
    return f"{x:{spec}}{unit}" if math.isfinite(x) else "-"


def _value(r: AssessmentResultRecord) -> str:
    if not r.measured:
        return "not measured"
    spec = ".2f" if r.unit == "ratio" else (".1f" if r.unit == "s" else ".0f")
    unit = "" if r.unit == "ratio" else f" {r.unit}"
    return ("at least " if r.at_least else "") + f"{r.value:{spec}}{unit}"


def _norm_cell(r: AssessmentResultRecord) -> str:
    if not r.measured:
        return "-"
    if r.no_norm:
        return "no norm"
    parts = []
    if math.isfinite(r.norm_mean):
        parts.append(f"{r.norm_mean:g}" + (f" ({r.norm_sd:g})" if math.isfinite(r.norm_sd) else ""))
    if math.isfinite(r.norm_low) and math.isfinite(r.norm_high):
        parts.append(f"band {r.norm_low:.3g}-{r.norm_high:.3g}")
    return ", ".join(parts) + ("" if r.norm_verified else " *")


def _note(r: AssessmentResultRecord, notes: list[str], width: int = 80) -> str:
    """The note cell; a reason for no norm goes to a numbered footnote (``notes``)."""
    if not r.measured:
        text = r.reason
    elif r.flag_note:
        text = ("FLAGGED: " if r.flagged else "") + r.flag_note
    elif r.no_norm:
        if r.no_norm not in notes:
            notes.append(r.no_norm)
        return f"no norm: see note {notes.index(r.no_norm) + 1}"
    elif r.flagged:
        text = f"{r.position} the normal band"
    else:
        text = "within the normal band" if r.position == "within" else ""
    return text if len(text) <= width else text[: width - 3] + "..."


def _header(fig: Figure, title: str, subtitle: str) -> None:
    fig.suptitle(title, fontsize=14, x=0.02, ha="left", fontweight="bold")
    fig.text(
        0.02,
        0.94,
        "\n".join(textwrap.wrap(subtitle, 170)),
        fontsize=9,
        ha="left",
        va="top",
        color="#424242",
    )


def _table(ax: Axes, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
    ax.axis("off")
    if not rows:
        _empty(ax, "nothing to list")
        return
    t = ax.table(
        cellText=rows,
        colLabels=header,
        colWidths=widths,
        loc="upper left",
        cellLoc="left",
        colLoc="left",
    )
    t.auto_set_font_size(False)
    t.set_fontsize(7.5)
    t.scale(1.0, 1.25)
    for (row, _), cell in t.get_celld().items():
        cell.set_edgecolor("#bdbdbd")
        if row == 0:
            cell.set_facecolor("#eeeeee")
            cell.set_text_props(fontweight="bold")


# -- the assessment report ------------------------------------------------------------------


def assessment_figure(code: str, sex: str, birth_year: int | None, run: AssessmentRun) -> Figure:
    fig = Figure(figsize=_A4_LANDSCAPE, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(rect=(0, 0, 1, 0.92))
    who = f"{run.sex or 'sex not recorded'}, " + (
        f"{run.age_years} years" if run.age_years is not None else "age not recorded"
    )
    serial = f" ({run.machine_serial})" if run.machine_serial else ""
    _header(
        fig,
        f"Assessment - patient {code} ({who})",
        f"{run.protocol_id}, {_date(run.started_at)}, {run.status}; device {run.device or '-'}"
        f"{serial}; norm file version {run.norm_version or '-'}. "
        "Results against norms for the same sex and age; * norm not verified against the paper.",
    )
    grid = fig.add_gridspec(2, 3, height_ratios=[1.15, 1.0])
    ax = fig.add_subplot(grid[0, :])
    notes: list[str] = []
    rows = [
        [
            r.label,
            _value(r),
            _norm_cell(r),
            _num(r.percent_of_norm, ".0f", " %"),
            _num(r.z_score, "+.1f"),
            _note(r, notes),
        ]
        for r in run.results
    ]
    _table(
        ax,
        ["Test", "Result", "Norm mean (SD) / band", "% of norm", "z", "Note"],
        rows,
        [0.28, 0.1, 0.15, 0.07, 0.05, 0.35],
    )
    text = [f"{k}. {n}" for k, n in enumerate(notes, 1)]
    wrapped = "\n".join(line for t in text for line in textwrap.wrap(t, 190))
    if wrapped:
        ax.text(
            0.0,
            0.0,
            "Notes: " + wrapped,
            transform=ax.transAxes,
            fontsize=6.5,
            va="top",
            color="#424242",
        )
    _against_norm(fig.add_subplot(grid[1, 0]), run)
    _pairs(fig.add_subplot(grid[1, 1]), run)
    _curve(fig.add_subplot(grid[1, 2]), run)
    return fig


def _against_norm(ax: Axes, run: AssessmentRun) -> None:
    """Each normed result on its own row, in percent of the norm's mean, the normal band
    shaded; a norm with a band but no mean is drawn on its own scale (band = 0-100)."""
    ax.set_title("Patient against the norm", fontsize=10)
    normed = [
        r
        for r in run.results
        if r.measured and not r.no_norm and r.kind not in ("asymmetry", "ratio")
    ]
    if not normed:
        reasons = sorted({r.no_norm for r in run.results if r.no_norm})
        _empty(
            ax, "No result of this assessment has a norm.\n" + (reasons[0][:160] if reasons else "")
        )
        return
    for i, r in enumerate(normed):
        y = len(normed) - 1 - i
        if math.isfinite(r.norm_mean) and r.norm_mean > 0:
            scale, label = 100.0 / r.norm_mean, "% of norm mean"
            lo, hi = r.norm_low * scale, r.norm_high * scale
            ax.plot([100, 100], [y - 0.35, y + 0.35], color=_NORM, linewidth=2)
        else:  # a source range only (chair stand): the band spans 0-100 on this row
            width = r.norm_high - r.norm_low
            scale, label = 100.0 / width, "position in the normal range (low end 0, high end 100)"
            lo, hi = 0.0, 100.0
        if math.isfinite(lo) and math.isfinite(hi):
            ax.barh(y, hi - lo, left=lo, height=0.6, color=_BAND, edgecolor=_OK)
        x = (
            r.value * scale
            if math.isfinite(r.norm_mean) and r.norm_mean > 0
            else (r.value - r.norm_low) * scale
        )
        ax.plot(x, y, "o", color=_BAD if r.flagged else _BLUE, markersize=8)
        ax.annotate(_value(r), (x, y), xytext=(6, 6), textcoords="offset points", fontsize=7)
    ax.set_yticks(range(len(normed)), [r.label for r in reversed(normed)], fontsize=7)
    if len(normed) > 1:
        label = "% of the norm's mean; a norm with a range only: 0-100 across it"
    ax.set_xlabel(label + " (green: normal band)", fontsize=7)
    ax.set_ylim(-0.7, len(normed) - 0.3)
    ax.axvline(0, color=_MUTED, linewidth=0.5)


def _pairs(ax: Axes, run: AssessmentRun) -> None:
    ax.set_title("Asymmetry and ratios", fontsize=10)
    pairs = [r for r in run.results if r.kind in ("asymmetry", "ratio") and r.measured]
    if not pairs:
        missing = [r.label for r in run.results if r.kind in ("asymmetry", "ratio")]
        _empty(
            ax,
            "Not measured: " + "; ".join(missing)
            if missing
            else "This protocol compares no sides.",
        )
        return
    for i, r in enumerate(pairs):
        colour = _BAD if r.flagged else _BLUE
        ax.barh(i, r.value, color=colour, height=0.5)
        ref = r.norm_high if r.kind == "asymmetry" else r.norm_mean
        if math.isfinite(ref):
            what = "flag above" if r.kind == "asymmetry" else "norm"
            ax.plot([ref, ref], [i - 0.35, i + 0.35], color=_NORM, linewidth=2)
            ax.annotate(f"{what} {ref:g}", (ref, i + 0.3), fontsize=7, color=_NORM)
        ax.annotate(_value(r), (r.value, i), xytext=(4, -3), textcoords="offset points", fontsize=7)
    ax.set_yticks(range(len(pairs)), [r.label for r in pairs], fontsize=7)
    ax.set_xlabel("% (asymmetry) or ratio", fontsize=8)


def _curve(ax: Axes, run: AssessmentRun) -> None:
    strength = [r for r in run.results if r.kind == "machine_strength"]
    ranges = [r for r in run.results if r.kind in ("machine_range", "camera_range")]
    if strength:
        ax.set_title("Isometric strength by angle", fontsize=10)
        done = sorted((r for r in strength if r.measured), key=lambda r: r.angle_deg)
        if done:
            ax.plot([r.angle_deg for r in done], [r.value for r in done], "o-", color=_BLUE)
        for r in strength:
            if not r.measured:
                ax.axvline(r.angle_deg, color=_MUTED, linestyle=":", linewidth=1)
        ax.set_xlabel(
            "machine angle (deg); dotted: not tested (outside the pain-free range)", fontsize=7
        )
        ax.set_ylabel("N", fontsize=8)
        if all(r.no_norm or not r.measured for r in strength):
            ax.set_title("Isometric strength by angle (no norm: see the notes)", fontsize=10)
        return
    if ranges:
        ax.set_title("Range by direction", fontsize=10)
        ok = [r for r in ranges if r.measured]
        ax.bar(range(len(ok)), [r.value for r in ok], color=_BLUE)
        ax.set_xticks(range(len(ok)), [r.label for r in ok], fontsize=6, rotation=15)
        ax.set_ylabel("deg", fontsize=8)
        if not ok:
            _empty(ax, "No range could be measured")
        return
    _empty(ax, "This protocol measures no range or strength")


def assessment_report(store: Store, code: str, out: Path, run_id: int | None = None) -> Path:
    store.check_output(out)
    runs = store.assessment_runs(code)
    if not runs:
        raise NotFound(f"{code} has no assessment in {store.location}", path=store.location)
    run = runs[-1] if run_id is None else next((r for r in runs if r.id == run_id), None)
    if run is None:
        raise NotFound(f"{code} has no assessment {run_id}", path=store.location)
    p = store.get_patient(code)
    return _write(out, [assessment_figure(code, p.sex, p.birth_year, run)], f"Assessment {code}")


# -- the progress report --------------------------------------------------------------------


def progress_figure(store: Store, code: str) -> Figure:
    visits = store.visits(code)
    changes = store.dose_changes(code)
    runs = store.assessment_runs(code)
    programme = store.active_programme(code)
    fig = Figure(figsize=_A4_LANDSCAPE, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(rect=(0, 0, 1, 0.92))
    period = (
        f"{_date(visits[0].started_at, False)} to {_date(visits[-1].started_at, False)}"
        if visits
        else "no visits yet"
    )
    prog = f"programme '{programme.name}'" if programme else "no programme"
    mode = ""
    if programme is not None:
        mode = " (automatic progression)" if programme.auto_progress else " (therapist confirms)"
    _header(
        fig,
        f"Progress - patient {code}",
        f"{len(visits)} visit(s), {period}; {prog}{mode}; {len(runs)} assessment(s). "
        "Visits on the axis by number, with their dates.",
    )
    grid = fig.add_gridspec(2, 3, height_ratios=[0.85, 1.0])
    _summary(fig.add_subplot(grid[0, :]), visits, changes, programme)
    _pain(fig.add_subplot(grid[1, 0]), visits)
    _dose(fig.add_subplot(grid[1, 1]), visits, changes, programme)
    ax = fig.add_subplot(grid[1, 2])
    _quality(ax, store, visits)
    return fig


def _visit_axis(ax: Axes, visits) -> np.ndarray:
    x = np.arange(1, len(visits) + 1)
    ax.set_xlim(0.5, len(visits) + 0.5)
    ax.set_xticks(
        x,
        [f"{k}\n{_date(v.started_at, False)[5:]}" for k, v in zip(x, visits, strict=True)],
        fontsize=7,
    )
    ax.set_xlabel("visit (month-day)", fontsize=8)
    return x


def _summary(ax: Axes, visits, changes, programme) -> None:
    finished = [v for v in visits if v.status.value == "finished"]
    flagged = [v for v in visits if v.flagged]
    rows = [
        [
            "Visits",
            f"{len(visits)}: {len(finished)} finished, {len(visits) - len(finished)} left early, "
            f"{len(flagged)} flagged for the therapist",
        ],
    ]
    if visits:
        b0, a0 = visits[0].pain_at("before"), visits[0].pain_at("after")
        b1, a1 = visits[-1].pain_at("before"), visits[-1].pain_at("after")
        rows.append(["Pain (0-10) first visit", f"{_num(b0, 'g')} before, {_num(a0, 'g')} after"])
        rows.append(["Pain (0-10) last visit", f"{_num(b1, 'g')} before, {_num(a1, 'g')} after"])
    for v in flagged[-2:]:
        rows.append([f"Flag {_date(v.started_at, False)}", v.flag_reason])
    if programme is not None:
        for it in programme.items:
            first = next(
                (c for c in changes if c.exercise_id == it.exercise_id and c.side == it.side), None
            )
            start = _dose_text(first.before) if first else "unchanged since the start"
            now = _dose_text_item(it)
            rows.append(
                [
                    f"Dose {it.exercise_id}{' ' + it.side if it.side else ''}",
                    f"start: {start}; now: {now}",
                ]
            )
    waiting = [c for c in changes if c.decision is DoseDecision.PROPOSED]
    applied = [c for c in changes if c.decision is DoseDecision.APPLIED]
    rows.append(
        ["Dose changes", f"{len(applied)} applied, {len(waiting)} waiting for the therapist"]
    )
    _table(ax, ["Summary", ""], rows, [0.2, 0.8])


def _dose_text(d) -> str:
    parts = [f"{d.sets} x {d.reps}"]
    if math.isfinite(d.load_low_n):
        parts.append(f"{d.load_low_n:.0f}-{d.load_high_n:.0f} N")
    if math.isfinite(d.range_target_deg):
        parts.append(f"range {d.range_target_deg:.1f} deg")
    if math.isfinite(d.hold_s):
        parts.append(f"hold {d.hold_s:g} s")
    return ", ".join(parts)


def _dose_text_item(it) -> str:
    from storage.clinic_records import Dose

    return _dose_text(Dose.of(it))


def _pain(ax: Axes, visits) -> None:
    ax.set_title("Pain before and after each visit", fontsize=10)
    if not visits:
        _empty(ax, "No visits yet")
        return
    x = _visit_axis(ax, visits)
    before = [v.pain_at("before") for v in visits]
    after = [v.pain_at("after") for v in visits]
    ax.plot(x - 0.08, before, "o", color=_BLUE, label="before")
    ax.plot(x + 0.08, after, "s", color=_BAD, label="after")
    for k, (b, a) in enumerate(zip(before, after, strict=True)):
        if math.isfinite(b) and math.isfinite(a):
            ax.annotate(
                "",
                (x[k] + 0.08, a),
                (x[k] - 0.08, b),
                arrowprops={"arrowstyle": "->", "color": _MUTED},
            )
    for k, v in enumerate(visits):
        if v.flagged:
            ax.axvspan(x[k] - 0.4, x[k] + 0.4, color="#ffcdd2", alpha=0.6, zorder=0)
    ax.set_ylim(-0.5, 10.5)
    ax.set_ylabel("pain (0-10); red band: visit flagged", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")


def _dose(ax: Axes, visits, changes, programme) -> None:
    """The load band and the range target each visit was done at, and the changes."""
    ax.set_title("Dose at each visit", fontsize=10)
    if not visits or programme is None:
        _empty(ax, "No visits yet" if not visits else "No programme")
        return
    x = _visit_axis(ax, visits)
    item = next((i for i in programme.items if math.isfinite(i.load_band_n[0])), programme.items[0])
    ex = item.exercise_id
    mine = [c for c in changes if c.exercise_id == ex and c.decision is DoseDecision.APPLIED]
    # The dose of visit k is the one in force when it started: start from the earliest known
    # dose and apply the changes made before each visit.
    dose = mine[0].before if mine else None
    lo, hi, rng = [], [], []
    for v in visits:
        for c in mine:
            if (c.decided_at or c.proposed_at) <= v.started_at:
                dose = c.after
        if dose is None:
            from storage.clinic_records import Dose

            dose = Dose.of(item)
        lo.append(dose.load_low_n)
        hi.append(dose.load_high_n)
        rng.append(dose.range_target_deg)
    if any(math.isfinite(v) for v in lo):
        ax.bar(
            x,
            np.array(hi) - np.array(lo),
            bottom=lo,
            width=0.5,
            color=_BAND,
            edgecolor=_OK,
            label="load band (N)",
        )
        ax.set_ylabel(f"{ex}: load band (N)", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, rng, "D-", color=_NORM, label="range target (deg)")
    ax2.set_ylabel("range target (deg of movement)", fontsize=8, color=_NORM)
    for k, v in enumerate(visits):
        acts = [c.action for c in changes if c.visit_id == v.id and c.exercise_id == ex]
        if acts:
            waiting = any(
                c.decision is DoseDecision.PROPOSED for c in changes if c.visit_id == v.id
            )
            ax.annotate(
                acts[-1] + (" (waiting)" if waiting else ""),
                (x[k], hi[k] if math.isfinite(hi[k]) else 0),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=6,
            )
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")


def _quality(ax: Axes, store: Store, visits) -> None:
    ax.set_title("Form quality per visit", fontsize=10)
    if not visits:
        _empty(ax, "No visits yet")
        return
    x = _visit_axis(ax, visits)
    faults, tempo, any_reps = [], [], False
    for v in visits:
        reps = counted = faulty = on_tempo = 0
        for vi in v.items:
            if vi.session_id is None:
                continue
            try:
                rec = store.load_session(vi.session_id)
            except NotFound:
                continue
            f = session_figures(rec)
            reps += f.reps_counted
            faulty += vi.fault_reps
            if math.isfinite(f.tempo_compliance):
                counted += f.reps_counted
                on_tempo += round(f.tempo_compliance * f.reps_counted)
        any_reps |= reps > 0
        faults.append(100.0 * faulty / reps if reps else math.nan)
        tempo.append(100.0 * on_tempo / counted if counted else math.nan)
    if not any_reps:
        _empty(ax, "No reps were done in these visits (items skipped or not at this station)")
        return
    ax.bar(x - 0.18, np.nan_to_num(tempo), width=0.35, color=_OK, label="reps on tempo (%)")
    ax.bar(
        x + 0.18, np.nan_to_num(faults), width=0.35, color=_BAD, label="reps with a form fault (%)"
    )
    for k in range(len(visits)):
        if not math.isfinite(tempo[k]):
            ax.annotate("no reps", (x[k], 2), ha="center", fontsize=6, color=_MUTED)
        elif faults[k] == 0:
            ax.annotate(
                "no faults", (x[k] + 0.18, 2), ha="center", fontsize=6, color=_MUTED, rotation=90
            )
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of counted reps", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")


def norm_over_time_figure(store: Store, code: str) -> Figure | None:
    """Range and strength across assessments as percent of norm (or the value when the test
    has no norm); None with fewer than one run."""
    runs = store.assessment_runs(code)
    if not runs:
        return None
    fig = Figure(figsize=_A4_LANDSCAPE, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(rect=(0, 0, 1, 0.92))
    _header(
        fig,
        f"Assessments over time - patient {code}",
        f"{len(runs)} assessment(s); percent of norm where the test has a norm, else the value.",
    )
    axes = fig.subplots(1, 2)
    for ax, normed in zip(axes, (True, False), strict=True):
        series: dict[str, list[tuple[int, float]]] = {}
        for k, run in enumerate(runs, 1):
            for r in run.results:
                if not r.measured or r.kind in ("asymmetry", "ratio", "span"):
                    continue
                has = not r.no_norm and math.isfinite(r.percent_of_norm)
                if has == normed:
                    series.setdefault(r.label, []).append(
                        (k, r.percent_of_norm if normed else r.value)
                    )
        ax.set_title("Percent of norm" if normed else "Tests without a norm (value)", fontsize=10)
        if not series:
            _empty(
                ax,
                "No test with a norm in these assessments" if normed else "Every test has a norm",
            )
            continue
        for label, pts in series.items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
        ax.set_xlim(0.5, len(runs) + 0.5)
        ax.set_xticks(
            range(1, len(runs) + 1),
            [f"{k}\n{_date(r.started_at, False)[5:]}" for k, r in enumerate(runs, 1)],
            fontsize=7,
        )
        ax.set_xlabel("assessment (month-day)", fontsize=8)
        if normed:
            ax.axhline(100, color=_NORM, linestyle="--", linewidth=1)
        ax.legend(fontsize=6)
    return fig


def progress_report(store: Store, code: str, out: Path) -> Path:
    store.check_output(out)
    store.get_patient(code)  # NotFound for an unknown code
    figs = [progress_figure(store, code)]
    extra = norm_over_time_figure(store, code)
    if extra is not None:
        figs.append(extra)
    return _write(out, figs, f"Progress {code}")


def _write(out: Path, figs: list[Figure], title: str) -> Path:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"report file: expected a name ending in .pdf or .png, got {out}")
    if suffix == ".pdf":
        with paths.private_output(out, binary=True) as f, PdfPages(f) as pdf:
            for fig in figs:
                pdf.savefig(fig)
            pdf.infodict()["Title"] = f"SpineCoach {title}"
        return out
    import io

    buf = io.BytesIO()
    figs[0].savefig(buf, format="png", dpi=100)
    with paths.private_output(out, binary=True) as f:
        f.write(buf.getvalue())
    return out
