"""Run by test_gui_signals.py in a fresh process: the window (launch_gui, the path of `python
main.py`) processing VIDEO into OUT_DIR; the test sends it a signal mid-run.

    python tests/gui_signal_script.py VIDEO OUT_DIR
Prints "PROCESSING" once frames are being written, and exits with launch_gui's status.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app  # noqa: E402,F401  (privacy settings first)
from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

video, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
qapp = QApplication(sys.argv[:1])
state = {"started": False, "said": False}


def step():
    from app.gui.main_window import MainWindow

    w = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)
    if w is None or not w.models_known:
        return
    if not state["started"]:
        w.set_output_folder(out_dir)
        w.add_paths([video])
        w.start()
        state["started"] = True
    elif not state["said"] and w.model.job_at(0).frames_done >= 5:
        print("PROCESSING", flush=True)
        state["said"] = True


timer = QTimer()
timer.timeout.connect(step)
timer.start(20)

from app.gui.launch import launch_gui  # noqa: E402

sys.exit(launch_gui(sys.argv[:1]))
