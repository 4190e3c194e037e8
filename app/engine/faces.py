"""RetinaFace (MobileNet-0.25) face detector on ONNX Runtime.

Qt-free and torch-free: numpy, OpenCV and ONNX Runtime (through app.engine.runtime).

The model (app/convert/retinaface.py) takes a fixed square input, 640 x 640 by default:
input `input_image` [1, 3, S, S] = BGR pixels minus (104, 117, 123); outputs `boxes` (raw box
regressions), `scores` (face probability) and `landmarks` (raw 5-point regressions), one row per
prior. Each frame is letterboxed: scaled so that its longest side is S, placed at the top-left of
an S x S canvas filled with the mean colour (zero after mean subtraction). Detections are decoded
with the priors, filtered by score, reduced by NMS (IoU 0.4) and mapped back to frame pixels.

Detection size. S = 640 (the longest side of the frame goes to 640 pixels):
  * smallest face: RetinaFace finds faces from about 25 px at the network input with high
    scores (score ~0.99; 17-20 px with ~0.6, nothing below 16 px, the smallest prior). At 640
    that is a face of 4 % of the frame's longest side: about 75 px in a 1920 x 1080 frame. A
    clinical recording shows one face filling a large part of the frame, and the press-room
    clip's small far-away speaker (45 px in a 640 x 360 frame) is found. The full-body
    photograph portrait_frontal_2.jpg (970 x 2204) has a 280 x 377 px face, 94 px at 640;
  * latency: about 16 ms per frame on two CPU cores (ONNX Runtime, median; measured by
    tests/test_faces.py::test_latency_at_detection_size), and the tracker runs the detector only
    every N frames while STAR landmarks carry the box;
  * 640 is the scale the network was trained at (WIDER FACE crops resized to 640).
  Halving S would double the smallest face size found (150 px in a 1080p frame) for a speed-up
  the tracker does not need.
A model with dynamic height and width also works: then the frame is scaled to `detect_size`
(default 640) on its longest side and padded to a multiple of 32.

5 points, in the order the model outputs them, in image terms (as seen on screen):
  0 eye on the image left (the patient's right eye in an unmirrored recording),
  1 eye on the image right (the patient's left eye), 2 nose tip,
  3 mouth corner on the image left, 4 mouth corner on the image right.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np

from app.base import model_files
from app.engine import runtime

CREATE_COMMAND = model_files.RETINAFACE_CREATE_COMMAND

MEAN_BGR = (104.0, 117.0, 123.0)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
VARIANCES = (0.1, 0.2)
DEFAULT_DETECT_SIZE = 640
DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_NMS_IOU = 0.4

INPUT_NAME = "input_image"
OUTPUT_NAMES = ("boxes", "scores", "landmarks")

# Indices into Face.points, in image terms (see the module docstring).
IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE, NOSE_TIP, IMAGE_LEFT_MOUTH, IMAGE_RIGHT_MOUTH = range(5)
POINT_NAMES = ("eye_image_left", "eye_image_right", "nose_tip", "mouth_image_left", "mouth_image_right")


@dataclass(eq=False)
class Face:
    """One detected face, in frame pixels.

    box: (x1, y1, x2, y2) float64; may extend past the frame border for a face cut by it.
    score: face probability in [0, 1].
    points: (5, 2) float64 - image-left eye, image-right eye, nose tip, image-left mouth corner,
    image-right mouth corner (see POINT_NAMES).
    """
    box: np.ndarray
    score: float
    points: np.ndarray

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0])

    @property
    def size(self) -> float:
        """Geometric mean of width and height (the face's linear size in pixels)."""
        return math.sqrt(max(self.width, 0.0) * max(self.height, 0.0))


@lru_cache(maxsize=8)
def prior_boxes(height: int, width: int) -> np.ndarray:
    """Priors for a network input of height x width: (P, 4) float32 rows (cx, cy, w, h) in input
    pixels, ordered level by level, then row, column, anchor - the order of the model's outputs.

    Computed once per input size (cached); the returned array is read-only.
    """
    rows = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.meshgrid((np.arange(fh) + 0.5) * step, (np.arange(fw) + 0.5) * step, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)              # (fh*fw, 2)
        per_anchor = [np.concatenate([centres, np.full((len(centres), 2), s, np.float64)], axis=1)
                      for s in sizes]
        rows.append(np.stack(per_anchor, axis=1).reshape(-1, 4))          # cell-major, anchor-minor
    priors = np.concatenate(rows).astype(np.float32)
    priors.setflags(write=False)
    return priors


def decode_boxes(loc: np.ndarray, priors: np.ndarray, variances: Sequence[float] = VARIANCES) -> np.ndarray:
    """Raw regressions (N, 4) + priors (N, 4: cx, cy, w, h) -> boxes (N, 4: x1, y1, x2, y2)."""
    centre = priors[:, :2] + loc[:, :2] * variances[0] * priors[:, 2:]
    size = priors[:, 2:] * np.exp(loc[:, 2:] * variances[1])
    return np.concatenate([centre - size / 2.0, centre + size / 2.0], axis=1)


def decode_points(pre: np.ndarray, priors: np.ndarray, variances: Sequence[float] = VARIANCES) -> np.ndarray:
    """Raw point regressions (N, 10) -> points (N, 5, 2)."""
    pts = pre.reshape(-1, 5, 2)
    return priors[:, None, :2] + pts * variances[0] * priors[:, None, 2:]


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes (N, 4), all as x1, y1, x2, y2."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = DEFAULT_NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression. Returns indices of the kept boxes, best score first.

    A box is dropped when its IoU with an already kept, higher-scoring box exceeds the threshold.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _check_model_io(model_path: str | os.PathLike, inputs: list, outputs: list[str], hint: str) -> None:
    """One input and the named RetinaFace outputs, or the model is not ours."""
    if len(inputs) != 1 or any(name not in outputs for name in OUTPUT_NAMES):
        raise runtime.ModelFileError(
            f"{model_path}: not a FaceMirror RetinaFace model (inputs {[i.name for i in inputs]}, "
            f"outputs {outputs}; expected outputs {list(OUTPUT_NAMES)}).{hint}")


def _static_size(model_path: str | os.PathLike, shape: list, hint: str) -> tuple[int, int] | None:
    """(height, width) of a model converted at a fixed input size; None for a dynamic one."""
    if len(shape) != 4 or shape[1] != 3:
        raise runtime.ModelFileError(f"{model_path}: input shape {shape} is not [1, 3, H, W].{hint}")
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return (h, w)
    return None


class FaceDetector:
    """RetinaFace on ONNX Runtime: `detect(image_bgr)` -> faces sorted by score (best first).

    model_path: the ONNX file written by `python main.py convert retinaface ...`.
    threads: ONNX Runtime intra-op threads (default: runtime.default_threads()).
    score_threshold: minimum face probability of a reported face (0.5).
    nms_iou: IoU above which the lower-scoring of two boxes is suppressed (0.4).
    detect_size: longest side of the frame at the network input. Fixed by a static model (its
        input size; passing another value is an error); for a dynamic model, default 640.
    top_k: at most this many candidates enter NMS (the highest scoring).
    Other keyword arguments go to runtime.create_session (prefer, available_providers, ...).

    Not thread-safe: one detector per thread (it reuses its input buffers).
    """

    def __init__(self, model_path: str | os.PathLike, threads: int | None = None, *,
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD, nms_iou: float = DEFAULT_NMS_IOU,
                 detect_size: int | None = None, top_k: int = 750, **session_kwargs):
        self.model_path = str(model_path)
        session_kwargs.setdefault("create_command", CREATE_COMMAND)
        create_command = session_kwargs["create_command"]
        self.session, self.backend = runtime.create_session(model_path, threads=threads, **session_kwargs)
        inputs = self.session.get_inputs()
        hint = f" Recreate it with: {create_command}"
        _check_model_io(model_path, inputs, [o.name for o in self.session.get_outputs()], hint)
        self.input_name = inputs[0].name
        self.static_size: tuple[int, int] | None = _static_size(model_path, list(inputs[0].shape), hint)
        if self.static_size is not None:
            h, w = self.static_size
            if detect_size is not None and detect_size != max(h, w):
                raise ValueError(f"this RetinaFace model has a fixed {w}x{h} input; detect_size={detect_size} "
                                 f"needs a model converted at that size")
            self.detect_size = max(h, w)
        else:
            self.detect_size = int(detect_size or DEFAULT_DETECT_SIZE)
        if self.detect_size < 32:
            raise ValueError(f"detect_size must be at least 32, got {self.detect_size}")
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.top_k = int(top_k)
        self._mean = np.asarray(MEAN_BGR, np.float32).reshape(3, 1, 1)
        self._canvas: np.ndarray | None = None
        self._content: tuple[int, int] | None = None
        self._input: np.ndarray | None = None

    @property
    def untrained(self) -> bool:
        return self.backend.untrained

    # -- preprocessing -------------------------------------------------------------------------
    def input_geometry(self, height: int, width: int) -> tuple[float, tuple[int, int], tuple[int, int]]:
        """For a frame of height x width: (scale, (content_h, content_w), (input_h, input_w))."""
        if self.static_size is not None:
            in_h, in_w = self.static_size
            scale = min(in_w / width, in_h / height)
        else:
            scale = self.detect_size / max(height, width)
        ch = max(1, int(round(height * scale)))
        cw = max(1, int(round(width * scale)))
        if self.static_size is None:
            in_h, in_w = int(math.ceil(ch / 32) * 32), int(math.ceil(cw / 32) * 32)
        ch, cw = min(ch, in_h), min(cw, in_w)
        return scale, (ch, cw), (in_h, in_w)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterbox the frame into the network input; returns (input tensor, scale)."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("expected a BGR image of shape (H, W, 3)")
        if image_bgr.dtype != np.uint8:
            image_bgr = np.clip(image_bgr, 0, 255).astype(np.uint8)
        h, w = image_bgr.shape[:2]
        scale, (ch, cw), (in_h, in_w) = self.input_geometry(h, w)
        if self._canvas is None or self._canvas.shape[:2] != (in_h, in_w):
            self._canvas = np.empty((in_h, in_w, 3), np.uint8)
            self._input = np.empty((1, 3, in_h, in_w), np.float32)
            self._content = None
        if self._content != (ch, cw):  # new frame size: clear the padding to the mean colour
            self._canvas[:] = np.asarray(MEAN_BGR, np.uint8)
            self._content = (ch, cw)
        if (ch, cw) == (h, w):
            self._canvas[:ch, :cw] = image_bgr
        else:
            interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            self._canvas[:ch, :cw] = cv2.resize(image_bgr, (cw, ch), interpolation=interp)
        assert self._input is not None      # allocated with the canvas above
        np.subtract(self._canvas.transpose(2, 0, 1), self._mean, out=self._input[0], casting="unsafe")
        return self._input, scale

    # -- inference -------------------------------------------------------------------------------
    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Faces in a BGR frame, best score first, in frame pixels."""
        x, scale = self.preprocess(image_bgr)
        loc, conf, pre = self.session.run(list(OUTPUT_NAMES), {self.input_name: x})
        return self.postprocess(loc[0], conf[0], pre[0], x.shape[2:], scale)

    def postprocess(self, loc: np.ndarray, conf: np.ndarray, pre: np.ndarray,
                    input_hw: Sequence[int], scale: float) -> list[Face]:
        priors = prior_boxes(int(input_hw[0]), int(input_hw[1]))
        if len(priors) != len(conf):
            raise runtime.ModelFileError(f"{self.model_path}: model gave {len(conf)} priors, expected "
                                         f"{len(priors)} for a {input_hw[1]}x{input_hw[0]} input")
        idx = np.flatnonzero(conf > self.score_threshold)
        if idx.size == 0:
            return []
        idx = idx[np.argsort(-conf[idx], kind="stable")[: self.top_k]]
        boxes = decode_boxes(loc[idx].astype(np.float64), priors[idx].astype(np.float64))
        points = decode_points(pre[idx].astype(np.float64), priors[idx].astype(np.float64))
        keep = nms(boxes, conf[idx], self.nms_iou)
        inv = 1.0 / scale
        return [Face(box=boxes[k] * inv, score=float(conf[idx][k]), points=points[k] * inv) for k in keep]
