"""Test videos made on the fly: known per-frame transforms of a real photograph, bad files."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    frames = list(frames)
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def affine(angle_deg: float, scale: float, tx: float, ty: float, centre) -> np.ndarray:
    """2x3 matrix: rotate by angle (counter-clockwise on screen for positive) and scale about
    `centre`, then translate."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale)
    m[0, 2] += tx
    m[1, 2] += ty
    return m


def portrait_base(image_path: Path, width: int = 360) -> np.ndarray:
    img = cv2.imread(str(image_path))
    h, w = img.shape[:2]
    height = int(round(h * width / w)) // 2 * 2
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def transform_sequence(n: int, max_angle: float = 15.0, max_shift: float = 20.0, scale_amp: float = 0.08):
    """Smooth head-like motion: rotation up to +/- max_angle, translation, scale changes."""
    out = []
    for k in range(n):
        t = k / max(1, n - 1)
        angle = max_angle * math.sin(2 * math.pi * t)
        tx = max_shift * math.sin(2 * math.pi * 0.5 * t + 0.7)
        ty = 0.5 * max_shift * math.cos(2 * math.pi * t)
        s = 1.0 + scale_amp * math.sin(2 * math.pi * t + 1.3)
        out.append((angle, s, tx, ty))
    return out


def transformed_frames(base: np.ndarray, params, centre, noise_sigma: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    h, w = base.shape[:2]
    mats, frames = [], []
    for angle, s, tx, ty in params:
        m = affine(angle, s, tx, ty, centre)
        f = cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if noise_sigma:
            f = np.clip(f + rng.normal(0, noise_sigma, f.shape), 0, 255).astype(np.uint8)
        mats.append(m)
        frames.append(f)
    return mats, frames


def set_rotation_tag(mp4: Path, degrees: int) -> None:
    """Write a display rotation into the first track header ('tkhd' matrix) of an MP4 file,
    as phones do for portrait recordings."""
    data = bytearray(mp4.read_bytes())
    i = data.find(b"tkhd")
    assert i > 0
    version = data[i + 4]
    # tkhd body: version/flags(4) + times/ids (v0: 20 bytes, v1: 32) + reserved(8) + layer,
    # group, volume, reserved (8) -> then the 3x3 matrix of 32-bit fixed-point values.
    off = i + 4 + 4 + (20 if version == 0 else 32) + 8 + 8
    one, zero, minus = 0x00010000, 0, 0xFFFF0000
    c = {0: (one, zero, zero, one), 90: (zero, one, minus, zero), 180: (minus, zero, zero, minus),
         270: (zero, minus, one, zero)}[degrees]
    matrix = [c[0], c[1], 0, c[2], c[3], 0, 0, 0, 0x40000000]
    for j, v in enumerate(matrix):
        data[off + 4 * j: off + 4 * j + 4] = int(v).to_bytes(4, "big")
    mp4.write_bytes(bytes(data))


def leave_and_return_frames(portrait: np.ndarray, size=(640, 360), face_h: int = 330, seed: int = 0):
    """The portrait walks out of the frame on the image left and comes back elsewhere (image
    right, far more than a face width away). Returns (frames, first_back, x_back): the index of
    the first frame on which it is fully back and its top-left x there.

    0-5 standing at x=60; 6-13 sliding out to the left; 14-19 empty room; 20-28 walking in from
    the image right (24 px a frame, a third of the face's width); 29-44 standing at x=400."""
    w, h = size
    ph, pw = portrait.shape[:2]
    person = cv2.resize(portrait, (int(round(pw * face_h / ph)), face_h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    room = np.full((h, w, 3), 90, np.uint8)
    room[:] = np.clip(room + rng.normal(0, 6, room.shape), 0, 255).astype(np.uint8)
    xs: list[int | None] = [60] * 6 + [60 - 45 * k for k in range(1, 9)] + [None] * 6
    xs += [640 - 24 * k for k in range(1, 10)]
    xs += [400] * 16
    frames = []
    y = (h - face_h) // 2
    for x in xs:
        f = room.copy()
        if x is not None:
            x0, x1 = max(x, 0), min(x + person.shape[1], w)
            if x1 > x0:
                f[y:y + face_h, x0:x1] = person[:, x0 - x:x1 - x]
        frames.append(f)
    return frames, 29, 400
