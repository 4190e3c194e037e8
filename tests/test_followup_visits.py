"""`compare` never misleads about visits (issue 33): the order of visits follows one stated rule,
reused labels are never merged, a weaker-side flip and changed conditions are said, 5-point
regions are "not measurable", duplicate recordings and near-identical patient IDs are warned.

Truth: the visits, dates, labels and values each test writes into synthetic output sets (and,
for --visit-date, the dates given to `process` on real tiny clips); the expected order and
numbers are the test's own."""
from __future__ import annotations

import html
import json
import os
import re


import pytest

from app.cli.main import main
from tests.followup_data import FILE_TIME, headline, write_output_set

JAN, MAR, JUN = "2026-01-10T09:00:00+00:00", "2026-03-15T09:00:00+00:00", "2026-06-20T09:00:00+00:00"
# A batch copy: file times seconds apart, in no particular order.
COPY_TIMES = ["2026-11-30T10:00:03+00:00", "2026-11-30T10:00:01+00:00", "2026-11-30T10:00:02+00:00"]


def _visit(root, label, sym, ci, *, date=None, source=None, patient="P-001", name="smile", **kw):
    extra = {"date_source": source} if source else {}
    return write_output_set(root / (label or "nolabel") / name, name, patient=patient, visit=label, recorded_at=date,
                            headlines=kw.pop("headlines", None) or [headline("mouth", sym, ci, **kw.pop("hl", {}))],
                            **extra, **kw)


def _compare(tmp_path, *extra, inputs=None):
    out = tmp_path / "out"
    code = main(["compare", *(map(str, inputs or [tmp_path / "in"])), "--out", str(out), "--no-frames", *extra])
    data = json.loads((out / "compare.json").read_text()) if code == 0 else None
    return code, data, out


def _mouth(data, patient=0):
    return next(r for r in data["patients"][patient]["regions"] if r["region"] == "mouth")


def _page(out, name="compare_P-001.html"):
    return (out / name).read_text()


def _visible(text: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


# ---- order ---------------------------------------------------------------------------------------

def test_file_times_from_a_batch_copy_never_beat_the_labels(tmp_path, capsys):
    """The issue's patient: 40 -> 60 -> 85 %, files copied so that V3's time is earliest."""
    for label, sym, t in (("V1", 40.0, COPY_TIMES[0]), ("V2", 60.0, COPY_TIMES[1]), ("V3", 85.0, COPY_TIMES[2])):
        _visit(tmp_path / "in", label, sym, (sym - 4, sym + 4), date=t, source=FILE_TIME)
    code, data, out = _compare(tmp_path)
    assert code == 0
    p = data["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["V1", "V2", "V3"]
    assert p["order"] == "visit labels"
    assert "modification times say otherwise" in p["order_note"] and "ignored" in p["order_note"]
    assert [v["date_source"] for v in p["visits"]] == ["the file's modification time"] * 3
    mouth = _mouth(data)
    assert mouth["sentence"].startswith("smile symmetry rose from 40 % (36-44) to 85 % (81-89) between visit V1 and "
                                        "visit V3 (more symmetric")
    assert " fell " not in mouth["sentence"]
    page = _visible(_page(out))
    assert "Order of visits. Visits are in the order their labels say: numbered labels (V1 < V2 < V10)." in page
    assert "file modification times only as a last resort" in page       # the rule itself, on the page
    assert "the file's modification time" in page                         # each date says where it is from
    assert "Visits are in the order their labels say" in capsys.readouterr().out


def test_preop_6_weeks_3_months_are_in_time_order_not_text_order(tmp_path):
    for label, sym in (("3 months", 85.0), ("preop", 40.0), ("6 weeks", 60.0)):
        _visit(tmp_path / "in", label, sym, (sym - 4, sym + 4))
    code, data, _ = _compare(tmp_path)
    assert code == 0
    assert [v["visit"] for v in data["patients"][0]["visits"]] == ["preop", "6 weeks", "3 months"]
    assert _mouth(data)["change"]["direction"] == "rose"


@pytest.mark.parametrize("labels, expected", [
    (["Visit 10", "visit 2", "Visit 1"], ["Visit 1", "visit 2", "Visit 10"]),
    (["1 year", "2 weeks", "baseline", "6 months"], ["baseline", "2 weeks", "6 months", "1 year"]),
    (["2026-06-01", "2025-12-24", "2026-01-02"], ["2025-12-24", "2026-01-02", "2026-06-01"]),
])
def test_labels_that_say_an_order(tmp_path, labels, expected):
    for i, label in enumerate(labels):
        _visit(tmp_path / "in", label, 50.0 + i, (45.0 + i, 55.0 + i))
    code, data, _ = _compare(tmp_path)
    assert code == 0 and [v["visit"] for v in data["patients"][0]["visits"]] == expected


def test_labels_without_an_order_and_without_dates_are_refused_until_order_is_given(tmp_path, capsys):
    for label, sym in (("intake", 40.0), ("review", 85.0), ("check", 60.0)):
        _visit(tmp_path / "in", label, sym, (sym - 4, sym + 4))
    code, _, out = _compare(tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.strip().splitlines()[-1].startswith("error: patient P-001: the order of the visits (check, intake, "
                                                   "review) cannot be told")
    assert "--order" in err
    code, _, out = _compare(tmp_path, "--order", "intake,check")
    assert code == 2 and "--order does not name visit(s) review" in capsys.readouterr().err and not out.exists()
    code, data, _ = _compare(tmp_path, "--order", "intake,check,review")
    assert code == 0
    p = data["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["intake", "check", "review"] and p["order"] == "order given with --order"
    assert _mouth(data)["steps"][0]["direction"] == "rose"


@pytest.mark.parametrize("bad", ["", "V1,,V2", "V1,V2,V1"])
def test_a_malformed_order_is_one_sentence(tmp_path, capsys, bad):
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0))
    code, _, out = _compare(tmp_path, "--order", bad)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --order") and not out.exists()


def test_file_times_are_used_only_when_nothing_else_says_the_order_and_then_labelled(tmp_path, capsys):
    _visit(tmp_path / "in", "intake", 40.0, (36.0, 44.0), date=COPY_TIMES[1], source=FILE_TIME)
    _visit(tmp_path / "in", "review", 85.0, (81.0, 89.0), date=COPY_TIMES[2], source=FILE_TIME)
    code, data, out = _compare(tmp_path)
    assert code == 0
    p = data["patients"][0]
    assert p["order"] == "file modification time (last resort)"
    assert [v["visit"] for v in p["visits"]] == ["intake", "review"]
    assert "modification time (last resort" in p["order_note"]
    assert any("comes from file modification times" in w for w in p["warnings"])
    assert "comes from file modification times" in capsys.readouterr().err
    assert "last resort" in _visible(_page(out))


def test_dates_against_the_labels_are_followed_but_said_and_an_order_against_them_is_refused(tmp_path, capsys):
    """V2 dated after V3 (the recordings' own dates): the page follows the dates and says so."""
    for label, sym, date in (("V1", 40.0, JAN), ("V2", 60.0, JUN), ("V3", 85.0, MAR)):
        _visit(tmp_path / "in", label, sym, (sym - 4, sym + 4), date=date)
    code, data, out = _compare(tmp_path)
    assert code == 0
    p = data["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["V1", "V3", "V2"] and p["order"] == "recording date"
    warning = ("patient P-001: the recording dates put visit V3 (2026-03-15) before visit V2 (2026-06-20), against "
               "their labels; the page follows the dates: check the labels or the camera's clock")
    assert p["warnings"] == [warning]
    assert f"warning: {warning}" in capsys.readouterr().err
    assert warning in _visible(_page(out)).replace("&#x27;", "'")
    code, _, _ = _compare(tmp_path, "--order", "V1,V2,V3", "--overwrite")
    assert code == 2
    assert ("error: patient P-001: --order puts V2 before V3, but visit V3 is dated 2026-03-15 and visit V2 "
            "2026-06-20 (their recordings' own dates); correct the labels or --order") in capsys.readouterr().err


def test_labels_against_the_dates_some_visits_have_are_refused(tmp_path, capsys):
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0))                 # no date at all
    _visit(tmp_path / "in", "V2", 60.0, (56.0, 64.0), date=JUN)
    _visit(tmp_path / "in", "V3", 85.0, (81.0, 89.0), date=MAR)
    code, _, out = _compare(tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "the labels put V2 before V3, but visit V2 is dated 2026-06-20 and visit V3 2026-03-15" in err
    assert "--order" in err


# ---- reused labels -------------------------------------------------------------------------------

def test_one_label_five_months_apart_is_two_visits_never_merged(tmp_path):
    _visit(tmp_path / "in", "V1", 43.0, (39.0, 47.0), date=JAN, name="smile_jan")
    _visit(tmp_path / "in", "V1", 87.0, (83.0, 90.0), date=JUN, name="smile_jun")
    code, data, out = _compare(tmp_path)
    assert code == 0
    p = data["patients"][0]
    assert [(v["visit"], v["date"][:10]) for v in p["visits"]] == [("V1 (2026-01-10)", "2026-01-10"),
                                                                   ("V1 (2026-06-20)", "2026-06-20")]
    assert [pt["symmetry_pct"] for pt in _mouth(data)["points"]] == [43.0, 87.0]
    assert p["warnings"] == ["patient P-001: recordings labelled V1 were made 161 days apart (2026-01-10 and "
                             "2026-06-20); they are shown as separate visits, not merged: check the labels"]
    page = _visible(_page(out))
    assert "Warning: patient P-001: recordings labelled V1 were made 161 days apart" in page
    assert "smile_jan.mp4" in page and "smile_jun.mp4" in page


def test_one_label_the_same_day_stays_one_visit(tmp_path):
    """A protocol with one recording per expression: same label, an hour apart, one visit."""
    _visit(tmp_path / "in", "V1", 43.0, (39.0, 47.0), date=JAN, name="smile")
    _visit(tmp_path / "in", "V1", None, None, date=JAN.replace("09:00", "10:00"), name="brow",
           headlines=[headline("brow", 70.0, (65.0, 75.0))])
    code, data, _ = _compare(tmp_path)
    assert code == 0 and [v["visit"] for v in data["patients"][0]["visits"]] == ["V1"]
    assert data["patients"][0]["warnings"] == []


# ---- what changed --------------------------------------------------------------------------------

def test_a_weaker_side_flip_is_a_change_not_no_change(tmp_path):
    """59 %, right weaker (right 5.3 mm, left 9.0) -> 59 %, left weaker (right 15.0, left 8.85)."""
    _visit(tmp_path / "in", "V1", 59.0, (55.0, 63.0), date=JAN, hl={"right": 5.3, "left": 9.0, "weaker": "right"})
    _visit(tmp_path / "in", "V2", 59.0, (55.0, 63.0), date=MAR, hl={"right": 15.0, "left": 8.85, "weaker": "left"})
    code, data, out = _compare(tmp_path)
    change = _mouth(data)["change"]
    assert code == 0 and change["direction"] == "no change"            # the symmetry itself did not change
    assert change["weaker_side_changed"] == {"from": "right", "to": "left"} and change["real"] is True
    sentence = _mouth(data)["sentence"]
    assert ("The weaker side changed from the right to the left (right 5.3 -> 15.0 mm; left 9.0 -> 8.8 mm): a change, "
            "whatever the symmetry says.") in sentence
    page = _page(out)
    assert re.search(r"<b>right &rarr; left</b>", page)
    assert "yes: the weaker side changed" in page


def test_changed_resolution_face_size_and_mode_are_named_and_5_point_regions_are_not_measurable(tmp_path):
    brow = [headline("brow", 80.0, (75.0, 85.0)), headline("eyes", 90.0, (85.0, 95.0))]
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN, headlines=[headline("mouth", 40.0, (36.0, 44.0))] + brow)
    _visit(tmp_path / "in", "V2", 60.0, (56.0, 64.0), date=MAR, headlines=[headline("mouth", 60.0, (56.0, 64.0))] + brow)
    _visit(tmp_path / "in", "V3", 85.0, (81.0, 89.0), date=JUN, size=(240, 300), face_px=30.0, mode="5-point (coarse)")
    code, data, out = _compare(tmp_path)
    assert code == 0
    mouth = _mouth(data)
    last = mouth["steps"][1]
    assert (last["from_visit"], last["to_visit"]) == ("V2", "V3")
    assert {c["what"]: (c["from"], c["to"]) for c in last["conditions_changed"]} == {
        "mode": ("98-point WFLW", "5-point (coarse)"), "resolution": ("480x600", "240x300"),
        "face_px": ("60", "30")}
    assert mouth["steps"][0]["conditions_changed"] == []
    assert ("Also changed between these recordings, which could explain part of the difference: landmark mode "
            "98-point WFLW -> 5-point (coarse); resolution 480x600 -> 240x300; face size (pupil distance, px) 60 -> 30."
            ) in mouth["sentence"]
    for region in ("brow", "eyes"):
        t = next(r for r in data["patients"][0]["regions"] if r["region"] == region)
        assert t["points"][2]["note"] == "not measurable in 5-point mode"
        assert "did not move" not in json.dumps(t["points"][2])
    page = _page(out)
    assert "not measurable in 5-point mode" in page and "resolution: 240x300 (changed)" in page


def test_a_region_never_measured_in_5_point_visits_says_so(tmp_path):
    for label, date, sym in (("V1", JAN, 40.0), ("V2", MAR, 60.0)):
        _visit(tmp_path / "in", label, sym, (sym - 4, sym + 4), date=date, mode="5-point (coarse)")
    code, data, out = _compare(tmp_path)
    brow = next(r for r in data["patients"][0]["regions"] if r["region"] == "brow")
    assert code == 0 and brow["sentence"] == ("brow raise: not measurable in 5-point mode (every usable visit was "
                                              "measured in 5-point mode).")
    assert "the region did not move" not in _page(out)


def test_a_98_point_region_that_did_not_move_still_says_so(tmp_path):
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN)
    _visit(tmp_path / "in", "V2", 60.0, (56.0, 64.0), date=MAR)
    code, data, _ = _compare(tmp_path)
    eyes = next(r for r in data["patients"][0]["regions"] if r["region"] == "eyes")
    assert eyes["points"][0]["note"] == "not measured (the region did not move in this visit's recordings)"


def test_rest_differences_are_shown_and_never_called_a_change(tmp_path):
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN, rest_difference_mm=0.4)
    _visit(tmp_path / "in", "V2", 41.0, (37.0, 45.0), date=MAR, rest_difference_mm=2.9)
    code, data, out = _compare(tmp_path)
    p = data["patients"][0]
    assert code == 0 and [v["rest_asymmetry"]["commissure_height"] for v in p["visits"]] == [0.4, 2.9]
    assert p["rest_change"]["judged"] is False and "without an interval" in p["rest_change"]["reason"]
    assert "No change at rest is called" in _visible(_page(out))


# ---- duplicates ----------------------------------------------------------------------------------

def test_one_recording_under_two_patients_and_near_identical_ids_are_warned(tmp_path, capsys):
    same = "c" * 64
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN, patient="P-001", sha256=same)
    _visit(tmp_path / "in2", "V1", 40.0, (36.0, 44.0), date=JAN, patient="p-001", sha256=same)
    _visit(tmp_path / "in3", "V1", 50.0, (46.0, 54.0), date=JAN, patient="P-002")
    code, data, out = _compare(tmp_path, inputs=[tmp_path / "in", tmp_path / "in2", tmp_path / "in3"])
    assert code == 0
    err = capsys.readouterr().err
    ids = ("patient IDs P-001 and p-001 differ only in case, punctuation or leading zeros: the same patient? They are "
           "compared as different patients; correct the ID at processing if they are one")
    dup = ("the same recording (smile.mp4, sha256 cccccccccccc...) is under patient P-001 visit V1 and under patient "
           "p-001 visit V1: one of them is mislabelled; a recording compared with itself shows no change")
    assert data["warnings"] == [ids, dup]
    assert err.count(ids) == 1 and err.count(dup) == 1
    by_id = {p["patient"]: p for p in data["patients"]}
    assert by_id["P-001"]["warnings"] == [ids, dup] == by_id["p-001"]["warnings"]
    assert by_id["P-002"]["warnings"] == []
    assert sorted(x.name for x in out.iterdir()) == ["compare.json", "compare_P-001.html", "compare_P-002.html",
                                                    "compare_p-001-2.html"]
    assert "Warning: the same recording" in _visible(_page(out, "compare_p-001-2.html"))


def test_one_recording_under_two_visits_of_one_patient_is_warned(tmp_path):
    same = "d" * 64
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN, sha256=same)
    _visit(tmp_path / "in", "V2", 40.0, (36.0, 44.0), date=MAR, sha256=same)
    code, data, _ = _compare(tmp_path)
    assert code == 0
    assert data["patients"][0]["warnings"] == [
        "the same recording (smile.mp4, sha256 dddddddddddd...) is under patient P-001 visit V1 and under patient "
        "P-001 visit V2: one of them is mislabelled; a recording compared with itself shows no change"]


def test_one_recording_read_twice_for_one_visit_is_warned_and_counted_once_in_the_trend(tmp_path):
    same = "f" * 64
    _visit(tmp_path / "in", "V1", 40.0, (36.0, 44.0), date=JAN, sha256=same)
    _visit(tmp_path / "copy", "V1", 40.0, (36.0, 44.0), date=JAN, sha256=same)
    _visit(tmp_path / "in", "V2", 60.0, (56.0, 64.0), date=MAR)
    code, data, _ = _compare(tmp_path, inputs=[tmp_path / "in", tmp_path / "copy"])
    assert code == 0
    p = data["patients"][0]
    assert p["warnings"] == ["the same recording (smile.mp4, sha256 ffffffffffff...) was found 2 times for patient "
                             "P-001 visit V1 (processed or copied twice); its values are the same each time"]
    assert [v["visit"] for v in p["visits"]] == ["V1", "V2"] and len(p["visits"][0]["recordings"]) == 2


@pytest.mark.parametrize("ids, groups", [
    (["P-001", "p001", "P 1", "P-002"], [["P 1", "P-001", "p001"]]),
    (["P-010", "P-10", "P-100"], [["P-010", "P-10"]]),
    (["AB-1", "AB-2", "ab-12"], []),
])
def test_near_identical_patient_ids(ids, groups):
    from app.followup.visits import near_duplicate_ids

    assert near_duplicate_ids(ids) == groups


# ---- --visit-date through the documented commands ------------------------------------------------

def test_visit_date_is_refused_when_not_a_date(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["process", "x.mp4", "--visit-date", "March 3rd"])
    assert exc.value.code == 2
    assert "argument --visit-date: 'March 3rd' is not a date; write it as YYYY-MM-DD" in capsys.readouterr().err


def test_visit_date_given_to_process_orders_visits_and_beats_file_times(tmp_path, weights_dir):  # noqa: F811
    """Two clips written here carry no date of their own; their file times are set against the dates
    the clinician gives, which must win (and be said)."""
    from tests.scale_helpers import make_clips, process

    clips = {}
    # intake is measured (12 frames: its measures carry the date given); review has 2 frames, nothing
    # to measure, so its run skips the summary's charts and PDF (compare takes the visits from the reports)
    for label, seed, frames in (("intake", 0, 12), ("review", 1, 2)):
        clips[label] = make_clips(tmp_path / "videos" / label, 1, frames=frames, first_seed=seed, prefix="smile")[0]
    # review's file is older than intake's: a copy in the wrong order
    os.utime(clips["intake"], (1_800_000_000, 1_800_000_000))
    os.utime(clips["review"], (1_700_000_000, 1_700_000_000))
    for label, date in (("intake", "2026-01-10"), ("review", "2026-04-02")):
        code, _, err = process(clips[label], "--out", tmp_path / "out" / label, "--patient", "P-7", "--visit", label,
                               "--visit-date", date, "--no-annotated")
        assert code == 0, err
    report = json.loads(next((tmp_path / "out" / "intake").rglob("*_report.json")).read_text())
    assert report["subject"] == {"patient": "P-7", "visit": "intake", "visit_date": "2026-01-10"}
    measures = next((tmp_path / "out" / "intake").rglob("*_measures.json"))
    assert json.loads(measures.read_text())["subject"]["visit_date"] == "2026-01-10"
    assert report["input"]["recorded_at_source"].startswith("file modification time")
    code = main(["compare", str(tmp_path / "out"), "--out", str(tmp_path / "cmp"), "--no-frames"])
    assert code == 0
    p = json.loads((tmp_path / "cmp" / "compare.json").read_text())["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["intake", "review"]
    assert p["order"] == "recording date"
    assert [v["date_source"] for v in p["visits"]] == ["the date given with --visit-date"] * 2


def test_visit_date_given_to_measures_lands_in_the_measures_subject(tmp_path):
    from tests.test_measures_output import landmarks_csv

    src = landmarks_csv(tmp_path)
    code = main(["measures", str(src), "--out", str(tmp_path / "m"), "--patient", "P-3", "--visit", "V1",
                 "--visit-date", "2026-02-01"])
    assert code == 0
    written = json.loads(next((tmp_path / "m").glob("*_measures.json")).read_text())
    assert written["subject"] == {"patient": "P-3", "visit": "V1", "visit_date": "2026-02-01"}


from tests.scale_helpers import weights_dir  # noqa: E402,F401  (the committed detector alone)
