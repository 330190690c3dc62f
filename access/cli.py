"""``main.py patient ...``: the therapist creates patients and sets their kiosk PINs.

    patient add CODE [--name NAME] [--sex female|male] [--birth-year YYYY | --age YEARS]
                [--db PATH] [--pin-file FILE | --pin-stdin]
    patient details CODE [--sex female|male] [--birth-year YYYY | --age YEARS] [--db PATH]
    patient set-pin CODE [--db PATH] [--pin-file FILE | --pin-stdin]
    patient unlock CODE [--db PATH]
    patient list [--db PATH]
    patient alerts [--db PATH] [--limit N]

The PIN is asked twice without echo on the terminal, or read from the first line of
``--pin-file`` or of standard input (``--pin-stdin``); it is never printed. Bad input gives
one line on stderr and exit code 2; nothing is changed then.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from access import console, pins
from access.console import EXIT_OK, Parser, UsageError
from access.errors import BadPin
from access.patients import KIOSK_CODE_DIGITS

PROG = "main.py patient"


def _parser() -> Parser:
    ap = Parser(prog=PROG, description="Create patients and set their kiosk PINs.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands = (
        ("add", "create a patient with a kiosk PIN"),
        ("set-pin", "give a patient a new kiosk PIN (also lifts a lock-out)"),
    )
    for name, text in commands:
        p = sub.add_parser(name, help=text)
        p.add_argument("code", help="pseudonymous patient code")
        if name == "add":
            p.add_argument("--name", default=None, help="display name (never exported)")
            _details_arguments(p)
        src = p.add_mutually_exclusive_group()
        src.add_argument("--pin-file", type=Path, metavar="FILE", help="PIN on its first line")
        src.add_argument("--pin-stdin", action="store_true", help="PIN on standard input")
    p = sub.add_parser("details", help="record a patient's sex and birth year (for the norms)")
    p.add_argument("code")
    _details_arguments(p)
    p = sub.add_parser("unlock", help="lift a patient's sign-in lock-out")
    p.add_argument("code")
    sub.add_parser("list", help="patients and whether they can sign in at a kiosk")
    p = sub.add_parser("alerts", help="access alerts (lock-outs), newest last")
    p.add_argument("--limit", type=int, default=50)
    for p in sub.choices.values():
        p.add_argument(
            "--db", default=None, help="database file or postgresql:// URL (default: user data dir)"
        )
    return ap


def _details_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sex", choices=("female", "male"),
                   help="for the norms, which are by sex and age")  # fmt: skip
    when = p.add_mutually_exclusive_group()
    when.add_argument("--birth-year", type=int, metavar="YYYY", help="year of birth")
    when.add_argument("--age", type=int, metavar="YEARS",
                      help="age now, stored as the birth year it gives")  # fmt: skip


def _birth_year(args: argparse.Namespace) -> int | None:
    import datetime

    year = datetime.date.today().year
    if getattr(args, "age", None) is not None:
        if not 0 <= args.age <= 120:
            raise UsageError(f"--age: expected 0 to 120 years, got {args.age}")
        return year - args.age
    birth = getattr(args, "birth_year", None)
    if birth is not None and not year - 120 <= birth <= year:
        raise UsageError(f"--birth-year: expected a year from {year - 120} to {year}, got {birth}")
    return birth


def _one_line(text: str, where: str) -> str:
    if not re.fullmatch(r"[^\r\n]*(\r?\n)?", text):
        raise BadPin(f"{where}: expected the PIN alone on one line")
    return text.rstrip("\r\n")


def read_pin(args: argparse.Namespace, min_digits: int, who: str = "kiosk PIN") -> str:
    """The new PIN from ``args.pin_file``, stdin (``args.pin_stdin``) or the terminal (asked
    twice, no echo), checked against the rules. ``BadPin`` says what is wrong, never the PIN."""
    if args.pin_file is not None:
        try:
            text = args.pin_file.read_text(encoding="utf-8")
        except IsADirectoryError:
            raise BadPin(f"--pin-file: {args.pin_file} is a folder; expected a file") from None
        except OSError as exc:
            raise BadPin(f"--pin-file: cannot read {args.pin_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BadPin(f"--pin-file: {args.pin_file} is not text") from None
        pin = _one_line(text, f"--pin-file {args.pin_file}")
    elif args.pin_stdin:
        pin = _one_line(sys.stdin.read(), "--pin-stdin")
    else:
        pin = console.ask_twice(
            f"New {who} ({min_digits}-{pins.MAX_DIGITS} digits): ", "PIN",
            partial(pins.check_pin, min_digits=min_digits, who=who), BadPin,
            "--pin-file FILE or --pin-stdin",
        )  # fmt: skip
    return pins.check_pin(pin, min_digits, who)


def run(argv: Sequence[str]) -> int:
    from storage import NotFound, open_store
    from storage.base import check_patient_code

    args = _parser().parse_args(argv)
    if hasattr(args, "code"):
        try:
            check_patient_code(args.code)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    birth_year = _birth_year(args)
    if args.command == "details" and args.sex is None and birth_year is None:
        raise UsageError("details: give --sex, --birth-year or --age")
    record = None
    if args.command in ("add", "set-pin"):
        record = pins.hash_pin(read_pin(args, pins.PATIENT_MIN_DIGITS), pins.PATIENT_MIN_DIGITS)
    with open_store(args.db, create=args.command == "add") as store:
        if args.command == "add":
            try:
                store.get_patient(args.code)
            except NotFound:
                pass
            else:
                raise UsageError(
                    f"patient {args.code} already exists in {store.location}; "
                    f"'{PROG} set-pin {args.code}' gives a new PIN"
                )
            store.ensure_patient(args.code, args.name)
            store.set_patient_pin(args.code, record)
            if args.sex is not None or birth_year is not None:
                store.set_patient_details(args.code, sex=args.sex, birth_year=birth_year)
            print(f"{PROG}: added {args.code} with a kiosk PIN ({store.location})")
            lo, hi = KIOSK_CODE_DIGITS
            if not (args.code.isdigit() and lo <= len(args.code) <= hi):
                print(f"note: the kiosk keypad types codes of {lo}-{hi} digits; {args.code} "
                      "works at a desk session (--patient) only")  # fmt: skip
        elif args.command == "set-pin":
            store.set_patient_pin(args.code, record)
            print(f"{PROG}: new kiosk PIN for {args.code}; any lock-out lifted")
        elif args.command == "details":
            before = store.get_patient(args.code)
            sex = args.sex if args.sex is not None else (before.sex or None)
            year = birth_year if birth_year is not None else before.birth_year
            p = store.set_patient_details(args.code, sex=sex, birth_year=year)
            print(f"{PROG}: {args.code}: sex {p.sex or 'not recorded'}, born "
                  f"{p.birth_year if p.birth_year is not None else 'not recorded'}")  # fmt: skip
        elif args.command == "unlock":
            access = store.patient_access(args.code)
            store.set_patient_pin(args.code, access.pin_record)
            print(f"{PROG}: {args.code} can sign in again")
        elif args.command == "list":
            for p in store.list_patients():
                a = store.patient_access(p.code)
                pin = "kiosk PIN set" if a.pin_record else "no kiosk PIN"
                locks = f"  lock-outs in a row: {a.lockouts}" if a.lockouts else ""
                who = f"{p.sex or '-':6} {p.birth_year or '-'!s:5}"
                print(f"{p.code:16} {who} {pin}{locks}")
        else:
            for a in store.access_alerts(args.limit):
                print(f"{a.raised_at}  {a.station or '-':12} {a.kind:24} {a.message}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return console.main(PROG, run, argv)
