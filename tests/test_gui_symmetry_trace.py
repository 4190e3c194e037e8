"""The live right-vs-left trace widget, fed with synthetic landmark frames."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from app.gui.symmetry_trace import SymmetryTrace  # noqa: E402
from tests.synthetic_face import Event, Pose, canonical_track, neutral_face, place, smile, times  # noqa: E402


def feed(widget: SymmetryTrace, events, duration=6.0, pose=Pose(roll_deg=-9.0)):
    t = times(duration)
    px, _, _ = place(canonical_track(t, events, noise=0.002), pose)
    for ti, pts in zip(t, px):
        widget.add_frame(float(ti), pts)
    return t


def test_auto_region_follows_the_smile_and_shows_the_weaker_side(qtbot):
    w = SymmetryTrace()
    qtbot.addWidget(w)
    feed(w, [Event("smile", 2.0, 0.075, 0.15, hold=3.0)], duration=5.5)
    assert w.shown_region == "mouth"
    _, right, left = w.series()
    # change from the baseline (first second) during the hold, in mm (IPD 63 mm): the live mouth
    # measure is the corner's distance from the midline, so the truth is how far smile() moved it
    # sideways
    def sideways(side, amount):
        face = neutral_face()
        corner = 76 if side == "right" else 82
        before = abs(face[corner, 0])
        smile(face, side, amount)
        return (abs(face[corner, 0]) - before) * 63
    assert left[-10:].mean() == pytest.approx(sideways("left", 0.15), abs=0.6)
    assert right[-10:].mean() == pytest.approx(sideways("right", 0.075), abs=0.6)
    img = w.grab()
    assert not img.isNull() and img.width() > 0


def test_explicit_region_and_bad_region(qtbot):
    w = SymmetryTrace(region="brow")
    qtbot.addWidget(w)
    feed(w, [Event("smile", 1.0, 0.1, 0.1)], duration=3.0)
    assert w.shown_region == "brow"          # fixed, even though the mouth moves
    with pytest.raises(ValueError):
        w.set_region("ears")


def test_missing_faces_and_a_new_video_reset(qtbot):
    w = SymmetryTrace()
    qtbot.addWidget(w)
    w.add_frame(0.0, None)
    assert len(w.series()[0]) == 0
    feed(w, [], duration=2.0)
    assert len(w.series()[0]) == len(times(2.0))
    w.add_frame(0.0, np.full((98, 2), np.nan))    # time went back: a new video
    t, r, _ = w.series()
    assert len(t) == 1 and np.isnan(r[0])
    w.grab()


@pytest.mark.parametrize("kind,amp,region", [("brow", 0.1, "brow"), ("eye", 0.8, "eyes"), ("snarl", 0.08, "nose")])
def test_auto_region_switches_to_the_moving_region(qtbot, kind, amp, region):
    w = SymmetryTrace()
    qtbot.addWidget(w)
    assert w.shown_region == "mouth"         # the default before anything moved
    feed(w, [Event(kind, 2.0, amp, amp)], duration=4.0)
    assert w.shown_region == region


def test_samples_from_5_points_are_labelled_with_the_5_point_measure(qtbot):
    """The window feeds ready-made values (from the pipeline's previews): the trace must still name
    the measure those values are (5 points: the commissure's distance from the midline)."""
    from app.measures.definitions import live_measure
    from app.measures.definitions import MEASURE_BY_NAME

    w = SymmetryTrace()
    qtbot.addWidget(w)
    w.resize(600, 90)
    for k in range(10):
        w.add_sample(k / 10, {"mouth": (0.1 * k, 0.05 * k)})
    assert w._n_points == 5
    assert MEASURE_BY_NAME[live_measure("mouth", 5)].label.startswith("commissure distance")
