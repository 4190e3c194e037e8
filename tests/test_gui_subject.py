"""The window's patient and visit fields: each added video keeps the values it was added with,
the processing settings carry them, and earlier values are offered again after a restart."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


@pytest.fixture(autouse=True)
def isolated(isolated_qsettings, tmp_path, monkeypatch):
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
    assert "for patient P-014, visit V1" in w.statusBar().currentMessage()     # the binding is said
    assert w.subject_fields.current() == {"patient": None, "visit": None}    # applied, then emptied
    w.add_paths([_video(tmp_path / "folder" / "c1.mp4"), _video(tmp_path / "folder" / "c2.mp4")])
    w.subject_fields.edits["patient"].setText("P-020")
    w.add_paths([_video(tmp_path / "b.mp4")])
    jobs = {j.path.name: j for j in w.model.jobs}
    assert jobs["a.mp4"].subject == {"patient": "P-014", "visit": "V1"}
    assert jobs["c1.mp4"].subject == jobs["c2.mp4"].subject == {"patient": None, "visit": None}  # not P-014
    assert jobs["b.mp4"].subject == {"patient": "P-020", "visit": None}
    s = w._settings(jobs["a.mp4"])
    assert (s.patient, s.visit) == ("P-014", "V1")


def test_earlier_values_are_offered_again_after_a_restart_when_the_user_asked(qtbot, tmp_path):
    from tests.conftest import open_window

    w = open_window(qtbot)
    w.subject_fields.remember_box.setChecked(True)      # the opt-in: "Offer earlier IDs"
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


def _settings_text(tmp_path) -> str:
    return "\n".join(f.read_text(errors="replace") for f in (tmp_path / "settings").rglob("*") if f.is_file())


def test_no_patient_id_is_stored_or_offered_unless_the_user_asks(qtbot, tmp_path):
    from tests.conftest import open_window

    w = open_window(qtbot)
    assert not w.subject_fields.remember_box.isChecked()            # off by default
    w.subject_fields.edits["patient"].setText("P-777")
    w.subject_fields.edits["visit"].setText("V9")
    w.add_paths([_video(tmp_path / "a.mp4")])
    w.prefs.sync()
    w.close()
    assert "P-777" not in _settings_text(tmp_path) and "V9" not in _settings_text(tmp_path)
    again = open_window(qtbot)                                       # the next user of the computer
    assert again.subject_fields.edits["patient"].completer().model().stringList() == []


def test_history_stored_by_an_earlier_version_is_removed_and_opting_out_forgets(qtbot, tmp_path):
    from app.gui.prefs import open_settings
    from tests.conftest import open_window

    old = open_settings()                       # what the earlier version left, unasked
    old.setValue("subject/patients", ["P-OLD-1", "P-OLD-2"])
    old.setValue("subject/visits", ["V1"])
    old.sync()
    del old
    w = open_window(qtbot)
    assert w.subject_fields.edits["patient"].completer().model().stringList() == []
    w.prefs.sync()
    assert "P-OLD" not in _settings_text(tmp_path)
    w.subject_fields.remember_box.setChecked(True)
    w.subject_fields.edits["patient"].setText("P-100")
    w.add_paths([_video(tmp_path / "b.mp4")])
    w.prefs.sync()
    assert "P-100" in _settings_text(tmp_path)
    w.subject_fields.remember_box.setChecked(False)                  # opting out removes them at once
    w.prefs.sync()
    assert "P-100" not in _settings_text(tmp_path)
    assert w.subject_fields.edits["patient"].completer().model().stringList() == []


def test_compare_this_patients_visits_makes_and_opens_the_page(qtbot, tmp_path, monkeypatch):
    """Finished rows (their output sets written by tests/followup_data.py) of one patient: the action
    makes the compare page in the background and opens it; a row of another patient is not on it."""
    from app.batch.job_queue.jobs import Status
    from tests.conftest import open_window
    from tests.followup_data import headline, write_output_set

    w = open_window(qtbot)
    opened = []
    monkeypatch.setattr(w, "_open_url", lambda url: opened.append(url.toLocalFile()) or True)
    for i, (visit, sym) in enumerate((("V1", 45.0), ("V2", 75.0))):
        folder = tmp_path / visit
        write_output_set(folder, "smile", patient="P-014", visit=visit, recorded_at=f"2026-0{i + 1}-01T10:00:00",
                         headlines=[headline("mouth", sym, (sym - 5, sym + 5))])
    write_output_set(tmp_path / "other", "smile", patient="P-999", visit="V1", recorded_at="2026-01-01T10:00:00",
                     headlines=[headline("mouth", 50.0, (45.0, 55.0))])
    w.add_paths([_video(tmp_path / n / "smile.mp4") for n in ("V1", "V2", "other")])
    for job, patient in zip(w.model.jobs, ("P-014", "P-014", "P-999")):
        job.status, job.out_dir, job.subject = Status.DONE, job.path.parent, {"patient": patient, "visit": None}
    from PySide6.QtCore import QItemSelectionModel   # not selectRow: a modifier seen as held would extend it
    w.table.selectionModel().select(w.model.index(1, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                    | QItemSelectionModel.SelectionFlag.Rows)
    assert w.compare_action.isEnabled()
    w.compare_action.trigger()
    qtbot.waitUntil(lambda: bool(opened) or not w.outputs.comparing, timeout=60000)
    assert opened, w.statusBar().currentMessage()
    page = opened[0]
    assert page.startswith(str(tmp_path / "V2" / "compare"))
    text = open(page, encoding="utf-8").read()
    assert "P-014" in text and "P-999" not in text
    assert "rose" in text


def test_compare_worker_says_the_commands_last_line_when_no_page_is_made(qtbot, tmp_path):
    """No recording with a patient ID: the worker reports the command's own error line (collected
    from the command, not by redirecting the process's stdout)."""
    import sys

    from app.gui.compare_visits import CompareWorker

    stdout, stderr = sys.stdout, sys.stderr
    worker = CompareWorker()
    with qtbot.waitSignal(worker.done, timeout=30000) as got:
        worker.compare([tmp_path / "empty"], tmp_path / "compare", "P-014")
    page, message = got.args
    assert page == "" and message.startswith("error: no processed recording with a patient ID")
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
