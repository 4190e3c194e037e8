"""The window as it opens (offscreen): models-missing state and backend in the status bar."""
from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import open_window

pytest.importorskip("PySide6")


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


def _window(qtbot):
    return open_window(qtbot, show=False)


def test_models_missing_state(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    text = w.models_label.text()   # known at once, before the models are loaded (the Details part)
    assert "For whoever installs the models" in text
    assert "Models missing" in w.models_panel.headline.text()
    assert "main.py convert star" in text and "models fetch" in text
    assert "nutPace/openface_weights" in text
    assert "No face detector model" in w.backend_label.text()
    qtbot.waitUntil(lambda: w.models_known, timeout=20000)
    assert w.models_panel.isVisible()
    assert "5-point mode" in w.backend_label.text()
    assert not w.start_action.isEnabled()
    w.start()
    assert "face detector model is not installed" in w.statusBar().currentMessage()


def test_status_bar_names_backend_and_warns_for_untrained_model(qtbot, monkeypatch, tmp_path):
    pytest.importorskip("onnx")
    from tests.onnx_stubs import constant_landmarks_model

    constant_landmarks_model(tmp_path / "star_landmark_98.onnx", np.zeros((98, 2)), untrained=True)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    w = _window(qtbot)
    assert "CPU" in w.backend_label.text() and "STAR 98-point" in w.backend_label.text()
    assert "UNTRAINED" in w.backend_label.text()
    assert "UNTRAINED" in w.models_label.text()
    assert "UNTRAINED" in w.warning_label.text().upper()
    assert "FaceMirror" in w.version_label.text()
    w.grab().save(str(tmp_path / "window.png"))
    assert (tmp_path / "window.png").stat().st_size > 0


def test_main_actions_have_shortcuts_and_tooltips(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    from PySide6.QtGui import QKeySequence

    w = _window(qtbot)
    expected = {w.add_action: "Ctrl+O", w.start_action: "Ctrl+R", w.cancel_key_action: "Esc",
                w.remove_action: "Del", w.up_action: "Ctrl+Up", w.down_action: "Ctrl+Down"}
    for action, key in expected.items():
        keys = [s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()]
        assert key in keys, (action.text(), keys)
        assert action.toolTip() and key.split("+")[-1] in action.toolTip()
    for action in (w.open_output_action, w.choose_output_action, w.add_folder_action):
        assert action.shortcuts() and action.toolTip()


def test_settings_are_remembered(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    out = tmp_path / "chosen"
    out.mkdir()
    w = _window(qtbot)
    w.show()
    assert w.options.output_folder is None                      # default: beside each input
    w.set_output_folder(out)
    w.midline_combo.setCurrentIndex(w.midline_combo.findData("pupils"))
    w.resize(760, 580)   # the offscreen screen is 800 x 600
    w.close()

    w2 = _window(qtbot)
    assert w2.options.output_folder == out
    assert w2.options.midline == "pupils"
    assert (w2.width(), w2.height()) == (760, 580)
    w2.set_output_folder(None)
    w2.close()
    w3 = _window(qtbot)
    assert w3.options.output_folder is None
    assert w3.output_combo.count() == 2                  # the folder stays offered
    # nothing was written outside the temporary settings folder
    assert list((tmp_path / "settings").rglob("*.conf")) or list((tmp_path / "settings").rglob("*.ini"))


def test_settings_can_be_given_explicitly(qtbot, monkeypatch, tmp_path):
    """A self-test (or an embedding) can keep the window away from the user's settings."""
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow

    own = QSettings(str(tmp_path / "own.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=own)
    qtbot.addWidget(w)
    w.close()
    assert (tmp_path / "own.ini").is_file()
    assert not (tmp_path / "settings").exists()



def test_status_bar_says_detector_only_build_injected_build_info(qtbot, tmp_path, monkeypatch):
    """A detector-only frozen build (build_info.json from the spec), its facts injected."""
    from app.base import build_info

    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setattr(build_info, "build_info", lambda: {"detector_only": True})
    w = _window(qtbot)
    assert w.version_label.text().endswith("- detector-only build")
