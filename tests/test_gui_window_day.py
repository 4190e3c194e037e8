"""A clinic day at the window (issue 31), offscreen, no processing run (rows are put in the states
a run leaves them in): Esc never stops a file unasked, Retry keeps a finished file's results unless
the user agrees to replace them, a file the system cannot open is said with its path, "Replace
existing outputs" stays on screen at 1024x700, notices are cut at whole words, Remove follows the
row's state, a cancel clears the previews, "N of M files done" counts the run's rows, the row menu
opens from the keyboard, and the open dialogs start in a sensible folder."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox  # noqa: E402
from tests.gui_helpers import no_models, select_row  # noqa: E402, F401 - no_models: a fixture


SHOT = "/tmp/facemirror_window_1024x700.png"


pytestmark = pytest.mark.usefixtures("no_models")


def open_window(qtbot):
    """The main window once it knows its models; shut down before qtbot closes it (closing a
    window whose queue runs would ask "Stop processing and quit?" and wait for an answer)."""
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w, before_close_func=lambda win: win.shutdown())
    w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=20000)
    return w


def _videos(tmp_path, *names):
    out = []
    for n in names:
        p = tmp_path / n
        p.write_bytes(b"x")
        out.append(p)
    return out


def _finished_row(w, tmp_path, name="smile.mp4"):
    from app.batch.job_queue.jobs import Status

    (video,) = _videos(tmp_path, name)
    (job,), _ = w.model.add_paths([video])
    summary = tmp_path / f"{video.stem}_summary.html"
    summary.write_text("<html></html>")
    w.model.update_job(job.id, status=Status.DONE, progress=1.0, outputs={"summary": str(summary)},
                       out_dir=tmp_path, verdict={"level": "good", "reasons": []})
    return job, summary


def _running(w, tmp_path, *names):
    """Rows queued and the first one 'processing' (the worker is disconnected: nothing really runs)."""
    w.model_status.loaded = True
    w.run.request_process.disconnect()
    w.add_paths(_videos(tmp_path, *names))
    w.start()
    assert w.is_running
    return w.queue.current


def _ok():
    return SimpleNamespace(ok=True, cancelled=False, warnings=[], outputs={},
                           report={"verdict": {"level": "good", "reasons": []}})


def _cancelled():
    return SimpleNamespace(ok=False, cancelled=True, warnings=[], outputs={}, report={})


def _modal(object_name):
    found = [b for b in QApplication.topLevelWidgets() if b.objectName() == object_name and b.isVisible()]
    return found[-1] if found else None


def _answer_when_asked(object_name, button, seen=None, give_up_ms=20000):
    """Answer the modal question ``object_name`` with ``button`` (a StandardButton, or the Esc key).
    A question that never comes fails the test (its assertions) instead of blocking it."""
    waited = [0]

    def answer():
        box = _modal(object_name)
        if box is None:
            waited[0] += 20
            if waited[0] < give_up_ms:
                QTimer.singleShot(20, answer)
            return
        if seen is not None:
            seen.append(box.text() + " " + box.informativeText())
        if button == Qt.Key.Key_Escape:
            QTest.keyClick(box, Qt.Key.Key_Escape)
        else:
            box.button(button).click()
    QTimer.singleShot(20, answer)


def _activate(qtbot, w):
    w.activateWindow()
    w.raise_()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)


# ---- Esc ------------------------------------------------------------------------------------------

def test_esc_on_the_quit_question_then_esc_again_keeps_processing(qtbot, tmp_path):
    from app.batch.job_queue.queue import QueueState

    w = open_window(qtbot)
    job = _running(w, tmp_path, "a.mp4", "b.mp4")
    _activate(qtbot, w)
    _answer_when_asked("confirmQuit", Qt.Key.Key_Escape)
    w.close()                                            # "Stop processing and quit?" - Esc
    assert w.isVisible() and w.queue.state is QueueState.RUNNING
    _activate(qtbot, w)
    seen: list[str] = []
    _answer_when_asked("confirmCancel", Qt.Key.Key_Escape, seen)
    qtbot.keyClick(w.table, Qt.Key.Key_Escape)           # the second Esc only asks ...
    assert seen and "a.mp4" in seen[0]
    assert w.queue.state is QueueState.RUNNING and not w.queue.cancel_event.is_set()   # ... and Esc keeps it
    assert job.status.value == "processing"
    _activate(qtbot, w)
    _answer_when_asked("confirmCancel", QMessageBox.StandardButton.Yes)
    qtbot.keyClick(w.table, Qt.Key.Key_Escape)                 # answered "Stop processing": now it stops
    assert w.queue.state is QueueState.STOPPING and w.queue.cancel_event.is_set()


# ---- Retry of a finished row -----------------------------------------------------------------------

def test_retry_of_a_finished_row_asks_and_keeping_leaves_its_results_working(qtbot, tmp_path):
    from app.batch.job_queue.jobs import Status

    w = open_window(qtbot)
    job, summary = _finished_row(w, tmp_path)
    opened = []
    w._open_url = lambda url: opened.append(url.toLocalFile()) or True
    select_row(w, 0)
    assert not w.overwrite_box.isChecked()
    seen: list[str] = []
    _answer_when_asked("confirmReplace", QMessageBox.StandardButton.No, seen)
    w.retry_action.trigger()
    assert seen and "smile.mp4" in seen[0]
    assert job.status is Status.DONE and "kept" in w.statusBar().currentMessage()
    assert w.open_summary_action.isEnabled()
    w.open_summary_action.trigger()
    assert opened == [str(summary)]                      # the result still opens

    _answer_when_asked("confirmReplace", QMessageBox.StandardButton.Yes)
    w.retry_action.trigger()
    assert job.status is Status.WAITING and job.replace
    assert w._settings(job).overwrite                    # its run replaces its own outputs ...
    assert not w.overwrite_box.isChecked()               # ... without changing the option for other files
    other = w.model.add_paths(_videos(tmp_path, "other.mp4"))[0][0]
    assert not w._settings(other).overwrite


def test_retry_with_replace_ticked_does_not_ask(qtbot, tmp_path):
    from app.batch.job_queue.jobs import Status

    w = open_window(qtbot)
    job, _ = _finished_row(w, tmp_path)
    select_row(w, 0)
    w.overwrite_box.setChecked(True)
    w.retry_action.trigger()                              # a question here would block the test
    assert job.status is Status.WAITING


# ---- files the system cannot open ------------------------------------------------------------------

def _cannot_open_box():
    from app.gui.open_failure import OBJECT_NAME

    boxes = [b for b in QApplication.topLevelWidgets() if b.objectName() == OBJECT_NAME and b.isVisible()]
    return boxes[-1] if boxes else None


@pytest.mark.parametrize("what", ["summary", "output folder", "log", "compare"])
def test_a_file_the_system_cannot_open_is_said_with_its_path_and_copy_path(qtbot, tmp_path, what):
    w = open_window(qtbot)
    job, summary = _finished_row(w, tmp_path)
    select_row(w, 0)
    w._open_url = lambda url: False                       # no application for the file
    if what == "summary":
        w.open_summary_action.trigger()
        path = summary
    elif what == "output folder":
        w.open_output_action.trigger()
        path = tmp_path
    elif what == "log":
        from app.base import logs
        w.show_log_action.trigger()
        path = logs.log_dir()
    else:
        page = tmp_path / "compare" / "P1.html"
        page.parent.mkdir()
        page.write_text("<html></html>")
        w.message("Comparing the visits of patient P1...")
        w.outputs.comparing = True
        w.outputs.on_compared(str(page), "")
        path = page
    qtbot.waitUntil(lambda: _cannot_open_box() is not None, timeout=5000)
    box = _cannot_open_box()
    assert str(path) in box.informativeText()
    assert str(path) in w.statusBar().currentMessage() and "Comparing" not in w.statusBar().currentMessage()
    copy = next(b for b in box.buttons() if b.text() == "Copy path")
    QGuiApplication.clipboard().clear()
    copy.click()
    assert QGuiApplication.clipboard().text() == str(path)


def test_a_compare_page_that_opens_replaces_comparing_in_the_status(qtbot, tmp_path):
    w = open_window(qtbot)
    page = tmp_path / "P1.html"
    page.write_text("<html></html>")
    w._open_url = lambda url: True
    w.message("Comparing the visits of patient P1...")
    w.outputs.on_compared(str(page), "")
    assert "Comparing" not in w.statusBar().currentMessage() and str(page) in w.statusBar().currentMessage()


# ---- 1024 x 700 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("five_point", [False, True])
def test_replace_existing_outputs_stays_on_screen_at_1024x700(qtbot, tmp_path, five_point):
    from app.base import notices
    from app.gui.model_status import ModelStatus

    w = open_window(qtbot)
    w.resize(1024, 700)
    long_folder = tmp_path / "a rather long folder name for the clinic" / "patients" / "outputs of 2026"
    long_folder.mkdir(parents=True)
    w.set_output_folder(long_folder)
    if five_point:       # the 5-point note and a long backend line, as with the detector only
        w.models.show_status(ModelStatus(loaded=True, notices={notices.COARSE},
                                         backend_text="CPU, 2 threads | 5-point mode (coarse midline)"))
    QApplication.processEvents()
    qtbot.waitUntil(lambda: w.overwrite_box.isVisible(), timeout=3000)
    bar = w.overwrite_box.parentWidget()
    right = w.overwrite_box.mapTo(bar, w.overwrite_box.rect().topRight()).x()
    assert right < bar.width()                           # not in the toolbar's overflow menu
    assert w.width() == 1024
    if five_point:
        qtbot.waitUntil(w.midline_note.isVisible, timeout=3000)
    w.grab().save(SHOT)


# ---- status-bar notices -----------------------------------------------------------------------------

def test_elide_words_drops_whole_words():
    from app.gui.status_line import ELLIPSIS, elide_words

    def fits(n):
        return lambda t: len(t) <= n

    text = "smile.mp4 failed: outputs already exist. Tick Replace existing outputs"
    assert elide_words(text, fits(200)) == text
    cut = elide_words(text, fits(30))
    assert cut.endswith(ELLIPSIS) and len(cut) <= 30
    kept = cut[:-1]
    assert text.startswith(kept) and text[len(kept)] in " .:;,"    # ends at a word's end
    assert elide_words("averyveryverylongword", fits(8)) == "averyve" + ELLIPSIS
    assert elide_words(text, fits(0)) == ELLIPSIS


def test_a_long_notice_is_cut_at_a_word_with_the_full_text_in_its_tooltip(qtbot):
    w = open_window(qtbot)
    w.resize(1024, 700)
    text = ("smile.mp4 failed: outputs already exist in /home/clinic/Videos/patients/outputs. Tick "
            '"Replace existing outputs" to replace them, or choose another output folder.')
    w.message(text)
    QApplication.processEvents()
    label = w.statusBar().notice
    shown = QLabel.text(label)                            # what is painted (label.text() is the full text)
    assert shown.endswith("…") and len(shown) < len(text)
    kept = shown[:-1]
    assert text.startswith(kept) and text[len(kept)] in ' .,;:"'     # cut after a whole word
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.toolTip() == text and w.statusBar().currentMessage() == text
    w.resize(1900, 700)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: QLabel.text(label) == text, timeout=3000)   # room: in full


# ---- Remove, previews, counts ------------------------------------------------------------------------

def test_remove_is_disabled_once_the_selected_row_starts(qtbot, tmp_path):
    w = open_window(qtbot)
    w.model_status.loaded = True
    w.run.request_process.disconnect()
    w.add_paths(_videos(tmp_path, "a.mp4", "b.mp4"))
    select_row(w, 0)
    assert w.remove_action.isEnabled()
    w.start()                                            # row 0 starts while selected
    assert w.queue.current is w.model.job_at(0)
    assert not w.remove_action.isEnabled()
    select_row(w, 1)
    assert w.remove_action.isEnabled()
    w.table.selectionModel().select(w.model.index(0, 0), QItemSelectionModel.SelectionFlag.Select
                                    | QItemSelectionModel.SelectionFlag.Rows)
    assert not w.remove_action.isEnabled()               # a selection with the running row


def test_a_cancel_clears_the_previews(qtbot, tmp_path):
    from app.gui.worker import JobFinished

    w = open_window(qtbot)
    job = _running(w, tmp_path, "a.mp4")
    img = QImage(16, 16, QImage.Format.Format_RGB888)
    img.fill(0x808080)
    w.preview.set_images(12, img, img, img)
    assert w.preview.has_images()
    w.cancel()
    w.run.on_job_finished(JobFinished(job.id, _cancelled()))
    assert not w.is_running
    assert all(p.view.image().isNull() for p in w.preview.panes.values())


def test_files_done_counts_every_row_of_the_run(qtbot, tmp_path):
    from app.gui.worker import JobFinished

    w = open_window(qtbot)
    first = _running(w, tmp_path, "a.mp4", "b.mp4", "c.mp4", "d.mp4")
    assert "(1 of 4)" in w.throughput.file_label.text()
    w.run.on_job_finished(JobFinished(first.id, _ok()))
    second = w.queue.current
    assert "(2 of 4)" in w.throughput.file_label.text()
    w.cancel()
    w.run.on_job_finished(JobFinished(second.id, _cancelled()))
    assert w.throughput.bar.text() == "1 of 4 files done (cancelled)"


# ---- keyboard row menu --------------------------------------------------------------------------------

@pytest.mark.parametrize("key,modifier", [(Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier),
                                          (Qt.Key.Key_Menu, Qt.KeyboardModifier.NoModifier)])
def test_shift_f10_and_the_menu_key_open_the_row_menu(qtbot, tmp_path, key, modifier):
    from PySide6.QtWidgets import QMenu

    w = open_window(qtbot)
    _finished_row(w, tmp_path)
    w.add_paths(_videos(tmp_path, "b.mp4"))
    select_row(w, 1)
    w.table.setCurrentIndex(w.model.index(1, 0))
    _activate(qtbot, w)
    w.table.setFocus()
    qtbot.waitUntil(w.table.hasFocus, timeout=3000)
    seen = {}

    def close_menu():
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, close_menu)
            return
        seen["actions"] = [a.text() for a in menu.actions() if a.text()]
        seen["top"] = menu.pos().y()
        menu.close()

    QTimer.singleShot(20, close_menu)
    if key == Qt.Key.Key_Menu:     # the platform turns the Menu key into a keyboard context-menu event
        from PySide6.QtGui import QContextMenuEvent
        QApplication.sendEvent(w.table, QContextMenuEvent(QContextMenuEvent.Reason.Keyboard,
                                                          w.table.rect().center()))
    else:
        qtbot.keyClick(w.table, key, modifier)
        # Qt still sees Shift held after a synthetic Shift+F10: release it, or a later test's
        # selectRow would extend its selection
        QTest.keyRelease(w.table, Qt.Key.Key_Shift, Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(lambda: "actions" in seen, timeout=5000)
    assert "Open summary" in seen["actions"] and "Remove" in seen["actions"]
    row_rect = w.table.visualRect(w.model.index(1, 0))
    row_bottom = w.table.viewport().mapToGlobal(row_rect.bottomLeft()).y()
    assert abs(seen["top"] - row_bottom) <= row_rect.height() + 2       # opened at the current row


# ---- where the open dialogs start ---------------------------------------------------------------------

def test_the_open_dialog_starts_in_the_last_folder_else_videos_else_home(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from app.base import paths

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_VIDEOS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    w = open_window(qtbot)
    starts = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (starts.append(a[2]), ([], ""))[1]))
    w.editor.add_videos_dialog()
    assert Path(starts[-1]) == home and Path(starts[-1]) != paths.repo_root()
    (home / "Videos").mkdir()
    w.editor.add_videos_dialog()
    assert Path(starts[-1]) == home / "Videos"
    last = tmp_path / "clinic" / "monday"
    last.mkdir(parents=True)
    w.prefs.last_input_folder = str(last)
    w.editor.add_videos_dialog()
    assert Path(starts[-1]) == last
    last.rmdir()                                          # unmounted or deleted: the next best
    w.editor.add_videos_dialog()
    assert Path(starts[-1]) == home / "Videos"
