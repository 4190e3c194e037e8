"""The summary files as a record (issue 32): NAME_summary.pdf carries patient, visit, recording
and "page n of m" on every page and no local path; the HTML prints the same in its page margins;
a heading is never left alone at a page's foot."""
from __future__ import annotations

import re

import pytest

from app.measures import write_measures
from tests.test_measures_output import FakeFrames, landmarks_csv
from tests.test_measures_record import REPORT

PRIVATE_FOLDER = "/clinic/private"       # REPORT's input file lives there


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("print")
    src = landmarks_csv(folder, name="Jane Doe smile")
    report = dict(REPORT, verdict={"level": "warnings", "reasons": ["the face was small"], "notes": []})
    targets = {"measures_json": folder / "x_measures.json", "summary_html": folder / "x_summary.html",
               "summary_pdf": folder / "x_summary.pdf"}
    result = write_measures(src, targets, report=report, frame_provider=FakeFrames())
    return folder, targets, result, report, src


def _page_texts(written) -> list[list[str]]:
    from app.measures import analyse_track
    from app.measures.io import read_landmarks_csv
    from app.measures.summary import pdf_wording
    from app.measures.summary_pdf import build_pages

    _folder, _t, _result, report, src = written
    track = read_landmarks_csv(src)
    table, analysis, result = analyse_track(track, None, report, None)
    pages = build_pages(track, table, analysis, result, report, FakeFrames(), **pdf_wording(track, result, report))
    return [[t.get_text() for t in fig.texts] for fig in pages]


def test_pdf_pages_each_name_patient_visit_recording_and_page_n_of_m(written):
    pages = _page_texts(written)
    assert len(pages) >= 3           # record, tables and charts do not fit one A4 page
    for n, texts in enumerate(pages, 1):
        joined = "\n".join(texts)
        assert "Patient P-014" in joined and "Visit V2" in joined, n
        assert "Jane Doe smile.mp4" in joined and "sha256 abababababab" in joined, n
        assert f"page {n} of {len(pages)}" in texts, n
        assert PRIVATE_FOLDER not in joined, n


def test_pdf_file_is_a_pdf_with_those_pages(written):
    _folder, targets, _result, _report, _src = written
    data = targets["summary_pdf"].read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == len(_page_texts(written))
    assert PRIVATE_FOLDER.encode() not in data


def test_pdf_keeps_each_heading_with_what_follows():
    from app.measures.summary_pdf import PAGE_H, TOP, BOTTOM, Block, _heading, _keep, paginate

    room = PAGE_H - TOP - BOTTOM
    filler = Block(room - 0.5, lambda fig, top: None)        # leaves 0.5 in: room for a heading only
    section = _keep(_heading("Rest: resting symmetry"), Block(2.0, lambda fig, top: None))
    pages = paginate([filler, section])
    assert len(pages) == 2 and pages[1][0][0] is section and pages[1][0][1] == TOP
    # a block taller than a page still gets placed (alone), never dropped
    huge = Block(room * 1.5, lambda fig, top: None)
    assert [len(p) for p in paginate([filler, huge, filler])] == [1, 1, 1]


def test_html_prints_the_record_in_every_page_margin_and_no_folder(written):
    _folder, targets, _result, _report, _src = written
    html = targets["summary_html"].read_text()
    assert PRIVATE_FOLDER not in html                    # nowhere, "Models and settings" included
    page_rule = re.search(r"@page\{.*?\}\}", html).group(0)
    assert '"Patient P-014 \u00b7 Visit V2"' in page_rule
    assert "Jane Doe smile.mp4" in page_rule and "sha256 abababababab" in page_rule
    assert 'counter(page) " of " counter(pages)' in page_rule
    # headings travel with their first table or chart
    for heading in ("Headline measures", "Rest: resting symmetry", "Expression segments", "Right vs left over time"):
        assert re.search(r'<div class="keep"><h2>' + re.escape(heading), html), heading
    assert "a negative one that it shrank" in html       # signed changes explained


def test_css_strings_cannot_break_out_of_the_page_rule():
    from app.measures.summary import _css_string

    hostile = 'P"}body{display:none}\\\n</style><b>'
    quoted = _css_string(hostile)
    assert quoted.startswith('"') and quoted.endswith('"') and '"' not in quoted[1:-1] and "\n" not in quoted
    assert "<" not in quoted and ">" not in quoted
