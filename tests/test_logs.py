"""The app's log file: where it goes, what reaches it, and that native noise is quieted."""
from __future__ import annotations

import logging
import subprocess
import sys

from tests.conftest import REPO


def test_cli_run_writes_its_log_file_in_the_log_folder(tmp_path):
    env = {"FACEMIRROR_LOG_DIR": str(tmp_path / "logs"), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "main.py", "process", str(tmp_path / "missing.mp4"),
                           "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "logs" / "facemirror.log").read_text()
    assert "FaceMirror started" in log and "process" in log
    # the user's terminal does not get the log lines
    assert "FaceMirror started" not in proc.stdout + proc.stderr


def test_recent_errors_keep_warnings_for_diagnostics(tmp_path, monkeypatch):
    from app.base import logs

    logs.recent_errors.records.clear()
    handler = logs.recent_errors
    logger = logging.getLogger("app.test_logs")
    logger.addHandler(handler)
    try:
        logger.info("routine")
        logger.error("the encoder failed: disk full")
    finally:
        logger.removeHandler(handler)
    assert any("disk full" in r for r in logs.recent_errors.records)
    assert not any("routine" in r for r in logs.recent_errors.records)


def test_log_dir_follows_the_platform(monkeypatch, tmp_path):
    from app.base import logs

    monkeypatch.delenv("FACEMIRROR_LOG_DIR", raising=False)
    monkeypatch.setattr(logs.sys, "platform", "darwin")
    monkeypatch.setattr(logs.Path, "home", lambda: tmp_path)
    assert logs.log_dir() == tmp_path / "Library" / "Logs" / "FaceMirror"
    monkeypatch.setattr(logs.sys, "platform", "linux")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert logs.log_dir() == tmp_path / "state" / "FaceMirror" / "log"


def test_diagnostic_text_has_versions_backend_models_and_recent_errors():
    from app.base import diagnostics, logs

    logs.recent_errors.records.clear()
    logs.recent_errors.records.append("2026-11-29 ERROR app.x: encoder failed")
    text = diagnostics.diagnostic_text(backend="CPU, 2 threads | STAR 98-point",
                                       models={"retinaface": {"file": "/w/r.onnx", "sha256": "ab12"}})
    assert "FaceMirror" in text and "onnxruntime" in text and "av " in text
    assert "backend: CPU, 2 threads | STAR 98-point" in text
    assert "model retinaface: /w/r.onnx sha256 ab12" in text
    assert "encoder failed" in text and str(logs.log_file()) in text
