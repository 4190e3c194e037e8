"""`compare`: synthetic patients whose visit-to-visit symmetry and intervals the test chooses.

Truth: the values written into the synthetic NAME_measures.json files; a change is expected
exactly when the difference exceeds the minimal detectable change the test works out by hand from
its intervals: MDC95 = 1.96 x sqrt(SE1^2 + SE2^2), SE = interval width / 3.92 (two 10-point wide
intervals: 1.96 x sqrt(2) x 2.551 = 7.07; two 20-point wide ones: 14.14)."""
from __future__ import annotations

import csv
import json
import re

import cv2
import numpy as np
import pytest

from app.cli.main import main
from tests.followup_data import NOT_USABLE, WARNINGS, headline, write_output_set
from tests.videos import write_video

DATES = ["2026-01-10T09:00:00+00:00", "2026-03-15T09:00:00+00:00", "2026-06-20T09:00:00+00:00"]


def _patient(root, visits, patient="P-001"):
    """visits: (label, date, level, mouth symmetry, interval)."""
    for label, date, level, sym, ci in visits:
        write_output_set(root / label, "smile", patient=patient, visit=label, recorded_at=date, level=level,
                         reasons=["the face was not found in 30 % of frames"] if level == NOT_USABLE else [],
                         headlines=[headline("mouth", sym, ci)])


def _compare(tmp_path, *inputs, extra=()):
    out = tmp_path / "out"
    code = main(["compare", *map(str, inputs), "--out", str(out), *extra])
    data = json.loads((out / "compare.json").read_text()) if code == 0 else None
    return code, data, out


def _region(data, region, patient=0):
    return next(r for r in data["patients"][patient]["regions"] if r["region"] == region)


def test_three_visits_improving_45_60_75_are_reported_as_a_rise_with_their_numbers(tmp_path):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0)), ("V2", DATES[1], "good", 60.0, (55.0, 65.0)),
                               ("V3", DATES[2], "good", 75.0, (70.0, 80.0))])
    code, data, out = _compare(tmp_path, tmp_path / "in")
    assert code == 0
    mouth = _region(data, "mouth")
    assert mouth["change"]["direction"] == "rose" and mouth["change"]["meaning"] == "more symmetric"
    assert (mouth["change"]["from_visit"], mouth["change"]["to_visit"]) == ("V1", "V3")
    assert mouth["change"]["from"] == {"symmetry_pct": 45.0, "ci95": [40.0, 50.0], "weaker": "left", "right": 10.0,
                                       "left": 4.5}
    assert mouth["change"]["to"] == {"symmetry_pct": 75.0, "ci95": [70.0, 80.0], "weaker": "left", "right": 10.0,
                                     "left": 7.5}
    assert mouth["change"]["difference_pct"] == 30.0 and mouth["change"]["mdc95_pct"] == pytest.approx(7.07, abs=0.01)
    assert mouth["change"]["real"] is True and mouth["change"]["conditions_changed"] == []
    assert [s["direction"] for s in mouth["steps"]] == ["rose", "rose"]
    assert [p["symmetry_pct"] for p in mouth["points"]] == [45.0, 60.0, 75.0]
    assert mouth["sentence"] == ("smile symmetry rose from 45 % (40-50) to 75 % (70-80) between visit V1 and visit V3 "
                                 "(more symmetric; the change of 30 points is beyond the measurement's error of 7). "
                                 "Visit to visit: rose between visit V1 and visit V2; rose between visit V2 and visit V3.")
    html = (out / "compare_P-001.html").read_text()
    assert mouth["sentence"].replace("'", "&#x27;") in html
    assert data["patients"][0]["order"] == "recording date"


@pytest.mark.parametrize("first, second, direction", [
    ((50.0, (40.0, 60.0)), (56.0, (46.0, 66.0)), "no change"),     # 6 < MDC 14.14
    ((50.0, (40.0, 60.0)), (64.0, (54.0, 74.0)), "no change"),     # 14 < 14.14
    ((50.0, (40.0, 60.0)), (64.5, (54.5, 74.5)), "rose"),          # 14.5 > 14.14, although the intervals overlap
    ((50.0, (45.0, 60.0)), (65.0, (60.0, 70.0)), "rose"),          # 15 > 1.96 x sqrt(3.827^2 + 2.551^2) = 9.01
    ((70.0, (65.0, 75.0)), (50.0, (45.0, 55.0)), "fell"),
])
def test_a_change_is_called_only_beyond_the_minimal_detectable_change(tmp_path, first, second, direction):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", *first), ("V2", DATES[1], "good", *second)])
    code, data, _ = _compare(tmp_path, tmp_path / "in")
    mouth = _region(data, "mouth")
    assert code == 0 and mouth["change"]["direction"] == direction
    assert mouth["change"]["real"] is (direction != "no change")
    if direction == "no change":
        assert mouth["sentence"].startswith("smile symmetry: no change beyond the measurement's error between "
                                            "visit V1 and visit V2")
        assert mouth["sentence"].endswith("a change would need more than 14 points).")
        assert " rose " not in mouth["sentence"] and " fell " not in mouth["sentence"]
    elif direction == "fell":
        assert mouth["sentence"].startswith("smile symmetry fell from 70 % (65-75) to 50 % (45-55)")
    else:
        assert mouth["sentence"].startswith(f"smile symmetry rose from 50 % ({first[1][0]:.0f}-{first[1][1]:.0f})")


def test_an_unusable_visit_is_shown_marked_and_left_out_of_the_trend(tmp_path):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0)),
                               ("V2", DATES[1], NOT_USABLE, 20.0, (10.0, 30.0)),
                               ("V3", DATES[2], WARNINGS, 75.0, (70.0, 80.0))])
    code, data, out = _compare(tmp_path, tmp_path / "in")
    assert code == 0
    mouth = _region(data, "mouth")
    v2 = mouth["points"][1]
    assert v2["visit"] == "V2" and v2["usable"] is False and v2["in_trend"] is False and v2["symmetry_pct"] == 20.0
    assert mouth["left_out_not_usable"] == ["V2"]
    assert [(s["from_visit"], s["to_visit"]) for s in mouth["steps"]] == [("V1", "V3")]
    assert "V2" not in mouth["sentence"] and "20 %" not in mouth["sentence"]
    assert mouth["sentence"].startswith("smile symmetry rose from 45 % (40-50) to 75 % (70-80) between visit V1 and visit V3")
    html = (out / "compare_P-001.html").read_text()
    visits_table = html[html.index("<h2>Visits</h2>"):html.index("<section")]
    row = re.search(r"<tr class='unusable'><td class='l'>V2</td>.*?</tr>", visits_table)
    assert row and "not usable" in row.group(0) and "the face was not found in 30 % of frames" in row.group(0)
    mouth_html = html[html.index("id='region-mouth'"):]
    assert "Left out (recording not usable): V2" in mouth_html
    assert re.search(r"<tr class='unusable'><td class='l'>V2</td>.*?recording not usable: left out of the trend", mouth_html)


def test_visits_are_ordered_by_recording_date_when_every_recording_has_one(tmp_path):
    # labels that sort the other way round: the dates decide
    _patient(tmp_path / "in", [("B", DATES[0], "good", 45.0, (40.0, 50.0)), ("A", DATES[1], "good", 75.0, (70.0, 80.0))])
    code, data, _ = _compare(tmp_path, tmp_path / "in")
    p = data["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["B", "A"]
    assert p["order"] == "recording date"
    assert p["order_note"] == "Visits are in order of their dates (the date the video file carries)."
    assert _region(data, "mouth")["change"]["direction"] == "rose"


def test_without_dates_visits_are_ordered_by_natural_label(tmp_path):
    _patient(tmp_path / "in", [("V10", None, "good", 75.0, (70.0, 80.0)), ("V2", DATES[0], "good", 45.0, (40.0, 50.0)),
                               ("V1", None, "good", 40.0, (35.0, 45.0))])
    code, data, _ = _compare(tmp_path, tmp_path / "in")
    p = data["patients"][0]
    assert [v["visit"] for v in p["visits"]] == ["V1", "V2", "V10"]
    assert p["order"] == "visit labels"
    assert p["order_note"] == "Visits are in the order their labels say: numbered labels (V1 < V2 < V10)."


def test_one_recording_per_expression_each_region_from_the_recording_that_moved_it(tmp_path):
    root = tmp_path / "in"
    for label, date, smile_sym, brow_sym in (("V1", DATES[0], 40.0, 90.0), ("V2", DATES[1], 80.0, 60.0)):
        write_output_set(root / label, "smile", patient="P-9", visit=label, recorded_at=date,
                         headlines=[headline("mouth", smile_sym, (smile_sym - 5, smile_sym + 5), right=12.0),
                                    headline("brow", 100.0, (95.0, 100.0), right=0.5)])
        write_output_set(root / label, "brow", patient="P-9", visit=label, recorded_at=date,
                         headlines=[headline("brow", brow_sym, (brow_sym - 5, brow_sym + 5), right=8.0),
                                    headline("mouth", 99.0, (97.0, 100.0), right=0.4)])
    code, data, _ = _compare(tmp_path, root)
    mouth, brow = _region(data, "mouth"), _region(data, "brow")
    assert [(p["file"], p["symmetry_pct"]) for p in mouth["points"]] == [("smile.mp4", 40.0), ("smile.mp4", 80.0)]
    assert [(p["file"], p["symmetry_pct"]) for p in brow["points"]] == [("brow.mp4", 90.0), ("brow.mp4", 60.0)]
    assert mouth["change"]["direction"] == "rose" and brow["change"]["direction"] == "fell"


def _study_from(tmp_path, root):
    """study.csv written by the test from the same values (the shared column contract)."""
    regions = ("brow", "eyes", "mouth")
    fields = ("measure", "unit", "right", "right_ci_low", "right_ci_high", "left", "left_ci_low", "left_ci_high",
              "symmetry_pct", "symmetry_ci_low", "symmetry_ci_high", "weaker")
    cols = (["file", "input_sha256", "recorded_at", "patient", "visit", "verdict", "verdict_reasons", "usable", "mode",
             "app_version", "landmark_model_sha256", "detector_model_sha256"]
            + [f"{r}_{f}" for r in regions for f in fields] + ["report_json"])
    path = tmp_path / "study.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        for rp in sorted(root.rglob("*_report.json")):
            rep = json.loads(rp.read_text())
            mea = json.loads(rp.with_name(rp.name.replace("_report", "_measures")).read_text())
            row = dict.fromkeys(cols, "")
            row.update(file="smile.mp4", recorded_at=rep["input"]["recorded_at"] or "", patient=rep["subject"]["patient"],
                       visit=rep["subject"]["visit"], verdict=rep["verdict"]["level"],
                       usable="false" if rep["verdict"]["level"] == NOT_USABLE else "true",
                       report_json=str(rp.relative_to(tmp_path)))
            for h in mea["headlines"]:
                r = h["region"]
                row.update({f"{r}_measure": h["measure"], f"{r}_unit": h["unit"], f"{r}_right": h["right"]["value"],
                            f"{r}_right_ci_low": h["right"]["ci95"][0], f"{r}_right_ci_high": h["right"]["ci95"][1],
                            f"{r}_left": h["left"]["value"], f"{r}_left_ci_low": h["left"]["ci95"][0],
                            f"{r}_left_ci_high": h["left"]["ci95"][1], f"{r}_symmetry_pct": h["symmetry_pct"],
                            f"{r}_symmetry_ci_low": h["symmetry_ci95"][0], f"{r}_symmetry_ci_high": h["symmetry_ci95"][1],
                            f"{r}_weaker": h["weaker"] or ""})
            w.writerow(row)
    return path


def test_a_study_csv_gives_the_same_trend_as_the_output_folders(tmp_path):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0)),
                               ("V2", DATES[1], NOT_USABLE, 20.0, (10.0, 30.0)),
                               ("V3", DATES[2], "good", 75.0, (70.0, 80.0))])
    study = _study_from(tmp_path, tmp_path / "in")
    _, from_folders, _ = _compare(tmp_path, tmp_path / "in")
    (tmp_path / "out").rename(tmp_path / "out_folders")
    code, from_study, _ = _compare(tmp_path, study)
    assert code == 0
    a, b = _region(from_folders, "mouth"), _region(from_study, "mouth")
    assert a["sentence"] == b["sentence"]
    assert [p["symmetry_pct"] for p in a["points"]] == [p["symmetry_pct"] for p in b["points"]]
    assert [p["in_trend"] for p in b["points"]] == [True, False, True]
    # rest values come through the row's report_json
    assert [v["rest_asymmetry"] for v in from_study["patients"][0]["visits"]] == \
           [v["rest_asymmetry"] for v in from_folders["patients"][0]["visits"]]


def test_page_structure_offline_a4_and_frames_said_to_be_missing(tmp_path):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0)), ("V2", DATES[1], "good", 75.0, (70.0, 80.0))],
             patient="AB 12/x")
    code, data, out = _compare(tmp_path, tmp_path / "in")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare_AB_12_x.html"]
    assert data["patients"][0]["page"] == "compare_AB_12_x.html" and data["patients"][0]["frames"] is False
    html = (out / "compare_AB_12_x.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'' in html
    assert "<script" not in html.lower() and not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@page{size:A4" in html
    assert [m for m in re.findall(r"id='region-(\w+)'", html)] == ["brow", "eyes", "mouth"]
    assert html.count("<svg") == 1                          # only the mouth has values
    assert "No frames are shown: neither the recordings nor their annotated videos were found" in html
    assert "<h2>Resting asymmetry</h2>" in html and "commissure height" in html


def test_rest_and_peak_frames_come_from_the_recording(tmp_path):
    root = tmp_path / "in"
    for label, date, sym in (("V1", DATES[0], 45.0), ("V2", DATES[1], 75.0)):
        (root / label).mkdir(parents=True)
        frames = []
        for i in range(90):            # frame i carries its own brightness: the picture shows which frame it is
            frames.append(np.full((120, 160, 3), 2 * i + 10, np.uint8))
        video = write_video(root / label / "smile.mp4", frames)
        write_output_set(root / label, "smile", patient="P-2", visit=label, recorded_at=date, video=video,
                         headlines=[headline("mouth", sym, (sym - 4, sym + 4), peak_s=2.0)])
    code, data, out = _compare(tmp_path, root)
    assert code == 0 and data["patients"][0]["frames"] is True
    html = (out / "compare_P-2.html").read_text()
    uris = re.findall(r"<img src='data:image/jpeg;base64,([^']+)' alt='([^']+)'", html)
    assert [alt for _, alt in uris] == ["rest", "smile peak"] * 2
    import base64
    means = [float(cv2.imdecode(np.frombuffer(base64.b64decode(b), np.uint8), cv2.IMREAD_GRAYSCALE).mean())
             for b, _ in uris[:2]]
    # rest window 0-1 s: its middle, 0.5 s = frame 15 (brightness 40); the peak at 2.0 s = frame 60 (130)
    assert means[0] == pytest.approx(40, abs=6) and means[1] == pytest.approx(130, abs=6)
    _, _, out2 = _compare(tmp_path, root, extra=("--no-frames", "--overwrite"))
    assert "No frames are shown: --no-frames was given" in (out2 / "compare_P-2.html").read_text()


def test_recordings_without_patient_are_left_out_and_nothing_found_is_an_error(tmp_path, capsys):
    write_output_set(tmp_path / "in" / "a", "smile", patient=None, visit="V1", recorded_at=DATES[0],
                     headlines=[headline("mouth", 50.0, (45.0, 55.0))])
    code, _, out = _compare(tmp_path, tmp_path / "in")
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "1 recording(s) have no patient ID and are left out" in err
    assert "error: no processed recording with a patient ID was found in the given outputs" in err
    assert _compare(tmp_path, tmp_path / "nowhere")[0] == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_earlier_pages_are_not_replaced_without_overwrite(tmp_path, capsys):
    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0))])
    assert _compare(tmp_path, tmp_path / "in")[0] == 0
    before = (tmp_path / "out" / "compare.json").read_bytes()
    assert _compare(tmp_path, tmp_path / "in")[0] == 2
    assert "compare_P-001.html, compare.json already exist(s)" in capsys.readouterr().err
    assert (tmp_path / "out" / "compare.json").read_bytes() == before
    code, data, out = _compare(tmp_path, tmp_path / "in", extra=("--overwrite",))
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["compare.json", "compare_P-001.html"]
    assert _region(data, "mouth")["sentence"] == ("smile symmetry: only visit V1 has a usable value (45 % (40-50), left weaker); "
                                                  "nothing to compare.")


def test_publish_puts_every_file_in_place_or_none_and_keeps_the_earlier_ones(tmp_path, monkeypatch):
    import os

    from app.followup import publish
    from app.base.outputs import OutputError

    a, b = tmp_path / "compare_P.html", tmp_path / "compare.json"
    a.write_text("earlier page")
    real_rename = os.rename
    calls = []

    def failing_rename(src, dst):
        calls.append((src, dst))
        if str(dst) == str(b):          # the second result cannot be put in place
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(publish.os, "rename", failing_rename)
    with pytest.raises(OutputError, match="the disk is full"):
        publish.write_all({a: "new page", b: "{}"}, overwrite=True)
    assert a.read_text() == "earlier page" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare_P.html"]      # no temporary file left
    monkeypatch.setattr(publish.os, "rename", real_rename)
    publish.write_all({a: "new page", b: "{}"}, overwrite=True)
    assert a.read_text() == "new page" and b.read_text() == "{}"


def test_compare_messages_hands_back_what_the_cli_prints_and_leaves_the_process_streams_alone(tmp_path, monkeypatch, capsys):
    """The window's way in (app/gui/compare_visits.py runs it in a background thread): the lines
    come back in order, nothing is written to sys.stdout/sys.stderr, which belong to every thread."""
    import argparse
    import io
    import sys

    from app.followup.commands import compare_messages

    _patient(tmp_path / "in", [("V1", DATES[0], "good", 45.0, (40.0, 50.0)), ("V2", DATES[1], "good", 75.0, (70.0, 80.0))])
    code = main(["compare", str(tmp_path / "in"), "--out", str(tmp_path / "cli")])
    printed = capsys.readouterr()
    assert code == 0
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    args = argparse.Namespace(outputs=[tmp_path / "in"], out=tmp_path / "gui", overwrite=False, no_frames=True)
    code, said = compare_messages(args)
    assert code == 0 and stdout.getvalue() == stderr.getvalue() == ""
    # The same lines as the CLI's, but for the folder they name.
    assert said == [ln.replace(str(tmp_path / "cli"), str(tmp_path / "gui")) for ln in printed.out.splitlines()]
    code, said = compare_messages(argparse.Namespace(outputs=[tmp_path / "nowhere"], out=tmp_path / "gui2",
                                                     overwrite=False, no_frames=True))
    assert code == 2 and said[-1].startswith("error: no processed recording") and stdout.getvalue() == ""
