"""Per-task results of a guided exam against truth built independently (tests/face_truth.py).

Truth (tests.face_truth.guided_exam): symmetry per task from the movements written there, right
against left: brow 6/8 mm (75 %), gentle closure 70/90 % of the fissure (77.8 %), full closure
85/100 % (85 %), smile 5/10 mm (50 %), open smile 6/12 mm with a 6 mm jaw opening (50 %), pucker
3/6 mm (50 %), lower lip 3/6 mm with a 3 mm jaw opening (50 %); synkinesis: the right eye narrows
30 % of its fissure during the smile, the left mouth corner moves 2 mm during the full closure;
an unprompted 6 mm brow raise between the open smile and the pucker, in no task.
"""
from __future__ import annotations

import json

import pytest

from app.cli.main import main
from app.measures import analyse_track
from app.measures.protocol import record_from_dict
from tests.face_truth import (FISSURE_MM, GUIDED_TRUTH, SYNK_CORNER_MM, SYNK_EYE_FRACTION, HeadMotion,
                              guided_exam)
from tests.synthetic_face import csv_rows, write_csv

MOVING = HeadMotion(roll_deg=2.0, drift_px=10.0, scale=0.05)
TOL_SYMMETRY = 7.0       # points, at 0.5 mm landmark noise and a moving head (as the segment headlines)
TOL_NARROWING = 7.0      # points of the resting fissure
TOL_CORNER_MM = 0.6


def truth_symmetry(task: str) -> float:
    r, lf = GUIDED_TRUTH[task]
    return 100.0 * min(r, lf) / max(r, lf)


def truth_mm(task: str, side: str) -> float:
    r, lf = GUIDED_TRUTH[task]
    value = r if side == "right" else lf
    return value * FISSURE_MM if "closure" in task else value     # closures are given as fractions


def run(**kw) -> dict:
    rec, record = guided_exam(**kw)
    _, _, result = analyse_track(rec.track(), record=record_from_dict(record))
    return result


def by_task(result: dict) -> dict:
    return {e["task"]: e for e in result["tasks"]}


def test_still_guided_exam_reads_every_task_exactly():
    result = run()
    tasks = by_task(result)
    assert result["rest"]["source"] == "the protocol's rest task"
    assert tasks["rest"]["headline"] is None and tasks["rest"]["headline_note"]
    for task in GUIDED_TRUTH:
        h = tasks[task]["headline"]
        assert h["symmetry_pct"] == pytest.approx(truth_symmetry(task), abs=0.5), task
        assert h["weaker"] == "right", task
        for side in ("right", "left"):
            assert h[side]["value"] == pytest.approx(truth_mm(task, side), abs=0.1), (task, side)
    assert tasks["brow_raise"]["headline"]["measure"] == "brow_height"
    assert tasks["pucker"]["headline"]["measure"] == "commissure_narrowing"
    assert tasks["lower_lip"]["headline"]["measure"] == "lower_lip_depression"
    smile = tasks["smile"]["synkinesis"]
    assert smile["right"] == pytest.approx(100 * SYNK_EYE_FRACTION, abs=0.5) and smile["left"] == pytest.approx(0, abs=0.5)
    closure = tasks["full_eye_closure"]["synkinesis"]
    assert closure["left"] == pytest.approx(SYNK_CORNER_MM, abs=0.05) and closure["right"] == pytest.approx(0, abs=0.05)
    assert tasks["gentle_eye_closure"]["synkinesis"]["left"] == pytest.approx(0, abs=0.05)
    assert tasks["smile_open"]["synkinesis"]["right"] == pytest.approx(0, abs=0.5)
    # gentle against full closure: residual gaps and closed fractions
    for task, (r, lf) in (("gentle_eye_closure", GUIDED_TRUTH["gentle_eye_closure"]),
                          ("full_eye_closure", GUIDED_TRUTH["full_eye_closure"])):
        c = tasks[task]["closure"]
        assert c["right"]["gap_mm"] == pytest.approx((1 - r) * FISSURE_MM, abs=0.1)
        assert c["left"]["gap_mm"] == pytest.approx((1 - lf) * FISSURE_MM, abs=0.1)
        assert c["right"]["closed_pct"] == pytest.approx(100 * r, abs=1.0)
    compared = result["tasks_compared"]
    assert compared["right"]["full_minus_gentle_points"] == pytest.approx(15.0, abs=1.0)
    assert compared["left"]["full_minus_gentle_points"] == pytest.approx(10.0, abs=1.0)


@pytest.mark.parametrize("seed", range(3))
def test_noisy_moving_guided_exam_recovers_the_truth(seed):
    tasks = by_task(run(noise_mm=0.5, seed=seed, motion=MOVING))
    for task in GUIDED_TRUTH:
        h = tasks[task]["headline"]
        assert h["symmetry_pct"] == pytest.approx(truth_symmetry(task), abs=TOL_SYMMETRY), task
        lo, hi = h["ci95"]
        assert lo <= h["symmetry_pct"] <= hi and hi > lo, task
        assert h["weaker"] in (("right", "none") if task == "full_eye_closure" else ("right",)), task
    smile = tasks["smile"]["synkinesis"]
    assert smile["right"] == pytest.approx(100 * SYNK_EYE_FRACTION, abs=TOL_NARROWING)
    assert abs(smile["left"]) < TOL_NARROWING
    closure = tasks["full_eye_closure"]["synkinesis"]
    assert closure["left"] == pytest.approx(SYNK_CORNER_MM, abs=TOL_CORNER_MM)
    assert abs(closure["right"]) < TOL_CORNER_MM


def test_task_intervals_hold_the_truth_in_most_noisy_exams():
    held = total = 0
    synk_held = synk_total = 0
    for seed in range(40, 45):
        tasks = by_task(run(noise_mm=0.5, seed=seed, motion=MOVING))
        for task in GUIDED_TRUTH:
            lo, hi = tasks[task]["headline"]["ci95"]
            held += lo <= truth_symmetry(task) <= hi
            total += 1
        smile, closure = tasks["smile"]["synkinesis"], tasks["full_eye_closure"]["synkinesis"]
        for ci, truth in ((smile["ci95_right"], 100 * SYNK_EYE_FRACTION), (smile["ci95_left"], 0.0),
                          (closure["ci95_left"], SYNK_CORNER_MM), (closure["ci95_right"], 0.0)):
            synk_held += ci[0] <= truth <= ci[1]
            synk_total += 1
    assert held >= 0.8 * total, (held, total)            # nominal 95 %; 80 % allows for chance in 35
    assert synk_held >= 0.75 * synk_total, (synk_held, synk_total)


def test_an_unprompted_movement_stays_outside_the_tasks():
    with_it, without = run(noise_mm=0.3, seed=7), run(unprompted=False, noise_mm=0.3, seed=7)
    extra = with_it["untasked"]
    assert [u["region"] for u in extra] == ["brow"]
    _, record = guided_exam()
    smile_open = next(t for t in record["tasks"] if t["task"] == "smile_open")
    pucker = next(t for t in record["tasks"] if t["task"] == "pucker")
    assert smile_open["end_s"] < extra[0]["start_s"] and extra[0]["end_s"] < pucker["start_s"]
    assert extra[0]["measures"]["brow_height"]["right_mm"] == pytest.approx(6.0, abs=0.6)
    assert without["untasked"] == []
    a, b = by_task(with_it), by_task(without)
    for task in GUIDED_TRUTH:           # no task's numbers change with the movement between them
        assert a[task]["headline"]["symmetry_pct"] == pytest.approx(b[task]["headline"]["symmetry_pct"], abs=0.01)
    untasked_index = next(s["index"] for s in with_it["segments"] if s["region"] == "brow"
                          and s["start_s"] > smile_open["end_s"])
    assert all(untasked_index not in e["segments"] for e in with_it["tasks"])


def test_adjacent_brow_raise_and_smile_stay_two_tasks():
    """Back-to-back tasks with no rest between: the landmark-only segments may merge them; the
    record keeps each task's own plateau."""
    rec, record = guided_exam()
    # move the smile right after the brow raise: its span starts where the brow's ends
    brow = next(t for t in record["tasks"] if t["task"] == "brow_raise")
    smile = next(t for t in record["tasks"] if t["task"] == "smile")
    shift = smile["start_s"] - brow["end_s"]
    for m in rec.moves:
        if smile["start_s"] <= m.t0 <= smile["end_s"]:
            m.t0 -= shift
    keep = [t for t in record["tasks"] if t["task"] in ("rest", "brow_raise")]
    keep.append({"task": "smile", "start_s": brow["end_s"], "end_s": brow["end_s"] + smile["end_s"] - smile["start_s"]})
    _, _, result = analyse_track(rec.track(), record=record_from_dict({"tasks": keep}))
    tasks = by_task(result)
    assert tasks["brow_raise"]["headline"]["symmetry_pct"] == pytest.approx(truth_symmetry("brow_raise"), abs=0.5)
    assert tasks["smile"]["headline"]["symmetry_pct"] == pytest.approx(truth_symmetry("smile"), abs=0.5)
    assert tasks["smile"]["synkinesis"]["right"] == pytest.approx(100 * SYNK_EYE_FRACTION, abs=0.5)


# --- command line ----------------------------------------------------------------------------
def exam_csv(folder, name="exam"):
    rec, record = guided_exam(noise_mm=0.2, seed=2)
    track = rec.track()
    rows = csv_rows(track.points, track.times_ms, float(track.midline_angle_deg[0]), track.midline_point[0])
    return write_csv(folder / f"{name}_landmarks.csv", rows), record


def test_measures_finds_the_record_beside_the_csv_and_says_so(tmp_path, capsys):
    src, record = exam_csv(tmp_path)
    (tmp_path / "exam_protocol.json").write_text(json.dumps(record))
    assert main(["measures", str(src)]) == 0
    out = capsys.readouterr().out
    assert "exam_protocol.json" in out
    body = json.loads((tmp_path / "exam_measures.json").read_text())
    assert [t["task"] for t in body["tasks"]] == [t["task"] for t in record["tasks"]]
    smile = next(t for t in body["tasks"] if t["task"] == "smile")
    assert smile["headline"]["symmetry_pct"] == pytest.approx(50.0, abs=5.0)
    assert set(smile["headline"]) >= {"measure", "symmetry_pct", "ci95", "weaker"}
    assert set(smile["synkinesis"]) >= {"measure", "left", "right", "ci95_left", "ci95_right"}
    assert len(body["untasked"]) == 1
    html = (tmp_path / "exam_summary.html").read_text()
    assert html.index("Tasks (guided exam") < html.index("Rest: resting symmetry") < html.index("Headline measures")
    assert "Movement outside the tasks" in html


def test_measures_with_a_bad_record_names_it_and_writes_nothing(tmp_path, capsys):
    src, record = exam_csv(tmp_path)
    record["tasks"][2]["start_s"] = record["tasks"][1]["start_s"]        # overlaps the task before it
    bad = tmp_path / "given.json"
    bad.write_text(json.dumps(record))
    assert main(["measures", str(src), "--protocol", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "given.json" in err and "overlap" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exam_landmarks.csv", "given.json"]


def test_measures_with_a_record_of_another_recording_says_so(tmp_path, capsys):
    src, _ = exam_csv(tmp_path)
    late = tmp_path / "late.json"
    late.write_text(json.dumps({"tasks": [{"task": "smile", "start_s": 500.0, "end_s": 504.0}]}))
    assert main(["measures", str(src), "--protocol", str(late)]) == 2
    err = capsys.readouterr().err
    assert "late.json" in err and "outside the recording" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exam_landmarks.csv", "late.json"]


# --- process ---------------------------------------------------------------------------------
def test_process_with_a_bad_protocol_stops_before_anything(tmp_path):
    from tests.scale_helpers import process

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not looked at: the record is checked first")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tasks": [{"task": "wink", "start_s": 0, "end_s": 2}]}))
    code, _, err = process(video, "--protocol", bad, "--out", tmp_path / "out")
    assert code == 2
    err = err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err and "wink" in err
    assert not (tmp_path / "out").exists()


def _clip(tmp_path, portrait, n=40):
    from tests import videos

    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * n, (180, 200))
    return videos.write_video(tmp_path / "clip.mp4", frames, fps=10)


def test_process_uses_the_record_beside_the_recording(tmp_path, models_5pt, portrait):
    from app.pipeline.run import Pipeline, Settings

    video = _clip(tmp_path, portrait)
    (tmp_path / "clip_protocol.json").write_text(json.dumps(
        {"protocol": "standard", "version": 1, "tasks": [{"task": "rest", "start_s": 0.0, "end_s": 1.5},
                                                         {"task": "smile", "start_s": 2.0, "end_s": 3.5}]}))
    result = Pipeline(models_5pt, Settings(annotated=False)).process(video, tmp_path / "out")
    assert result.ok, result.error
    assert result.report["measures"]["protocol_record"] == "clip_protocol.json"
    body = json.loads((tmp_path / "out" / "clip_measures.json").read_text())
    assert [t["task"] for t in body["tasks"]] == ["rest", "smile"]
    assert body["rest"]["source"] == "the protocol's rest task"


def test_process_with_a_bad_record_beside_the_recording_keeps_the_video_outputs(tmp_path, models_5pt, portrait):
    from app.pipeline.run import Pipeline, Settings

    video = _clip(tmp_path, portrait, n=12)
    (tmp_path / "clip_protocol.json").write_text("{not json")
    result = Pipeline(models_5pt, Settings(annotated=False)).process(video, tmp_path / "out")
    assert result.ok, result.error
    assert any("clip_protocol.json" in w and "not valid JSON" in w for w in result.warnings), result.warnings
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert "clip_landmarks.csv" in names and "clip_measures.json" not in names
