"""The three live previews: annotated source, patient's left mirrored, patient's right mirrored.

`bgr_to_qimage` runs in the worker (the pipeline's post thread): it wraps the BGR array without
converting colours and copies it once into a QImage that owns its pixels. The views only scale
and paint; they keep the aspect ratio and repaint at most as often as Qt coalesces update().
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

PANES = (
    ("annotated", "Annotated source",
     "The recording with landmarks, the midline and L/R labels (image left is the patient's right)."),
    ("left", "Patient's left, mirrored",
     "The patient's anatomical left half joined to its own reflection across the midline."),
    ("right", "Patient's right, mirrored",
     "The patient's anatomical right half joined to its own reflection across the midline."),
)


def bgr_to_qimage(arr: np.ndarray) -> QImage:
    """A QImage owning a copy of a BGR uint8 array (one copy, no colour conversion)."""
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2:
        h, w = arr.shape
        img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Grayscale8)
    else:
        h, w = arr.shape[:2]
        img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_BGR888)
    return img.copy()  # the copy owns its pixels; `arr` may go away


class ImageView(QWidget):
    """Paints one image scaled to fit, aspect ratio kept, centred; a hint while empty."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._image = QImage()
        self._placeholder = placeholder
        self.updates = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def image(self) -> QImage:
        return self._image

    def set_placeholder(self, text: str) -> None:
        """What an empty view says (e.g. waiting for the camera, or why there is no picture)."""
        self._placeholder = text
        self.update()

    def set_image(self, image: QImage | None) -> None:
        self._image = image if image is not None else QImage()
        self.updates += 1
        self.update()

    def sizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        return QSize(20 * em, 15 * em)

    def minimumSizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        return QSize(6 * em, 5 * em)

    def image_rect(self) -> QRectF:
        """Where the image is drawn: the largest rectangle of its aspect ratio that fits."""
        if self._image.isNull():
            return QRectF()
        w, h = self.width(), self.height()
        iw, ih = self._image.width(), self._image.height()
        s = min(w / iw, h / ih)
        dw, dh = iw * s, ih * s
        return QRectF((w - dw) / 2, (h - dh) / 2, dw, dh)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))  # video area: dark in light and dark themes
        if self._image.isNull():
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(self.image_rect(), self._image)
        p.end()


class PreviewPane(QFrame):
    """A titled image pane: the processing previews, and the live exam's camera and mirrored halves."""

    def __init__(self, title: str, tooltip: str, parent: QWidget | None = None, *,
                 placeholder: str = "Preview appears while a video is processed", accessible_name: str | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.title = QLabel(title, self)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = ImageView(placeholder, self)
        self.view.setAccessibleName(accessible_name or f"{title} preview")
        self.setToolTip(tooltip)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)


class PreviewStrip(QWidget):
    """Three panes side by side, same size each."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.panes: dict[str, PreviewPane] = {}
        for key, title, tip in PANES:
            pane = PreviewPane(title, tip, self)
            self.panes[key] = pane
            layout.addWidget(pane, 1)
        self.frame_index = -1

    def set_images(self, frame_index: int, annotated: QImage, left: QImage, right: QImage) -> None:
        self.frame_index = frame_index
        self.panes["annotated"].view.set_image(annotated)
        self.panes["left"].view.set_image(left)
        self.panes["right"].view.set_image(right)

    def clear(self) -> None:
        self.frame_index = -1
        for pane in self.panes.values():
            pane.view.set_image(None)

    def has_images(self) -> bool:
        return all(not pane.view.image().isNull() for pane in self.panes.values())
