"""Camera frames (QVideoFrame) as BGR arrays, on the CPU for the common camera formats (the
camera sources of app/gui/camera_source.py use it for every frame)."""
from __future__ import annotations

import sys

import cv2
import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat

_BGRX_FORMATS = (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32)   # what toImage() gives most often

PF = QVideoFrameFormat.PixelFormat
# 4-byte pixels (colour bytes first, then the unused or alpha byte) read from the mapped frame;
# cvtColor drops the 4th byte several times faster than a strided numpy copy
_PACKED_32 = {PF.Format_BGRX8888: cv2.COLOR_BGRA2BGR, PF.Format_BGRA8888: cv2.COLOR_BGRA2BGR,
              PF.Format_BGRA8888_Premultiplied: cv2.COLOR_BGRA2BGR,
              PF.Format_RGBX8888: cv2.COLOR_RGBA2BGR, PF.Format_RGBA8888: cv2.COLOR_RGBA2BGR}
# camera YUV layouts OpenCV converts (BT.601, video range: what cameras send at these sizes)
_YUV = {PF.Format_NV12: cv2.COLOR_YUV2BGR_NV12, PF.Format_NV21: cv2.COLOR_YUV2BGR_NV21,
        PF.Format_YUV420P: cv2.COLOR_YUV2BGR_I420, PF.Format_YV12: cv2.COLOR_YUV2BGR_YV12,
        PF.Format_YUYV: cv2.COLOR_YUV2BGR_YUYV, PF.Format_UYVY: cv2.COLOR_YUV2BGR_UYVY}


def _plane(frame: QVideoFrame, i: int, rows: int, row_bytes: int) -> np.ndarray:
    stride = frame.bytesPerLine(i)
    data = np.frombuffer(frame.bits(i), np.uint8, count=frame.mappedBytes(i))
    return data[:rows * stride].reshape(rows, stride)[:, :row_bytes]


def _cpu_convertible(frame: QVideoFrame) -> bool:
    """One of the common camera formats, in BT.601 video range (YUV at even sizes)."""
    fmt = frame.pixelFormat()
    if fmt in _PACKED_32:
        return True
    if fmt not in _YUV:
        return False
    ffmt = frame.surfaceFormat()
    return ffmt.colorSpace() in (QVideoFrameFormat.ColorSpace.ColorSpace_BT601,
                                 QVideoFrameFormat.ColorSpace.ColorSpace_Undefined) and \
        ffmt.colorRange() != QVideoFrameFormat.ColorRange.ColorRange_Full and not (frame.width() % 2 or frame.height() % 2)


def mapped_to_bgr(frame: QVideoFrame) -> np.ndarray | None:
    """The frame's pixels converted on the CPU from its mapped memory, or None when its format is
    not one of the common camera ones (or its colours need more than BT.601 video range)."""
    if not _cpu_convertible(frame):
        return None
    fmt = frame.pixelFormat()
    w, h = frame.width(), frame.height()
    if not frame.map(QVideoFrame.MapMode.ReadOnly):
        return None
    try:
        if fmt in _PACKED_32:
            return cv2.cvtColor(_plane(frame, 0, h, w * 4).reshape(h, w, 4), _PACKED_32[fmt])
        if fmt in (PF.Format_YUYV, PF.Format_UYVY):
            return cv2.cvtColor(_plane(frame, 0, h, w * 2).reshape(h, w, 2), _YUV[fmt])
        if fmt in (PF.Format_NV12, PF.Format_NV21):
            planes = [_plane(frame, 0, h, w), _plane(frame, 1, h // 2, w)]
        else:      # three planes: Y, then U and V (V and U for YV12) at half size
            planes = [_plane(frame, 0, h, w)] + [_plane(frame, i, h // 2, w // 2).reshape(h // 4, w)
                                                   for i in (1, 2)]
        return cv2.cvtColor(np.vstack(planes), _YUV[fmt])
    finally:
        frame.unmap()


def frame_to_bgr(frame: QVideoFrame) -> np.ndarray | None:
    """A QVideoFrame as an HxWx3 BGR uint8 array owning its pixels (None for an empty frame).

    The common camera formats are converted here on the CPU from the mapped frame: QVideoFrame.toImage()
    converts through the GPU (Qt's RHI), which without a GPU is a software renderer: 12-14 ms for a
    640x360 frame under Xvfb on a loaded 2-core machine (0.2 ms on the CPU path here), more than a
    camera's frame interval at 720p, so frames were lost. Other formats still go through toImage()."""
    if not frame.isValid():
        return None
    mapped = mapped_to_bgr(frame)
    if mapped is not None:
        return mapped
    image = frame.toImage()
    if image.isNull():
        return None
    w, h = image.width(), image.height()
    if image.format() in _BGRX_FORMATS and sys.byteorder == "little":
        # 0xAARRGGBB words are B, G, R, A bytes: BGR is the first three, no conversion pass
        stride = image.bytesPerLine()
        rows = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
        # (cvtColor: a strided numpy copy of the same is several times slower); a new array, as the
        # QImage goes away with this call
        return cv2.cvtColor(rows[:, :w * 4].reshape(h, w, 4), cv2.COLOR_BGRA2BGR)
    image = image.convertToFormat(QImage.Format.Format_BGR888)
    stride = image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return rows[:, :w * 3].reshape(h, w, 3).copy()
