"""The window's patient and visit fields: each added video keeps the values it was added with,
the processing settings carry them, and earlier values are offered again after a restart."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "no-weights"))


def _video(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really a video")
    return path


def test_each_video_keeps_the_subject_it_was_added_with(qtbot, tmp_path):
    from tests.conftest import open_window

    w = open_window(qtbot)
    w.subject_fields.edits["patient"].setText("P-014")
    w.subject_fields.edits["visit"].setText("V1")
    w.add_paths([_video(tmp_path / "a.mp4")])
    w.subject_fields.edits["patient"].setText("P-020")
    w.subject_fields.edits["visit"].clear()
    w.add_paths([_video(tmp_path / "b.mp4")])
    jobs = {j.path.name: j for j in w.model.jobs}
    assert jobs["a.mp4"].subject == {"patient": "P-014", "visit": "V1"}
    assert jobs["b.mp4"].subject == {"patient": "P-020", "visit": None}
    s = w._settings(jobs["a.mp4"])
    assert (s.patient, s.visit) == ("P-014", "V1")


def test_earlier_values_are_offered_again_after_a_restart(qtbot, tmp_path):
    from tests.conftest import open_window

    w = open_window(qtbot)
    for pid in ("P-001", "P-002"):
        w.subject_fields.edits["patient"].setText(pid)
        w.add_paths([_video(tmp_path / f"{pid}.mp4")])
    w.prefs.sync()
    w.close()
    again = open_window(qtbot)
    completer = again.subject_fields.edits["patient"].completer()
    offered = completer.model().stringList()
    assert offered[:2] == ["P-002", "P-001"]          # most recent first
    completer.setCompletionPrefix("002")
    assert completer.currentCompletion() == "P-002"   # found by any part of the ID
