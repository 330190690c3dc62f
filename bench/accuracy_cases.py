"""The labelled cases of the accuracy bench, read from ``bench/accuracy_labels.toml``.

``[[case]]`` tables are one case each; ``[[group]]`` tables expand a file family (glob) into
one case per file, or, with ``set_by = "subject"``, one case per subject whose files are
played one after the other; ``[[runs]]`` tables turn each run of equal per-frame labels in a
CSV into a case. A group whose files are missing becomes one case that reports the miss.

``[[split]]`` tables divide a dataset into a *training* part, on which thresholds may be
fitted or checked, and a *held-out* part, on which the figures are reported: every case whose
id starts with ``dataset/`` and matches one of the ``train`` globs is in the training part,
every other case of that dataset is held out. ``[[tuned]]`` tables mark held-out cases a
threshold was changed after (their result seen) as tuned, with the note saying which.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from vision.landmark_tables import label_runs, load_labelled_csv

SOURCES = ("video", "replay", "uiprmd_set", "npy17", "csv_runs")
FORMS = ("correct", "incorrect")
_CASE_KEYS = {
    "id", "source", "path", "glob", "exercise", "view", "reps", "hold_s", "form", "truth",
    "tuned", "tuned_note", "set_by", "labels", "side", "sides", "aspect",
}  # fmt: skip


class LabelError(ValueError):
    """The labels file is malformed: the message names the table and the key."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    source: str
    paths: tuple[str, ...]  # relative to the test data folder; several for a played set
    exercise: str
    truth: str
    tuned: bool
    view: str | None = None
    side: str | None = None  # the working side, given to the session as the profile's side
    aspect: float | None = None  # landmark tables: the frames' width / height (None: default)
    reps: int | None = None
    hold_s: float | None = None
    form: str | None = None
    tuned_note: str = ""
    frames: tuple[int, int] | None = None  # csv_runs: the run's rows (first, end exclusive)
    problem: str = ""  # set when the case cannot even be built (its files are missing)
    part: str = ""  # "train" or "test" in a dataset with a split; "" without one

    @property
    def dataset(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def held_out(self) -> bool:
        """Never used to fit or check a threshold: reported on."""
        return not self.tuned and self.part != "train"


@dataclass(frozen=True, slots=True)
class Split:
    """A dataset's training part (case-id globs); the rest of the dataset is held out."""

    dataset: str
    train: tuple[str, ...]
    note: str


@dataclass
class Labels:
    cases: list[Case] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    splits: list[Split] = field(default_factory=list)


def _check(table: dict, where: str) -> None:
    unknown = set(table) - _CASE_KEYS
    if unknown:
        raise LabelError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in ("id", "exercise", "truth"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise LabelError(f"{where}: {key!r} must be a non-empty string")
    if "form" in table and table["form"] not in FORMS:
        raise LabelError(f"{where}: form must be one of {FORMS}, found {table['form']!r}")
    if table.get("side", "left") not in ("left", "right"):
        raise LabelError(f"{where}: side must be left or right, found {table['side']!r}")
    if not isinstance(table.get("tuned", False), bool):
        raise LabelError(f"{where}: tuned must be true or false")
    reps = table.get("reps")
    if reps is not None and not (reps == "files" or (isinstance(reps, int) and reps >= 0)):
        raise LabelError(f"{where}: reps must be a whole number >= 0, found {reps!r}")
    hold = table.get("hold_s")
    if hold is not None and not (isinstance(hold, int | float) and hold >= 0):
        raise LabelError(f"{where}: hold_s must be a number >= 0, found {hold!r}")
    aspect = table.get("aspect")
    if aspect is not None and not (isinstance(aspect, int | float) and 0.2 <= aspect <= 5):
        raise LabelError(f"{where}: aspect must be a width / height ratio, found {aspect!r}")
    sides = table.get("sides")
    if sides is not None and not (
        isinstance(sides, list) and all(s in ("left", "right") for s in sides)
    ):
        raise LabelError(f"{where}: sides must be a list of left / right, one per run")


def _case(table: dict, case_id: str, source: str, paths: tuple[str, ...], **extra) -> Case:
    reps = table.get("reps")
    if reps == "files":
        reps = len(paths)
    return Case(
        id=case_id,
        source=source,
        paths=paths,
        exercise=table["exercise"],
        truth=table["truth"],
        tuned=table.get("tuned", False),
        view=table.get("view"),
        side=table.get("side"),
        reps=reps,
        hold_s=float(table["hold_s"]) if "hold_s" in table else None,
        aspect=float(table["aspect"]) if "aspect" in table else None,
        form=table.get("form"),
        tuned_note=table.get("tuned_note", ""),
        **extra,
    )


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in (".txt.gz", ".npy", ".txt", ".json", ".csv"):
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_positions", "")
    return Path(name).stem


def _group(table: dict, testdata: Path, where: str) -> list[Case]:
    pattern = table.get("glob")
    source = table.get("source")
    if not isinstance(pattern, str) or source not in SOURCES:
        raise LabelError(f"{where}: needs a glob and a source from {SOURCES}")
    files = sorted(str(p.relative_to(testdata)) for p in testdata.glob(pattern))
    if not files:
        missing = table["id"].replace("{stem}", "*").replace("{key}", "*")
        return [_case(table, missing, source, (pattern,), problem=f"no files match {pattern}")]
    if table.get("set_by") == "subject":
        sets: dict[str, list[str]] = {}
        for f in files:
            m = re.search(r"(m\d+_s\d+)_e\d+", Path(f).name)
            if m is None:
                raise LabelError(f"{where}: cannot tell the subject of {f}")
            sets.setdefault(m.group(1), []).append(f)
        return [
            _case(table, table["id"].format(key=key), source, tuple(group))
            for key, group in sets.items()
        ]
    return [_case(table, table["id"].format(stem=_stem(f)), source, (f,)) for f in files]


def _runs(table: dict, testdata: Path, where: str) -> list[Case]:
    label_forms = table.get("labels")
    if not isinstance(label_forms, dict) or not all(v in FORMS for v in label_forms.values()):
        raise LabelError(f"{where}: labels must map each label to one of {FORMS}")
    path = testdata / table["path"]
    if not path.is_file():
        case_id = table["id"].replace("{index:02d}", "*").replace("{label}", "*")
        problem = f"missing file {table['path']}"
        return [_case(table, case_id, "csv_runs", (table["path"],), problem=problem)]
    labels, _ = load_labelled_csv(path)
    runs = label_runs(labels)
    sides = table.get("sides")
    if sides is not None and len(sides) != len(runs):
        raise LabelError(f"{where}: sides names {len(sides)} runs, {table['path']} has {len(runs)}")
    cases = []
    for index, (first, end, label) in enumerate(runs, start=1):
        if label not in label_forms:
            raise LabelError(f"{where}: label {label!r} in {table['path']} has no form")
        run = dict(table, form=label_forms[label])
        run.pop("sides", None)
        if sides is not None:
            run["side"] = sides[index - 1]
        case_id = table["id"].format(index=index, label=label)
        cases.append(_case(run, case_id, "csv_runs", (table["path"],), frames=(first, end)))
    return cases


def _split(table: dict, where: str) -> Split:
    unknown = set(table) - {"dataset", "train", "note"}
    if unknown:
        raise LabelError(f"{where}: unknown key(s) {sorted(unknown)}")
    dataset, train, note = table.get("dataset"), table.get("train"), table.get("note")
    if not isinstance(dataset, str) or not dataset or "/" in dataset:
        raise LabelError(f"{where}: dataset must be a case-id prefix such as 'uiprmd'")
    if not (isinstance(train, list) and train and all(isinstance(g, str) for g in train)):
        raise LabelError(f"{where}: train must be a non-empty list of case-id globs")
    if not isinstance(note, str) or not note:
        raise LabelError(f"{where}: note must say how the split was made")
    return Split(dataset, tuple(train), note)


def _part(case: Case, splits: list[Split]) -> Case:
    for sp in splits:
        if case.dataset == sp.dataset:
            train = any(fnmatch.fnmatchcase(case.id, g) for g in sp.train)
            return replace(case, part="train" if train else "test")
    return case


def _tuned(table: dict, cases: list[Case], where: str) -> list[Case]:
    """Cases a threshold was changed after (their held-out result was seen): tuned."""
    globs, note = table.get("cases"), table.get("note")
    if set(table) - {"cases", "note"}:
        raise LabelError(f"{where}: unknown key(s) {sorted(set(table) - {'cases', 'note'})}")
    if not (isinstance(globs, list) and globs and all(isinstance(g, str) for g in globs)):
        raise LabelError(f"{where}: cases must be a non-empty list of case-id globs")
    if not isinstance(note, str) or not note:
        raise LabelError(f"{where}: note must say which threshold was changed after them")
    hit = [any(fnmatch.fnmatchcase(c.id, g) for g in globs) for c in cases]
    if not any(hit):
        raise LabelError(f"{where}: no case matches {globs}")
    return [
        replace(c, tuned=True, tuned_note=c.tuned_note or note) if h else c
        for c, h in zip(cases, hit, strict=True)
    ]


def load_labels(path: Path, testdata: Path) -> Labels:
    """Every case of the labels file, with group and run tables expanded."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LabelError(f"{path}: {exc}") from None
    out = Labels()
    for kind in ("case", "group", "runs"):
        for i, table in enumerate(data.get(kind, [])):
            where = f"{path.name}: {kind}[{i}]"
            _check(table, where)
            if kind == "case":
                if table.get("source") not in SOURCES or not isinstance(table.get("path"), str):
                    raise LabelError(f"{where}: needs a path and a source from {SOURCES}")
                out.cases.append(_case(table, table["id"], table["source"], (table["path"],)))
            elif kind == "group":
                out.cases.extend(_group(table, testdata, where))
            else:
                out.cases.extend(_runs(table, testdata, where))
    for table in data.get("excluded", []):
        out.excluded.append((table["path"], table["reason"]))
    for i, table in enumerate(data.get("split", [])):
        out.splits.append(_split(table, f"{path.name}: split[{i}]"))
    out.cases = [_part(c, out.splits) for c in out.cases]
    for i, table in enumerate(data.get("tuned", [])):
        out.cases = _tuned(table, out.cases, f"{path.name}: tuned[{i}]")
    ids = [c.id for c in out.cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LabelError(f"{path.name}: case ids used twice: {duplicates[:5]}")
    return out
