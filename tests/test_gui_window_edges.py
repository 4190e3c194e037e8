"""The window's rough edges of issue 20 (offscreen, no processing run: rows are put in the states a
run leaves them in): title, File menu and Ctrl+Q, Open summary (menu, Enter), the full status
line, rows visible at 1280x800, headline colours, a deleted remembered output folder, the
end-of-queue summary counting only its own batch, and "Stop processing and quit?" following the queue."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402
from tests.conftest import open_window  # noqa: E402
from tests.gui_helpers import no_models, select_row  # noqa: E402, F401 - no_models: a fixture

RED = "#c62828"


pytestmark = pytest.mark.usefixtures("no_models")


def _window(qtbot):
    return open_window(qtbot)


def _finished_row(w, tmp_path, name="smile.mp4", level="good", reasons=()):
    from app.batch.job_queue.jobs import Status

    video = tmp_path / name
    video.write_bytes(b"x")
    (job,), _ = w.model.add_paths([video])
    summary = tmp_path / f"{video.stem}_summary.html"
    summary.write_text("<html></html>")
    w.model.update_job(job.id, status=Status.DONE, progress=1.0, outputs={"summary": str(summary)},
                       verdict={"level": level, "reasons": list(reasons)})
    return job, summary


def test_title_is_not_repeated(qtbot):
    from app import APP_NAME, __version__

    w = _window(qtbot)
    assert w.windowTitle() == f"{APP_NAME} {__version__}"
    # Qt adds " - <display name>" to a title that does not end with the display name
    assert w.windowTitle().endswith(QApplication.applicationDisplayName())


def test_file_menu_quit_and_ctrl_q_close_the_idle_window(qtbot):
    w = _window(qtbot)
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles[0] == "&File" and "&Help" in titles
    assert w.quit_action in w.file_menu.actions()
    assert "Ctrl+Q" in [s.toString() for s in w.quit_action.shortcuts()]
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)


def test_open_summary_by_enter_menu_and_double_click(qtbot, tmp_path):
    w = _window(qtbot)
    opened = []
    w._open_url = lambda url: opened.append(url.toLocalFile()) or True
    waiting = tmp_path / "waiting.mp4"
    waiting.write_bytes(b"x")
    w.model.add_paths([waiting])
    job, summary = _finished_row(w, tmp_path)
    select_row(w, 0)                     # a waiting row: no summary to open
    assert not w.open_summary_action.isEnabled()
    select_row(w, 1)
    assert w.open_summary_action.isEnabled()
    menu = w.queue_panel.row_menu()
    assert w.open_summary_action in menu.actions() and w.open_output_action in menu.actions()
    w.table.setFocus()
    qtbot.keyClick(w.table, Qt.Key.Key_Return)
    assert opened == [str(summary)]
    w.table.doubleClicked.emit(w.model.index(1, 0))
    assert opened == [str(summary)] * 2
    assert "Enter" in w.table.toolTip() and "right-click" in w.table.toolTip()


def test_status_line_shows_every_reason_in_full(qtbot, tmp_path):
    w = _window(qtbot)
    reasons = [f"reason number {i}: " + "a long explanation of what was found " * 3 for i in range(4)]
    _finished_row(w, tmp_path, level="usable with warnings", reasons=reasons)
    select_row(w, 0)
    assert w.details_label.isVisible()
    for r in reasons:
        assert r in w.details_label.text()
    assert w.details_label.wordWrap()


def test_at_least_eight_queue_rows_visible_at_1280x800(qtbot, tmp_path):
    w = _window(qtbot)                # no models: the models panel is open, the worst case
    videos = []
    for i in range(12):
        v = tmp_path / f"clip{i:02d}.mp4"
        v.write_bytes(b"x")
        videos.append(v)
    w.model.add_paths(videos)
    w.resize(1280, 800)
    qtbot.wait(50)
    assert w.height() <= 800
    viewport = w.table.viewport().height()
    whole = [r for r in range(12) if w.table.rowViewportPosition(r) + w.table.rowHeight(r) <= viewport]
    assert len(whole) >= 8, (len(whole), viewport)
    w.grab().save(str(tmp_path / "rows.png"))


def test_untrained_headline_is_red_and_coarse_note_stays_orange():
    from app.base import model_files, notices
    from app.gui.models_panel import COLOURS
    from app.gui.model_status import ModelStatus

    star = next(m for m in model_files.expected_models() if m.key == model_files.STAR_KEY)
    untrained = ModelStatus(notices={notices.UNTRAINED}, loaded=True)
    level, _line = untrained.headline()
    assert COLOURS[level] == RED
    coarse = ModelStatus(missing=[star], notices={notices.COARSE}, loaded=True)
    level, line = coarse.headline()
    assert COLOURS[level] != RED
    # only the optional model is absent: not "Models missing", and it says what that means
    assert "missing" not in line.lower() and "5-point mode" in line and "optional" in line


def test_deleted_remembered_output_folder_is_not_recreated(qtbot, tmp_path):
    from app.gui.prefs import Prefs, open_settings

    gone = tmp_path / "results"
    gone.mkdir()
    prefs = Prefs(open_settings())
    prefs.output_folder = gone
    prefs.sync()
    gone.rmdir()
    w = _window(qtbot)
    assert w.options.output_folder is None
    assert "no longer exists" in w.statusBar().currentMessage()
    assert not gone.exists()


def test_queue_summary_counts_only_this_batch(qtbot, tmp_path):
    from app.batch.job_queue.jobs import Status

    w = _window(qtbot)
    _finished_row(w, tmp_path, "earlier.mp4", level="not usable", reasons=["earlier batch"])
    video = tmp_path / "now.mp4"
    video.write_bytes(b"x")
    w.model.add_paths([video])
    assert w.queue.start()                     # this batch: only now.mp4 (nothing really runs)
    job = w.queue.next_job()
    w.queue.finish(job.id, Status.DONE, progress=1.0, verdict={"level": "good", "reasons": []})
    with qtbot.waitSignal(w.queue_finished, timeout=5000) as finished:
        w.run.finish_queue()
    assert "1 done" in finished.args[0] and "not rated good" not in finished.args[0]


def test_stop_and_quit_question_follows_the_queue(qtbot, tmp_path):
    from app.batch.job_queue.jobs import Status
    from app.gui.worker import JobFinished

    w = _window(qtbot)
    video = tmp_path / "running.mp4"
    video.write_bytes(b"x")
    (job,), _ = w.model.add_paths([video])
    assert w.queue.start() and w.queue.next_job() is job
    assert job.status == Status.PROCESSING and w.is_running
    w.run.request_process.disconnect()            # nothing really runs: the row finishes below
    seen = {}

    def while_asked():
        box = w.quit_question.box
        seen["before"] = box.text() + " " + box.informativeText()
        result = SimpleNamespace(ok=True, cancelled=False, warnings=[], outputs={},
                                 report={"verdict": {"level": "good", "reasons": []}})
        w.run.on_job_finished(JobFinished(job.id, result))     # the file it asks about finishes
        seen["after"] = box.text()
        seen["yes"] = box.button(QMessageBox.StandardButton.Yes).text()
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(100, while_asked)
    assert w.quit_question.confirm()
    assert "running.mp4" in seen["before"] and seen["before"].startswith("Stop processing")
    assert seen["after"].startswith("Processing has finished") and seen["yes"] == "Quit"
    assert not w.is_running


def test_run_notices_are_removed_by_code_not_by_front_end_text():
    from app.base import notices

    own = "head turned > 12 deg in 30 % of frames"
    warnings = [notices.TEXT[notices.COARSE], own, notices.TEXT[notices.UNTRAINED]]
    assert notices.file_warnings(warnings) == [own]
