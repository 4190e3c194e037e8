"""The live exam window's panels (app/gui/live_window.py composes them and wires their signals):
the top bar (camera, subject, folder), the notice, the three panes, the controls bar (Record,
Capture rest, Freeze, the status and the landmarks' state)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.gui.preview import PreviewPane, bgr_to_qimage
from app.gui.subject_fields import SubjectFields
from app.live.panes import Panes, pane_scale
from app.live.session import REST_SECONDS

LIVE_PANES = (
    ("camera", "Camera", "What the camera sees, with the midline and L/R labels (image left is the patient's right)."),
    ("left", "Patient's left, mirrored", "The patient's anatomical left half joined to its reflection across the midline."),
    ("right", "Patient's right, mirrored", "The patient's anatomical right half joined to its reflection across the midline."),
)

NOTICE_STYLE = {"warning": "background: #fff3cd; color: #5c4400; border: 1px solid #e0c068;",
                "info": "background: #e3f1e6; color: #1e4d2b; border: 1px solid #9cc9a8;"}

LIVE_CUT_TOOLTIP = ("The live panes use STAR cut after the second of its four stacks: about twice as fast, a "
                    "little less exact. The recording is analysed with full STAR when you press Stop.")


def landmark_label_text(models) -> str:
    if models.coarse:
        return "Landmarks: 5-point mode (coarse midline)"
    text = "Landmarks: STAR 98-point (fast live model)" if models.live_cut else "Landmarks: STAR 98-point"
    # a development model's random weights put the midline anywhere: said where the clinician looks
    return text + " - UNTRAINED model, midline meaningless" if models.untrained else text


class LiveTopBar(QWidget):
    """The camera list, the subject fields and the recordings' folder."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        top = QHBoxLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Camera:", self))
        self.camera_combo = QComboBox(self)
        self.camera_combo.setMinimumContentsLength(18)
        self.camera_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.camera_combo.setToolTip("The camera to examine with (remembered for next time)")
        top.addWidget(self.camera_combo)
        self.subject_fields = SubjectFields(settings, self)
        for edit in self.subject_fields.edits.values():
            edit.setToolTip("Recorded in the report and summary of this exam's recording (Enter: done)")
        top.addWidget(self.subject_fields)
        top.addStretch(1)
        self.folder_label = QLabel(self)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.folder_label)
        self.folder_button = QPushButton("Change...", self)
        self.folder_button.setToolTip("Choose the folder the recordings go to (their outputs follow the main "
                                      "window's Output choice)")
        top.addWidget(self.folder_button)

    def show_folder(self, folder: Path) -> None:
        self.folder_label.setText(f"Recordings go to: {folder}")
        self.folder_label.setToolTip(str(folder))


class LiveNotice(QLabel):
    """No camera, permission refused, model problems, a recording saved: said here, not in a popup."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setObjectName("liveNotice")
        self.hide()

    def say(self, text: str, level: str = "warning") -> None:
        colours = NOTICE_STYLE[level]
        self.setStyleSheet(f"QLabel#liveNotice {{ {colours} padding: 6px; border-radius: 4px; }}")
        self.setText(text)
        self.setVisible(bool(text))


class LivePanesPanel(QWidget):
    """The three panes side by side."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.panes: dict[str, PreviewPane] = {}
        for key, title, tip in LIVE_PANES:
            self.panes[key] = PreviewPane(title, tip, self, placeholder="Waiting for the camera...", accessible_name=title)
            row.addWidget(self.panes[key], 1)

    def show_panes(self, panes: Panes) -> None:
        self.panes["camera"].view.set_image(bgr_to_qimage(panes.camera))
        self.panes["left"].view.set_image(bgr_to_qimage(panes.left))
        self.panes["right"].view.set_image(bgr_to_qimage(panes.right))

    def no_picture(self, why: str) -> None:
        for pane in self.panes.values():
            pane.view.set_image(None)
            pane.view.set_placeholder(why)

    def waiting(self) -> None:
        for pane in self.panes.values():
            pane.view.set_placeholder("Waiting for the camera...")

    def show_frozen(self, frozen: bool) -> None:
        for pane in self.panes.values():
            pane.title.setStyleSheet("color: #1d5fbf;" if frozen else "")
        self.panes["camera"].title.setText("Camera (FROZEN)" if frozen else "Camera")

    def display_scale(self, w: int, h: int) -> float:
        """The frame's scale for the panes: the pixels a pane shows (HiDPI included)."""
        view = self.panes["camera"].view
        return pane_scale(w, min(view.width(), view.height() * w / h) * view.devicePixelRatioF())


class LiveControlsBar(QWidget):
    """Record / Stop, Capture rest, Freeze, the status line and the landmarks' state."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        bottom = QHBoxLayout(self)
        bottom.setContentsMargins(0, 0, 0, 0)
        self.record_button = QPushButton(self)
        self.rest_button = QPushButton("Capture rest", self)
        self.freeze_button = QPushButton("Freeze", self)
        self.freeze_button.setCheckable(True)
        for b in (self.record_button, self.rest_button, self.freeze_button):
            b.setMinimumHeight(int(self.fontMetrics().height() * 2.2))
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)     # Space is Freeze, never "press the focused button"
            bottom.addWidget(b)
        self.status_label = QLabel(self)
        # long texts must not widen the window (the panes would jump): they are cut, the notice says more
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bottom.addWidget(self.status_label, 1)
        self.landmark_label = QLabel("Landmarks: loading the models...", self)
        self.landmark_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bottom.addWidget(self.landmark_label)
        self.record_button.setToolTip("Start recording (Ctrl+R); press again to stop: the recording is then "
                                      "queued for processing in the main window")
        self.rest_button.setToolTip(f"Mark the rest: the {REST_SECONDS:g} s from now, while the face is relaxed, "
                                    "are the measures' rest (Ctrl+M; while recording)")
        self.freeze_button.setToolTip("Hold the panes still to look at them (Space); the recording continues")

    def show_status(self, text: str, recording: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b; font-weight: bold;" if recording else "")

    def show_frozen(self, frozen: bool) -> None:
        if self.freeze_button.isChecked() != frozen:
            self.freeze_button.setChecked(frozen)
        self.freeze_button.setText("Frozen: press Space to go on" if frozen else "Freeze")

    def show_models(self, models, error: str) -> None:
        if models is None:
            self.landmark_label.setText("Landmarks: none (midline = picture centre)")
            self.landmark_label.setToolTip(f"The models could not be loaded: {error}. The recording is not "
                                           "affected; its processing says the same.")
            return
        self.landmark_label.setText(landmark_label_text(models))
        if models.live_cut:
            self.landmark_label.setToolTip(LIVE_CUT_TOOLTIP)

    def show_landmarks_failed(self, error: BaseException) -> None:
        self.landmark_label.setText("Landmarks: failed (midline held)")
        self.landmark_label.setToolTip(f"{type(error).__name__}: {error}")



def window_shortcut(window: QWidget, key: str | QKeySequence, slot) -> QAction:
    """A shortcut of ``window`` (only while it is the active window)."""
    a = QAction(window)
    a.setShortcut(QKeySequence(key))
    a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    a.triggered.connect(slot)
    window.addAction(a)
    return a
