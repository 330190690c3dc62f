"""Form score against labelled correct and incorrect movements: does a correct execution
score higher than an incorrect one?

    python bench/form_score.py [--json] [--only PATTERN]

Every case of ``bench/accuracy_labels.toml`` with a form label (correct / incorrect) runs
through the app's session path exactly as ``bench/accuracy.py`` runs it (``app.loop.Runner``,
headless; videos through the MediaPipe pose cache, landmark files and Kinect skeletons through
the replay). A case's score is the mean form score of the repetitions (or holds) the session
recognised in it, counted or short of range; a case in which it recognised none is scored
over the whole recording (the engine's ``form.score`` of everything it saw), and the tables
say how many. Per movement (exercise and dataset) the separation is the ROC AUC of the case
scores: the chance that a correct case outscores an incorrect one (ties count half); 0.5 is
no separation. ``bench/accuracy.py`` adds the tables to ``docs/accuracy.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

from app.inputs import InputChoice  # noqa: E402
from app.loop import Runner, RunOptions  # noqa: E402
from bench.accuracy import matches  # noqa: E402
from bench.accuracy_cases import Case, load_labels  # noqa: E402
from bench.accuracy_run import _replay_for  # noqa: E402
from exercises.library import get_exercise  # noqa: E402
from session.targets import PatientProfile  # noqa: E402

LABELS = ROOT / "bench" / "accuracy_labels.toml"
TESTDATA = (ROOT / ".." / "shared" / "testdata").resolve()
CACHE = ROOT / ".cache" / "poses"


@dataclass
class CaseScore:
    case_id: str
    exercise: str
    dataset: str
    form: str  # "correct" or "incorrect"
    score: float  # the case's score, 0-100 (NaN: could not be scored)
    rep_scores: list[float]
    whole: bool  # no repetition recognised: scored over the whole recording
    note: str = ""

    @property
    def movement(self) -> str:
        return f"{self.exercise} ({self.dataset})"


def score_case(case: Case, testdata: Path = TESTDATA, cache: Path = CACHE) -> CaseScore:
    """One labelled recording through the session; its form score."""
    ex = get_exercise(case.exercise)
    base = CaseScore(case.id, case.exercise, case.dataset, case.form or "", math.nan, [], False)
    if case.problem:
        base.note = case.problem
        return base
    replay, _ = _replay_for(case, ex, testdata, cache)
    profile = PatientProfile(code="bench", side=case.side) if case.side else None
    choice = InputChoice("replay", str(testdata / case.paths[0]), "form score bench")
    runner = Runner(RunOptions(choice, ex, headless=True, profile=profile), replay=replay)
    try:
        runner.run_headless()
    finally:
        runner.close()
    eng = runner.engine
    scores = [r.form_score for r in eng.reps] + [h.form_score for h in eng.holds]
    scores = [s for s in scores if math.isfinite(s)]
    base.rep_scores = [round(s, 1) for s in scores]
    if scores:
        base.score = sum(scores) / len(scores)
    else:
        base.whole = True
        base.score = eng.form.score(eng.counts.first_t, eng.counts.last_t)
    return base


def roc_auc(correct: list[float], incorrect: list[float]) -> float:
    """Chance that a correct case outscores an incorrect one (ties half); NaN if a side is
    empty."""
    pos = [x for x in correct if math.isfinite(x)]
    neg = [x for x in incorrect if math.isfinite(x)]
    if not pos or not neg:
        return math.nan
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@dataclass
class Movement:
    movement: str
    correct: int
    incorrect: int
    whole: int  # cases scored over the whole recording
    mean_correct: float
    mean_incorrect: float
    auc: float


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if math.isfinite(x)]
    return sum(xs) / len(xs) if xs else math.nan


def by_movement(scores: list[CaseScore]) -> list[Movement]:
    groups: dict[str, list[CaseScore]] = {}
    for s in scores:
        groups.setdefault(s.movement, []).append(s)
    out = []
    for name, group in sorted(groups.items()):
        cor = [s.score for s in group if s.form == "correct"]
        inc = [s.score for s in group if s.form == "incorrect"]
        out.append(
            Movement(name, len(cor), len(inc), sum(s.whole for s in group), _mean(cor),
                     _mean(inc), roc_auc(cor, inc))
        )  # fmt: skip
    return out


def run(patterns: str | None = None, progress: bool = False) -> list[CaseScore]:
    cases = [c for c in load_labels(LABELS, TESTDATA).cases if c.form]
    if patterns:
        wanted = [p.strip() for p in patterns.split(",") if p.strip()]
        cases = [c for c in cases if any(matches(c.id, p) for p in wanted)]
    out = []
    for i, case in enumerate(cases, start=1):
        out.append(score_case(case))
        if progress:
            print(f"[{i}/{len(cases)}] {case.id}", file=sys.stderr, flush=True)
    return out


def _f(x: float, digits: int = 0) -> str:
    return "-" if not math.isfinite(x) else f"{x:.{digits}f}"


NOTES = [
    "- The score compares the judged angles of a repetition, time-normalised, with the "
    "exercise's reference movement (`exercises/references/`, how it is made: "
    "`session/form_score.py`); each angle counts in units of its rule's own fault margin. "
    "Nothing in it was fitted to these recordings; one choice was made after seeing them: a "
    "value two rules bound (a plank's sag and pike limits) counts once, not twice.",
    "- The absolute score says how far from the reference's standard proportions and camera "
    "a recording is as much as how well it was done: Kinect skeletons seen by the virtual "
    "camera score high; landmark tables without a frame size (the ngoquocbao CSVs, read as "
    "square pictures) score low throughout. Compare within a row.",
    "- ngoquocbao planks: read as square pictures, the runs labelled correct measure with the "
    "hips 20-30 deg above the shoulder-ankle line, as far from the reference's straight line "
    "as the runs labelled sagging are below it, so the score hardly separates them.",
    "- ngoquocbao curls and lunges: the runs are stretches of frames with one label, mostly "
    "shorter than a repetition, so most are scored whole; the curl's leaning-back runs score "
    "low for the lean and for never completing a curl.",
    "- A row of one or two video clips is an example, not a measurement.",
]


def form_score_markdown(scores: list[CaseScore]) -> str:
    rows = by_movement(scores)
    out = [
        "## Form score: correct against incorrect executions",
        "",
        "Produced by `bench/form_score.py` (run by `bench/accuracy.py`). Each labelled "
        "recording runs through the session as above; its score is the mean form score "
        "(0-100, `docs/screens.md`) of the repetitions or holds the session recognised in it. "
        "A recording in which none was recognised is scored over the whole recording "
        "(column *whole*). **AUC** is the chance that a correct recording outscores an "
        "incorrect one (0.5: no separation, 1: always); a movement with only correct "
        "recordings has none.",
        "",
        "| movement | correct | incorrect | whole | mean score correct | mean score incorrect "
        "| AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in rows:
        out.append(
            f"| {m.movement} | {m.correct} | {m.incorrect} | {m.whole} | "
            f"{_f(m.mean_correct)} | {_f(m.mean_incorrect)} | {_f(m.auc, 2)} |"
        )
    out += ["", "Reading the table:", "", *NOTES]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print every case's score as JSON")
    p.add_argument("--only", metavar="PATTERN", help="cases whose id matches (glob or substring)")
    args = p.parse_args(argv)
    scores = run(args.only, progress=not args.json)
    if args.json:
        doc = {"cases": [asdict(s) for s in scores],
               "movements": [asdict(m) for m in by_movement(scores)]}  # fmt: skip
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(form_score_markdown(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
