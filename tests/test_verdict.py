"""The per-video verdict (app.results.verdict.assess) on report dicts shaped like the pipeline's.

End-to-end verdicts on real clips are in tests/test_trust_pipeline.py."""
from __future__ import annotations

import pytest

from app.engine.quality import QualityCounter, assess_frame
from app.results.verdict import GOOD, NOT_USABLE, WARNINGS, assess, summary


def report(frames=300, *, no_face=0, yaw=0, roll=0, outside=0, low=0, usable=None, untrained=False,
           coarse=False, ended_early=False, estimated=None, fps=30.0, detector_runs=None, others=0,
           relocked=0, note=None) -> dict:
    usable = frames - no_face - yaw - outside if usable is None else usable
    models = {"retinaface": {}, "landmark_model": "5-point fallback" if coarse else "STAR 98-point"}
    if not coarse:
        models["star"] = {"untrained": untrained}
    return {
        "models": models,
        "input": {"fps": fps},
        "frames": {"processed": frames, "estimated_total": estimated or frames, "ended_early": ended_early},
        "quality_flags": {"frames": frames, "frames_usable": usable, "no_face": no_face, "yaw": yaw,
                          "roll": roll, "partly_outside": outside, "low_score": low},
        "tracking": {"detector_runs": frames if detector_runs is None else detector_runs,
                     "other_face_frames": others, "events": {"relocked": relocked} if relocked else {}},
        "midline_choice_note": note,
    }


def test_clean_report_is_good_with_no_reasons():
    v = assess(report())
    assert v == {"level": GOOD, "reasons": [], "notes": []}
    assert summary(v) == "good"


def test_five_point_mode_is_at_best_usable_with_warnings():
    v = assess(report(coarse=True))
    assert v["level"] == WARNINGS
    assert len(v["reasons"]) == 1 and "5 points" in v["reasons"][0] and "coarse" in v["reasons"][0]


def _with(r: dict, **extra) -> dict:
    r.update(extra)
    return r


def test_model_mismatch_is_not_usable_and_never_blames_the_recording():
    # garbage landmarks make every recording flag fire; none of those reasons may appear
    bad = report(yaw=300, outside=300, usable=0)
    bad = _with(bad, model_check={"frames": 10, "median_error_ipd": 2.3, "ok": False},
                face_size={"pupil_px_median": 3.0})
    v = assess(bad)
    assert v["level"] == NOT_USABLE
    assert v["reasons"] == ["the landmark model's output does not match the face (damaged or untrained model)"]
    assert summary(v).startswith("not usable: the landmark model's output does not match the face")
    assert not any(w in " ".join(v["reasons"]) for w in ("turned", "outside", "small", "usable"))


def test_model_check_passed_changes_nothing():
    v = assess(_with(report(), model_check={"frames": 10, "median_error_ipd": 0.05, "ok": True}))
    assert v == {"level": GOOD, "reasons": [], "notes": []}


@pytest.mark.parametrize("pupil_px,level", [(60.0, GOOD), (25.0, GOOD), (24.0, WARNINGS), (12.0, WARNINGS),
                                            (11.0, NOT_USABLE), (9.0, NOT_USABLE)])
def test_face_size_thresholds(pupil_px, level):
    v = assess(_with(report(), face_size={"frames": 300, "pupil_px_median": pupil_px}))
    assert v["level"] == level
    if level != GOOD:
        assert f"{pupil_px:.0f} px between the pupils" in v["reasons"][0]


def test_cut_warns_with_player_clock_times():
    r = _with(report(), scene_cuts={"count": 1, "times_s": [2.0]})
    r["input"]["start_time_s"] = 0.852
    v = assess(r)
    assert v["level"] == WARNINGS and "2.85 s" in v["reasons"][0] and "same patient" in v["reasons"][0]


def test_identity_change_at_a_cut_is_said_with_its_time():
    cut = {"time_s": 1.0, "proportion_change_ipd": 0.17, "identity_change": True}
    v = assess(_with(report(), scene_cuts={"count": 1, "times_s": [1.0], "cuts": [cut]}))
    assert v["level"] == WARNINGS and any("probably another person" in r and "1.00 s" in r for r in v["reasons"])
    cut["identity_change"] = False
    v = assess(_with(report(), scene_cuts={"count": 1, "times_s": [1.0], "cuts": [cut]}))
    assert not any("another person" in r for r in v["reasons"])


def test_too_short_for_measures_is_a_warning_never_good():
    assert assess(report(frames=1))["level"] == WARNINGS
    v = assess(_with(report(), measures={"error": "too few frames with a face"}))
    assert v["level"] == WARNINGS and "no symmetry measures" in v["reasons"][0]


def test_untrained_model_is_not_usable():
    v = assess(report(untrained=True))
    assert v["level"] == NOT_USABLE
    assert v["reasons"][0].startswith("untrained landmark model")


@pytest.mark.parametrize("no_face,level", [(6, GOOD), (7, WARNINGS), (74, WARNINGS), (75, NOT_USABLE)])
def test_face_not_found_thresholds(no_face, level):
    v = assess(report(no_face=no_face))
    assert v["level"] == level
    if level != GOOD:
        assert f"the face was not found in {round(100 * no_face / 300)} % of frames" in v["reasons"]


def test_reasons_in_plain_words_like_the_issue():
    # 210 frames (0:07 at 30 fps) of a file whose header promises 600 (0:20)
    v = assess(report(frames=210, no_face=63, yaw=95, usable=150, ended_early=True, estimated=600,
                      detector_runs=210, others=21))
    assert v["level"] == NOT_USABLE
    assert "recording ends early at 0:07 of 0:20 (the file is probably cut short)" in v["reasons"]
    assert "the face was not found in 30 % of frames" in v["reasons"]
    assert "the head was turned more than 12 deg in 45 % of frames" in v["reasons"]
    assert any(r.startswith("another face was present in 10 % of the frames checked") for r in v["reasons"])


def test_early_end_with_most_of_the_recording_is_a_warning():
    v = assess(report(frames=500, ended_early=True, estimated=600))
    assert v["level"] == WARNINGS
    assert v["reasons"] == ["recording ends early at 0:17 of 0:20 (the file is probably cut short)"]


def test_too_few_usable_frames_is_not_usable_even_below_each_single_limit():
    v = assess(report(no_face=60, yaw=100, outside=0, usable=140))
    assert v["level"] == NOT_USABLE
    assert any(r.startswith("only 47 % of frames are usable") for r in v["reasons"])


def test_tilt_warns_but_never_fails():
    assert assess(report(roll=300))["level"] == WARNINGS


def test_relocked_and_unhonoured_choice_warn():
    v = assess(report(relocked=2, note="midline method 'pupils' cannot be honoured"))
    assert v["level"] == WARNINGS
    assert any("(2 times)" in r for r in v["reasons"])
    assert "midline method 'pupils' cannot be honoured" in v["reasons"]


def test_other_face_share_is_over_detector_runs():
    assert assess(report(detector_runs=30, others=1))["level"] == WARNINGS      # 3 % of the checked frames
    assert assess(report(detector_runs=300, others=1))["level"] == GOOD         # <1 %


def test_counter_usable_frames_ignore_the_coarse_flag():
    c = QualityCounter()
    pts5 = [[100, 100], [140, 100], [120, 120], [105, 140], [135, 140]]
    c.add(assess_frame((640, 360), box=(80, 70, 160, 170), score=0.99, landmarks=pts5))   # coarse only
    c.add(assess_frame((640, 360)))                                                        # no face
    d = c.as_dict()
    assert d["frames_ok"] == 0 and d["frames_usable"] == 1 and d["coarse_landmarks"] == 1


# -- how a queue row words it (app.gui.jobs is Qt-free) ---------------------------------------------

def test_job_row_text_and_tooltip_follow_the_verdict():
    from pathlib import Path

    from app.batch.job_queue.jobs import Job, Status

    job = Job(id=1, path=Path("visit.mp4"), status=Status.DONE,
              verdict=assess(report(no_face=90, yaw=40)))
    assert job.level == NOT_USABLE
    assert job.status_text.startswith("done: NOT USABLE - the face was not found in 30 % of frames; ")
    tip = job.status_tooltip.splitlines()
    assert tip[0].startswith("NOT USABLE") and tip[1] == "\u2022 the face was not found in 30 % of frames"
    # a reader's end reason (with its own "; ") is one extra line, not split
    job.message = "the video ended after 17 of about 60 frames; the file is probably truncated or damaged."
    assert job.reasons[-1] == job.message
    assert Job(id=2, path=Path("a.mp4"), status=Status.DONE, verdict=assess(report())).status_text == "done: good"
    nov = Job(id=3, path=Path("b.mp4"), status=Status.DONE)
    assert nov.level == "unknown" and nov.status_text == "done: no verdict"     # never shown as good
    assert Job(id=4, path=Path("c.mp4"), status=Status.FAILED, message="x").level == ""
