"""STAR 98-point landmark detector on ONNX Runtime.

Preprocessing matches STAR's training (ZhenglinZhou/STAR demo; docs/ARCHITECTURE.md, "Model contracts"):
  centre = box centre, scale = min(w, h) / 200 * 1.05,
  crop matrix: zoom 256 / (scale * 200), maps the centre to (255/2, 255/2), no rotation;
  bilinear warp to 256x256 with border 0; pixels stay BGR and go to [-1, 1] by x / 255 * 2 - 1.
Output landmarks in [-1, 1] map to crop pixels by ((p + 1) * 256 - 1) / 2 and to frame pixels by
the inverse crop matrix.

The crop matrix has no rotation or perspective part, so cv2.warpAffine with its top two rows is
the same warp as STAR's cv2.warpPerspective and lets us write straight into a reused buffer.
"""
from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from app.base import model_files
from app.engine import runtime

INPUT_SIZE = 256
NUM_POINTS = 98
FACE_SCALE_FACTOR = 1.05  # STAR's margin around the detector box
CREATE_COMMAND = model_files.STAR_CREATE_COMMAND

# Output names: ours, then the earlier Face Mirror converter's (outputs `output`, `heatmap`,
# `landmarks`); both models carry `landmarks`, so reading by name covers both.
LANDMARKS_OUTPUT = "landmarks"


def crop_matrix(box: Sequence[float] | np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """3x3 matrix from frame pixels to STAR crop pixels for a face box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    if not (w > 0 and h > 0):
        raise ValueError(f"face box has no area: {tuple(box[:4])}")
    scale = min(w, h) / 200.0 * FACE_SCALE_FACTOR
    zoom = size / (scale * 200.0)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    to = (size - 1) / 2.0  # align-corners convention: centre of a 256 crop is 127.5
    return np.array([[zoom, 0.0, to - zoom * cx],
                     [0.0, zoom, to - zoom * cy],
                     [0.0, 0.0, 1.0]], dtype=np.float64)


def model_to_crop(points: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """STAR's [-1, 1] outputs to crop pixels (STAR's denorm_points, align_corners=False)."""
    return ((points + 1.0) * size - 1.0) / 2.0


def crop_to_frame(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(matrix)
    return points @ inv[:2, :2].T + inv[:2, 2]


class StarLandmarkDetector:
    """ONNX STAR detector: `landmarks_for_box(image_bgr, box)` gives the (98, 2) frame-pixel
    landmarks of one face box; the pipeline calls `preprocess`, `infer` and `to_frame` separately
    to time them."""

    def __init__(self, model_path: str | os.PathLike, *, threads: int | None = None, **session_kwargs):
        self.model_path = str(model_path)
        session_kwargs.setdefault("create_command", CREATE_COMMAND)
        self.session, self.backend = runtime.create_session(model_path, threads=threads, **session_kwargs)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise runtime.ModelFileError(f"{model_path}: expected one input, found {len(inputs)}. "
                                         f"Recreate it with: {session_kwargs['create_command']}")
        self.input_name = inputs[0].name
        shape = inputs[0].shape
        if list(shape[1:]) != [3, INPUT_SIZE, INPUT_SIZE]:
            raise runtime.ModelFileError(f"{model_path}: input shape {shape} is not [1, 3, 256, 256]; "
                                         "is this a STAR model?")
        outputs = [o.name for o in self.session.get_outputs()]
        if LANDMARKS_OUTPUT not in outputs:
            raise runtime.ModelFileError(f"{model_path}: no '{LANDMARKS_OUTPUT}' output (has {outputs}); "
                                         "is this a STAR model?")
        self._outputs = [LANDMARKS_OUTPUT]
        # Reused buffers: the uint8 crop and the float input tensor. One detector serves one
        # thread (the pipeline's inference thread), so reuse is safe.
        self._crop = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        self._input = np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), np.float32)

    @property
    def untrained(self) -> bool:
        return self.backend.untrained

    def preprocess(self, image_bgr: np.ndarray, box: Sequence[float]) -> np.ndarray:
        """Fill the input tensor for a face box; returns the crop matrix."""
        matrix = crop_matrix(box)
        cv2.warpAffine(image_bgr, matrix[:2], (INPUT_SIZE, INPUT_SIZE), dst=self._crop,
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # HWC uint8 -> CHW float in [-1, 1], written in place: x / 127.5 - 1 == x / 255 * 2 - 1.
        np.multiply(self._crop.transpose(2, 0, 1), 1.0 / 127.5, out=self._input[0], casting="unsafe")
        self._input -= 1.0
        return matrix

    def infer(self) -> np.ndarray:
        """Run STAR on the current input tensor; landmarks in [-1, 1], shape (98, 2)."""
        (landmarks,) = self.session.run(self._outputs, {self.input_name: self._input})
        return landmarks.reshape(-1, 2)[:NUM_POINTS]

    @staticmethod
    def to_frame(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """infer()'s [-1, 1] landmarks to frame pixels for the crop matrix preprocess() returned."""
        return crop_to_frame(model_to_crop(landmarks.astype(np.float64)), matrix).astype(np.float32)

    def landmarks_for_box(self, image_bgr: np.ndarray, box: Sequence[float]) -> np.ndarray:
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("expected a BGR image of shape (H, W, 3)")
        matrix = self.preprocess(image_bgr, box)
        return self.to_frame(self.infer(), matrix)
