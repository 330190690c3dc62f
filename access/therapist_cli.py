"""``main.py therapist ...``: dashboard accounts, made at the server's console.

    therapist add NAME [--db URL] [--password-stdin]
    therapist set-password NAME [--db URL] [--password-stdin]
    therapist unlock NAME [--db URL]
    therapist list [--db URL]
    therapist audit [--db URL] [--patient CODE] [--limit N]

The password is asked twice without echo on the terminal, or read from one line of standard
input (``--password-stdin``); it is never printed or put on a command line. Bad input gives one
line on stderr and exit code 2; nothing is changed then.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence

from access import console
from access.audit import AuditAction
from access.console import EXIT_OK, Parser, UsageError
from access.therapists import hash_password, read_password

PROG = "main.py therapist"


def _parser() -> Parser:
    ap = Parser(prog=PROG, description="Therapist accounts for the dashboard.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, text in (
        ("add", "create an account (the password is asked twice)"),
        ("set-password", "give an account a new password (also lifts a lock-out)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("name", help="account name: 2-32 lower-case letters, digits, . _ -")
        p.add_argument("--password-stdin", action="store_true", help="password on standard input")
    p = sub.add_parser("unlock", help="lift an account's lock-out")
    p.add_argument("name")
    sub.add_parser("list", help="accounts and their lock-outs")
    p = sub.add_parser("audit", help="the audit log, newest first")
    p.add_argument("--patient", default="", metavar="CODE", help="only this patient's entries")
    p.add_argument("--limit", type=int, default=50)
    for p in sub.choices.values():
        p.add_argument("--db", default=None, help="postgresql:// URL or database file")
    return ap


def run(argv: Sequence[str]) -> int:
    from storage import open_store
    from storage.sql_therapists import check_therapist_name

    args = _parser().parse_args(argv)
    if hasattr(args, "name"):
        try:
            check_therapist_name(args.name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    record = None
    if args.command in ("add", "set-password"):
        record = hash_password(read_password(sys.stdin if args.password_stdin else None))
    with open_store(args.db, create=args.command == "add") as store:
        if args.command == "add":
            store.add_therapist(args.name, record)
            store.add_audit(
                "", AuditAction.THERAPIST_ADDED, detail=json.dumps({"account": args.name})
            )
            print(f"{PROG}: added {args.name} ({store.location})")
        elif args.command == "set-password":
            store.set_therapist_password(args.name, record)
            store.add_audit("", AuditAction.PASSWORD_SET, detail=json.dumps({"account": args.name}))
            print(f"{PROG}: new password for {args.name}; any lock-out lifted")
        elif args.command == "unlock":
            access = store.therapist_access(args.name)
            store.set_therapist_password(args.name, access.password_record)
            print(f"{PROG}: {args.name} can sign in again")
        elif args.command == "list":
            now = time.time()
            for a in store.list_therapists():
                left = a.locked_until - now
                state = "disabled" if a.disabled else "ok"
                if math.isfinite(left) and left > 0:
                    state = f"locked for {left:.0f} s"
                print(f"{a.name:24} {state:18} lock-outs in a row: {a.lockouts}")
        else:
            for e in store.audit_log(args.limit, args.patient):
                who = e.therapist or "-"
                print(f"{e.at}  {who:16} {e.action:18} {e.patient_code or '-':12} {e.detail}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return console.main(PROG, run, argv)
