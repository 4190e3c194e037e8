"""The summary as a record (who, what, when, headline measures, printable) and awkward CSV input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.measures.io import MeasuresError
from app.measures import write_measures
from app.measures.io import read_landmarks_csv
from tests.test_measures_output import landmarks_csv, targets

REPO = Path(__file__).resolve().parent.parent
REPORT = {"input": {"file": "/clinic/private/Jane Doe smile.mp4", "sha256": "ab" * 32,
                    "recorded_at": "2026-11-30T10:15:00+00:00",
                    "recorded_at_source": "recording's own creation time (container metadata)"},
          "subject": {"patient": "P-014", "visit": "V2"}, "app": {"name": "FaceMirror", "version": "9.9"},
          "models": {"landmarks": {"file": "star_landmark_98.onnx", "sha256": "cd" * 32}},
          "settings": {"midline": "glabella-chin"}, "midline_method_used": "between the eye centres (5 points)",
          "warnings": ["no symmetry measures: cannot find the rest position"]}


def test_summary_is_a_record_with_headlines_and_prints_everything(tmp_path):
    src = landmarks_csv(tmp_path)
    result = write_measures(src, targets(tmp_path), report=REPORT)
    assert result["recording"] == {"file": "Jane Doe smile.mp4", "sha256": "ab" * 32,
                                   "recorded_at": "2026-11-30T10:15:00+00:00",
                                   "recorded_at_source": REPORT["input"]["recorded_at_source"]}
    assert result["subject"] == {"patient": "P-014", "visit": "V2"} and result["analysed_at"]
    assert {h["region"] for h in result["headlines"]} >= {"mouth"}
    html = targets(tmp_path)["summary_html"].read_text()
    for text in ("Jane Doe smile.mp4", "abababababababab", "2026-11-30", "P-014", "V2", "9.9",
                 "Headline measures", "resting asymmetry", "@media print"):
        assert text in html, text
    assert "<details" not in html                    # nothing collapsed: a print shows all of it
    assert "/clinic/private" not in html.split("Models and settings")[0]    # the record names the file only
    assert "cannot find the rest position" not in html       # the run's stale warning, superseded
    assert "glabella" not in html                    # the method asked for is not what was used


def test_patient_and_visit_given_to_measures_win(tmp_path):
    src = landmarks_csv(tmp_path)
    result = write_measures(src, {"measures_json": tmp_path / "m.json"}, report=REPORT,
                            subject={"patient": "P-999", "visit": None})
    assert result["subject"] == {"patient": "P-999", "visit": "V2"}
    assert json.loads((tmp_path / "m.json").read_text())["subject"]["patient"] == "P-999"


def test_bom_csv_works_and_binary_and_latin1_get_one_sentence(tmp_path):
    src = landmarks_csv(tmp_path)
    bom = tmp_path / "excel_landmarks.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    assert len(read_landmarks_csv(bom).times_ms) == len(read_landmarks_csv(src).times_ms)
    binary = tmp_path / "video_landmarks.csv"
    binary.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(MeasuresError, match="binary"):
        read_landmarks_csv(binary)
    latin = tmp_path / "latin_landmarks.csv"
    latin.write_bytes(src.read_bytes() + "9999,1e9,caf\xe9\n".encode("latin-1"))
    with pytest.raises(MeasuresError, match="not UTF-8"):
        read_landmarks_csv(latin)


def test_measures_command_bad_csv_exits_2_with_one_line(tmp_path):
    binary = tmp_path / "x_landmarks.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    p = subprocess.run([sys.executable, str(REPO / "main.py"), "measures", str(binary)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "binary" in p.stderr


def test_no_rest_found_suggests_rest(tmp_path):
    import numpy as np
    from app.measures import analyse_track
    from tests.face_truth import exam
    track = exam().track()
    track.points[::2] = np.nan               # every other frame without a face, scattered
    track.points[1::4] = np.nan
    with pytest.raises(MeasuresError, match="--rest"):
        analyse_track(track)


def test_rest_is_read_on_the_players_clock(tmp_path):
    """A recording whose first frame is at 0.852 s: --rest 1.852-2.852 (read off a player) is the
    same stretch as 1-2 s in the CSV's own time, and the summary shows it as the user typed it."""
    src = landmarks_csv(tmp_path)
    plain = write_measures(src, {"measures_json": tmp_path / "a.json"}, rest=(1.0, 2.0))
    report = {"input": {"start_time_s": 0.852}}
    shifted = write_measures(src, {"measures_json": tmp_path / "b.json", "summary_html": tmp_path / "b.html"},
                             rest=(1.852, 2.852), report=report)
    assert shifted["rest"]["frames"] == plain["rest"]["frames"]
    assert shifted["rest"]["values"] == plain["rest"]["values"]
    assert shifted["rest"]["start_s"] == pytest.approx(1.0)
    html = (tmp_path / "b.html").read_text()
    assert "0:01.9" in html       # 1.852 s on the player's clock
    # the resting asymmetry comes with its interval, in the JSON and in the rest table
    brow = shifted["rest"]["values"]["brow_height"]
    lo, hi = brow["difference_mm_ci95"]
    assert lo <= brow["difference_mm"] <= hi
    rest_table = html.split("Rest: resting symmetry", 1)[1].split("</table>", 1)[0]
    assert f'({lo:.1f} to {hi:.1f})' in rest_table
