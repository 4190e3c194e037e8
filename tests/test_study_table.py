"""`python main.py study OUT_DIR... --out study.csv`: one row per video with exactly the columns
shared with `agreement --study` and `compare` (README "Study table"), read defensively, written
atomically, never over an existing table without --overwrite."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.base.model_files import sha256_file
from app.followup.study_table import study_command
from tests.scale_helpers import DETECTOR, hidden, make_clips, process, weights_dir  # noqa: F401

# The contract, written out here on purpose (not imported): a change to app/followup/study_table.py that
# renames or reorders a column must fail this test.
REGION = ["measure", "unit", "right", "right_ci_low", "right_ci_high", "left", "left_ci_low", "left_ci_high",
          "symmetry_pct", "symmetry_ci_low", "symmetry_ci_high", "weaker"]
CONTRACT = (["file", "input_sha256", "recorded_at", "patient", "visit", "verdict", "verdict_reasons", "usable",
             "mode", "app_version", "landmark_model_sha256", "detector_model_sha256"]
            + [f"{r}_{f}" for r in ("brow", "eyes", "mouth") for f in REGION] + ["report_json", "duplicate_of"])


def _report(file, level, reasons=(), **extra) -> dict:
    return {"app": {"name": "FaceMirror", "version": "0.1.0"},
            "models": {"retinaface": {"file": "r.onnx", "sha256": "d" * 64},
                       "star": {"file": "s.onnx", "sha256": "s" * 64}, "landmark_model": "STAR 98-point"},
            "input": {"file": file, "sha256": hashlib.sha256(file.encode()).hexdigest()}, "verdict": {"level": level, "reasons": list(reasons)},
            **extra}


def _headline(region, right, left, sym, weaker, measure="commissure_excursion") -> dict:
    return {"region": region, "measure": measure, "label": "smile", "segment": 2, "peak_s": 3.5, "unit": "mm",
            "right": {"value": right, "ci95": [right - 0.5, right + 0.5]},
            "left": {"value": left, "ci95": [left - 0.25, left + 0.25]},
            "symmetry_pct": sym, "symmetry_ci95": None if sym is None else [sym - 5, sym + 5], "weaker": weaker}


def _write(folder: Path, stem: str, report: dict | str, measures: dict | str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}_report.json").write_text(report if isinstance(report, str) else json.dumps(report))
    if measures is not None:
        (folder / f"{stem}_measures.json").write_text(measures if isinstance(measures, str) else json.dumps(measures))


@pytest.fixture
def study(tmp_path):
    res = tmp_path / "res"
    _write(res / "p01" / "v1", "smile",
           {**_report("/clinic/p01/v1/smile.mov", "good"), "subject": {"patient": "P01", "visit": "V1"},
            "input": {"file": "/clinic/p01/v1/smile.mov", "sha256": "a" * 64, "recorded_at": "2026-05-01T10:00:00"}},
           {"mode": "98-point WFLW", "headlines": [_headline("mouth", 4.25, 8.5, 50.0, "right"),
                                                   _headline("brow", 2.0, 2.0, 100.0, None, "brow_raise"),
                                                   _headline("mouth", 9.0, 9.0, 1.0, "left")]})   # 2nd mouth: ignored
    _write(res / "p02", "blink", _report("C:\\clinic\\p02\\blink.mp4", "not usable",
                                         ["the face was not found in 30 % of frames", "too small"]), None)
    _write(res / "p03", "odd", _report("odd.mp4", "usable with warnings", ["a | b"]),
           {"mode": "5-point (coarse)", "headlines": [
               {"region": "eyes", "right": {"value": "big", "ci95": [1]}, "left": None, "symmetry_pct": float("nan"),
                "weaker": "both"},
               "not an object", {"region": "nose"}]})
    _write(res / "p04", "bare", {"app": {"name": "FaceMirror"}}, {"headlines": "nope"})
    _write(res / "other", "notes", {"title": "someone else's report"}, None)       # not FaceMirror's: ignored
    (res / "p01" / "v1" / ".facemirror-partial-1-abcd123456.json").write_text("{}")  # temporary: ignored
    return res


def _run(folders, out, overwrite=False) -> tuple[int, str, str]:
    o, e = io.StringIO(), io.StringIO()
    code = study_command(SimpleNamespace(folders=[str(f) for f in folders], out=str(out), overwrite=overwrite),
                         out=o, err=e)
    return code, o.getvalue(), e.getvalue()


def _read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_one_row_per_video_with_the_contract_columns(study, tmp_path):
    code, out, err = _run([study], tmp_path / "study.csv")
    assert code == 0, out + err
    header, rows = _read(tmp_path / "study.csv")
    assert header == CONTRACT
    by = {r["report_json"].removeprefix("res/"): r for r in rows}
    assert sorted(by) == ["p01/v1/smile_report.json", "p02/blink_report.json", "p03/odd_report.json",
                          "p04/bare_report.json"]
    assert all(r["report_json"].startswith("res/") for r in rows)      # relative to the table's folder
    smile = by["p01/v1/smile_report.json"]
    assert smile["file"] == "smile.mov" and smile["input_sha256"] == "a" * 64
    assert (smile["recorded_at"], smile["patient"], smile["visit"]) == ("2026-05-01T10:00:00", "P01", "V1")
    assert (smile["verdict"], smile["verdict_reasons"], smile["usable"]) == ("good", "", "true")
    assert smile["mode"] == "98-point WFLW" and smile["app_version"] == "0.1.0"
    assert smile["landmark_model_sha256"] == "s" * 64 and smile["detector_model_sha256"] == "d" * 64
    assert [smile[f"mouth_{f}"] for f in REGION] == ["commissure_excursion", "mm", "4.25", "3.75", "4.75", "8.5",
                                                     "8.25", "8.75", "50.0", "45.0", "55.0", "right"]
    assert smile["brow_weaker"] == "" and smile["brow_symmetry_pct"] == "100.0"
    assert all(smile[f"eyes_{f}"] == "" for f in REGION)

    blink = by["p02/blink_report.json"]          # not usable, no measures: kept, marked, empty cells
    assert blink["file"] == "blink.mp4" and blink["usable"] == "false" and blink["verdict"] == "not usable"
    assert blink["verdict_reasons"] == "the face was not found in 30 % of frames | too small"
    assert blink["mode"] == "" and all(blink[f"mouth_{f}"] == "" for f in REGION)

    odd = by["p03/odd_report.json"]              # malformed headline values: empty cells, no error
    assert odd["usable"] == "true" and odd["mode"] == "5-point (coarse)"
    assert all(odd[f"eyes_{f}"] == "" for f in REGION)
    bare = by["p04/bare_report.json"]
    assert bare["usable"] == "" and bare["file"] == "" and bare["app_version"] == ""
    assert "ignored 1 *_report.json file not written by FaceMirror" in out
    assert "wrote " in out and "4 rows, 1 marked not usable" in out
    assert err == ""


def test_the_table_reads_into_pandas_with_numbers_and_booleans(study, tmp_path):
    pd = pytest.importorskip("pandas")
    _run([study], tmp_path / "study.csv")
    df = pd.read_csv(tmp_path / "study.csv")
    assert list(df.columns) == CONTRACT and len(df) == 4
    assert df["mouth_right"].dtype.kind == "f" and df["usable"].dropna().isin([True, False]).all()


def test_existing_table_is_kept_unless_overwrite(study, tmp_path):
    target = tmp_path / "study.csv"
    target.write_text("keep me\n")
    code, out, err = _run([study], target)
    assert code == 2 and "already exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert target.read_text() == "keep me\n"
    code, out, err = _run([study], target, overwrite=True)
    assert code == 0 and _read(target)[0] == CONTRACT
    assert not [n for n in hidden(tmp_path) if "/" not in n]       # no temporary table left beside it


def test_usage_errors_and_unreadable_files(study, tmp_path):
    assert _run([tmp_path / "nope"], tmp_path / "s.csv")[0] == 2
    assert _run([study], tmp_path / "missing" / "s.csv")[0] == 2
    assert _run([study], tmp_path)[0] == 2                                   # a folder, not a file
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _run([empty], tmp_path / "s.csv")
    assert code == 1 and "no FaceMirror reports" in err and not (tmp_path / "s.csv").exists()
    (study / "p02" / "broken_report.json").write_text("{ half")            # unreadable: named, others kept
    (study / "p03" / "odd_measures.json").write_text("[")
    code, out, err = _run([study, study / "p01"], tmp_path / "s.csv")     # p01 given twice: listed once
    assert code == 1 and "broken_report.json" in err and "odd_measures.json" in err
    rows = _read(tmp_path / "s.csv")[1]
    assert len(rows) == 4 and [r["mode"] for r in rows if r["file"] == "odd.mp4"] == [""]


def test_a_real_run_gives_its_row(tmp_path, weights_dir):  # noqa: F811
    clip = make_clips(tmp_path / "in", 1)[0]
    code, out, err = process(clip, "--out", tmp_path / "res")
    assert code == 0, out + err
    code, out, err = _run([tmp_path / "res"], tmp_path / "study.csv")
    assert code == 0, out + err
    header, rows = _read(tmp_path / "study.csv")
    assert header == CONTRACT and len(rows) == 1
    row = rows[0]
    assert row["file"] == clip.name and row["input_sha256"] == sha256_file(clip)
    assert row["detector_model_sha256"] == sha256_file(DETECTOR) and row["landmark_model_sha256"] == ""
    assert row["verdict"] == "usable with warnings" and row["usable"] == "true"
    assert row["mode"] == "5-point (coarse)" and row["report_json"] == f"res/{clip.stem}_report.json"


def test_every_output_set_is_a_row_or_a_named_counted_problem(tmp_path):
    """A report missing beside its outputs, a broken report and a measures file the report lists but
    that is gone are each named and counted (exit 1); the rows that can be made are still written."""
    res = tmp_path / "res"
    listed = {"report": "x", "measures_json": "x"}
    _write(res / "a", "fine", {**_report("fine.mp4", "good"), "outputs": listed},
           {"mode": "98-point WFLW", "headlines": [_headline("mouth", 4.0, 8.0, 50.0, "right")]})
    _write(res / "b", "nomeasures", {**_report("nomeasures.mp4", "good"), "outputs": listed}, None)
    _write(res / "c", "broken", "{ not json", None)
    (res / "d").mkdir(parents=True)
    (res / "d" / "orphan_measures.json").write_text("{}")            # a report that is missing
    (res / "d" / "orphan_annotated.mp4").write_bytes(b"\x00" * 10)
    _write(res / "e", "blink", _report("blink.mp4", "not usable"), None)   # lists no measures: no problem
    code, out, err = _run([res], tmp_path / "study.csv")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 4 and lines[-1] == "3 problems (named above); the table is incomplete where they say"
    assert any(ln.startswith("warning: ") and "nomeasures_measures.json: missing although the report lists it" in ln
               for ln in lines)
    assert any("broken_report.json: not readable as JSON; no row for this video" in ln for ln in lines)
    assert any("orphan: outputs (orphan_annotated.mp4, orphan_measures.json) without their orphan_report.json"
               in ln for ln in lines)
    rows = _read(tmp_path / "study.csv")[1]
    assert sorted(r["file"] for r in rows) == ["blink.mp4", "fine.mp4", "nomeasures.mp4"]
    assert "3 rows, 1 marked not usable" in out


def test_the_same_video_in_two_output_folders_is_flagged_as_a_duplicate(tmp_path):
    res1, res2 = tmp_path / "run1", tmp_path / "run2"
    same = {**_report("smile.mp4", "good"), "input": {"file": "smile.mp4", "sha256": "f" * 64}}
    _write(res1, "smile", same, None)
    _write(res2 / "again", "smile", same, None)
    _write(res2, "other", _report("other.mp4", "good"), None)
    code, out, err = _run([res1, res2], tmp_path / "study.csv")
    assert code == 0, err                     # every row is there: a warning, not a problem
    assert err.strip() == ("warning: the same video (input sha256 ffffffffffff...) has 2 rows: run1/smile_report.json, "
                           "run2/again/smile_report.json; the later rows are marked duplicate_of")
    rows = {r["report_json"]: r for r in _read(tmp_path / "study.csv")[1]}
    assert rows["run1/smile_report.json"]["duplicate_of"] == ""
    assert rows["run2/again/smile_report.json"]["duplicate_of"] == "run1/smile_report.json"
    assert rows["run2/other_report.json"]["duplicate_of"] == ""
    assert "3 rows, 1 marked duplicate_of" in out


def test_report_paths_resolve_from_the_tables_folder(tmp_path, monkeypatch):
    """Folders given relative to another working directory, the table somewhere else: every
    report_json opens from the table's folder."""
    res = tmp_path / "data" / "res"
    _write(res / "V1", "smile_V1", _report("smile_V1.mp4", "good"), None)
    _write(res / "V2", "smile_V2", _report("smile_V2.mp4", "good"), None)
    (tmp_path / "tables" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "data")
    code, out, err = _run([Path("res"), Path("res") / "V2"], tmp_path / "tables" / "deep" / "study.csv")
    assert code == 0, err
    rows = _read(tmp_path / "tables" / "deep" / "study.csv")[1]
    assert len(rows) == 2
    for row in rows:
        assert row["report_json"].startswith("../../data/res/V")
        report = json.loads((tmp_path / "tables" / "deep" / row["report_json"]).read_text())
        assert report["input"]["file"] == row["file"]


def test_a_table_made_from_several_folders_gives_compare_the_rest_values_of_every_row(tmp_path):
    """Three visits found through three different folders, the table in a fourth: every row's
    report_json resolves from the table, so compare's reader (app.followup.visits.from_study) finds
    each visit's rest values (they are only in measures.json, not in the table)."""
    from app.followup.visits import from_study

    for v, value in (("V1", 1.5), ("V2", 2.5), ("V3", 3.5)):
        _write(tmp_path / "clinic" / v, f"smile_{v}",
               {**_report(f"smile_{v}.mp4", "good"), "subject": {"patient": "P1", "visit": v}},
               {"mode": "98-point WFLW", "headlines": [_headline("mouth", 4.0, 8.0, 50.0, "right")],
                "rest": {"start_s": 0.0, "end_s": 2.0, "values": {"mouth_corner_height": {"difference": value}}}})
    (tmp_path / "tables").mkdir()
    code, out, err = _run([tmp_path / "clinic" / v for v in ("V1", "V2", "V3")], tmp_path / "tables" / "study.csv")
    assert code == 0, err
    recordings = from_study(tmp_path / "tables" / "study.csv")
    assert sorted((r.visit, r.rest["mouth_corner_height"]["difference"]) for r in recordings) == [
        ("V1", 1.5), ("V2", 2.5), ("V3", 3.5)]
