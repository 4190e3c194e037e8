"""Adding videos to the queue: drag and drop, files opened by the OS (QFileOpenEvent), editing the queue."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFileOpenEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Settings in a temporary folder; no model files (nothing here processes video)."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "no-weights"))


@pytest.fixture
def window(qtbot):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=20000)
    return w


def _touch(path, data=b"not really a video"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(target, mime):
    """Drag-enter then drop on `target` (any widget of the window). Returns (enter accepted, drop accepted)."""
    pos = QPointF(target.width() / 2, target.height() / 2)
    # PySide6 6.11 builds a drag-enter event from a QPoint (6.12 took a QPointF), a drop from a QPointF
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return enter.isAccepted(), drop.isAccepted()


def _select(w, row):
    """Select exactly one row (QTableView.selectRow would extend the selection if a modifier key
    is still seen as held by an earlier test)."""
    from PySide6.QtCore import QItemSelectionModel

    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    w.table.selectionModel().setCurrentIndex(w.model.index(row, 0), flags)


def _names(w):
    return [j.path.name for j in w.model.jobs]


def test_drop_video_files_and_folders_adds_rows(window, tmp_path):
    a = _touch(tmp_path / "in" / "a.mp4")
    b = _touch(tmp_path / "in" / "b.MOV")
    folder = tmp_path / "session"
    _touch(folder / "c.mp4")
    _touch(folder / "sub" / "d.avi")
    _touch(folder / "notes.txt")
    entered, dropped = _drop(window, _mime(a, b))
    assert entered and dropped
    assert _names(window) == ["a.mp4", "b.MOV"]
    # dropped on a preview (a child widget): the window takes it
    _drop(window.preview.panes["left"].view, _mime(folder))
    assert _names(window) == ["a.mp4", "b.MOV", "c.mp4", "d.avi"]
    # the same file again is not queued twice
    _drop(window.table.viewport(), _mime(a))
    assert window.model.rowCount() == 4
    assert "already in the queue" in window.statusBar().currentMessage()
    # table columns
    model = window.model
    assert model.data(model.index(0, 0)) == "a.mp4"
    assert model.data(model.index(0, 2)) == "waiting"
    assert model.data(model.index(0, 4)) == str(a.parent)          # default: beside the input


def test_non_video_drop_is_refused_with_a_message(window, tmp_path):
    txt = _touch(tmp_path / "report.txt")
    img = _touch(tmp_path / "photo.jpg")
    entered, _ = _drop(window, _mime(txt, img))
    assert entered                      # accepted so the drop can be explained, not ignored
    assert window.model.rowCount() == 0
    msg = window.statusBar().currentMessage()
    assert "report.txt" in msg and "not a video file" in msg and "1 more" in msg
    assert ".mp4" in msg
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    _drop(window, _mime(empty))
    assert "no video files" in window.statusBar().currentMessage()


def test_drag_without_files_is_ignored(window):
    mime = QMimeData()
    mime.setText("just text")
    entered, _ = _drop(window, mime)
    assert not entered
    assert window.model.rowCount() == 0


def test_file_open_event_adds_a_row(window, tmp_path):
    video = _touch(tmp_path / "from_finder.mp4")
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(video)))
    assert _names(window) == ["from_finder.mp4"]
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(_touch(tmp_path / "x.txt"))))
    assert window.model.rowCount() == 1
    assert "not a video file" in window.statusBar().currentMessage()


def test_file_open_event_before_the_window_exists_is_queued(qtbot, tmp_path):
    from app.gui import file_open
    from app.gui.main_window import MainWindow

    app = QApplication.instance()
    opener = file_open.install(app)          # what launch_gui does before creating the window
    assert file_open.install(app) is opener  # idempotent
    first = _touch(tmp_path / "early1.mp4")
    second = _touch(tmp_path / "early2.m4v")
    QApplication.sendEvent(app, QFileOpenEvent(str(first)))
    QApplication.sendEvent(app, QFileOpenEvent(QUrl.fromLocalFile(str(second))))
    assert [p.rsplit("/", 1)[-1] for p in opener.pending] == ["early1.mp4", "early2.m4v"]

    w = MainWindow()                         # created, not shown yet
    qtbot.addWidget(w)
    assert _names(w) == ["early1.mp4", "early2.m4v"]
    assert opener.pending == []
    w.close()
    # after the window has gone, events are buffered again rather than lost
    late = _touch(tmp_path / "late.mp4")
    QApplication.sendEvent(app, QFileOpenEvent(str(late)))
    assert len(opener.pending) == 1
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert _names(w2) == ["late.mp4"]


def test_remove_and_reorder_waiting_items(window, qtbot, tmp_path):
    paths = [_touch(tmp_path / f"v{i}.mp4") for i in range(4)]
    window.add_paths(paths)
    assert _names(window) == ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"]
    window.table.setFocus()
    _select(window, 2)
    window.up_action.trigger()
    assert _names(window) == ["v0.mp4", "v2.mp4", "v1.mp4", "v3.mp4"]
    assert window.selected_rows() == [1]
    window.down_action.trigger()
    window.down_action.trigger()
    assert _names(window) == ["v0.mp4", "v1.mp4", "v3.mp4", "v2.mp4"]
    assert not window.down_action.isEnabled()           # last row
    # Delete key on the table removes the selection
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=2000)
    _select(window, 0)
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert _names(window) == ["v1.mp4", "v3.mp4", "v2.mp4"]
    # a row being processed cannot be removed or moved past
    from app.batch.job_queue.jobs import Status

    first = window.model.job_at(0)
    window.model.update_job(first.id, status=Status.PROCESSING)
    assert not window.model.can_move(1, -1)
    _select(window, 0)
    window.remove_action.trigger()
    assert _names(window) == ["v1.mp4", "v3.mp4", "v2.mp4"]


def test_duration_is_read_in_the_background(window, qtbot, tmp_path, media):
    from tests import videos

    base = videos.portrait_base(media("portrait_frontal.jpg"), width=120)
    video = videos.write_video(tmp_path / "clip.mp4", [base] * 45, fps=30.0)
    broken = _touch(tmp_path / "broken.mp4")
    window.add_paths([video, broken])
    model = window.model
    qtbot.waitUntil(lambda: all(j.probed for j in model.jobs), timeout=5000)
    assert model.data(model.index(0, 1)) == "0:02"        # 45 frames at 30 fps, rounded
    assert model.job_at(0).frames == 45
    assert model.data(model.index(1, 1)) == "?"


def test_collect_videos_and_queue_eta(tmp_path):
    from app.batch.job_queue.jobs import Job
    from app.gui.jobs import collect_videos, format_duration, format_stage_ms, queue_eta

    v = _touch(tmp_path / "a.mp4")
    t = _touch(tmp_path / "a.txt")
    videos, refused = collect_videos([v, t, tmp_path / "missing.mov", v])
    assert videos == [v]
    assert [(p.name, why) for p, why in refused] == [("a.txt", "not a video file"),
                                                     ("missing.mov", "no such file or folder")]
    jobs = [Job(1, v, frames=300), Job(2, v, frames=None)]
    eta, partial = queue_eta(10.0, jobs, fps=30.0)
    assert eta == pytest.approx(20.0) and partial
    assert queue_eta(None, jobs, 30.0) == (None, False)
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "1:05"
    text = format_stage_ms({"detect": 5.0, "decode": 1.0, "wait_input": 2.0, "star_infer": 0.0})
    assert text.index("decode") < text.index("detect") and "(idle: inference 2.0)" in text
