"""write_measures, the offline HTML summary and the `measures` command line."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.measures import write_measures
from app.measures.io import csv_header
from tests.synthetic_face import Event, Pose, canonical_track, csv_rows, five_points, place, times, write_csv

REPO = Path(__file__).resolve().parent.parent
EVENTS = [Event("smile", 3.0, 0.075, 0.15), Event("brow", 7.0, 0.1, 0.1)]


def landmarks_csv(folder: Path, name: str = "clip", events=EVENTS, duration=11.0, n_points=98,
                  columns: list[str] | None = None) -> Path:
    t = times(duration)
    canon = canonical_track(t, events, noise=0.002)
    if n_points == 5:
        canon = five_points(canon)
    px, angle, point = place(canon, Pose(roll_deg=8.0))
    return write_csv(folder / f"{name}_landmarks.csv", csv_rows(px, t * 1000, angle, point), columns, n_points)


def targets(folder: Path, name: str = "clip") -> dict[str, Path]:
    return {"measures_csv": folder / f"{name}_measures.csv", "measures_json": folder / f"{name}_measures.json",
            "summary_html": folder / f"{name}_summary.html"}


def check_offline_html(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<script|<link|<iframe|@import|url\((?!#)", text, re.I)   # url(#id): SVG clip paths
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", text, re.I)
    assert refs and all(r.startswith(("data:", "#")) for r in refs)       # only embedded data and #fragments
    assert not re.search(r"""(?:src|href)\s*=\s*[^"'\s]""", text, re.I)     # no unquoted references
    assert "<svg" in text


class FakeFrames:
    """A frame provider: grey frames of the right size, or None; records what it was asked."""
    def __init__(self, give: bool = True):
        self.calls: list[list[float]] = []
        self.give = give

    def __call__(self, times_ms):
        self.calls.append(list(times_ms))
        return [np.full((720, 1280, 3), 90, np.uint8) if self.give else None for _ in times_ms]


# --- write_measures --------------------------------------------------------------------------
def test_write_measures_writes_the_three_files_with_the_issue_shape(tmp_path):
    src = landmarks_csv(tmp_path)
    frames = FakeFrames()
    report = {"verdict": "left-sided weakness suspected (test verdict)", "models": {"star": "star.onnx"},
              "settings": {"midline": "glabella-chin"}, "input": {"file": "clip.mp4"}}
    result = write_measures(src, targets(tmp_path), report=report, frame_provider=frames)
    data = json.loads(targets(tmp_path)["measures_json"].read_text())
    assert data["schema"] == result["schema"] == "facemirror.measures/2"
    assert len(data["segments"]) == len(result["segments"]) == 2
    assert set(data["rest"]) >= {"start_s", "end_s"}
    smile_seg, brow_seg = data["segments"]
    assert {"start_s", "end_s", "region", "measures"} <= set(smile_seg)
    for seg in (smile_seg, brow_seg):
        for name in ("commissure_excursion", "brow_height"):
            assert {"right", "left", "symmetry_pct", "weaker"} <= set(seg["measures"][name])
    assert smile_seg["measures"]["commissure_excursion"]["weaker"] == "right"
    assert brow_seg["region"] == "brow"
    # per-frame CSV: one row per frame, header in the documented order, mm = IPD x 63
    with open(targets(tmp_path)["measures_csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(times(11.0))
    assert list(rows[0])[:3] == ["frame", "time_ms", "ipd_px"]
    assert list(rows[0])[2:] == [h[0] for h in csv_header(98)]
    r = rows[120]
    assert float(r["brow_height_left_mm"]) == pytest.approx(float(r["brow_height_left_ipd"]) * 63, abs=1e-3)
    # pictures: rest middle + one peak per segment were asked for, at frame times of the CSV
    assert len(frames.calls) == 1 and len(frames.calls[0]) == 3
    html = targets(tmp_path)["summary_html"].read_text()
    check_offline_html(html)
    assert "left-sided weakness suspected (test verdict)" in html
    assert html.count("data:image/jpeg;base64,") == 3
    assert "star.onnx" in html and "glabella-chin" not in html   # the method asked for; the used one is shown


def test_summary_without_video_frames_draws_the_landmarks(tmp_path):
    src = landmarks_csv(tmp_path)
    write_measures(src, {"summary_html": tmp_path / "s.html"}, frame_provider=FakeFrames(give=False))
    html = (tmp_path / "s.html").read_text()
    check_offline_html(html)
    assert html.count("data:image/jpeg;base64,") == 3
    write_measures(src, {"summary_html": tmp_path / "t.html"})
    assert "Video frames were not available" in (tmp_path / "t.html").read_text()
    assert not (tmp_path / "clip_measures.csv").exists()    # only the requested target was written


def test_five_point_csv_gives_coarse_measures(tmp_path):
    src = landmarks_csv(tmp_path, events=[Event("smile", 3.0, 0.075, 0.15)], duration=8.0, n_points=5)
    result = write_measures(src, targets(tmp_path))
    assert result["coarse"] is True
    assert set(result["measures"]) == {"commissure_excursion", "commissure_height", "commissure_lateral",
                                       "eye_mouth_distance", "fai",
                                       "eye_line_tilt", "mouth_line_tilt"}
    assert all(d["coarse"] for d in result["measures"].values())
    assert any("coarse" in w for w in result["warnings"])
    (seg,) = result["segments"]
    assert seg["measures"]["commissure_height"]["weaker"] == "right"
    check_offline_html(targets(tmp_path)["summary_html"].read_text())


def test_pipeline_csv_columns_are_read(tmp_path):
    """The pipeline's own CSV header (all its columns, STAR and 5-point) is understood."""
    from app.results.landmarks_csv import csv_columns

    for coarse, n in ((False, 98), (True, 5)):
        src = landmarks_csv(tmp_path, name=f"p{n}", columns=csv_columns(coarse), n_points=n, duration=8.0,
                            events=[Event("smile", 3.0, 0.075, 0.15)])
        result = write_measures(src, {"measures_json": tmp_path / f"p{n}.json"})
        assert result["frames"]["measured"] == len(times(8.0))
        assert result["segments"][0]["region"] == "mouth"


def test_matplotlib_cache_goes_to_the_user_cache_and_no_gui_backend(tmp_path):
    src = landmarks_csv(tmp_path, events=[Event("smile", 3.0, 0.075, 0.15)], duration=6.0)
    code = ("import sys, json; from pathlib import Path; from app.measures import write_measures; "
            f"write_measures(Path({str(src)!r}), {{'summary_html': Path({str(tmp_path / 'x.html')!r})}}); "
            "import matplotlib; print(json.dumps([matplotlib.get_configdir(), 'matplotlib.pyplot' in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "MPLBACKEND")}
    env.update(FACEMIRROR_CACHE_DIR=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    configdir, pyplot_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(configdir) == tmp_path / "cache" / "matplotlib"
    assert pyplot_loaded is False
    assert not any(p.name.startswith("fontlist") for p in REPO.rglob("fontlist*.json"))


# --- command line ----------------------------------------------------------------------------
def test_cli_writes_the_outputs_beside_the_csv_and_reads_the_report(tmp_path, capsys):
    src = landmarks_csv(tmp_path)
    (tmp_path / "clip_report.json").write_text(json.dumps({"verdict": "VERDICT-FROM-REPORT",
                                                           "settings": {"midline": "pupils"}}))
    assert main(["measures", str(src)]) == 0
    for p in targets(tmp_path).values():
        assert p.is_file() and p.stat().st_size > 0
    assert "VERDICT-FROM-REPORT" in targets(tmp_path)["summary_html"].read_text()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]      # no temporary files left
    assert "clip_summary.html" in capsys.readouterr().out


def test_cli_uses_the_video_of_the_report_for_pictures(tmp_path, monkeypatch):
    import app.video.reader as reader

    src = landmarks_csv(tmp_path)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not really a video; the frame grabber is faked")
    (tmp_path / "clip_report.json").write_text(json.dumps({"input": {"file": str(video)}}))
    asked = []

    def fake_grab(path, times_ms):
        asked.append((Path(path), list(times_ms)))
        return [np.full((720, 1280, 3), 60, np.uint8) for _ in times_ms]
    monkeypatch.setattr(reader, "grab_frames", fake_grab, raising=False)
    assert main(["measures", str(src)]) == 0
    assert asked and asked[0][0] == video and len(asked[0][1]) == 3
    assert "Video frames were not available" not in targets(tmp_path)["summary_html"].read_text()


def test_cli_rest_override_and_out_folder(tmp_path):
    src = landmarks_csv(tmp_path)
    out = tmp_path / "again"
    assert main(["measures", str(src), "--out", str(out), "--rest", "0:09-0:10.5"]) == 0
    data = json.loads((out / "clip_measures.json").read_text())
    assert data["rest"]["start_s"] == 9.0 and data["rest"]["end_s"] == 10.5 and data["rest"]["source"] == "given"
    assert not (tmp_path / "clip_measures.json").exists()


def test_cli_never_overwrites_without_overwrite(tmp_path, capsys):
    src = landmarks_csv(tmp_path)
    assert main(["measures", str(src)]) == 0
    before = {k: p.read_bytes() for k, p in targets(tmp_path).items()}
    assert main(["measures", str(src), "--rest", "9-10.5"]) == 2
    assert "already exist" in capsys.readouterr().err
    assert {k: p.read_bytes() for k, p in targets(tmp_path).items()} == before
    assert main(["measures", str(src), "--rest", "9-10.5", "--overwrite"]) == 0
    assert json.loads(targets(tmp_path)["measures_json"].read_text())["rest"]["start_s"] == 9.0
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_cli_refuses_a_csv_without_landmark_columns(tmp_path, capsys):
    bad = tmp_path / "bad_landmarks.csv"
    bad.write_text("frame,time_ms,p0_x,p0_y\n0,0,1,2\n1,33,1,2\n")
    assert main(["measures", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "p1_x" in err and "p97_y" in err
    assert not list(tmp_path.glob("bad_measures*")) and not list(tmp_path.glob("bad_summary*"))


@pytest.mark.parametrize("content,needle", [
    ("", "empty"),
    ("frame,p0_x\n0,1\n", "time_ms"),
    ("frame,time_ms," + ",".join(f"p{i}_{a}" for i in range(98) for a in "xy") + "\n", "no frames"),
])
def test_cli_explains_other_bad_csvs(tmp_path, capsys, content, needle):
    bad = tmp_path / "x_landmarks.csv"
    bad.write_text(content)
    assert main(["measures", str(bad)]) == 2
    assert needle in capsys.readouterr().err


def test_cli_missing_file_and_bad_rest(tmp_path, capsys):
    assert main(["measures", str(tmp_path / "nope_landmarks.csv")]) == 2
    assert "not a file" in capsys.readouterr().err
    src = landmarks_csv(tmp_path, duration=6.0, events=[Event("smile", 3.0, 0.1, 0.1)])
    assert main(["measures", str(src), "--rest", "soon"]) == 2
    assert "START-END" in capsys.readouterr().err
    assert not targets(tmp_path)["measures_json"].exists()


def test_turned_head_low_score_and_profile_frames_are_left_out(tmp_path):
    """Frames the pipeline flagged (yaw beyond 20 deg, low score) and profile views (eyes close
    together) would fake big movements; they are left out and counted."""
    t = times(8.0)
    canon = canonical_track(t, [], noise=0.002)
    canon[60:70, :, 0] *= 0.7                  # head turned: the face squeezed sideways
    canon[100:110, 76] += (0.0, -0.3)          # a bad detection: right mouth corner far off
    canon[150:160, :, 0] *= 0.2                # profile view, not flagged in the CSV
    px, angle, point = place(canon, Pose())
    rows = csv_rows(px, t * 1000, angle, point)
    for i, r in enumerate(rows):
        r["yaw_deg"] = 35.0 if 60 <= i < 70 else 2.0
        r["q_low_score"] = int(100 <= i < 110)
    cols = ["frame", "time_ms"] + [f"p{i}_{a}" for i in range(98) for a in "xy"] + [
        "midline_angle_deg", "midline_point_x", "midline_point_y", "q_low_score", "yaw_deg"]
    src = write_csv(tmp_path / "turn_landmarks.csv", rows, cols)
    result = write_measures(src, {"measures_csv": tmp_path / "m.csv"})
    assert result["segments"] == []
    excluded = result["frames"]["excluded"]
    assert excluded["head turned more than 20 deg"] == 10
    assert excluded["low detector score"] == 10
    assert excluded["eyes less than half their usual distance apart (profile view)"] == 10
    assert result["frames"]["measured"] == len(t) - 30
    with open(tmp_path / "m.csv", newline="") as fh:
        rows_out = list(csv.DictReader(fh))
    assert rows_out[65]["commissure_excursion_right_ipd"] == "" and rows_out[0]["commissure_excursion_right_ipd"]
    # the same track without the quality columns: the bad frames (points off and back within 1 s)
    # are caught as glitch runs instead, and counted
    plain = write_csv(tmp_path / "plain_landmarks.csv", rows)
    unflagged = write_measures(plain, {})
    assert unflagged["segments"] == [] and unflagged["glitches"]["runs"] >= 2


def test_pipeline_temporary_csv_reports_its_final_name(tmp_path):
    """The pipeline calls write_measures on its temporary CSV; names come from the report's outputs."""
    from app.base.outputs import temp_path

    final = tmp_path / "visit3_landmarks.csv"
    tmp_csv = temp_path(final)
    landmarks_csv(tmp_path, name="scratch").rename(tmp_csv)
    report = {"outputs": {"landmarks": str(final)}}
    result = write_measures(tmp_csv, {"summary_html": tmp_path / "s.html"}, report=report)
    assert result["source"]["landmarks_csv"] == str(final)
    html = (tmp_path / "s.html").read_text()
    assert "<title>visit3 &ndash;" in html and "partial" not in html


def test_summary_shows_the_report_verdict_as_a_level_and_plain_reasons(tmp_path):
    """The app's verdict dict (app/results/verdict.py) reads as a level and one line per reason, never as a
    Python dict."""
    src = landmarks_csv(tmp_path)
    verdict = {"level": "usable with warnings", "reasons": ["the face was not found in 12 % of frames"],
               "notes": ["coarse midline: no STAR landmark model"]}
    write_measures(src, targets(tmp_path), report={"verdict": verdict})
    html = targets(tmp_path)["summary_html"].read_text()
    assert "USABLE WITH WARNINGS" in html
    assert "<li>the face was not found in 12 % of frames</li>" in html
    assert "<li>coarse midline: no STAR landmark model</li>" in html
    assert "'reasons'" not in html and "{'level'" not in html


def test_summary_times_are_the_players_clock_with_frame_numbers(tmp_path):
    """A recording whose first frame is at 10.0 s on the player's clock (report input.start_time_s):
    the rest window and segments read as a player shows them, each with its frame number."""
    src = landmarks_csv(tmp_path)
    body = write_measures(src, targets(tmp_path), report={"input": {"start_time_s": 10.0}})
    html = targets(tmp_path)["summary_html"].read_text()
    seg = body["segments"][0]
    rows = list(csv.DictReader(open(src, newline="")))
    peak_frame = min(rows, key=lambda r: abs(float(r["time_ms"]) / 1000 - seg["peak_s"]))["frame"]
    t = seg["peak_s"] + 10.0
    assert f"peak {int(t // 60)}:{t % 60:04.1f} (frame {peak_frame})" in html
    assert "the recording's first frame is at 0:10.0" in html
