"""STAR detector geometry with a stand-in model whose landmarks are known crop coordinates."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine import runtime
from app.engine.landmarks import StarLandmarkDetector

onnx = pytest.importorskip("onnx")
from tests.onnx_stubs import constant_landmarks_model  # noqa: E402

RNG = np.random.default_rng(7)
# Known model outputs in STAR's [-1, 1] units (includes the extremes).
MODEL_POINTS = np.clip(RNG.uniform(-1.0, 1.0, size=(98, 2)), -1, 1)
MODEL_POINTS[0] = (-1.0, -1.0)
MODEL_POINTS[1] = (1.0, 1.0)
MODEL_POINTS[2] = (0.0, 0.0)


def expected_frame_points(box, p):
    """Written out from the model contract (docs/ARCHITECTURE.md) independently of the module under test."""
    x1, y1, x2, y2 = box
    scale = min(x2 - x1, y2 - y1) / 200 * 1.05
    zoom = 256 / (scale * 200)
    crop = ((p + 1) * 256 - 1) / 2          # [-1, 1] -> crop pixels
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    return centre + (crop - 255 / 2) / zoom  # inverse of: crop = zoom * (frame - centre) + 127.5


@pytest.fixture(scope="module")
def stub_detector(tmp_path_factory):
    path = tmp_path_factory.mktemp("stub") / "stub_star.onnx"
    constant_landmarks_model(path, MODEL_POINTS)
    return StarLandmarkDetector(path, threads=1)


@pytest.mark.parametrize("box", [
    (100, 80, 300, 330),       # tall box: min side is the width
    (10.5, 20.25, 70.5, 60.25),  # small, wide, fractional
    (-50, -40, 150, 160),      # partly outside the frame (top-left)
    (560, 300, 900, 700),      # partly outside (bottom-right)
    (0, 0, 640, 480),          # whole frame
])
def test_frame_coordinates_for_boxes(stub_detector, box):
    frame = np.full((480, 640, 3), 90, np.uint8)
    got = stub_detector.landmarks_for_box(frame, box)
    assert got.shape == (98, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected_frame_points(box, MODEL_POINTS), atol=1e-3)


def test_centre_maps_to_box_centre_and_extremes_span_crop(stub_detector):
    box = (100, 100, 300, 300)
    got = stub_detector.landmarks_for_box(np.zeros((400, 400, 3), np.uint8), box)
    # Model (0, 0) is crop pixel 127.5: the box centre.
    np.testing.assert_allclose(got[2], (200, 200), atol=1e-3)
    # Model -1 / +1 are crop pixels -0.5 / 255.5: the crop spans 1.05 x the box side.
    side = 200 * 1.05
    np.testing.assert_allclose(got[0], (200 - side / 2, 200 - side / 2), atol=1e-3)
    np.testing.assert_allclose(got[1], (200 + side / 2, 200 + side / 2), atol=1e-3)


def test_preprocessing_places_pixels_and_scales_bgr_to_unit_range(stub_detector):
    frame = np.zeros((400, 600, 3), np.uint8)
    frame[:, :] = (255, 0, 0)               # pure blue in BGR
    frame[150:160, 250:260] = (0, 0, 255)   # a red square centred at (255, 155)
    box = (180, 80, 330, 230)               # 150 x 150, centre (255, 155)
    stub_detector.preprocess(frame, box)
    tensor = stub_detector._input[0]
    assert tensor.shape == (3, 256, 256)
    # Far from the square: channel 0 (B) is +1, channel 2 (R) is -1: BGR order kept.
    assert tensor[0, 10, 10] == pytest.approx(1.0) and tensor[2, 10, 10] == pytest.approx(-1.0)
    # The red square sits at the crop centre (127.5), about 10 * zoom pixels wide.
    red = tensor[2] > 0.5
    ys, xs = np.nonzero(red)
    zoom = 256 / (150 * 1.05)
    assert xs.mean() == pytest.approx(127.5, abs=1.0) and ys.mean() == pytest.approx(127.5, abs=1.0)
    assert (xs.max() - xs.min() + 1) == pytest.approx(10 * zoom, abs=2)


def test_preprocessing_border_is_zero_pixels(stub_detector):
    frame = np.full((100, 100, 3), 200, np.uint8)
    stub_detector.preprocess(frame, (-100, -100, 50, 50))  # crop mostly outside the frame
    # Border value 0 -> -1 after normalisation.
    assert stub_detector._input[0, :, 0, 0] == pytest.approx([-1, -1, -1])


def test_earlier_converter_output_names_load(tmp_path):
    """The earlier Face Mirror export had outputs `output`, `heatmap`, `landmarks`."""

    path = tmp_path / "old.onnx"
    constant_landmarks_model(path, MODEL_POINTS, output_names=("landmarks",))
    det = StarLandmarkDetector(path, threads=1)
    got = det.landmarks_for_box(np.zeros((300, 300, 3), np.uint8), (50, 50, 250, 250))
    np.testing.assert_allclose(got, expected_frame_points((50, 50, 250, 250), MODEL_POINTS), atol=1e-3)


def test_model_without_landmarks_output_is_refused(tmp_path):
    path = tmp_path / "wrong.onnx"
    constant_landmarks_model(path, MODEL_POINTS, output_names=("points",))
    with pytest.raises(runtime.ModelFileError, match="landmarks"):
        StarLandmarkDetector(path)


def test_untrained_flag_from_metadata(tmp_path):
    path = tmp_path / "dev.onnx"
    constant_landmarks_model(path, MODEL_POINTS, untrained=True)
    assert StarLandmarkDetector(path).untrained


def test_missing_model_error_names_path_and_convert_command(tmp_path):
    with pytest.raises(runtime.ModelFileError) as exc:
        StarLandmarkDetector(tmp_path / "star_landmark_98.onnx")
    msg = str(exc.value)
    assert str(tmp_path / "star_landmark_98.onnx") in msg and "main.py convert star" in msg


def test_corrupt_model_error_names_path_and_convert_command(tmp_path):
    bad = tmp_path / "star_landmark_98.onnx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(runtime.ModelFileError) as exc:
        StarLandmarkDetector(bad)
    assert str(bad) in str(exc.value) and "main.py convert star" in str(exc.value)


def test_non_image_input_is_rejected(stub_detector):
    with pytest.raises(ValueError):
        stub_detector.landmarks_for_box(np.zeros((10, 10), np.uint8), (0, 0, 5, 5))
    with pytest.raises(ValueError, match="no area"):
        stub_detector.landmarks_for_box(np.zeros((10, 10, 3), np.uint8), (5, 5, 5, 9))
