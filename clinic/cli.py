"""``main.py programme ...``: a patient's programme from the command line.

    programme show     --patient CODE                      the items, their dose, waiting proposals
    programme suggest  --patient CODE [--dry-run] [--auto-progress on|off] [--by NAME]
                                                           the start dose from the assessments
    programme set      --patient CODE --exercise ID [--side S] [--sets N] [--reps N] [--hold S]
                       [--load LOW-HIGH] [--range-target DEG] [--pain-free-limit DEG]
                       --reason TEXT [--by NAME]           the therapist's own dose for an item
    programme set      --patient CODE --auto-progress on|off [--by NAME]
    programme confirm  --patient CODE [--id N ...] [--by NAME]   apply waiting proposals
    programme decline  --patient CODE [--id N ...] [--by NAME]
    programme history  --patient CODE                      visits, pain, every change of dose

``--by`` defaults to the user name of the terminal. Bad input gives one line on stderr and
exit code 2; nothing is changed then.
"""

from __future__ import annotations

import argparse
import getpass
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from clinic.errors import ClinicError

PROG = "main.py programme"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _load(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH in newtons, got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"expected finite newtons, got {text!r}")
    return lo, hi


def _onoff(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _parser() -> _Parser:
    ap = _Parser(prog=PROG, description="A patient's programme: show, suggest, set, confirm.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    cmds = {
        "show": "the programme and its waiting proposals",
        "suggest": "the start dose from the patient's assessments (stored unless --dry-run)",
        "set": "the therapist's own dose for one item, or the progression setting",
        "confirm": "apply the rules' waiting proposals (all, or --id)",
        "decline": "decline the rules' waiting proposals (all, or --id)",
        "history": "visits with pain and flags, and every change of dose",
    }
    for name, text in cmds.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("--patient", required=True, help="pseudonymous patient code")
        p.add_argument("--db", default=None, help="database file or postgresql:// URL")
        if name in ("suggest", "set", "confirm", "decline"):
            p.add_argument("--by", default=None, help="who (default: your user name)")
    sub.choices["suggest"].add_argument("--dry-run", action="store_true", help="print only")
    for name in ("suggest", "set"):
        sub.choices[name].add_argument(
            "--auto-progress", type=_onoff, default=None, metavar="on|off",
            help="apply the rules' proposals after a visit without a pain flag",
        )  # fmt: skip
    s = sub.choices["set"]
    s.add_argument("--exercise", help="the item's exercise id")
    s.add_argument("--side", default="", choices=("", "left", "right"))
    s.add_argument("--sets", type=int)
    s.add_argument("--reps", type=int)
    s.add_argument("--hold", type=_finite, metavar="S", help="hold seconds")
    s.add_argument("--load", type=_load, metavar="LOW-HIGH", help="load band in newtons")
    s.add_argument("--range-target", type=_finite, metavar="DEG", help="degrees of movement")
    s.add_argument("--pain-free-limit", type=_finite, metavar="DEG", help="degrees of movement")
    s.add_argument("--reason", default="", help="why the dose changes (required for a dose)")
    for name in ("confirm", "decline"):
        sub.choices[name].add_argument("--id", type=int, action="append", help="a proposal id")
    return ap


def _fmt(x: float, unit: str = "", spec: str = ".0f") -> str:
    return f"{x:{spec}}{unit}" if math.isfinite(x) else "-"


def _show(store, code: str) -> None:
    from clinic.programme import dose_text as _dose
    from clinic.progression import pending
    from storage.clinic_records import Dose

    p = store.active_programme(code)
    if p is None:
        print(f"{code}: no programme ('{PROG} suggest --patient {code}' builds one)")
        return
    mode = "automatic after visits without a pain flag" if p.auto_progress else "therapist confirms"
    print(f"{code}: programme {p.id} '{p.name}', {p.created_at} by {p.created_by or '-'}; "
          f"progression: {mode}")  # fmt: skip
    for it in p.items:
        side = f" ({it.side})" if it.side else ""
        extra = f", start {it.start_deg:.0f} deg" if math.isfinite(it.start_deg) else ""
        tested = f", tested max {it.tested_max_n:.0f} N" if math.isfinite(it.tested_max_n) else ""
        print(f"  {it.exercise_id}{side}: {_dose(Dose.of(it))}{extra}{tested}")
    for ch in pending(store, code):
        print(
            f"  waiting [{ch.id}] {ch.exercise_id}: {ch.action} -> {_dose(ch.after)}; {ch.reason}"
        )


def _history(store, code: str) -> None:
    from clinic.programme import dose_text as _dose

    for v in store.visits(code):
        flag = f"  FLAGGED: {v.flag_reason}" if v.flagged else ""
        pain = f"pain {_fmt(v.pain_at('before'), '', 'g')} -> {_fmt(v.pain_at('after'), '', 'g')}"
        print(f"visit {v.id} {v.started_at} {v.status.value}, {pain}{flag}")
        for it in v.items:
            why = f" ({it.reason})" if it.reason else ""
            print(f"  {it.position}. {it.exercise_id}: {it.outcome.value}{why}, "
                  f"{it.reps_done}/{it.reps_target} reps")  # fmt: skip
    for ch in store.dose_changes(code):
        who = ch.decided_by or "-"
        when = ch.decided_at or ch.proposed_at
        print(f"change [{ch.id}] {when} {ch.decision.value} by {who}: {ch.exercise_id} "
              f"{ch.action}: {_dose(ch.before)} -> {_dose(ch.after)}; {ch.reason}")  # fmt: skip


def run(argv: Sequence[str]) -> int:
    from clinic import programme as prog
    from clinic import progression
    from storage import NotFound, open_store
    from storage.base import check_patient_code

    args = _parser().parse_args(argv)
    try:
        check_patient_code(args.patient)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    by = (getattr(args, "by", None) or getpass.getuser()) if hasattr(args, "by") else ""
    with open_store(args.db, create=False) as store:
        try:
            store.get_patient(args.patient)
        except NotFound:
            raise _UsageError(f"--patient: no patient {args.patient} in {store.location}") from None
        code = args.patient
        if args.command == "show":
            _show(store, code)
        elif args.command == "history":
            _history(store, code)
        elif args.command == "suggest":
            s = prog.suggest(store, code)
            for note in s.notes:
                print(f"  {note}")
            if args.dry_run:
                print(f"{PROG}: not stored (--dry-run)")
            else:
                auto = bool(args.auto_progress)
                prog.save_suggestion(store, code, s, by=by, auto_progress=auto)
                _show(store, code)
        elif args.command == "set":
            _set(store, code, args, by)
        elif args.command == "confirm":
            progression.confirm(store, code, args.id, by)
            _show(store, code)
        elif args.command == "decline":
            n = progression.decline(store, code, args.id, by)
            print(f"{PROG}: {n} proposal(s) declined by {by}")
    return 0


def _set(store, code: str, args: argparse.Namespace, by: str) -> None:
    from clinic import programme as prog

    changes: dict[str, object] = {}
    for name, field in (("sets", "sets"), ("reps", "reps"), ("hold", "hold_s"),
                        ("load", "load_band_n"), ("range_target", "range_target_deg"),
                        ("pain_free_limit", "pain_free_limit_deg")):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            changes[field] = value
    if args.auto_progress is not None and not changes and not args.exercise:
        p = store.active_programme(code)
        if p is None:
            raise _UsageError(f"{code} has no programme")
        from dataclasses import replace

        store.save_programme(
            code, [replace(i, id=None) for i in p.items], p.name, created_by=by,
            auto_progress=args.auto_progress, assessment_run_id=p.assessment_run_id,
        )  # fmt: skip
        _show(store, code)
        return
    if not args.exercise:
        raise _UsageError("set: --exercise ID names the item to change")
    if not changes:
        raise _UsageError("set: give what to change (--sets, --reps, --hold, --load, "
                          "--range-target, --pain-free-limit)")  # fmt: skip
    if not args.reason.strip():
        raise _UsageError("set: --reason TEXT says why the dose changes")
    prog.set_dose(store, code, args.exercise, args.side, changes, by=by, reason=args.reason)
    _show(store, code)


def main(argv: Sequence[str] | None = None) -> int:
    from storage import StorageError

    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except (_UsageError, ClinicError, StorageError, ValueError) as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
