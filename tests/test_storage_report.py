"""Therapist reports from a real database: PDF pages with drawn content, PNG, HTML."""

from __future__ import annotations

import base64
import io
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from devtools.storage_demo import record_demo_patient
from storage import open_store
from storage.report import report_patient

CODE = "LBP-007"
SESSIONS = 2


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "clinic.sqlite"
    with open_store(path) as store:
        store.ensure_patient(CODE, display_name="Ann Example")
        record_demo_patient(store, CODE, sessions=SESSIONS, seed=3)
        store.ensure_patient("NEW-1")  # a patient with nothing recorded yet
    return path


def _pdf_pages(data: bytes) -> list[bytes]:
    """The decompressed content stream of every page, in page-tree order of appearance."""
    objects = {
        int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)endobj", data, re.S)
    }
    pages = []
    for body in objects.values():
        if re.search(rb"/Type\s*/Page\b(?!s)", body):
            ref = int(re.search(rb"/Contents\s+(\d+) 0 R", body).group(1))
            raw = re.search(rb"stream\r?\n(.*?)\r?\nendstream", objects[ref], re.S).group(1)
            pages.append(zlib.decompress(raw))
    return pages


def test_pdf_has_an_overview_and_a_page_per_session(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    with open_store(db) as store:
        report_patient(store, CODE, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = _pdf_pages(data)
    assert len(pages) == 1 + SESSIONS
    assert re.search(rb"/Count\s+%d\b" % (1 + SESSIONS), data)
    for content in pages:
        # Each page draws text (TJ/Tj) and paths (line-to 'l', fill/stroke), not a blank page.
        assert len(content) > 2000
        assert re.search(rb"T[Jj]\b", content) and re.search(rb"\sl\n", content)
    assert out.stat().st_mode & 0o777 == 0o600
    assert b"Ann Example" not in data


def test_png_stacks_overview_and_last_session(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    with open_store(db) as store:
        report_patient(store, CODE, out)
    img = imread(out)
    assert img.shape[0] > img.shape[1]  # two landscape pages, one above the other
    assert float(np.std(img[..., :3])) > 0.05  # drawn, not blank
    assert out.stat().st_mode & 0o777 == 0o600


def test_html_embeds_one_image_per_page(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    with open_store(db) as store:
        report_patient(store, CODE, out)
    text = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 1 + SESSIONS
    for b64 in images:
        img = imread(io.BytesIO(base64.b64decode(b64)), format="png")
        assert img.shape[1] > 500 and float(np.std(img[..., :3])) > 0.05
    assert text.count("<tr><td>") == SESSIONS
    assert "Ann Example" not in text and CODE in text


def test_patient_without_sessions_gets_an_overview_page(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.pdf"
    with open_store(db) as store:
        report_patient(store, "NEW-1", out)
    assert len(_pdf_pages(out.read_bytes())) == 1


def test_unknown_format_writes_nothing(db: Path, tmp_path: Path) -> None:
    with open_store(db) as store, pytest.raises(ValueError, match=r"\.pdf, \.png or \.html"):
        report_patient(store, CODE, tmp_path / "r.docx")
    assert list(tmp_path.iterdir()) == []
