"""A synthetic patient recorded through the public API: for trying reports and exports, and
as test data. ``python -m devtools.storage_demo --db FILE [--patient CODE] [--sessions N]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from storage import open_store
from storage.base import Store
from storage.records import Assessment, ProgrammeItem, RepRecord, SessionSummary


def record_demo_patient(
    store: Store, code: str = "DEMO-01", *, sessions: int = 4, seed: int = 0
) -> None:
    """A machine lumbar-extension programme: assessment, programme, ``sessions`` sessions of
    two sets each with improving range and load, faults, cues, a safety stop, pain scores."""
    rng = np.random.default_rng(seed)
    store.ensure_patient(code)
    store.add_assessment(
        code,
        Assessment(
            "lumbar_extension",
            rom_deg=48.0,
            max_force_n=420.0,
            pain_free_rom_deg=40.0,
            test_angle_deg=36.0,
            notes="baseline",
        ),
    )
    (item,) = store.save_programme(
        code,
        [
            ProgrammeItem(
                "lumbar_extension",
                sets=2,
                reps=8,
                tempo_s=4.8,
                hold_s=1.0,
                load_band_n=(84.0, 168.0),
                range_target_deg=55.0,
                norm_rom_deg=72.0,
                pain_free_limit_deg=50.0,
            )
        ],
        name="block 1",
    )
    for k in range(sessions):
        store.add_pain_score(code, max(0.0, 6.0 - k), moment="before")
        w = store.begin_session(
            code,
            "lumbar_extension",
            programme_item_id=item.id,
            source="demo",
            machine_serial="MX-DEMO",
        )
        t = 0.0
        angles_t, angles_v = [], []
        for s in (1, 2):
            w.begin_set(s, target_reps=8, load_band_n=item.load_band_n, started_s=t)
            for i in range(1, 9):
                duration = 4.8 + rng.normal(0.0, 0.4)
                top = 44.0 + 3.0 * k + rng.normal(0.0, 1.5)
                faults = ("lumbar_extension.jerk",) if rng.random() < 0.2 else ()
                if rng.random() < 0.1:
                    faults += ("lumbar_extension.pelvis_lift",)
                w.add_rep(
                    RepRecord(
                        i,
                        t,
                        t + duration,
                        0.0,
                        top,
                        top / 55.0,
                        duration,
                        abs(duration - 4.8) < 0.5,
                        i != 8 or k % 2 == 0,
                        faults,
                        hold_s=1.0,
                        peak_force_n=95.0 + 10.0 * k + rng.normal(0.0, 4.0),
                    ),
                )
                ts = np.linspace(t, t + duration, 100)
                angles_t.append(ts)
                angles_v.append(top * np.sin(np.pi * (ts - t) / duration))
                if faults:
                    w.add_cue(_Cue(faults[0], "Smooth and slow", 2, t + 1.0))
                t += duration + 0.5
            t += 60.0
        w.add_trace("machine angle", "deg", np.concatenate(angles_t), np.concatenate(angles_v))
        if k == sessions - 1 and sessions > 1:
            w.add_safety_event(
                "force_limit",
                t - 61.0,
                "force over the safety limit",
                value=231.0,
                limit=220.0,
                unit="N",
            )
        w.add_pain_score(max(0.0, 5.0 - k), moment="after")
        w.finish(SessionSummary("completed"))


class _Cue:
    __slots__ = ("key", "severity", "since_s", "text")

    def __init__(self, key: str, text: str, severity: int, since_s: float) -> None:
        self.key, self.text, self.severity, self.since_s = key, text, severity, since_s


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.storage_demo")
    ap.add_argument("--db", required=True)
    ap.add_argument("--patient", default="DEMO-01")
    ap.add_argument("--sessions", type=int, default=4)
    args = ap.parse_args(argv)
    with open_store(args.db) as store:
        record_demo_patient(store, args.patient, sessions=args.sessions)
    print(f"recorded {args.sessions} demo session(s) for {args.patient} in {args.db}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
