"""A crash leaves a trace (issue 31): the fatal error's trace reaches the log file, and the next
launch says that the last session ended unexpectedly, names the kept recording and removes the
partial outputs of the run that was going on.

The crash is real: a child process with a live recording open and a run's temporary output in a
folder dies of a segmentation fault (faulthandler's own test helper), after it said it was ready.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

CHILD = textwrap.dedent("""
    import sys, faulthandler
    from pathlib import Path
    import numpy as np
    from app.base import logs, session_journal
    from app.live.recorder import Recorder
    from app.base.outputs import temp_name

    logs.setup()
    session_journal.start("window")
    rec_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    recorder = Recorder(rec_dir / "exam.mp4", (64, 48), 10.0)
    for i in range(25):                       # 2.5 s: two keyframe fragments reach the disk
        recorder.write(np.full((48, 64, 3), i * 8, np.uint8), i / 10)
    session_journal.note_output_folder(out_dir)
    (out_dir / temp_name("partial", ".mp4")).write_bytes(b"half an annotated video")
    (out_dir / "done_summary.html").write_text("an earlier, finished result")
    print("ready", flush=True)
    faulthandler._sigsegv()
""")


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update({"FACEMIRROR_LOG_DIR": str(tmp_path / "logs"), "FACEMIRROR_STATE_DIR": str(tmp_path / "state"),
                "PYTHONPATH": str(REPO)})
    return env


@pytest.fixture
def crashed(tmp_path, monkeypatch):
    rec_dir, out_dir = tmp_path / "recordings", tmp_path / "out"
    rec_dir.mkdir()
    out_dir.mkdir()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(rec_dir), str(out_dir)], cwd=REPO,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert "ready" in proc.stdout, proc.stderr        # it crashed where we meant it to, not before
    assert proc.returncode == -11, (proc.returncode, proc.stderr)
    monkeypatch.setenv("FACEMIRROR_STATE_DIR", str(tmp_path / "state"))
    return tmp_path, rec_dir, out_dir


def test_a_fatal_error_leaves_its_trace_in_the_log_file(crashed):
    tmp_path, _rec, _out = crashed
    log = (tmp_path / "logs" / "facemirror.log").read_text()
    assert "Fatal Python error: Segmentation fault" in log
    assert "most recent call first" in log          # the Python stack of the crash


def test_the_next_launch_names_the_kept_recording_and_removes_partial_outputs(crashed):
    from app.base import session_journal
    from app.video.reader import VideoReader

    _tmp, rec_dir, out_dir = crashed
    partial_recording = rec_dir / "exam.recording.mp4"
    found = session_journal.left_by_crash()
    assert len(found) == 1
    leftover = found[0]
    assert leftover.recordings == [partial_recording.resolve()]
    assert [p.name for p in leftover.removed] and all(p.name.startswith(".") for p in leftover.removed)
    assert sorted(p.name for p in out_dir.iterdir()) == ["done_summary.html"]   # finished results untouched
    text = leftover.message()
    assert "did not close normally" in text and str(partial_recording.resolve()) in text
    assert "1 unfinished output file" in text
    # the kept recording is playable up to its last fragment
    with VideoReader(partial_recording) as reader:
        assert sum(1 for _ in reader.frames()) >= 10
    # reported once
    assert session_journal.left_by_crash() == []


def test_a_normal_end_leaves_nothing_to_report(tmp_path, monkeypatch):
    from app.base import session_journal

    monkeypatch.setenv("FACEMIRROR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(session_journal, "_current", None)
    journal = session_journal.start("window")
    assert journal is not None and journal.path.exists()
    session_journal.note_recording(tmp_path / "a.recording.mp4")
    session_journal.recording_closed(tmp_path / "a.recording.mp4")
    assert json.loads(journal.path.read_text())["recordings"] == []
    session_journal.end()
    assert not journal.path.exists()
    assert session_journal.left_by_crash() == []


def test_a_live_session_of_another_process_is_not_reported(tmp_path, monkeypatch):
    """Two windows at once: the other one's journal is not a crash while its process lives."""
    from app.base import session_journal

    monkeypatch.setenv("FACEMIRROR_STATE_DIR", str(tmp_path / "state"))
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        folder = session_journal.journal_dir()
        folder.mkdir(parents=True)
        import socket
        (folder / f"session-{other.pid}.json").write_text(json.dumps(
            {"pid": other.pid, "host": socket.gethostname(), "started": "x", "recordings": [], "folders": []}))
        assert session_journal.left_by_crash() == []
    finally:
        other.communicate(b"", timeout=30)
    assert [x.journal.name for x in session_journal.left_by_crash()] == [f"session-{other.pid}.json"]


def test_the_notice_is_shown_without_blocking_and_says_where_the_recording_is(crashed, qtbot):
    from PySide6.QtWidgets import QMainWindow

    from app.base import session_journal
    from app.gui import crash_notice

    _tmp, rec_dir, _out = crashed
    window = QMainWindow()
    qtbot.addWidget(window)
    box = crash_notice.show(window, session_journal.left_by_crash(), None)
    assert box is not None and box.isVisible() and not box.isModal()
    assert str((rec_dir / "exam.recording.mp4").resolve()) in box.text()
    assert crash_notice.show(window, [], None) is None


def test_empty_or_relative_xdg_state_home_counts_as_unset(monkeypatch, tmp_path):
    from app.base import paths

    monkeypatch.delenv("FACEMIRROR_STATE_DIR", raising=False)
    monkeypatch.setattr(paths.sys, "platform", "linux")
    monkeypatch.setattr(paths.Path, "home", lambda: tmp_path)
    for value in ("", "relative/state"):
        monkeypatch.setenv("XDG_STATE_HOME", value)
        assert paths.user_state_dir() == tmp_path / ".local" / "state" / "FaceMirror"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "st"))
    assert paths.user_state_dir() == tmp_path / "st" / "FaceMirror"
