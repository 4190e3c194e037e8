"""`agreement`: known answers from the published worked examples, FaceMirror joined as a rater,
thin and bad input, the page and the JSON.

Independent truth: Shrout & Fleiss (1979), Table 2 (6 targets x 4 judges) -> ICC(2,1) = 0.29,
ICC(3,1) = 0.71; Bland & Altman (1986, Lancet), Table 1 first readings of the Wright and mini
Wright peak flow meters (17 subjects) -> mean difference -2.1 l/min, SD 38.8, limits of agreement
-79.7 to 75.5 (the paper's mean +/- 2 SD, from its rounded mean and SD), r = 0.94.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from app.cli.main import main
from tests.conftest import REPO
from tests.fresh_imports import packages_loaded

pytest.importorskip("pingouin", reason="the stats extra (pingouin) is not installed")

SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI_WRIGHT = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _csv(rows, header=("target", "rater", "score")):
    return "\n".join([",".join(header)] + [",".join(str(c) for c in r) for r in rows]) + "\n"


def _sf_rows(item=None):
    rows = []
    for t, judges in enumerate(SHROUT_FLEISS, start=1):
        for j, score in enumerate(judges, start=1):
            rows.append((f"subject {t}", f"judge {j}", score) + ((item,) if item else ()))
    return rows


def _run(tmp_path, ratings, *extra, out="out"):
    code = main(["agreement", str(ratings), "--out", str(tmp_path / out), *extra])
    data = json.loads((tmp_path / out / "agreement.json").read_text()) if code in (0, 1) else None
    return code, data


def _item(data, name):
    return next(it for it in data["items"] if it["item"] == name)


def test_shrout_fleiss_1979_icc_2_1_and_3_1(tmp_path):
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(_sf_rows())))
    assert code == 0
    it = _item(data, "score")
    assert it["n_targets"] == 6 and it["targets_dropped"] == 0 and len(it["raters"]) == 4
    assert round(it["icc2_1"]["value"], 2) == 0.29
    assert round(it["icc3_1"]["value"], 2) == 0.71
    lo, hi = it["icc2_1"]["ci95"]
    assert lo < 0.29 < hi
    assert "bland_altman" not in it and it["pearson"] is None      # four raters: per pair only
    assert len(it["pairs"]) == 6


def test_bland_altman_1986_peak_flow_first_readings(tmp_path):
    from app.followup.agreement import item_agreement
    from app.followup.ratings import Rating

    assert len(WRIGHT) == len(MINI_WRIGHT) == 17
    ratings = [Rating(f"s{i}", "Wright", "pefr", w) for i, w in enumerate(WRIGHT)] + \
              [Rating(f"s{i}", "mini Wright", "pefr", m) for i, m in enumerate(MINI_WRIGHT)]
    paper = item_agreement(ratings, "pefr", agreement_sd=2)["bland_altman"]     # the paper's 2 SD
    assert round(paper["bias"], 1) == -2.1
    assert round(paper["sd"], 1) == 38.8
    # the paper's limits are its rounded mean -/+ 2 x its rounded SD
    assert round(round(paper["bias"], 1) - 2 * round(paper["sd"], 1), 1) == -79.7
    assert round(round(paper["bias"], 1) + 2 * round(paper["sd"], 1), 1) == 75.5
    assert paper["loa_low"] == pytest.approx(-79.7, abs=0.1) and paper["loa_high"] == pytest.approx(75.5, abs=0.1)

    default = item_agreement(ratings, "pefr")            # today's convention: 1.96 SD
    ba = default["bland_altman"]
    assert ba["loa_low"] == pytest.approx(ba["bias"] - 1.96 * ba["sd"]) and ba["loa_high"] > 73.8
    assert round(default["pearson"]["r"], 2) == 0.94     # the paper's r for these data


def test_command_with_the_peak_flow_data_writes_two_rater_statistics(tmp_path):
    rows = [(f"s{i}", "Wright", w) for i, w in enumerate(WRIGHT)] + [(f"s{i}", "mini", m) for i, m in enumerate(MINI_WRIGHT)]
    code, data = _run(tmp_path, _write(tmp_path / "pef.csv", _csv(rows)))
    assert code == 0
    it = _item(data, "score")
    assert it["raters"] == ["Wright", "mini"]
    assert round(it["bland_altman"]["bias"], 1) == -2.1 and round(it["bland_altman"]["sd"], 1) == 38.8
    assert set(it["bland_altman"]) >= {"bias", "sd", "loa_low", "loa_high"}
    assert round(it["spearman"]["r"], 2) == pytest.approx(0.90, abs=0.01)
    assert it["icc2_1"]["value"] > 0.9 and it["icc3_1"]["value"] > 0.9


def test_targets_missing_a_grade_are_left_out_of_the_icc_and_counted(tmp_path, capsys):
    rows = _sf_rows() + [("subject 7", "judge 1", 3), ("subject 7", "judge 2", 9),
                         ("subject 8", "judge 3", ""), ("subject 8", "judge 4", 5)]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    assert code == 0
    it = _item(data, "score")
    assert it["targets_graded"] == 8 and it["targets_dropped"] == 2 and it["n_targets"] == 6
    assert round(it["icc2_1"]["value"], 2) == 0.29 and round(it["icc3_1"]["value"], 2) == 0.71
    pair12 = next(p for p in it["pairs"] if p["raters"] == ["judge 1", "judge 2"])
    assert pair12["n_targets"] == 7                      # a pair uses every target both graded
    html = (tmp_path / "out" / "agreement.html").read_text()
    assert "2 of 8 targets were not graded by every rater" in html
    assert "1 empty (or NA) score cell was read as a missing grade" in capsys.readouterr().err


@pytest.mark.parametrize("score", ["II", "4.5.1", "inf"])
def test_a_score_that_is_not_a_number_is_named_by_its_row(tmp_path, capsys, score):
    rows = _sf_rows()
    rows[4] = (rows[4][0], rows[4][1], score)
    code, _ = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == (f"error: row 6 of r.csv: the score '{score}' is not a number (write grades as numbers, "
                      "e.g. House-Brackmann II as 2)")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_too_few_raters_or_targets_give_a_message_per_item_and_the_others_are_computed(tmp_path):
    rows = _sf_rows("smile")
    rows += [("subject 1", "judge 1", 3, "brow"), ("subject 2", "judge 1", 4, "brow"), ("subject 3", "judge 1", 5, "brow")]
    rows += [("subject 1", "judge 1", 3, "eyes"), ("subject 1", "judge 2", 4, "eyes"),
             ("subject 2", "judge 1", 5, "eyes"), ("subject 2", "judge 2", 5, "eyes")]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows, ("target", "rater", "score", "item"))))
    assert code == 0
    assert round(_item(data, "smile")["icc2_1"]["value"], 2) == 0.29
    brow, eyes = _item(data, "brow"), _item(data, "eyes")
    assert brow["message"] == "item 'brow': only one rater (judge 1); agreement needs at least 2"
    assert eyes["message"] == "item 'eyes': only 2 target(s) were graded by all 2 raters; the ICC needs at least 3"
    assert brow["icc2_1"] is None and eyes["icc2_1"] is None and "bland_altman" not in eyes


def test_nothing_computable_exits_1_with_the_reason_in_the_files(tmp_path):
    rows = [("a", "judge 1", 1), ("b", "judge 1", 2), ("c", "judge 1", 3)]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    assert code == 1
    assert "only one rater" in data["items"][0]["message"]


def test_bom_latin1_semicolons_and_decimal_commas(tmp_path):
    lines = ["Target;Rater;Score;Item"]
    for t, judges in enumerate(SHROUT_FLEISS, start=1):
        for j, score in enumerate(judges, start=1):
            lines.append(f"s{t};Dr Müller {j};{score},0;Lächeln")
    text = "\r\n".join(lines) + "\r\n"
    for name, data in (("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8")), ("latin1.csv", text.encode("latin-1"))):
        (tmp_path / name).write_bytes(data)
        code, out = _run(tmp_path, tmp_path / name, out=name + "_out")
        assert code == 0
        it = _item(out, "Lächeln")
        assert it["raters"][0] == "Dr Müller 1"
        assert round(it["icc2_1"]["value"], 2) == 0.29 and round(it["icc3_1"]["value"], 2) == 0.71
    assert any("latin1.csv was read as cp1252" in n for n in out["notes"])


def test_patient_and_visit_columns_stand_for_the_target(tmp_path):
    rows = [(f"P{t}", "V1", f"judge {j}", s) for t, judges in enumerate(SHROUT_FLEISS) for j, s in enumerate(judges)]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows, ("patient", "visit", "rater", "score"))))
    assert code == 0 and round(_item(data, "score")["icc3_1"]["value"], 2) == 0.71


def test_the_same_grade_twice_is_refused(tmp_path, capsys):
    rows = _sf_rows() + [("subject 2", "judge 3", 4)]
    code, _ = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    assert code == 2
    assert "rows 8 and 26 of r.csv both give rater judge 3's score" in capsys.readouterr().err


def test_missing_columns_are_named(tmp_path, capsys):
    code, _ = _run(tmp_path, _write(tmp_path / "r.csv", "subject,grader,grade\na,b,1\n"))
    assert code == 2
    assert capsys.readouterr().err.strip() == ("error: r.csv has no 'target' column (nor 'patient' and 'visit'); "
                                                "its columns are: subject, grader, grade")


STUDY_HEADER = ("file,input_sha256,recorded_at,patient,visit,verdict,verdict_reasons,usable,mode,app_version,"
                "landmark_model_sha256,detector_model_sha256,"
                + ",".join(f"{r}_{f}" for r in ("brow", "eyes", "mouth") for f in
                           ("measure", "unit", "right", "right_ci_low", "right_ci_high", "left", "left_ci_low",
                            "left_ci_high", "symmetry_pct", "symmetry_ci_low", "symmetry_ci_high", "weaker"))
                + ",report_json")


def _study(path, rows):
    """rows: (file, patient, visit, usable, mouth_symmetry_pct)."""
    cols = STUDY_HEADER.split(",")
    lines = [STUDY_HEADER]
    for file, patient, visit, usable, sym in rows:
        cells = dict.fromkeys(cols, "")
        cells.update(file=file, patient=patient, visit=visit, usable=usable, mouth_symmetry_pct=sym,
                     verdict="good" if usable == "true" else "not usable", mouth_measure="commissure_excursion")
        lines.append(",".join(str(cells[c]) for c in cols))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_facemirror_joins_as_a_rater_through_the_mapping(tmp_path, capsys):
    clinician = {"a.mp4": 40, "b": 55, "P3/V2": 70, "d.mp4": 85, "e.mp4": 60, "f.mp4": 30}
    offset = {"a.mp4": 5, "b": -3, "P3/V2": 2, "d.mp4": 0, "e.mp4": 100, "f.mp4": 4}
    rows = [(t, "Dr A", s, "smile") for t, s in clinician.items()]
    rows += [(t, "Dr A", s + 1, "mouth_symmetry_pct") for t, s in clinician.items()]
    ratings = _write(tmp_path / "r.csv", _csv(rows, ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [
        ("a.mp4", "P1", "V1", "true", 45), ("b.mov", "P2", "V1", "true", 52), ("x.mp4", "P3", "V2", "true", 72),
        ("d.mp4", "P4", "V1", "true", 85), ("e.mp4", "P5", "V1", "false", 160), ("f.mp4", "P6", "V1", "true", "")])
    code, data = _run(tmp_path, ratings, "--study", str(study), "--map", "smile=mouth_symmetry_pct")
    assert code == 0
    for name, shift in (("smile", 0), ("mouth_symmetry_pct", 1)):
        it = _item(data, name)
        assert it["raters"] == ["Dr A", "FaceMirror"]
        # e.mp4 is not usable and f.mp4 has no value: 4 targets with both grades
        assert it["n_targets"] == 4 and it["targets_dropped"] == 2
        diffs = [clinician[t] + shift - (clinician[t] + offset[t]) for t in ("a.mp4", "b", "P3/V2", "d.mp4")]
        assert it["bland_altman"]["bias"] == pytest.approx(sum(diffs) / 4)
    notes = " ".join(data["notes"])
    assert "1 target(s) left out because their recording is not usable" in notes
    assert "1 target(s) have no value in that column" in notes
    assert data["sources"]["mapping"] == {"smile": "mouth_symmetry_pct"}
    html = (tmp_path / "out" / "agreement.html").read_text()
    assert "FaceMirror&#x27;s grade is a measure" in html


def test_a_target_matching_two_study_rows_is_refused(tmp_path, capsys):
    ratings = _write(tmp_path / "r.csv", _csv([("P1/V1", "Dr A", 3, "mouth_symmetry_pct")], ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [("smile.mp4", "P1", "V1", "true", 45), ("brow.mp4", "P1", "V1", "true", 50)])
    code, _ = _run(tmp_path, ratings, "--study", str(study))
    assert code == 2
    assert "the target 'P1/V1' matches 2 rows of study.csv (smile.mp4, brow.mp4)" in capsys.readouterr().err


def test_a_map_to_a_missing_column_is_refused(tmp_path, capsys):
    ratings = _write(tmp_path / "r.csv", _csv(_sf_rows("smile"), ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [("a.mp4", "P1", "V1", "true", 45)])
    assert _run(tmp_path, ratings, "--study", str(study), "--map", "smile=mouth_symetry")[0] == 2
    assert "--map smile=mouth_symetry: study.csv has no column 'mouth_symetry'" in capsys.readouterr().err


def test_page_is_offline_self_contained_and_names_no_target(tmp_path):
    rows = [(f"Jane Doe {t}.mp4", f"judge {j}", s) for t, judges in enumerate(SHROUT_FLEISS) for j, s in enumerate(judges)]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    assert code == 0
    html = (tmp_path / "out" / "agreement.html").read_text()
    text_json = (tmp_path / "out" / "agreement.json").read_text()
    assert "Jane Doe" not in html and "Jane Doe" not in text_json
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@page{size:A4" in html and "@media print" in html
    assert html.count("<svg") == 6                          # one Bland-Altman plot per pair of 4 raters
    assert html.count("<figure>") == 6


def test_outputs_are_not_replaced_without_overwrite_and_no_temp_files_stay(tmp_path, capsys):
    ratings = _write(tmp_path / "r.csv", _csv(_sf_rows()))
    assert _run(tmp_path, ratings)[0] == 0
    before = (tmp_path / "out" / "agreement.json").read_bytes()
    assert _run(tmp_path, ratings)[0] == 2
    assert "agreement.html, agreement.json already exist(s)" in capsys.readouterr().err
    assert (tmp_path / "out" / "agreement.json").read_bytes() == before
    assert _run(tmp_path, ratings, "--overwrite")[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["agreement.html", "agreement.json"]


def test_without_the_stats_extra_one_sentence_and_exit_2(tmp_path):
    ratings = _write(tmp_path / "r.csv", _csv(_sf_rows()))
    code = ("import sys; sys.modules['pingouin'] = None\n"
            "from app.cli.main import main\n"
            f"sys.exit(main(['agreement', {str(ratings)!r}, '--out', {str(tmp_path / 'out')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e '.[stats]'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_stats_libraries_are_imported_only_by_the_agreement_path():
    setup = ("import pkgutil, importlib, app.followup, app.cli.main\n"
             "for m in pkgutil.iter_modules(app.followup.__path__): importlib.import_module('app.followup.' + m.name)\n"
             "app.cli.main._build_parser()")
    assert packages_loaded(setup, ("pingouin", "pandas", "scipy", "seaborn")) == []


def test_shrout_fleiss_1979_icc_1_1(tmp_path):
    """Shrout & Fleiss (1979), Table 4: ICC(1,1) = 0.17 for the Table 2 data (one-way random effects)."""
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(_sf_rows())))
    assert code == 0
    it = _item(data, "score")
    assert round(it["icc1_1"]["value"], 2) == 0.17
    lo, hi = it["icc1_1"]["ci95"]
    assert lo < 0.17 < hi
    html = (tmp_path / "out" / "agreement.html").read_text()
    assert "ICC(1,1) (95 % CI)" in html and "0.17" in html


def _bad_inputs(tmp_path):
    empty = _write(tmp_path / "empty.csv", "")
    blank = _write(tmp_path / "blank.csv", "\n \n\n")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    header_only = _write(tmp_path / "header.csv", "target,rater,score\n")
    return {"empty": (empty, "empty.csv is empty"), "blank": (blank, "blank.csv is empty"),
            "binary": (binary, "photo.csv is not a CSV text file (it contains binary data)"),
            "missing": (tmp_path / "nope.csv", "nope.csv does not exist"),
            "folder": (folder, "folder.csv is a folder, not a CSV file"),
            "header only": (header_only, "header.csv has no scores")}


# (a study table with a header and no rows is a valid, empty table: not a bad --study)
BAD_FILE_CASES = ([(c, False) for c in ("empty", "blank", "binary", "missing", "folder", "header only")]
                  + [(c, True) for c in ("empty", "blank", "binary", "missing", "folder")])

# Runs main.py's entry point (`_run`, what `python main.py ...` runs) once per case in one child
# process, each case with its own stderr, and prints {case: [exit status, stderr]} as JSON. An
# exception escaping the entry point is an exit 1 with its traceback, as the interpreter would make it.
# One process, not eleven: each would import the stats libraries first (2.6 CPU s apiece).
_DRIVER = """
import contextlib, io, json, runpy, sys, traceback
entry = runpy.run_path("main.py", run_name="facemirror_entry")["_run"]
results = {}
for name, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    sys.argv = ["main.py", *argv]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = entry()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    results[name] = [code, err.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def bad_file_runs(tmp_path_factory):
    """{(case, as_study): (exit status, stderr, words, out folder)} of `agreement` on each bad file."""
    argvs, expected = {}, {}
    for case, as_study in BAD_FILE_CASES:
        tmp_path = tmp_path_factory.mktemp("bad")
        path, words = _bad_inputs(tmp_path)[case]
        if as_study:
            ratings = _write(tmp_path / "r.csv", _csv(_sf_rows()))
            argv = [str(ratings), "--study", str(path)]
        else:
            argv = [str(path)]
        key = f"{case}|{as_study}"
        argvs[key] = ["agreement", *argv, "--out", str(tmp_path / "out")]
        expected[key] = (words, tmp_path / "out")
    proc = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(argvs)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {key: (*results[key], *expected[key]) for key in argvs}


@pytest.mark.parametrize("case,as_study", BAD_FILE_CASES)
def test_every_bad_file_is_one_sentence_and_exit_2_in_a_real_process(bad_file_runs, case, as_study):
    """Through main.py's entry point in a child process, so that a traceback (exit 1) cannot hide
    behind pytest."""
    code, stderr, words, out = bad_file_runs[f"{case}|{as_study}"]
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], stderr
    assert not out.exists()


@pytest.mark.parametrize("score", ["1e300", "-1e300", "1e7", "-Infinity", "nan(1)"])
def test_huge_or_non_finite_scores_are_refused_with_one_sentence(tmp_path, capsys, score):
    rows = _sf_rows()
    rows[2] = (rows[2][0], rows[2][1], score)
    code, _ = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: row 4 of r.csv: the score '{score}' ")
    assert not (tmp_path / "out").exists()


def test_a_huge_facemirror_value_in_the_study_is_refused(tmp_path, capsys):
    ratings = _write(tmp_path / "r.csv", _csv([(t, "Dr A", 50, "mouth_symmetry_pct") for t in ("a.mp4", "b.mp4", "c.mp4")],
                                               ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [("a.mp4", "P1", "V1", "true", 45), ("b.mp4", "P2", "V1", "true", "1e300"),
                                            ("c.mp4", "P3", "V1", "true", 60)])
    code, _ = _run(tmp_path, ratings, "--study", str(study))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "row 3 of study.csv, column 'mouth_symmetry_pct': the score '1e300' is beyond" in err[0]


def test_a_constant_rater_is_explained_and_no_library_warning_reaches_the_terminal(tmp_path):
    """Rater A gives every target 5: the correlations with A are undefined and the files say why;
    scipy's and pingouin's own warnings (ConstantInputWarning, RuntimeWarning) stay silent."""
    rows = [(f"t{t}", "A", 5) for t in range(6)] + [(f"t{t}", "B", t * 2) for t in range(6)]
    ratings = _write(tmp_path / "r.csv", _csv(rows))
    proc = subprocess.run([sys.executable, "-W", "default", "main.py", "agreement", str(ratings), "--out",
                           str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "warn(" not in proc.stderr, proc.stderr
    expected = ("A gave every target the same grade (5): a correlation with A is undefined (shown as '-')")
    assert f"item 'score': {expected}" in proc.stderr.splitlines()
    data = json.loads((tmp_path / "out" / "agreement.json").read_text())
    it = _item(data, "score")
    assert it["pearson"] is None and expected in it["notes"]
    assert "the correlations are undefined" in it["pairs"][0]["note"]
    assert it["bland_altman"]["bias"] == pytest.approx(5 - sum(t * 2 for t in range(6)) / 6)
    assert expected.replace("'", "&#x27;") in (tmp_path / "out" / "agreement.html").read_text()


def test_many_targets_give_a_density_plot_and_a_small_page(tmp_path):
    """2,500 targets (beyond MAX_SCATTER): one raster density image per plot instead of 2,500 marks;
    the bias in the JSON is the independent mean of the constructed differences."""
    import numpy as np

    from app.followup.agreement_page import MAX_SCATTER

    rng = np.random.default_rng(7)
    n = 2500
    assert n > MAX_SCATTER
    truth = rng.uniform(20, 90, n)
    offset = rng.normal(3.0, 4.0, n)
    rows = [(f"t{i}", "Dr A", round(truth[i], 3)) for i in range(n)]
    rows += [(f"t{i}", "Dr B", round(truth[i] - offset[i], 3)) for i in range(n)]
    code, data = _run(tmp_path, _write(tmp_path / "r.csv", _csv(rows)))
    assert code == 0
    diffs = [round(truth[i], 3) - round(truth[i] - offset[i], 3) for i in range(n)]
    assert _item(data, "score")["bland_altman"]["bias"] == pytest.approx(sum(diffs) / n, abs=1e-9)
    html = (tmp_path / "out" / "agreement.html").read_text()
    # one plot: the density and its colour bar are two raster images, no mark per target
    assert html.count("<svg") == 1 and html.count("<image") == 2 and html.count("<use") < 500      # glyphs and ticks; not 2,500 marks
    assert "2500 targets, too many to draw one by one" in html
    assert len(html.encode()) < 300_000


def test_plots_are_capped_per_item_with_facemirror_pairs_first_and_the_cap_said(tmp_path):
    from app.followup.agreement_page import MAX_PLOTS

    raters = [f"judge {j}" for j in range(7)]          # 21 pairs of clinicians + 7 with FaceMirror
    rows = [(f"c{t}.mp4", r, (t * 7 + j * 3) % 11, "mouth_symmetry_pct") for t in range(6) for j, r in enumerate(raters)]
    ratings = _write(tmp_path / "r.csv", _csv(rows, ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [(f"c{t}.mp4", f"P{t}", "V1", "true", t * 1.5) for t in range(6)])
    code, data = _run(tmp_path, ratings, "--study", str(study))
    assert code == 0 and len(_item(data, "mouth_symmetry_pct")["pairs"]) == 28
    html = (tmp_path / "out" / "agreement.html").read_text()
    assert html.count("<figure>") == MAX_PLOTS < 28
    assert f"{MAX_PLOTS} of 28 pairs are plotted (those with FaceMirror first)" in html
    titles = re.findall(r"<figure>", html)
    assert len(titles) == MAX_PLOTS
    assert len(_item(data, "mouth_symmetry_pct")["pairs"]) == 28       # the table keeps every pair


def test_a_study_row_marked_duplicate_of_is_not_a_second_match(tmp_path):
    """`study` marks the second row of the same recording duplicate_of: the join takes the first
    row's value and is not refused as "matches 2 rows"."""
    ratings = _write(tmp_path / "r.csv", _csv([(t, "Dr A", s, "mouth_symmetry_pct") for t, s in
                                               (("a.mp4", 40), ("b.mp4", 60), ("c.mp4", 80))],
                                              ("target", "rater", "score", "item")))
    study = _study(tmp_path / "study.csv", [("a.mp4", "P1", "V1", "true", 42), ("b.mp4", "P2", "V1", "true", 61),
                                            ("c.mp4", "P3", "V1", "true", 77), ("a.mp4", "P1", "V1", "true", 42)])
    lines = study.read_text().splitlines()
    lines[0] += ",duplicate_of"
    lines[1:] = [ln + "," for ln in lines[1:4]] + [lines[4] + ",run1/a_report.json"]
    study.write_text("\n".join(lines) + "\n")
    code, data = _run(tmp_path, ratings, "--study", str(study))
    assert code == 0
    assert _item(data, "mouth_symmetry_pct")["bland_altman"]["bias"] == pytest.approx(((40 - 42) + (60 - 61) + (80 - 77)) / 3)
