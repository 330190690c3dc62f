"""Personal targets come from the patient's stored assessment."""

from __future__ import annotations

import pytest

from storage import Assessment, open_store
from tests.helpers import run_summary


def test_stored_assessment_sets_the_personal_targets(tmp_path):
    db = tmp_path / "clinic.sqlite"
    with open_store(db) as store:
        store.ensure_patient("P-100")
        store.add_assessment(
            "P-100",
            Assessment("lumbar_flexion", rom_deg=40.0, max_force_n=600.0, pain_free_rom_deg=45.0),
        )
    s = run_summary(tmp_path, "--exercise", "lumbar_flexion", "--source", "none", "--seconds", "2",
                    "--db", str(db), "--patient", "P-100")  # fmt: skip
    tg = s["targets"]
    assert tg["source"] == "profile"
    assert tg["start"] == 0.0 and tg["target"] == pytest.approx(40.0)
    assert tg["pain_free_limit"] == pytest.approx(45.0)
