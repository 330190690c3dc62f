"""``report`` and ``export`` subcommands. ``main.py`` passes the words after the subcommand:

    report --patient CODE --out FILE.pdf|.png|.html [--db PATH]
    report --patient CODE --kind assessment|progress --out FILE.pdf|.png [--run ID] [--db PATH]
    export --patient CODE --format csv|json|fhir --out PATH [--db PATH] [--bundle-type T]
    migrate --db PATH|URL      (python -m storage.cli only: create or update the schema)

Bad input gives one line on stderr and exit code 2; nothing is created on error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from storage import export as export_mod
from storage import open_store
from storage.errors import StorageError

EXIT_OK, EXIT_USAGE = 0, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser(prog: str) -> _Parser:
    ap = _Parser(prog=prog)
    ap.add_argument("--patient", required=True, help="pseudonymous patient code")
    ap.add_argument("--out", required=True, type=Path, help="output file (folder for CSV)")
    ap.add_argument("--db", default=None, help="database file or URL (default: user data dir)")
    return ap


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def report_main(argv: Sequence[str] | None = None) -> int:
    prog = "spinecoach report"
    ap = _parser(prog)
    ap.add_argument(
        "--kind",
        default="sessions",
        choices=("sessions", "assessment", "progress"),
        help="sessions: every session (default); assessment: the latest assessment against "
        "the norms; progress: visits, pain and dose over time",
    )
    ap.add_argument("--run", type=int, metavar="ID", help="--kind assessment: this run")
    try:
        args = ap.parse_args(argv)
        from storage import report

        if args.kind != "sessions":
            from storage import clinic_report

            if args.out.suffix.lower() not in clinic_report.FORMATS:
                raise ValueError(f"--out: expected a file ending in .pdf or .png, got {args.out}")
            with open_store(args.db, create=False) as store:
                if args.kind == "assessment":
                    out = clinic_report.assessment_report(store, args.patient, args.out, args.run)
                else:
                    out = clinic_report.progress_report(store, args.patient, args.out)
            print(f"{prog}: wrote {out}")
            return EXIT_OK
        if args.out.suffix.lower() not in report.FORMATS:
            raise ValueError(
                f"--out: expected a file ending in .pdf, .png or .html, got {args.out}"
            )
        with open_store(args.db, create=False) as store:
            out = report.report_patient(store, args.patient, args.out)
    except (_UsageError, StorageError, ValueError) as exc:
        return _fail(prog, str(exc))
    print(f"{prog}: wrote {out}")
    return EXIT_OK


def export_main(argv: Sequence[str] | None = None) -> int:
    prog = "spinecoach export"
    ap = _parser(prog)
    ap.add_argument("--format", required=True, choices=export_mod.FORMATS)
    ap.add_argument(
        "--bundle-type",
        default="collection",
        choices=("collection", "transaction"),
        help="FHIR Bundle type (fhir only)",
    )
    try:
        args = ap.parse_args(argv)
        with open_store(args.db, create=False) as store:
            written = export_mod.export_patient(
                store, args.patient, args.format, args.out, bundle_type=args.bundle_type
            )
    except (_UsageError, StorageError, ValueError) as exc:
        return _fail(prog, str(exc))
    where = args.out if args.format == "csv" else written[0]
    print(f"{prog}: wrote {where} ({len(written)} file(s))")
    return EXIT_OK


def migrate_main(argv: Sequence[str] | None = None) -> int:
    """Create the tables, or bring them to this version: how a clinic prepares its server's
    database with the owner role, before the stations (which may not create tables) use it."""
    prog = "spinecoach migrate"
    ap = _Parser(prog=prog)
    ap.add_argument("--db", required=True, help="database file or postgresql:// URL")
    try:
        args = ap.parse_args(argv)
        with open_store(args.db) as store:
            where, version = store.location, store.schema_version
    except (_UsageError, StorageError) as exc:
        return _fail(prog, str(exc))
    print(f"{prog}: {where} is at schema version {version}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m storage.cli report|export|migrate ...`` for use without ``main.py``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"report": report_main, "export": export_main, "migrate": migrate_main}
    if not argv or argv[0] not in commands:
        return _fail("spinecoach", "expected a subcommand: report, export or migrate")
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
