"""Issue 12 in the window (pytest-qt, offscreen): verdicts in rows, honest progress cells, status
lines after the queue ends or is cancelled, retry in place, the midline choice in 5-point mode,
and the models panel for a clinician. Screenshots go to /tmp/facemirror_trust_*.png."""
from __future__ import annotations


import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QItemSelectionModel, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyle  # noqa: E402

from tests import videos  # noqa: E402

SHOTS = "/tmp/facemirror_trust_{}.png"


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


@pytest.fixture
def weights(detector_only_weights):
    return detector_only_weights


@pytest.fixture(scope="module")
def clean_clip(tmp_path_factory):
    from tests.conftest import MEDIA, _need

    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    h, w = base.shape[:2]
    _, frames = videos.transformed_frames(base, videos.transform_sequence(20, max_angle=4.0, max_shift=6.0,
                                                                          scale_amp=0.03), (w / 2, h * 0.4))
    return videos.write_video(tmp_path_factory.mktemp("trust_gui") / "clean_visit.mp4", frames)


def _window(qtbot, out_dir=None):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=30000)
    if out_dir is not None:
        w.set_output_folder(out_dir)
    return w


def _is_tick(icon) -> bool:
    """The icon shows the green tick (compared as pictures: QIcon keys differ per call)."""
    tick = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
    return icon.pixmap(16, 16).toImage() == tick.pixmap(16, 16).toImage()


def _select(w, row):
    w.table.selectionModel().setCurrentIndex(w.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                             | QItemSelectionModel.SelectionFlag.Rows)


def test_rows_show_the_verdict_and_the_queue_end(qtbot, tmp_path, weights, clean_clip, media):
    """A clean clip (green tick, "good") and the press-room clip (red, not usable, reasons in row
    and tooltip), processed for real; then the end-of-queue lines."""
    from app.gui.queue_model import COL_PROGRESS, COL_STATUS, LevelRole

    w = _window(qtbot, tmp_path / "out")
    assert w.model_status.can_process, w.model_status.error
    w.add_paths([clean_clip, media("press_room_clip.mp4")])
    with qtbot.waitSignal(w.queue_finished, timeout=240000) as finished:
        w.start()
    clean, press = w.model.jobs
    # 5-point mode (no STAR here) is at best "usable with warnings" (issue 20, helper "verdicts")
    assert clean.level == "usable with warnings" and press.level == "not usable", (clean.verdict, press.verdict)
    m = w.model
    status = lambda row, role=Qt.ItemDataRole.DisplayRole: m.data(m.index(row, COL_STATUS), role)  # noqa: E731
    assert status(0).startswith("done: usable with warnings")
    assert not _is_tick(status(0, Qt.ItemDataRole.DecorationRole))
    assert status(0, Qt.ItemDataRole.ForegroundRole) is not None
    assert status(1).startswith("done: NOT USABLE - the face was not found in 30 % of frames")
    assert not _is_tick(status(1, Qt.ItemDataRole.DecorationRole))
    assert status(1, Qt.ItemDataRole.ForegroundRole).color().name() == "#c62828"
    tip = status(1, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("NOT USABLE") and "\u2022 the head was turned more than 12 deg" in tip
    assert status(1, LevelRole) == "not usable"
    assert m.data(m.index(1, COL_PROGRESS)) == "100 %"
    # the end of the queue: every status line says so
    assert "2 done (2 not rated good" in finished.args[0]
    assert w.throughput.file_label.text() == finished.args[0]
    assert w.throughput.bar.text() == "2 of 2 files done"
    assert w.throughput.speed_label.text() == "Not processing: the queue is finished."
    w.grab().save(SHOTS.format("verdicts"))


def test_cancel_then_retry_in_place(qtbot, tmp_path, weights, media):
    from app.gui.queue_model import COL_PROGRESS, ShowBarRole

    w = _window(qtbot, tmp_path / "out")
    w.add_paths([media("press_room_clip.mp4")])
    w.start()
    job = w.model.job_at(0)
    qtbot.waitUntil(lambda: job.frames_done >= 5, timeout=60000)
    with qtbot.waitSignal(w.queue_finished, timeout=10000):
        w.cancel()
    assert job.status.value == "cancelled"
    cell = w.model.index(0, COL_PROGRESS)
    assert w.model.data(cell) == "cancelled" and not w.model.data(cell, ShowBarRole)
    assert w.throughput.bar.text() == "0 of 1 file done (cancelled)" and w.throughput.bar.value() == 0
    assert w.throughput.speed_label.text().startswith("Not processing: cancelled")
    assert "ETA" not in w.throughput.speed_label.text()
    w.grab().save(SHOTS.format("cancelled"))
    # dropping the file again queues the same row again (no second row); so does Retry
    w.add_paths([media("press_room_clip.mp4")])
    assert len(w.model.jobs) == 1 and job.status.value == "waiting"
    assert "queued again" in w.statusBar().currentMessage()
    assert not w.retry_action.isEnabled() or w.selected_rows() == []


def test_midline_choice_disabled_in_five_point_mode(qtbot, weights):
    from app.engine.midline import FALLBACK_CHOICE_REASON

    w = _window(qtbot)
    assert w.five_point_mode
    assert not w.midline_combo.isEnabled()
    assert w.midline_combo.toolTip() == FALLBACK_CHOICE_REASON
    assert w.midline_note_action.isVisible() and "eye-centre" in w.midline_note.text()
    qtbot.waitUntil(w.midline_note.isVisible, timeout=3000)      # the toolbar lays it out on the next events
    w.midline_combo.setCurrentIndex(1)                  # a remembered "pupils" choice ...
    assert w._settings().midline == "glabella-chin"      # ... is not sent: it cannot apply


def test_models_missing_panel_for_a_clinician(qtbot, tmp_path, monkeypatch):
    from app.gui import model_status

    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(folder))
    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    w = _window(qtbot)
    panel = w.models_panel
    assert panel.explain.isVisible() and not panel.label.isVisible()
    w.grab().save(SHOTS.format("models_missing"))
    panel.details_button.click()
    details = panel.label.text()
    assert "python main.py models fetch" in details
    assert details.index("retinaface_mobilenet025.onnx") < details.index("star_landmark_98.onnx")   # required first
    w.grab().save(SHOTS.format("models_details"))


def test_failed_row_progress_cell_is_not_a_bar(qtbot, tmp_path, weights):
    from app.gui.queue_model import COL_PROGRESS, COL_STATUS, ShowBarRole

    w = _window(qtbot, tmp_path / "out")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    w.add_paths([broken])
    with qtbot.waitSignal(w.queue_finished, timeout=30000):
        w.start()
    cell = w.model.index(0, COL_PROGRESS)
    assert w.model.data(cell) == "failed" and not w.model.data(cell, ShowBarRole)
    assert w.model.data(cell, Qt.ItemDataRole.ForegroundRole).color().name() == "#c62828"
    assert "Retry" in w.model.data(w.model.index(0, COL_STATUS), Qt.ItemDataRole.ToolTipRole)
    assert w.throughput.bar.text() == "0 of 1 file done (some failed)"
    _select(w, 0)
    assert w.retry_action.isEnabled()
