"""Run by test_gui_shutdown.py in a fresh process: the window as a user drives it through
`launch_gui` (the code path of `python main.py`), two runs in one session, the window closed during
the second run (answering "Stop processing and quit?" with "Stop and quit") or right after it.

    python tests/gui_close_script.py FIRST.mp4 SECOND.mp4 OUT_DIR CLOSE_AT
CLOSE_AT: frames of the second video done before closing; -1: close right after the second run.
Prints one line "RESULT <json>" before exiting with launch_gui's status.

The second run cannot end before the window is closed, however slowly the GUI thread is scheduled
on a loaded machine: once it has reported CLOSE_AT frames, the pipeline's thread waits in its
progress report until the close begins (then it carries on and meets the cancel as it would have).
Nothing waits on a clock.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

first, second, out_dir, close_at = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
app = QApplication(sys.argv[:1])
state = {"step": 0, "asked": [], "statuses": []}
closing = threading.Event()        # set by the GUI thread as it closes the window


def hold_second_run_until_closing() -> None:
    """The pipeline's progress callback for the second video: after CLOSE_AT frames (and before
    its last frame, so nothing is published yet) it returns only once the close has begun."""
    from app.pipeline.run import Pipeline

    real = Pipeline.process

    def process(self, input_path, out_dir, *, on_progress=None, **kw):
        if close_at < 0 or Path(input_path).name != second.name or on_progress is None:
            return real(self, input_path, out_dir, on_progress=on_progress, **kw)

        def report(p):
            on_progress(p)                 # the window hears of the frames first
            if p.frames_total and close_at <= p.frames_done < p.frames_total:
                if not closing.wait(600):  # a safety net only: the window closes long before
                    print("the window was never closed", file=sys.stderr, flush=True)
        return real(self, input_path, out_dir, on_progress=report, **kw)

    Pipeline.process = process


hold_second_run_until_closing()


def window():
    from app.gui.main_window import MainWindow
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)


def answer_question():
    box = next((b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox)
                and b.objectName() == "confirmQuit" and b.isVisible()), None)
    if box is None:
        QTimer.singleShot(5, answer_question)
        return
    state["asked"].append(box.text())
    box.button(QMessageBox.StandardButton.Yes).click()


def step():
    w = window()
    if w is None or not w.models_known:
        return
    if state["step"] == 0:
        w.set_output_folder(out_dir)
        w.add_paths([first])
        w.start()
        state["step"] = 1
    elif state["step"] == 1 and not w.is_running:
        w.add_paths([second])
        w.start()
        state["step"] = 2
    elif state["step"] == 2:
        job = w.model.job_at(1)
        if (close_at >= 0 and job.frames_done >= close_at) or (close_at < 0 and not w.is_running):
            state["step"] = 3
            state["statuses"] = [j.status.value for j in w.model.jobs]
            if w.is_running:
                QTimer.singleShot(5, answer_question)
            closing.set()
            w.close()                      # the window's close button


timer = QTimer()
timer.timeout.connect(step)
timer.start(5)

from app.gui.launch import launch_gui  # noqa: E402

status = launch_gui()
timer.stop()
print("RESULT " + json.dumps({"asked": state["asked"], "statuses": state["statuses"], "status": status}), flush=True)
sys.exit(status)
