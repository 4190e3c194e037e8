"""Symmetry measures, rest and segments on synthetic landmark tracks of known geometry."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.measures.io import MeasuresError
from app.measures.definitions import column_names, frame_measures
from app.measures.segments import parse_time_range
from app.measures.definitions import MEASURES, SIDES, measures_for
from app.measures.io import LandmarkTrack, compute_table
from app.measures.analysis import analyse
from tests.synthetic_face import (Event, Pose, canonical_track, five_points, flip_permutation,
                                  mirror_canonical, neutral_face, place, smile, times)

FPS = 30.0
REPO = Path(__file__).resolve().parent.parent


def make_track(canon: np.ndarray, t: np.ndarray, pose: Pose = Pose()) -> LandmarkTrack:
    px, angle, point = place(canon, pose)
    n = len(t)
    return LandmarkTrack(np.arange(n), t * 1000.0, px, np.full(n, angle), np.tile(point, (n, 1)))


def run(events, duration=10.0, noise=0.002, pose=Pose(), rest=None, seed=0, canon_fn=None):
    t = times(duration, FPS)
    canon = canonical_track(t, events, noise=noise, seed=seed)
    if canon_fn is not None:
        canon = canon_fn(canon)
    track = make_track(canon, t, pose)
    table = compute_table(track)
    return analyse(table, rest).result, table


def segments_of(result, region):
    return [s for s in result["segments"] if s["region"] == region]


# --- per-frame geometry ----------------------------------------------------------------------
def test_neutral_face_measures_equal_right_and_left():
    vals = frame_measures(place(neutral_face()[None], Pose())[0][0])
    for m in MEASURES:
        if m.sided and not m.from_rest:
            assert vals[f"{m.name}_right"] == pytest.approx(vals[f"{m.name}_left"], abs=1e-12), m.name
    assert vals["fai"] == pytest.approx(0.0, abs=1e-12)
    assert vals["ipd_px"] == pytest.approx(120.0)


def test_smile_moves_the_commissure_by_the_known_amount():
    base = neutral_face()
    moved = base.copy()
    smile(moved, "left", 0.15)
    smile(moved, "right", 0.075)
    a, b = (frame_measures(place(x[None], Pose())[0][0]) for x in (base, moved))

    def shift(side):   # how far the corner moved in the face frame (its excursion from rest)
        return math.hypot(b[f"commissure_lateral_{side}"] - a[f"commissure_lateral_{side}"],
                          b[f"commissure_height_{side}"] - a[f"commissure_height_{side}"])
    assert shift("left") == pytest.approx(0.15, abs=1e-9)
    assert shift("right") == pytest.approx(0.075, abs=1e-9)
    # the patient's LEFT corner is image right: a left-only change must not touch the right values
    only_left = base.copy()
    smile(only_left, "left", 0.1)
    c = frame_measures(place(only_left[None], Pose())[0][0])
    assert c["commissure_lateral_right"] == pytest.approx(a["commissure_lateral_right"], abs=1e-12)
    assert c["mouth_line_tilt"] > 0      # positive when the patient's left corner is higher


@pytest.mark.parametrize("pose", [Pose(scale=55.0, roll_deg=17.0, centre=(200.0, 180.0)),
                                  Pose(scale=300.0, roll_deg=-25.0, centre=(900.0, 600.0))])
def test_rotated_and_scaled_faces_give_the_same_values(pose):
    canon = canonical_track(times(2.0), [Event("smile", 0.2, 0.05, 0.12)], noise=0.003, seed=3)
    ref = compute_table(make_track(canon, times(2.0)))
    other = compute_table(make_track(canon, times(2.0), pose))
    for key in column_names(98):
        np.testing.assert_allclose(other.columns[key], ref.columns[key], rtol=1e-9, atol=1e-9, err_msg=key)
    assert np.allclose(other.columns["ipd_px"], ref.columns["ipd_px"] * pose.scale / 120.0)


def _mirror_track(track: LandmarkTrack, width: float) -> LandmarkTrack:
    """The same recording mirrored left-right in the image (x -> W-1-x), indices re-labelled."""
    pts = track.points[:, flip_permutation()].copy()
    pts[..., 0] = width - 1 - pts[..., 0]
    mp = track.midline_point.copy()
    mp[:, 0] = width - 1 - mp[:, 0]
    return LandmarkTrack(track.frames, track.times_ms, pts, -track.midline_angle_deg, mp)


def test_mirrored_tracks_swap_right_and_left_exactly():
    t = times(7.0)
    canon = canonical_track(t, [Event("smile", 0.5, 0.06, 0.14, lag_right=0.1), Event("brow", 4.0, 0.03, 0.09)],
                            noise=0.003, seed=5)
    track = make_track(canon, t, Pose(roll_deg=12.0))
    a, b = compute_table(track), compute_table(_mirror_track(track, 1280))
    for m in measures_for(98):
        if m.sided:
            np.testing.assert_allclose(b.side(m.name, "right"), a.side(m.name, "left"), atol=1e-9, err_msg=m.name)
            np.testing.assert_allclose(b.side(m.name, "left"), a.side(m.name, "right"), atol=1e-9, err_msg=m.name)
    np.testing.assert_allclose(b.columns["fai"], a.columns["fai"], atol=1e-9)
    np.testing.assert_allclose(b.columns["eye_line_tilt"], -a.columns["eye_line_tilt"], atol=1e-9)
    ra, rb = analyse(a).result, analyse(b).result
    assert len(ra["segments"]) == len(rb["segments"]) == 2
    for sa, sb in zip(ra["segments"], rb["segments"]):
        for name, da in sa["measures"].items():
            db = sb["measures"][name]
            assert db["right"] == pytest.approx(da["left"], abs=1e-9)
            assert db["left"] == pytest.approx(da["right"], abs=1e-9)
            assert db["weaker"] == {"right": "left", "left": "right", None: None}[da["weaker"]]
            if da["onset_lag_ms"] is not None:
                assert db["onset_lag_ms"] == pytest.approx(-da["onset_lag_ms"], abs=1e-6)


def test_canonical_mirror_helper_is_an_involution():
    face = neutral_face()
    smile(face, "left", 0.1)
    np.testing.assert_allclose(mirror_canonical(mirror_canonical(face)), face)


# --- segments and comparisons ----------------------------------------------------------------
def test_smile_with_right_half_as_far_gives_symmetry_50_and_weaker_right():
    result, _ = run([Event("smile", 3.0, 0.075, 0.15)])
    (seg,) = result["segments"]
    assert seg["region"] == "mouth"
    ce = seg["measures"]["commissure_excursion"]
    assert ce["symmetry_pct"] == pytest.approx(50.0, abs=4.0)
    assert ce["weaker"] == "right"
    assert ce["left"] == pytest.approx(0.15, abs=0.01)
    assert ce["right_mm"] == pytest.approx(0.075 * 63, abs=0.6)
    assert ce["moved"] == {"right": True, "left": True}
    assert seg["measures"]["brow_height"]["symmetry_pct"] is None      # the brows did not move
    fai = seg["whole_face"]["fai"]       # |d(64,76) - d(68,82)| grows when one corner moves more
    still, smiling = neutral_face(), neutral_face()
    smile(smiling, "right", 0.075)
    smile(smiling, "left", 0.15)

    def fai_of(p):
        return abs(math.dist(p[64], p[76]) - math.dist(p[68], p[82]))
    assert fai["rest"] == pytest.approx(fai_of(still), abs=0.01)
    assert fai["change"] == pytest.approx(fai_of(smiling) - fai_of(still), abs=0.002)
    assert seg["whole_face"]["mouth_line_tilt"]["change"] > 0       # the left corner rises more


def test_symmetric_brow_raise_gives_symmetry_near_100():
    result, _ = run([Event("brow", 2.0, 0.1, 0.1)])
    (seg,) = result["segments"]
    assert seg["region"] == "brow"
    bh = seg["measures"]["brow_height"]
    assert bh["symmetry_pct"] == pytest.approx(100.0, abs=5.0)
    assert bh["weaker"] is None
    assert bh["right"] == pytest.approx(0.1, abs=0.01) and bh["left"] == pytest.approx(0.1, abs=0.01)


def test_rotated_and_scaled_tracks_give_the_same_segment_results():
    ev = [Event("smile", 2.0, 0.05, 0.12)]
    a, _ = run(ev, seed=2)
    b, _ = run(ev, seed=2, pose=Pose(scale=70.0, roll_deg=-20.0, centre=(300.0, 250.0)))
    ca, cb = a["segments"][0]["measures"]["commissure_excursion"], b["segments"][0]["measures"]["commissure_excursion"]
    for k in ("right", "left", "symmetry_pct"):
        assert cb[k] == pytest.approx(ca[k], rel=1e-6)


def test_segments_found_with_correct_region_start_and_end():
    events = [Event("brow", 1.5, 0.08, 0.08), Event("eye", 5.0, 0.8, 0.8), Event("smile", 9.0, 0.12, 0.12),
              Event("snarl", 13.0, 0.08, 0.08)]
    result, _ = run(events, duration=17.0)
    regions = [s["region"] for s in result["segments"]]
    assert regions == ["brow", "eyes", "mouth", "nose"]
    for seg, ev in zip(result["segments"], events):
        end = ev.t0 + ev.rise + ev.hold + ev.fall
        assert ev.t0 <= seg["start_s"] <= ev.t0 + ev.rise, (seg["region"], seg["start_s"])
        assert end - ev.fall <= seg["end_s"] <= end, (seg["region"], seg["end_s"])
        assert ev.t0 + ev.rise <= seg["peak_s"] <= ev.t0 + ev.rise + ev.hold + 0.1


def test_onset_lag_between_the_sides_is_measured():
    result, _ = run([Event("smile", 2.0, 0.12, 0.12, lag_right=0.2)])
    ce = result["segments"][0]["measures"]["commissure_excursion"]
    assert ce["onset_lag_ms"] == pytest.approx(200.0, abs=1000 / FPS)
    assert ce["onset_s"]["left"] == pytest.approx(2.25, abs=0.05)   # half-way up a symmetric 0.5 s rise


def test_rest_is_the_quiet_stretch_not_the_start():
    def talk(canon):      # continuous mouth movement for the first 4 s, dying away over its last 0.5 s
        t = times(12.0)    # (a mouth does not jump from mid-movement to rest in one frame)
        for i in np.flatnonzero(t < 4.0):
            a = 0.05 * (1 + math.sin(2 * math.pi * 1.3 * t[i])) * min(1.0, (4.0 - t[i]) / 0.5)
            smile(canon[i], "left", a)
            smile(canon[i], "right", a)
        return canon
    result, _ = run([Event("smile", 7.5, 0.1, 0.1, hold=2.5)], duration=12.0, canon_fn=talk)
    rest = result["rest"]
    assert 3.9 <= rest["start_s"] and rest["end_s"] <= 7.5     # (the talk has faded below 1 mm by 3.9 s)
    assert rest["source"].startswith("detected")
    regions = [s["region"] for s in result["segments"]]
    assert "mouth" in regions


def test_rest_override_is_used():
    ev = [Event("smile", 2.0, 0.1, 0.1, hold=3.0)]
    auto, table = run(ev)
    given, _ = run(ev, rest=(3.0, 4.0))     # the smile plateau taken as "rest"
    assert given["rest"]["start_s"] == 3.0 and given["rest"]["end_s"] == 4.0
    assert given["rest"]["source"] == "given"
    def corner(result):
        v = result["rest"]["values"]
        return np.array([v["commissure_lateral"]["left"], v["commissure_height"]["left"]])
    assert np.linalg.norm(corner(given) - corner(auto)) == pytest.approx(0.1, abs=0.01)
    with pytest.raises(MeasuresError, match="outside"):
        analyse(table, (50.0, 60.0))


def test_synkinesis_hint_for_one_sided_eye_narrowing_during_a_smile():
    ev = [Event("smile", 2.0, 0.12, 0.12), Event("eye", 2.0, 0.5, 0.0)]
    result, _ = run(ev)
    (seg,) = result["segments"]
    assert seg["region"] == "mouth" and "eyes" in seg["regions_active"]
    hint = seg["synkinesis_hint"]
    assert hint["flag"] is True and hint["right"]["flag"] is True and hint["left"]["flag"] is False
    assert hint["right"]["fissure_narrowing_pct"] == pytest.approx(50.0, abs=8.0)
    plain, _ = run([Event("smile", 2.0, 0.12, 0.12)])
    assert plain["segments"][0]["synkinesis_hint"]["flag"] is False


def test_frames_without_a_face_are_skipped():
    t = times(8.0)
    canon = canonical_track(t, [Event("smile", 3.0, 0.06, 0.12)], noise=0.002)
    canon[100:110] = np.nan                         # face lost for a third of a second
    table = compute_table(make_track(canon, t))
    assert np.isnan(table.columns["commissure_excursion_left"][105])
    result = analyse(table).result
    (seg,) = result["segments"]
    assert seg["measures"]["commissure_excursion"]["weaker"] == "right"


def test_five_point_mode_computes_only_coarse_mouth_measures():
    t = times(8.0)
    canon = five_points(canonical_track(t, [Event("smile", 3.0, 0.06, 0.12)], noise=0.002))
    track = make_track(canon, t)
    table = compute_table(track)
    assert set(table.columns) == set(column_names(5)) | {"ipd_px"}
    assert "brow_height_right" not in table.columns
    result = analyse(table).result
    (seg,) = result["segments"]
    assert seg["region"] == "mouth"
    ch = seg["measures"]["commissure_height"]
    assert ch["weaker"] == "right" and ch["symmetry_pct"] == pytest.approx(50.0, abs=8.0)


@pytest.mark.parametrize("text,expected", [("0:00-0:03", (0.0, 3.0)), ("1.5-4", (1.5, 4.0)),
                                           ("1:02.5-1:05", (62.5, 65.0)), ("0:01:00-0:01:02", (60.0, 62.0))])
def test_parse_time_range(text, expected):
    assert parse_time_range(text) == expected


@pytest.mark.parametrize("text", ["3", "a-b", "0:05-0:02", "1-2-3"])
def test_parse_time_range_refuses_bad_input(text):
    with pytest.raises(MeasuresError):
        parse_time_range(text)


def test_every_measure_is_documented():
    doc = (REPO / "docs" / "MEASURES.md").read_text(encoding="utf-8")
    for m in MEASURES:
        assert f"`{m.name}`" in doc, m.name
    for side in SIDES:
        assert side in doc


def test_a_still_face_has_no_segments_and_the_rest_is_the_start():
    result, _ = run([], duration=5.0, noise=0.0)
    assert result["segments"] == []
    assert result["rest"]["start_s"] == 0.0


def test_onset_is_not_taken_from_the_previous_expression():
    # a broad smile, then soon after its end a small one: the big smile's tail lies within the
    # 0.5 s look-back of the second and exceeds half the second's peak
    ev = [Event("smile", 1.0, 0.3, 0.3, hold=1.0), Event("smile", 3.15, 0.06, 0.06, hold=1.0)]
    result, _ = run(ev, duration=6.0)
    assert len(result["segments"]) == 2
    second = result["segments"][1]["measures"]["commissure_excursion"]
    assert second["onset_s"]["left"] == pytest.approx(3.15 + 0.25, abs=0.07)


def test_measures_package_is_qt_free_and_loads_matplotlib_only_for_the_summary():
    import subprocess
    import sys

    code = ("import sys, app.measures, app.measures.command, app.measures.segments; "
            "print(sorted(m for m in ('PySide6', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_resting_asymmetry_is_reported():
    def droop(canon):          # the patient's right mouth corner and brow sit lower all the time
        canon[:, 76, 1] += 0.05
        canon[:, 33:42, 1] += 0.03
        return canon
    result, _ = run([Event("smile", 3.0, 0.06, 0.12)], duration=8.0, canon_fn=droop)
    rest = result["rest"]["values"]
    assert rest["commissure_height"]["difference"] == pytest.approx(-0.05, abs=0.005)
    assert rest["commissure_height"]["difference_mm"] == pytest.approx(-0.05 * 63, abs=0.35)
    assert rest["brow_height"]["difference"] == pytest.approx(-0.03, abs=0.005)
    assert rest["eye_area"]["difference"] == pytest.approx(0.0, abs=0.003)
