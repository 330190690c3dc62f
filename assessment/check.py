"""``python main.py --check-assessments [FILE ...]``: validate protocol files, one line each."""

from __future__ import annotations

from pathlib import Path

from assessment.errors import ProtocolError
from assessment.protocols import load_protocol_file, protocol_files


def check_files(files: list[str]) -> int:
    paths = [Path(f) for f in files] or protocol_files()
    failed = 0
    for path in paths:
        try:
            p = load_protocol_file(path)
        except ProtocolError as exc:
            failed += 1
            print(f"invalid {exc}")
            continue
        normed = sum(1 for t in p.tests if t.norm_test)
        where = f"machine {p.machine}" if p.machine else "camera"
        print(
            f"ok      {path} ({p.id}: {where}, {len(p.tests)} tests, {normed} with a norm test, "
            f"{len(p.derived)} derived)"
        )
    print(f"{len(paths) - failed} valid, {failed} invalid")
    return 0 if failed == 0 else 1
