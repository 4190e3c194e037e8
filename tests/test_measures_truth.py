"""The clinical numbers against truth built independently (tests/face_truth.py): a moving head,
landmark noise, glitch frames and an open-mouth smile.

Truth of the standard examination (tests.face_truth.exam): smile with the patient's right corner
moving 5 mm and the left 10 mm (symmetry 50 %, weaker right); brow raise 8 mm both sides (100 %);
right eye closing fully and the left 60 % of the way (symmetry 60 %, right gap 0, left gap 40 %
of the resting fissure).
"""
from __future__ import annotations

import pytest

from app.measures import analyse_track
from tests.face_truth import FISSURE_MM, MRD1_MM, MRD2_MM, HeadMotion, Recording, exam

MOVING = HeadMotion(roll_deg=2.0, drift_px=10.0, scale=0.05)


def headlines(rec: Recording) -> dict:
    _, _, result = analyse_track(rec.track())
    return {h["region"]: h for h in result["headlines"]} | {"_result": result}


def test_still_exam_reads_the_truth_exactly():
    h = headlines(exam())
    assert [s["region"] for s in h["_result"]["segments"]] == ["brow", "mouth", "eyes"]   # brow next to smile
    assert h["mouth"]["right"]["value"] == pytest.approx(5.0, abs=0.05)
    assert h["mouth"]["left"]["value"] == pytest.approx(10.0, abs=0.05)
    assert h["mouth"]["symmetry_pct"] == pytest.approx(50.0, abs=0.5) and h["mouth"]["weaker"] == "right"
    assert h["brow"]["right"]["value"] == pytest.approx(8.0, abs=0.05)
    assert h["brow"]["symmetry_pct"] == pytest.approx(100.0, abs=0.5) and h["brow"]["weaker"] is None
    assert h["eyes"]["symmetry_pct"] == pytest.approx(60.0, abs=0.5) and h["eyes"]["weaker"] == "left"
    closure = h["eyes"]["eye_closure"]
    assert closure["right"]["complete"] and closure["right"]["gap_mm"] == pytest.approx(0.0, abs=0.1)
    assert not closure["left"]["complete"]
    assert closure["left"]["gap_mm"] == pytest.approx(0.4 * FISSURE_MM, abs=0.1)


@pytest.mark.parametrize("motion", [HeadMotion(roll_deg=2.0), HeadMotion(drift_px=10.0),
                                   HeadMotion(scale=0.05), MOVING, HeadMotion(roll_deg=6.0, drift_px=25.0,
                                                                               scale=0.1)])
def test_head_motion_changes_no_headline_by_more_than_2_percent_of_the_movement(motion):
    still, moving = headlines(exam()), headlines(exam(motion=motion))
    assert [s["region"] for s in moving["_result"]["segments"]] == ["brow", "mouth", "eyes"]
    for region in ("brow", "mouth", "eyes"):
        for side in ("right", "left"):
            truth = still[region][side]["value"]
            assert moving[region][side]["value"] == pytest.approx(truth, abs=0.02 * abs(truth) + 1e-6), region


def test_the_lagging_display_midline_is_not_used():
    slow = exam(motion=MOVING)
    slow.display_lag_s = 2.0                      # the CSV's midline far behind the head
    still = headlines(exam())
    assert headlines(slow)["mouth"]["symmetry_pct"] == pytest.approx(still["mouth"]["symmetry_pct"], abs=1.0)


@pytest.mark.parametrize("noise_mm", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("seed", range(4))
def test_noise_does_not_pull_symmetry_towards_100(noise_mm, seed):
    h = headlines(exam(motion=MOVING, noise_mm=noise_mm, seed=seed))
    assert h["mouth"]["symmetry_pct"] == pytest.approx(50.0, abs=7.0)
    assert h["mouth"]["weaker"] == "right"
    assert h["eyes"]["symmetry_pct"] == pytest.approx(60.0, abs=7.0)
    assert h["brow"]["symmetry_pct"] >= 90.0 and h["brow"]["weaker"] is None
    for region in ("brow", "mouth", "eyes"):     # the intervals are real and hold the estimate
        lo, hi = h[region]["symmetry_ci95"]
        assert lo <= h[region]["symmetry_pct"] <= hi and hi - lo > 0


def test_intervals_cover_the_truth_in_most_noisy_recordings():
    truth = {"mouth": 50.0, "brow": 100.0, "eyes": 60.0}
    covered = dict.fromkeys(truth, 0)
    for seed in range(10):
        h = headlines(exam(motion=MOVING, noise_mm=0.5, seed=100 + seed))
        for region, value in truth.items():
            lo, hi = h[region]["symmetry_ci95"]
            covered[region] += lo <= value <= hi
    # nominal 95 %; 8 of 10 allows for chance (a true 95 % gives 8 or more in 99 % of such runs)
    assert all(n >= 8 for n in covered.values()), covered


def test_five_glitch_frames_change_no_result_by_more_than_2_points():
    base = dict(motion=MOVING, noise_mm=0.5, seed=3)
    glitches = ([(f, 97, (0.0, -15.0)) for f in range(95, 100)]       # left pupil on the brow
                + [(f, 44, (0.0, 12.0)) for f in range(100, 105)]     # a left brow point on the lid
                + [(f, 82, (8.0, -6.0)) for f in range(190, 195)]     # left mouth corner off
                + [(f, 62, (0.0, 6.0)) for f in range(280, 285)])     # right upper lid off
    clean, dirty = headlines(exam(**base)), headlines(exam(glitches=glitches, **base))
    for region in ("brow", "mouth", "eyes"):
        assert dirty[region]["symmetry_pct"] == pytest.approx(clean[region]["symmetry_pct"], abs=2.0), region
    report = dirty["_result"]["glitches"]
    assert report["points_replaced"] >= 20 and report["frames_affected"] >= 20
    assert clean["_result"]["glitches"]["points_replaced"] <= 3      # noise alone is not a glitch


@pytest.mark.parametrize("noise_mm", [0.0, 0.5])
def test_open_mouth_smile_reads_like_a_closed_one(noise_mm):
    closed = headlines(exam(noise_mm=noise_mm, seed=5))
    opened = headlines(exam(jaw_mm=6.0, noise_mm=noise_mm, seed=5))
    assert opened["mouth"]["symmetry_pct"] == pytest.approx(closed["mouth"]["symmetry_pct"], abs=2.0)
    assert opened["mouth"]["symmetry_pct"] == pytest.approx(50.0, abs=5.0)
    for side, truth in (("right", 5.0), ("left", 10.0)):
        assert opened["mouth"][side]["value"] == pytest.approx(truth, abs=0.5)
    seg = opened["_result"]["segments"][opened["mouth"]["segment"]]
    assert seg["measures"]["smile_angle"]["symmetry_pct"] == pytest.approx(
        closed["_result"]["segments"][closed["mouth"]["segment"]]["measures"]["smile_angle"]["symmetry_pct"], abs=2.0)


def test_an_eye_that_keeps_a_gap_is_reported_with_its_gap():
    h = headlines(exam(eye_fraction=(1.0 - 4.0 / FISSURE_MM, 1.0), noise_mm=0.3, seed=1))
    closure = h["eyes"]["eye_closure"]
    assert closure["right"]["gap_mm"] == pytest.approx(4.0, abs=0.4) and not closure["right"]["complete"]
    lo, hi = closure["right"]["gap_mm_ci95"]
    assert lo < 4.0 + 0.4 and hi > 4.0 - 0.4
    assert closure["left"]["complete"]


def test_mrd1_and_mrd2_at_rest_including_a_drooping_lid():
    _, _, result = analyse_track(exam(at_rest=[("ptosis", "right", 2.5)]).track())
    rest = result["rest"]["values"]
    assert rest["mrd1"]["left_mm"] == pytest.approx(MRD1_MM, abs=0.05)
    assert rest["mrd1"]["right_mm"] == pytest.approx(MRD1_MM - 2.5, abs=0.05)
    assert rest["mrd2"]["right_mm"] == pytest.approx(MRD2_MM, abs=0.05)
    assert rest["mrd1"]["difference_mm"] == pytest.approx(-2.5, abs=0.05)


@pytest.mark.parametrize("seed", [61, 62])
def test_resting_asymmetry_comes_with_an_interval_that_holds_the_truth(seed):
    """A right upper lid drooping 2.5 mm at rest, 0.8 mm of landmark noise: MRD1 right - left is
    -2.5 mm (its interval holds it and excludes 0); the brows are level (their interval holds 0)."""
    _, _, result = analyse_track(exam(at_rest=[("ptosis", "right", 2.5)], motion=MOVING, noise_mm=0.8,
                                      seed=seed).track())
    rest = result["rest"]["values"]
    lo, hi = rest["mrd1"]["difference_mm_ci95"]
    assert lo <= -2.5 <= hi and hi < 0.0
    lo, hi = rest["brow_height"]["difference_mm_ci95"]
    assert lo <= 0.0 <= hi and hi - lo < 2.0
    assert rest["brow_height"]["difference_ci95"][0] <= rest["brow_height"]["difference"] \
        <= rest["brow_height"]["difference_ci95"][1]


def test_a_plateau_shorter_than_a_bootstrap_block_still_gets_an_interval():
    """Found on the press clip: a 10-frame plateau came back with a zero-width interval (each circular
    block resample was the plateau rotated). Noisy values must give an interval of real width."""
    import numpy as np

    from app.measures.plateau import median_with_ci

    rng = np.random.default_rng(3)
    values = 5.0 + rng.normal(0.0, 0.5, size=10)           # 10 frames at 30 fps: shorter than a block
    centre, (low, high) = median_with_ci(values, fps=30.0)
    assert high - low > 0.2, (low, high)                    # the SE of a mean of 10 at sd 0.5 is ~0.16
    assert low < centre < high


@pytest.mark.parametrize("frames, at_least, at_most", [(45, 0.75, 1.1), (150, 0.85, 1.2)])
def test_a_short_plateau_s_interval_is_not_too_narrow_for_correlated_noise(frames, at_least, at_most):
    """Noise shared by neighbouring frames (a 7-frame moving average, like the face frame's +-0.1 s
    map averaging): the block bootstrap's variance of a mean over 1.5 s (3 blocks of 0.5 s) was
    56 % of the true one (the spread of k block means is taken with divisor k, not k - 1); with the
    few-blocks factor it is at least 3/4 of it, and over 5 s it stays near the truth. The interval's
    width is divided by the fixed widening (plateau.WIDEN) to compare the bootstrap itself."""
    import numpy as np

    from app.measures.plateau import WIDEN, median_with_ci

    rng = np.random.default_rng(8)
    series = [np.convolve(rng.normal(0.0, 1.0, frames + 6), np.ones(7) / 7, "valid") for _ in range(200)]
    true_var = float(np.var([s.mean() for s in series]))
    boot_var = []
    for s in series:
        _, (low, high) = median_with_ci(s, fps=30.0)
        boot_var.append(((high - low) / (2 * 1.96 * WIDEN)) ** 2)
    assert at_least <= float(np.mean(boot_var)) / true_var <= at_most
