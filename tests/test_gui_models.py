"""The models-missing state: what is missing, where to get it, converting a checkpoint in the background."""
from __future__ import annotations

import shutil

import pytest
from tests.conftest import open_window

pytest.importorskip("PySide6")


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


@pytest.fixture
def empty_weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(folder))
    return folder


def _window(qtbot):
    return open_window(qtbot)


def test_missing_state_says_what_and_where(qtbot, empty_weights, monkeypatch):
    from app.gui import model_status

    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    w = _window(qtbot)
    panel = w.models_panel
    assert panel.isVisible()
    assert "Models missing" in panel.headline.text() and "cannot be processed" in panel.headline.text()
    # the clinician's text first: what is missing (required detector before optional landmarks),
    # what it means, what to do; no file name or command until Details is pressed
    assert panel.explain.isVisible() and not panel.label.isVisible()
    explain = panel.explain.text()
    assert explain.index("Face detector - required") < explain.index("Landmark model (STAR) - optional")
    assert "no video can be processed" in explain and "What to do" in explain and "Convert" in explain
    for command_like in (".onnx", "python main.py", "huggingface", ".pkl", "<code>"):
        assert command_like not in explain, command_like
    panel.details_button.click()
    assert panel.label.isVisible()
    details = panel.label.text()
    for text in ("retinaface_mobilenet025.onnx", "star_landmark_98.onnx", "huggingface.co/nutPace/openface_weights",
                 "Landmark_98.pkl", "Alignment_RetinaFace.pth", "python main.py models fetch", str(empty_weights)):
        assert text in details, text
    assert all(b.isVisible() and b.isEnabled() for b in panel.buttons.values())
    assert not w.start_action.isEnabled()


def test_without_torch_the_window_says_how_to_install_the_extras(qtbot, empty_weights, monkeypatch):
    from app.gui import model_status

    monkeypatch.setattr(model_status, "converter_available", lambda: False)
    w = _window(qtbot)
    assert ".venv/bin/pip install -e '.[convert]'" in w.models_panel.label.text()
    assert not any(b.isEnabled() for b in w.models_panel.buttons.values())
    w.models.convert_model("retinaface")                        # e.g. from a shortcut: explained, not crashed
    assert "pip install -e '.[convert]'" in w.statusBar().currentMessage()


def test_convert_button_runs_the_converter_in_the_background_and_reloads(qtbot, empty_weights, monkeypatch,
                                                                         retinaface_model, tmp_path):
    """The convert button -> file dialog -> converter in a QThread -> model reloaded -> Start works.
    (The converter is stood in by a copy of the session's converted model; the real converter has its
    own tests.)"""
    import threading

    from app.gui import model_convert, model_status

    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    checkpoint = tmp_path / "Alignment_RetinaFace.pth"
    checkpoint.write_bytes(b"checkpoint")
    calls = []

    def fake_convert(ckpt, out, *, overwrite, log):
        calls.append((ckpt, out, overwrite, threading.current_thread() is threading.main_thread()))
        log("RetinaFace: pretending to convert")
        shutil.copy(retinaface_model, out)

    monkeypatch.setattr(model_convert, "_converter", lambda key: fake_convert)
    w = _window(qtbot)
    monkeypatch.setattr(w.models, "ask_checkpoint", lambda key: str(checkpoint))
    with qtbot.waitSignal(w.models_changed, timeout=30000) as reloaded:
        w.models_panel.buttons["retinaface"].click()
        assert w.models_panel.log_label.text().startswith("Converting ")
    assert calls == [(checkpoint, empty_weights / "retinaface_mobilenet025.onnx", False, False)]
    status = reloaded.args[0]
    assert status.can_process
    assert "CPU" in w.backend_label.text() and "5-point mode" in w.backend_label.text()
    assert "Done" in w.models_panel.log_label.text()
    assert not w.models_panel.buttons["retinaface"].isVisible()       # no longer missing
    assert w.models_panel.buttons["star"].isVisible()                 # still missing (coarse midline)
    assert not w.models_panel.label.isVisible()                       # details behind the button now
    assert w.models_panel.log_label.text().startswith("Done")         # the conversion has ended


def test_conversion_failure_is_reported(qtbot, empty_weights, monkeypatch, tmp_path):
    from app.gui import model_convert, model_status
    from app.convert.common import ConvertError

    monkeypatch.setattr(model_status, "converter_available", lambda: True)

    def bad_convert(ckpt, out, *, overwrite, log):
        raise ConvertError("this is not a STAR checkpoint")

    monkeypatch.setattr(model_convert, "_converter", lambda key: bad_convert)
    w = _window(qtbot)
    monkeypatch.setattr(w.models, "ask_checkpoint", lambda key: str(tmp_path / "whatever.pkl"))
    w.models.convert_model("star")
    qtbot.waitUntil(lambda: w.models_panel.log_label.text().startswith("Conversion failed"), timeout=10000)
    assert "Conversion failed: this is not a STAR checkpoint" in w.models_panel.log_label.text()
    assert "this is not a STAR checkpoint" in w.statusBar().currentMessage()
    assert not (empty_weights / "star_landmark_98.onnx").exists()


def test_real_retinaface_conversion_from_the_window(qtbot, empty_weights, retinaface_pth, monkeypatch):
    """The real converter on the real checkpoint, started from the window (torch and onnx installed).
    Its CoreML check and its verification on several inputs are the converter's own tests'
    (tests/test_retinaface_convert.py): here one verification input and no CoreML check, half the time."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from app.gui import model_convert, model_status

    real = model_convert._converter

    def lighter(key):
        convert = real(key)
        return lambda ckpt, out, **kw: convert(ckpt, out, coreml_check=False, verify_inputs=1, **kw)

    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    monkeypatch.setattr(model_convert, "_converter", lighter)
    w = _window(qtbot)
    monkeypatch.setattr(w.models, "ask_checkpoint", lambda key: str(retinaface_pth))
    with qtbot.waitSignal(w.models_changed, timeout=900000) as reloaded:   # a safety net: minutes on a loaded machine
        w.models.convert_model("retinaface")
    assert reloaded.args[0].can_process, w.models_panel.log_label.text()
    assert (empty_weights / "retinaface_mobilenet025.onnx").is_file()
    assert (empty_weights / "manifest.json").is_file()      # sha256 recorded beside the model
    assert w.start_action.isEnabled() is False              # nothing queued yet


def test_closing_during_a_conversion_waits_for_it(qtbot, empty_weights, monkeypatch, tmp_path):
    import threading

    from app.gui import model_convert, model_status

    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    release = threading.Event()

    def slow_convert(ckpt, out, *, overwrite, log):
        release.wait(10)

    monkeypatch.setattr(model_convert, "_converter", lambda key: slow_convert)
    w = _window(qtbot)
    monkeypatch.setattr(w.models, "ask_checkpoint", lambda key: str(tmp_path / "Landmark_98.pkl"))
    w.models.convert_model("star")
    assert w.models_panel.log_label.text().startswith("Converting ")
    w.close()
    assert w.isVisible()                                   # not yet: the converter cannot be interrupted
    assert "conversion is running" in w.statusBar().currentMessage()
    release.set()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=10000)
    assert w.worker_thread.isFinished()


def test_an_absent_live_model_is_information_not_a_problem(empty_weights):
    """The live model (STAR cut after 2 stacks) is optional: without it nothing is missing for
    processing files and the models panel stays closed; Details mention it as information."""
    from app.base import model_files
    from app.gui import model_status

    for name in (model_files.STAR_FILE, model_files.RETINAFACE_FILE):
        (empty_weights / name).write_bytes(b"x")      # scanning only looks for the files
    status = model_status.scan_model_files()
    assert status.missing == [] and not status.needs_attention and status.headline() == ("", "")
    assert [m.key for m in status.absent_optional] == [model_files.STAR_LIVE_KEY]
    details = status.summary_html(converter=True)
    assert "Optional, not installed" in details and model_files.STAR_LIVE_FILE in details
    assert "full STAR" in details
    (empty_weights / model_files.STAR_LIVE_FILE).write_bytes(b"x")
    status = model_status.scan_model_files()
    assert status.absent_optional == [] and model_files.STAR_LIVE_KEY in status.found


def test_converting_star_in_the_window_also_makes_the_live_model(qtbot, empty_weights, monkeypatch, tmp_path):
    """One chosen STAR checkpoint gives full STAR and the live model (STAR cut after 2 stacks)."""
    import numpy as np

    from app.base import model_files
    from app.gui import model_convert, model_status
    from tests.onnx_stubs import constant_landmarks_model

    monkeypatch.setattr(model_status, "converter_available", lambda: True)
    calls = []

    def converter(key):
        def convert(ckpt, out, *, overwrite, log):
            calls.append((key, out.name))
            constant_landmarks_model(out, np.zeros((98, 2)), untrained=True)
        return convert

    monkeypatch.setattr(model_convert, "_converter", converter)
    assert model_files.models_sharing_checkpoint(model_files.STAR_KEY) == [model_files.STAR_LIVE_KEY]
    assert model_files.models_sharing_checkpoint(model_files.RETINAFACE_KEY) == []
    w = _window(qtbot)
    monkeypatch.setattr(w.models, "ask_checkpoint", lambda key: str(tmp_path / "Landmark_98.pkl"))
    w.models.convert_model(model_files.STAR_KEY)
    qtbot.waitUntil(lambda: w.models_panel.log_label.text().startswith("Done"), timeout=20000)
    assert calls == [(model_files.STAR_KEY, model_files.STAR_FILE), (model_files.STAR_LIVE_KEY, model_files.STAR_LIVE_FILE)]
    assert f"also made {model_files.STAR_LIVE_FILE}" in w.models_panel.log_label.text()
