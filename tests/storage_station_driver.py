"""One clinic station recording sessions into a shared database, for the concurrent-writers
test: its own process, its own connection, the live loop's recording path
(``storage.record_session``).

Prints ``ready`` once its store is open and waits for a line on stdin, so that all stations
start writing together; then records ``--sessions`` sessions of ``--sets`` x ``--reps`` reps
(each rep's peak force encodes station, session, set and rep, so a rep stored in another
station's session is seen), saves the shared patient's programme between sessions, sends
every rep a second time as a retry (``SessionWriter.apply(..., replay=True)`` on a writer of
its own, as a journal replay would) and prints one JSON line with what it did. Usage:

    python tests/storage_station_driver.py --db URL --station N [--sessions S] ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from session.snapshot import Cue, RepView, Severity
from storage import EndReason, ProgrammeItem, SessionSummary, open_store, record_session
from storage.journal import AddRep
from storage.records import RepRecord

SHARED_PATIENT = "LBP-SHARED"


def peak_force(station: int, session: int, set_index: int, rep: int) -> float:
    return station * 10_000.0 + session * 1000.0 + set_index * 100.0 + rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--station", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--sets", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--journal-dir", required=True)
    args = ap.parse_args(argv)

    store = open_store(args.db, journal_dir=args.journal_dir)
    print("ready", flush=True)
    sys.stdin.readline()
    errors: list[str] = []
    done = {"station": args.station, "sessions": [], "reps": 0, "retries_skipped": 0}
    for s in range(1, args.sessions + 1):
        # Patients seen by every station, one patient of this station's own.
        patient = SHARED_PATIENT if s % 2 else f"LBP-S{args.station}"
        writer = record_session(
            store, patient, "lumbar_extension", source=f"station {args.station}",
            on_error=lambda e: errors.append(str(e)),
        )  # fmt: skip
        retry = store.resume_session(writer.key)
        for set_index in range(1, args.sets + 1):
            writer.begin_set(set_index, target_reps=args.reps, load_band_n=(80.0, 160.0))
            for i in range(1, args.reps + 1):
                t = (set_index * 100 + i) * 5.0
                rep = RepView(i, t, t + 4.8, 0.0, 60.0, 0.9, 4.8, True, True, ("machine.jerk",))
                force = peak_force(args.station, s, set_index, i)
                writer.add_rep(rep, hold_s=1.0, peak_force_n=force)
                if i % 4 == 0:
                    writer.add_cue(Cue("machine.slow_down", "Slower", Severity.WARNING, t + 1.0))
                writer.flush()
                record = RepRecord.from_rep(rep, hold_s=1.0, peak_force_n=force)
                if not retry.apply(AddRep(set_index, record), replay=True):
                    done["retries_skipped"] += 1
                done["reps"] += 1
        writer.add_pain_score(2, "after")
        info = writer.finish(SessionSummary(EndReason.COMPLETED))
        done["sessions"].append(info.id)
        store.save_programme(
            SHARED_PATIENT,
            [ProgrammeItem("lumbar_extension", sets=2, reps=10 + args.station)],
            name=f"station {args.station} after session {s}",
        )
    store.close()
    done["errors"] = errors
    print(json.dumps(done), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
