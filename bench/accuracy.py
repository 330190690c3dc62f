"""Accuracy of rep counts, hold times and form judgement on every labelled real recording.

    python bench/accuracy.py [--json] [--only PATTERN] [--out PATH] [--no-mocap]

Runs every case of ``bench/accuracy_labels.toml`` (labels from ``../shared/testdata``'s
MANIFEST and the datasets' own labels) through the app's session run path and prints, per
exercise and overall: cases, cases it could not run, rep-count exact rate, mean absolute
count error, hold-time error, fault sensitivity and false-alarm rate. A full run writes
``docs/accuracy.md`` (with the date and the commit) including the angles-against-motion-
capture section of ``bench/mocap.py`` and the form-score section of ``bench/form_score.py``;
``--only`` runs the matching cases and writes only
where ``--out`` says. MediaPipe poses of the videos are cached in ``.cache/poses/``.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

from bench.accuracy_cases import Case, LabelError, Labels, load_labels  # noqa: E402
from bench.accuracy_metrics import (  # noqa: E402
    GOALS,
    Row,
    Summary,
    by_exercise,
    goals_met,
    score,
    summarize_rows,
)
from bench.accuracy_run import run_case  # noqa: E402

LABELS = ROOT / "bench" / "accuracy_labels.toml"
TESTDATA = (ROOT / ".." / "shared" / "testdata").resolve()
CACHE = ROOT / ".cache" / "poses"
DOC = ROOT / "docs" / "accuracy.md"
NOTES = ROOT / "bench" / "accuracy_notes.md"  # what the incorrect material gets wrong


def matches(case_id: str, pattern: str) -> bool:
    """A glob when it has wildcards, else a plain substring."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(case_id, pattern)
    return pattern in case_id


def select(cases: list[Case], patterns: str | None) -> list[Case]:
    """Cases matching any of the comma-separated ``patterns``; a pattern that is a case's
    whole id selects that case only."""
    if not patterns:
        return cases
    ids = {c.id for c in cases}
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    return [c for c in cases if any(c.id == p if p in ids else matches(c.id, p) for p in wanted)]


def run_all(cases: list[Case], testdata: Path, cache: Path, progress: bool) -> list[Row]:
    rows = []
    for i, case in enumerate(cases, start=1):
        outcome = run_case(case, testdata, cache)
        rows.append(score(case, outcome))
        if progress:
            state = "ok  " if outcome.ran else "MISS"
            print(f"[{i}/{len(cases)}] {state} {case.id}", file=sys.stderr, flush=True)
    return rows


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head} (with uncommitted changes in the working tree)" if dirty else head or "unknown"


# -- text --------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f} %"


def num(x: float, digits: int = 2) -> str:
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def frac(hits: int, n: int) -> str:
    return "-" if n == 0 else f"{hits}/{n}"


def summary_cells(s: Summary) -> list[str]:
    return [
        str(s.cases),
        str(s.misses),
        f"{frac(s.exact, s.count_cases)} ({pct(s.exact_rate)})" if s.count_cases else "-",
        num(s.count_mae),
        f"{num(s.hold_error_s)} (n={s.hold_cases})" if s.hold_cases else "-",
        f"{frac(s.incorrect_flagged, s.incorrect)} ({pct(s.sensitivity)})" if s.incorrect else "-",
        f"{frac(s.correct_flagged, s.correct)} ({pct(s.false_alarms)})" if s.correct else "-",
    ]


SUMMARY_HEADER = [
    "cases",
    "could not run",
    "rep count exact",
    "mean count error",
    "hold error (s)",
    "incorrect flagged (sensitivity)",
    "correct flagged (false alarms)",
]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def reps_text(n: int) -> str:
    return f"{n} rep" if n == 1 else f"{n} reps"


def label_text(case: Case) -> str:
    parts = []
    if case.reps is not None:
        parts.append(reps_text(case.reps))
    if case.hold_s is not None:
        parts.append(f"hold {case.hold_s:g} s")
    if case.form:
        parts.append(case.form)
    return ", ".join(parts) or "-"


def result_text(row: Row) -> str:
    o = row.outcome
    if not o.ran:
        return "could not run"
    parts = [reps_text(o.rep_count)]
    if o.partial_reps:
        parts[0] += f" (+{o.partial_reps} short of range)"
    if row.case.hold_s is not None:
        parts.append(f"hold {o.hold_s:.1f} s")
    if o.flags:
        unique = list(dict.fromkeys(o.flags))
        more = f" +{len(unique) - 3}" if len(unique) > 3 else ""
        parts.append("flags: " + ", ".join(unique[:3]) + more)
    return ", ".join(parts)


def case_cells(row: Row) -> list[str]:
    c, o = row.case, row.outcome
    note = o.reason if not o.ran else c.tuned_note if c.tuned else ""
    fitted = "yes" if c.tuned else "training part" if c.part == "train" else "no"
    return [
        f"`{c.id}`",
        c.exercise,
        label_text(c),
        result_text(row),
        "-" if row.count_error is None else str(row.count_error),
        "-" if row.hold_error is None else f"{row.hold_error:.1f}",
        ("yes" if row.flagged else "no") if c.form else "-",
        fitted,
        note,
    ]


def validation_section() -> list[str]:
    """Every library exercise: the real motion it was validated on, or that it was not."""
    from exercises.library import load_library

    rows = []
    for ex in load_library().values():
        validated = ex.validated or "**not validated on real motion**"
        rows.append([f"`{ex.id}`", ex.name, ex.category, validated])
    return [
        "## Validation on real motion",
        "",
        "Each library exercise names the real recordings its counting and rules were checked "
        "on through the whole pipeline by a test (`validated` in its file, shown by "
        "`main.py --list-exercises` and in the therapist view), or says it was not.",
        "",
        md_table(["exercise", "name", "category", "validated on"], rows),
        "",
    ]


def splits_section(rows: list[Row], labels: Labels) -> list[str]:
    """Per dataset with a split: what thresholds were fitted on, what is reported on."""
    if not labels.splits:
        return []
    table = []
    for sp in labels.splits:
        group = [r for r in rows if r.case.dataset == sp.dataset]
        if not group:
            continue
        train = [r for r in group if r.case.part == "train"]
        test = [r for r in group if r.case.held_out]
        s_train, s_test = summarize_rows(train), summarize_rows(test)
        table.append([
            sp.dataset,
            sp.note,
            f"{len(train)} cases: " + ", ".join(f"`{g}`" for g in sp.train),
            f"{len(test)} cases",
            summary_cells(s_train)[5] + " / " + summary_cells(s_train)[6],
            summary_cells(s_test)[5] + " / " + summary_cells(s_test)[6],
        ])  # fmt: skip
    return [
        "## Fitted on, reported on",
        "",
        "Numeric thresholds fitted on recorded data were fitted on a dataset's training part "
        "only (split by subject where a dataset has several, else by clip order). Which "
        "faults a dataset's incorrect recordings contain was read from the dataset's own "
        "description and the 3-D traces of all its subjects; a threshold changed after its "
        "held-out result was seen says so in its rule's `why`, and those recordings are "
        "marked tuned (`[[tuned]]` in the labels) and left out of the held-out figures. "
        "Form figures as *sensitivity / false alarms*.",
        "",
        md_table(
            [
                "dataset",
                "split",
                "fitted on (training part)",
                "reported on (held out)",
                "training part",
                "held out",
            ],
            table,
        ),
        "",
    ]


def markdown(rows: list[Row], labels: Labels, mocap_md: str, started: str, wall_s: float) -> str:
    overall = summarize_rows(rows)
    untuned = summarize_rows([r for r in rows if r.case.held_out])
    per_ex = by_exercise(rows)
    met = goals_met(overall)
    goal_rows = []
    names = {
        "exact_rate": ("rep count exact", f">= {pct(GOALS['exact_rate'])}",
                       pct(overall.exact_rate)),
        "count_mae": ("mean count error", f"<= {GOALS['count_mae']}", num(overall.count_mae)),
        "sensitivity": ("fault sensitivity", f">= {pct(GOALS['sensitivity'])}",
                        pct(overall.sensitivity)),
        "false_alarms": ("false alarms", f"<= {pct(GOALS['false_alarms'])}",
                         pct(overall.false_alarms)),
        "hold_error_s": ("hold time error", f"<= {GOALS['hold_error_s']} s",
                         f"{num(overall.hold_error_s)} s"),
    }  # fmt: skip
    held = {
        "exact_rate": pct(untuned.exact_rate),
        "count_mae": num(untuned.count_mae),
        "sensitivity": pct(untuned.sensitivity),
        "false_alarms": pct(untuned.false_alarms),
        "hold_error_s": f"{num(untuned.hold_error_s)} s",
    }
    met_held = goals_met(untuned)
    verdicts = {True: "met", False: "not met", None: "no labelled case"}
    for key, (name, goal, value) in names.items():
        goal_rows.append(
            [name, goal, value, verdicts[met[key]], held[key], verdicts[met_held[key]]]
        )
    out = [
        "# Accuracy on labelled real recordings",
        "",
        f"Produced by `python bench/accuracy.py` on {started}, commit {git_commit()}, in "
        f"{wall_s:.0f} s. Do not edit by hand: run the bench again. Labels: "
        "`bench/accuracy_labels.toml` (from `../shared/testdata/MANIFEST.md`, the datasets' "
        "own labels, and counts made by hand on raw joint traces, each case saying which); "
        "never from this program's output.",
        "",
        "Every recording runs through the app's own session path (`app.loop.Runner`, as "
        "`main.py --source ... --headless` runs it): videos through MediaPipe, landmark files "
        "and Kinect skeletons through the replay. A case the program cannot run is a miss "
        "with its reason, counted as 0 reps, 0 s held and not flagged.",
        "",
        "## Overall",
        "",
        md_table(
            ["material", *SUMMARY_HEADER],
            [
                ["all", *summary_cells(overall)],
                ["held out (never fitted or checked on)", *summary_cells(untuned)],
            ],
        ),
        "",
        "Against the goals of issue 12:",
        "",
        md_table(
            ["figure", "goal", "all cases", "verdict", "held out", "verdict (held out)"],
            goal_rows,
        ),
        "",
        *splits_section(rows, labels),
        "## Per exercise",
        "",
        md_table(
            ["exercise", *SUMMARY_HEADER],
            [[f"`{ex}`", *summary_cells(s)] for ex, s in per_ex.items()],
        ),
        "",
        "Held out only (cases never fitted or checked on):",
        "",
        md_table(
            ["exercise", *SUMMARY_HEADER],
            [
                [f"`{ex}`", *summary_cells(s)]
                for ex, s in by_exercise([r for r in rows if r.case.held_out]).items()
            ],
        ),
        "",
        NOTES.read_text(encoding="utf-8").strip(),
        "",
        *validation_section(),
        "## How the figures are made",
        "",
        "- **Counted reps**: on correct or unlabelled material, the repetitions the patient "
        "sees counted; on material labelled incorrect, the repetitions recognised, counted or "
        "reported short of range (refusing a faulty repetition can be right; the fault "
        "columns judge it).",
        "- **Rep count exact** / **mean count error**: counted reps against the label.",
        "- **Hold error**: seconds held in position against the label (mean of absolute "
        "differences).",
        "- **Flagged**: at least one form fault or warning during the recording. Position "
        'rules (a hold\'s "get into position") and visibility rules ("face the camera") are '
        "not form judgements and are left out; a repetition short of range counts.",
        "- **Fault sensitivity**: share of recordings labelled incorrect that were flagged. "
        "**False alarms**: share of recordings labelled correct that were flagged.",
        "- **Tuned on this file**: yes when thresholds of the exercise were fitted or checked "
        "on the recording (the note says which); *training part* when the recording is in "
        "its dataset's training part (see *Fitted on, reported on*). The *held out* figures "
        "leave both out.",
        "- Kinect skeletons (KIMORE, UI-PRMD) are seen by a virtual camera placed for the "
        "exercise's view (`docs/sources.md`); UI-PRMD sets are a subject's ten "
        "single-repetition files played one after the other.",
        "",
        "## Per case",
        "",
    ]
    datasets: dict[str, list[Row]] = {}
    for r in rows:
        datasets.setdefault(r.case.dataset, []).append(r)
    header = ["case", "exercise", "label", "program", "count error", "hold error (s)",
              "flagged", "tuned on this file", "note"]  # fmt: skip
    for name, group in datasets.items():
        s = summarize_rows(group)
        out += [
            f"### {name} ({s.cases} cases, {s.misses} could not run)",
            "",
            md_table(header, [case_cells(r) for r in group]),
            "",
        ]
    out += ["## Recordings not used", ""]
    out += [f"- `{path}`: {reason}" for path, reason in labels.excluded]
    if mocap_md:
        out += ["", mocap_md.strip()]
    return "\n".join(out) + "\n"


def print_text(rows: list[Row]) -> None:
    widths = [28, 6, 6, 14, 7, 14, 16, 16]
    head = [
        "exercise",
        "cases",
        "miss",
        "exact",
        "MAE",
        "hold err s",
        "sensitivity",
        "false alarms",
    ]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))

    def line(name: str, s: Summary) -> None:
        cells = summary_cells(s)
        cells = [name, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))

    for ex, s in by_exercise(rows).items():
        line(ex, s)
    line("OVERALL", summarize_rows(rows))
    line("OVERALL held out", summarize_rows([r for r in rows if r.case.held_out]))
    misses = [r for r in rows if not r.outcome.ran]
    if misses:
        print(f"\n{len(misses)} case(s) could not run:")
        reasons: dict[str, list[str]] = {}
        for r in misses:
            reasons.setdefault(r.outcome.reason, []).append(r.case.id)
        for reason, ids in reasons.items():
            print(f"  {len(ids)} x {reason} (e.g. {ids[0]})")


def as_json(rows: list[Row], mocap: dict | None) -> dict:
    return {
        "commit": git_commit(),
        "overall": summarize_rows(rows).as_dict(),
        "overall_held_out": summarize_rows([r for r in rows if r.case.held_out]).as_dict(),
        "per_exercise": {ex: s.as_dict() for ex, s in by_exercise(rows).items()},
        "per_exercise_held_out": {
            ex: s.as_dict() for ex, s in by_exercise([r for r in rows if r.case.held_out]).items()
        },
        "cases": [
            {
                "id": r.case.id,
                "exercise": r.case.exercise,
                "reps": r.case.reps,
                "hold_s": r.case.hold_s,
                "form": r.case.form,
                "tuned": r.case.tuned,
                "part": r.case.part,
                "held_out": r.case.held_out,
                "ran": r.outcome.ran,
                "reason": r.outcome.reason,
                "rep_count": r.outcome.rep_count,
                "partial_reps": r.outcome.partial_reps,
                "counted": r.counted,
                "hold_s_measured": round(r.outcome.hold_s, 3),
                "count_error": r.count_error,
                "hold_error": None if r.hold_error is None else round(r.hold_error, 3),
                "flagged": r.flagged,
                "flags": r.outcome.flags,
            }
            for r in rows
        ],
        "mocap": mocap,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--only",
        metavar="PATTERN",
        help="cases whose id matches (glob or substring; several separated by commas)",
    )
    p.add_argument("--out", type=Path, help="markdown report (default: docs/accuracy.md on a "
                   "full run, none with --only)")  # fmt: skip
    p.add_argument("--no-mocap", action="store_true", help="leave out the motion-capture section")
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--testdata", type=Path, default=TESTDATA)
    p.add_argument("--cache", type=Path, default=CACHE, help="MediaPipe pose cache folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    t0 = time.perf_counter()
    try:
        labels = load_labels(args.labels, args.testdata)
    except LabelError as exc:
        print(f"accuracy.py: error: {exc}", file=sys.stderr)
        return 2
    cases = select(labels.cases, args.only)
    if not cases:
        print(f"accuracy.py: error: no case matches {args.only!r}", file=sys.stderr)
        return 2
    rows = run_all(cases, args.testdata, args.cache, progress=not args.quiet)
    mocap = mocap_md = None
    if not args.no_mocap and not args.only:
        from bench.mocap import mocap_markdown, mocap_report

        mocap = mocap_report(args.testdata)
        mocap_md = mocap_markdown(mocap)
    form_md = ""
    if not args.only:  # correct against incorrect: the same labelled cases, form scored
        from bench.form_score import form_score_markdown
        from bench.form_score import run as form_score_run

        form_md = form_score_markdown(form_score_run())
    sections = "\n\n".join(md.strip() for md in (mocap_md or "", form_md) if md)
    out = args.out if args.out is not None else (None if args.only else DOC)
    if out is not None:
        out.write_text(markdown(rows, labels, sections, started, time.perf_counter() - t0))
    if args.json:
        print(json.dumps(as_json(rows, mocap), indent=2, default=str))
    else:
        print_text(rows)
        if out is not None:
            print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
