"""FaceDetector (RetinaFace on ONNX Runtime): priors, decoding, NMS, real photographs, errors."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from app.engine import runtime
from app.engine.faces import (CREATE_COMMAND, IMAGE_LEFT_EYE, IMAGE_LEFT_MOUTH, IMAGE_RIGHT_EYE,
                              IMAGE_RIGHT_MOUTH, NOSE_TIP, FaceDetector, decode_boxes, decode_points,
                              iou_one_to_many, nms, prior_boxes)


@pytest.fixture(scope="module")
def detector(retinaface_model):
    return FaceDetector(retinaface_model, threads=2)


def _image(media, name):
    img = cv2.imread(str(media(name)))
    assert img is not None, name
    return img


# -- priors, decoding, NMS (no model needed) -------------------------------------------------------

def test_priors_layout_and_count():
    p = prior_boxes(640, 640)
    assert p.shape == (2 * (80 * 80 + 40 * 40 + 20 * 20), 4) == (16800, 4)
    # level 1, first cell: centre (4, 4), anchors 16 and 32; then the next cell to the right
    np.testing.assert_array_equal(p[:3], [[4, 4, 16, 16], [4, 4, 32, 32], [12, 4, 16, 16]])
    # second row of level 1 starts after 80 cells x 2 anchors
    np.testing.assert_array_equal(p[160], [4, 12, 16, 16])
    # level 2 starts after 12800 priors: step 16, anchors 64 and 128
    np.testing.assert_array_equal(p[12800:12802], [[8, 8, 64, 64], [8, 8, 128, 128]])
    np.testing.assert_array_equal(p[-1], [624, 624, 512, 512])
    # non-square and non-multiple-of-32 sizes use ceil(size / step) cells per level
    assert len(prior_boxes(360, 640)) == 2 * (45 * 80 + 23 * 40 + 12 * 20)


def test_priors_are_cached_and_read_only():
    a = prior_boxes(640, 640)
    hits = prior_boxes.cache_info().hits
    b = prior_boxes(640, 640)
    assert a is b and prior_boxes.cache_info().hits == hits + 1
    assert not a.flags.writeable


def test_detector_computes_priors_once(detector):
    img = np.full((360, 640, 3), 100, np.uint8)
    detector.detect(img)
    misses = prior_boxes.cache_info().misses
    for _ in range(3):
        detector.detect(img)
    assert prior_boxes.cache_info().misses == misses


def test_decode_zero_regression_is_the_prior():
    priors = np.array([[100.0, 50.0, 32.0, 32.0]])
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4)), priors), [[84, 34, 116, 66]])
    np.testing.assert_allclose(decode_points(np.zeros((1, 10)), priors), [[[100, 50]] * 5])
    # dx = 1 moves the centre by variance 0.1 x prior size; dw = 1 scales by exp(0.2)
    b = decode_boxes(np.array([[1.0, 0.0, 1.0, 0.0]]), priors)[0]
    assert (b[0] + b[2]) / 2 == pytest.approx(103.2)
    assert b[2] - b[0] == pytest.approx(32 * np.exp(0.2))


def test_nms_on_synthetic_boxes():
    boxes = np.array([
        [0, 0, 100, 100],      # 0: best
        [10, 0, 110, 100],     # 1: IoU with 0 = 90/110 = 0.82 -> suppressed
        [0, 0, 100, 50],       # 2: IoU with 0 = 0.5 -> suppressed
        [200, 200, 300, 300],  # 3: separate -> kept
        [0, 0, 100, 35],       # 4: IoU with 0 = 0.35 (< 0.4) -> kept
    ], float)
    scores = np.array([0.9, 0.95, 0.8, 0.7, 0.6])
    # 1 has the highest score, so it suppresses 0 (IoU 0.82) and is kept first
    keep = nms(boxes, scores, 0.4)
    iou_1_2 = iou_one_to_many(boxes[1], boxes[2:3])[0]
    assert iou_1_2 == pytest.approx(4500 / 10500)  # 0.43 > 0.4 -> 2 suppressed by 1
    assert keep.tolist() == [1, 3, 4]
    # with 0 best, 1 and 2 go, 4 (IoU 0.35) stays
    scores2 = np.array([0.99, 0.95, 0.8, 0.7, 0.6])
    assert nms(boxes, scores2, 0.4).tolist() == [0, 3, 4]
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []
    assert nms(boxes[:1], scores[:1]).tolist() == [0]


def test_iou():
    assert iou_one_to_many(np.array([0, 0, 10, 10.]), np.array([[0, 0, 10, 10.]]))[0] == pytest.approx(1)
    assert iou_one_to_many(np.array([0, 0, 10, 10.]), np.array([[10, 10, 20, 20.]]))[0] == 0
    assert iou_one_to_many(np.array([0, 0, 10, 10.]), np.array([[5, 0, 15, 10.]]))[0] == pytest.approx(1 / 3)


# -- model file errors ---------------------------------------------------------------------------

def test_missing_model_names_path_and_command(tmp_path):
    path = tmp_path / "retinaface_mobilenet025.onnx"
    with pytest.raises(runtime.ModelFileError) as err:
        FaceDetector(path)
    assert str(path) in str(err.value) and CREATE_COMMAND in str(err.value)


def test_corrupt_model_names_path_and_command(tmp_path):
    path = tmp_path / "retinaface_mobilenet025.onnx"
    path.write_bytes(b"this is not an onnx file" * 10)
    with pytest.raises(runtime.ModelFileError) as err:
        FaceDetector(path)
    assert str(path) in str(err.value) and CREATE_COMMAND in str(err.value)


def test_wrong_model_is_refused(tmp_path):
    pytest.importorskip("onnx")
    from tests.onnx_stubs import constant_landmarks_model

    path = tmp_path / "star_like.onnx"
    constant_landmarks_model(path, np.zeros((98, 2)))
    with pytest.raises(runtime.ModelFileError, match="not a FaceMirror RetinaFace model"):
        FaceDetector(path)


def test_detect_size_must_match_a_static_model(retinaface_model):
    with pytest.raises(ValueError, match="fixed 640x640"):
        FaceDetector(retinaface_model, detect_size=320)
    assert FaceDetector(retinaface_model, detect_size=640).detect_size == 640


# -- real photographs ---------------------------------------------------------------------------

def test_backend_is_exposed(detector):
    assert detector.backend.provider == runtime.CPU  # Linux wheels have the CPU provider only
    assert detector.backend.model_name == "retinaface-mnet025"
    assert not detector.untrained


def test_frontal_portrait_one_face_with_correct_points(detector, media):
    img = _image(media, "portrait_frontal.jpg")
    h, w = img.shape[:2]
    faces = detector.detect(img)
    assert len(faces) == 1
    f = faces[0]
    x1, y1, x2, y2 = f.box
    assert f.score > 0.9
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert 0.15 * w < f.width < 0.6 * w and 0.6 < f.width / f.height < 1.0
    p = f.points
    mid_y = (y1 + y2) / 2
    assert p[IMAGE_LEFT_EYE, 1] < mid_y and p[IMAGE_RIGHT_EYE, 1] < mid_y          # eyes: upper half
    assert p[IMAGE_LEFT_MOUTH, 1] > mid_y and p[IMAGE_RIGHT_MOUTH, 1] > mid_y      # mouth: lower half
    assert p[IMAGE_LEFT_EYE, 0] < p[IMAGE_RIGHT_EYE, 0]                             # image order
    assert p[IMAGE_LEFT_MOUTH, 0] < p[IMAGE_RIGHT_MOUTH, 0]
    assert p[IMAGE_LEFT_EYE, 0] < p[NOSE_TIP, 0] < p[IMAGE_RIGHT_EYE, 0]
    assert p[IMAGE_LEFT_EYE, 1] < p[NOSE_TIP, 1] < p[IMAGE_LEFT_MOUTH, 1]
    assert np.all((p[:, 0] > x1) & (p[:, 0] < x2) & (p[:, 1] > y1) & (p[:, 1] < y2))


def test_mirrored_portrait_swaps_nothing_in_image_terms(detector, media):
    """Point 0 is always the eye on the image left, whatever the face: flip the photo and the
    model still reports the eye with the smaller x first."""
    img = cv2.flip(_image(media, "portrait_frontal.jpg"), 1)
    (f,) = detector.detect(img)
    assert f.points[IMAGE_LEFT_EYE, 0] < f.points[IMAGE_RIGHT_EYE, 0]
    assert f.points[IMAGE_LEFT_MOUTH, 0] < f.points[IMAGE_RIGHT_MOUTH, 0]


def test_two_faces(detector, media):
    faces = detector.detect(_image(media, "two_faces.jpg"))
    assert len(faces) == 2
    assert all(f.score > 0.9 for f in faces)
    assert faces[0].score >= faces[1].score
    # side by side: the boxes do not overlap
    assert iou_one_to_many(faces[0].box, faces[1].box[None])[0] == 0


def test_face_cut_by_the_border_is_found(detector, media):
    img = _image(media, "portrait_partial_face.jpg")
    faces = detector.detect(img)
    assert len(faces) == 1 and faces[0].score > 0.9
    assert faces[0].box[0] < 10  # the box reaches the left border that cuts the face


def test_small_face_in_tall_image_is_found(detector, media):
    img = _image(media, "portrait_frontal_2.jpg")
    h, w = img.shape[:2]
    assert h > 2 * w
    faces = detector.detect(img)
    assert len(faces) == 1 and faces[0].score > 0.9
    f = faces[0]
    assert f.box[1] < h / 3  # the head of a standing person
    scale = detector.detect_size / max(h, w)
    print(f"\nportrait_frontal_2: face {f.width:.0f}x{f.height:.0f} px, "
          f"{f.size * scale:.0f} px at the detector's {detector.detect_size} input")


def test_small_face_in_a_large_frame_maps_back(detector, media):
    """A 1920x1080 frame with a face of about 90 px (30 px at the network input): found, and the
    box maps back to frame pixels where the face was pasted."""
    img = _image(media, "portrait_frontal.jpg")
    (ref,) = detector.detect(img)
    s = 90.0 / ref.size
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    oy, ox = 300, 800
    frame[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    faces = detector.detect(frame)
    assert len(faces) == 1
    expected = ref.box * s + [ox, oy, ox, oy]
    np.testing.assert_allclose(faces[0].box, expected, atol=0.15 * 90)


def test_upscaled_frame_gives_scaled_boxes(detector, media):
    img = _image(media, "two_faces.jpg")
    a = detector.detect(img)
    b = detector.detect(cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR))
    assert len(a) == len(b) == 2
    for fa, fb in zip(sorted(a, key=lambda f: f.box[0]), sorted(b, key=lambda f: f.box[0])):
        np.testing.assert_allclose(fb.box, fa.box * 2, atol=3)


def test_bad_input_is_refused(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10), np.uint8))


def test_latency_at_detection_size(detector, media):
    """Median detection latency at the chosen size (printed for the report; loose bound)."""
    img = _image(media, "portrait_frontal.jpg")
    frame = cv2.resize(img, (1280, 720))
    for _ in range(3):
        detector.detect(frame)
    times = []
    for _ in range(15):
        t = time.perf_counter()
        detector.detect(frame)
        times.append(time.perf_counter() - t)
    med = 1000 * float(np.median(times))
    print(f"\nRetinaFace {detector.detect_size}x{detector.detect_size}, {detector.backend.describe()}: "
          f"median {med:.1f} ms, min {1000 * min(times):.1f} ms per frame (1280x720 input)")
    assert med < 1000


class _FakeArg:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class _FakeSession:
    """A RetinaFace-shaped session with dynamic height/width whose only confident prior is
    `hot` (zero regressions), so the decoded face is exactly that prior."""

    def __init__(self, hot):
        self.hot = hot
        self.seen_shapes = []

    def get_inputs(self):
        return [_FakeArg("input_image", [1, 3, "height", "width"])]

    def get_outputs(self):
        return [_FakeArg(n, None) for n in ("boxes", "scores", "landmarks")]

    def get_providers(self):
        return [runtime.CPU]

    def get_modelmeta(self):
        raise RuntimeError("no metadata")

    def run(self, names, feeds):
        x = feeds["input_image"]
        self.seen_shapes.append(x.shape)
        p = len(prior_boxes(*x.shape[2:]))
        scores = np.zeros((1, p), np.float32)
        scores[0, self.hot] = 0.97
        return [np.zeros((1, p, 4), np.float32), scores, np.zeros((1, p, 10), np.float32)]


def test_dynamic_size_model_path(tmp_path):
    model = tmp_path / "dynamic.onnx"
    model.write_bytes(b"stand-in")
    hot = 2 * (80 * 3 + 5)  # level 1, row 3, column 5, first anchor (16 px): centre (44, 28)
    fake = _FakeSession(hot)
    det = FaceDetector(model, detect_size=640, session_factory=lambda path, providers, threads: fake,
                       available_providers=[runtime.CPU])
    assert det.static_size is None and det.detect_size == 640
    frame = np.zeros((720, 1280, 3), np.uint8)       # scale 0.5 -> content 360x640 -> input 384x640
    (f,) = det.detect(frame)
    assert fake.seen_shapes == [(1, 3, 384, 640)]
    np.testing.assert_allclose(f.box, np.array([44 - 8, 28 - 8, 44 + 8, 28 + 8]) * 2)
    np.testing.assert_allclose(f.points, [[88, 56]] * 5)
    assert f.score == pytest.approx(0.97)
