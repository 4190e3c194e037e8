"""The log and "Copy diagnostic info" never name a patient's recording (names often are patients').

A real `process` run on a file whose name and folder carry a name; the log must still say what
support needs (version, backend, the file's result and verdict) by an opaque token.
"""
from __future__ import annotations

import os
import subprocess
import sys

from app.base import logs
from tests import videos
from tests.conftest import MEDIA, REPO, _need


def test_process_log_names_no_patient(tmp_path, detector_only_weights):
    folder = tmp_path / "Maria Gonzalez"
    folder.mkdir()
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    clip = videos.write_video(folder / "Maria Gonzalez smile 2026.mp4", [base] * 6)
    log_dir = tmp_path / "log"
    env = dict(os.environ, FACEMIRROR_LOG_DIR=str(log_dir), FACEMIRROR_WEIGHTS_DIR=str(detector_only_weights))
    proc = subprocess.run([sys.executable, "main.py", "process", str(clip), "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Maria Gonzalez smile 2026.mp4" in proc.stdout          # the user's own terminal names the file
    text = (log_dir / logs.LOG_NAME).read_text()
    print(text)
    assert "Maria" not in text and "Gonzalez" not in text and str(tmp_path) not in text
    assert "verdict usable with warnings" in text and "backend CPU" in text and "<name " in text


def test_redact_keeps_program_files_and_hides_recordings():
    logs.note_private("/data/Jan Kowalski/Jan Kowalski rest.mov")
    line = logs.redact("Jan Kowalski rest.mov: failed; see /data/Jan Kowalski/out/x_report.json and "
                       '/opt/FaceMirror/app/pipeline.py line 3 with star_landmark_98.onnx')
    assert "Kowalski" not in line and "Jan" not in line and "x_report" not in line
    assert "pipeline.py" in line and "star_landmark_98.onnx" in line


def test_diagnostic_text_has_no_recording_names(tmp_path):
    import logging

    from app.base.diagnostics import diagnostic_text

    logs.setup()
    logs.note_private(tmp_path / "Anna Berg blink.mp4")
    logging.getLogger("app.pipeline.run").warning("%s: cannot write outputs", tmp_path / "Anna Berg blink.mp4")
    text = diagnostic_text(backend="CPU")
    assert "cannot write outputs" in text and "Anna" not in text and "Berg" not in text


def test_a_private_name_is_redacted_as_a_word_not_inside_other_words():
    """A folder called "out" must not turn "outputs" into "<name ...>puts" (seen when one process had
    handled such a folder before), while a recording's stem is still caught before an underscore."""
    logs.note_private("/data/out/x.mp4")
    logs.note_private("/clinic/Anna Berg blink.mp4")
    text = logs.redact("cannot write outputs for Anna Berg blink_annotated.mp4 in out")
    assert "outputs" in text and "Anna" not in text and "Berg" not in text
    assert text.endswith("in <name " + logs._token("out") + ">")
