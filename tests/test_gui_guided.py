"""The live window's guided exam (offscreen), the camera replaced by a synthetic source pushed as a
camera's frames: the exam runs on the recording's clock, ends the recording at the protocol's end,
and NAME_protocol.json is beside the recording when it is handed over; Stop during a hold, Repeat,
failures (no stale or partial record); speech off by default, with the platform's facts injected."""
from __future__ import annotations

import datetime
import errno
import json
from pathlib import Path

import av
import pytest

pytest.importorskip("PySide6")

from app.gui import guided_panel, live_recording  # noqa: E402
from app.gui.camera_source import PushedFileSource  # noqa: E402
from app.gui.guided_panel import GuidedPanel, speech_engines, speech_unavailable_reason  # noqa: E402
from app.live.guided import Phase  # noqa: E402
from app.live.sources import SyntheticSource  # noqa: E402
from app.measures.protocol import read_record  # noqa: E402
from app.engine.model_set import Models  # noqa: E402

FPS = 30.0
SHORT = {"name": "short", "steps": [{"task": "brow_raise", "hold_s": 0.5, "lead_s": 0.3, "relax_s": 0.3},
                                    {"task": "smile", "hold_s": 0.5, "lead_s": 0.3, "relax_s": 0.3}]}


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


@pytest.fixture(scope="module")
def models():
    return Models.load(threads=1)


class FakeSpeaker:
    def __init__(self, parent):
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)


def _window(qtbot, models, tmp_path, protocol: dict = SHORT, seconds: float = 20.0, **kw):
    from app.gui.live_window import LiveWindow

    src = PushedFileSource(SyntheticSource((320, 240), fps=FPS, seconds=seconds))
    w = LiveWindow(models_loader=lambda: models, folder=tmp_path / "live", source=src, speech_engines=[], **kw)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.feed.models is not None and w.frames_seen >= 3, timeout=20000)
    path = tmp_path / "protocol.json"
    path.write_text(json.dumps(protocol))
    assert w.guided.set_protocol_file(path)
    handed: list[dict] = []

    def ready(recording, rest, subject):
        record = recording.with_name(recording.stem + "_protocol.json")
        handed.append({"recording": recording, "record_there": record.exists()})

    w.recording_ready.connect(ready)
    return w, handed


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return sorted(round(float(f.time), 3) for f in c.decode(video=0))


def test_the_exam_ends_the_recording_and_its_record_is_beside_it_when_handed_over(qtbot, models, tmp_path):
    w, handed = _window(qtbot, models, tmp_path)
    assert w.guided.start()
    assert w.recording and w.guided.stage.isVisibleTo(w) and not w.guided.start_button.isVisibleTo(w)
    qtbot.waitUntil(lambda: bool(handed), timeout=30000)      # the protocol's end stopped the recording
    recording = handed[0]["recording"]
    assert handed[0]["record_there"] and not w.recording
    record = read_record(recording.with_name(recording.stem + "_protocol.json"))
    assert [t.task for t in record.tasks] == ["brow_raise", "smile"]
    times = _frame_times(recording)
    for task in record.tasks:       # boundaries are frames of the file; holds last their 0.5 s (+ < 1 frame)
        assert round(task.start_s, 3) in times and round(task.end_s, 3) in times
        assert 0.5 - 1e-3 <= task.end_s - task.start_s < 0.5 + 1 / FPS + 1e-3
    assert record.tasks[0].start_s == pytest.approx(0.3, abs=1 / FPS + 1e-3)
    # the recording ends with the protocol (2.2 s on its clock), not the 20 s source
    assert 2.2 - 1e-3 <= times[-1] < 2.2 + 0.5
    assert "2 of 2 tasks recorded" in w.notice.text()
    assert not [p for p in recording.parent.iterdir() if p.name.startswith(".")]


def test_stop_during_a_hold_keeps_the_tasks_held_to_their_end(qtbot, models, tmp_path):
    protocol = {"name": "long", "steps": [{"task": "brow_raise", "hold_s": 0.5, "lead_s": 0.2, "relax_s": 0.2},
                                          {"task": "smile", "hold_s": 30, "lead_s": 0.2, "relax_s": 0.2}]}
    w, handed = _window(qtbot, models, tmp_path, protocol)
    assert w.guided.start()
    qtbot.waitUntil(lambda: w.guided.exam is not None and w.guided.exam.phase is Phase.HOLD
                    and w.guided.exam.display(w.guided.now).step == 2, timeout=30000)
    assert w.guided.prompt_label.text() == "Smile with your lips closed"
    assert w.guided.skip_button.text().endswith("smile") and w.guided.repeat_button.isEnabled()
    w.guided.stop_button.click()
    assert handed and handed[0]["record_there"]
    record = read_record(handed[0]["recording"].with_name(handed[0]["recording"].stem + "_protocol.json"))
    assert [t.task for t in record.tasks] == ["brow_raise"]
    assert "1 of 2 tasks" in w.notice.text()
    assert w.guided.start_button.isVisibleTo(w)


def test_repeat_in_the_relax_replaces_the_take(qtbot, models, tmp_path):
    protocol = {"name": "r", "steps": [{"task": "pucker", "hold_s": 0.5, "lead_s": 0.2, "relax_s": 20}]}
    w, handed = _window(qtbot, models, tmp_path, protocol)
    assert w.guided.start()
    qtbot.waitUntil(lambda: w.guided.exam.phase is Phase.RELAX, timeout=30000)
    first = w.guided.exam.takes[0]
    assert w.guided.repeat_button.text().endswith("pucker")
    w.guided.repeat_button.click()
    assert w.guided.exam.phase is Phase.COUNTDOWN
    qtbot.waitUntil(lambda: w.guided.exam.phase is Phase.RELAX, timeout=30000)
    w.stop_recording()
    record = read_record(handed[0]["recording"].with_name(handed[0]["recording"].stem + "_protocol.json"))
    assert len(record.tasks) == 1 and record.tasks[0].start_s > first.end_s


def test_a_stop_before_any_task_was_held_writes_no_record(qtbot, models, tmp_path):
    w, handed = _window(qtbot, models, tmp_path, {"name": "x", "steps": [
        {"task": "smile", "hold_s": 5, "lead_s": 10, "relax_s": 1}]})
    assert w.guided.start()
    qtbot.waitUntil(lambda: len(w.rec.exam.times) >= 5, timeout=20000)
    w.guided.stop_button.click()
    assert handed and not handed[0]["record_there"]
    assert "no task was held to its end" in w.notice.text()


def test_a_record_that_cannot_be_written_leaves_none_and_is_not_handed_over(qtbot, models, tmp_path, monkeypatch):
    def full_disk(path, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(guided_panel, "write_record", full_disk)
    w, handed = _window(qtbot, models, tmp_path)
    assert w.guided.start()
    qtbot.waitUntil(lambda: not w.recording, timeout=30000)
    assert not handed
    assert "protocol record could not be written (No space left on device)" in w.notice.text()
    folder = tmp_path / "live"
    assert [p.suffix for p in folder.iterdir()] == [".mp4"]       # the recording, nothing else


def test_a_failed_recording_abandons_the_exam_without_a_record(qtbot, models, tmp_path, monkeypatch):
    from tests.test_live_safety import FullDisk

    w, handed = _window(qtbot, models, tmp_path, {"name": "x", "steps": [
        {"task": "smile", "hold_s": 0.5, "lead_s": 0.1, "relax_s": 0.1},
        {"task": "pucker", "hold_s": 30, "lead_s": 0.1, "relax_s": 0.1}]})
    assert w.guided.start()
    rec = w.rec.writer.recorder
    rec._container = FullDisk(rec._container, good=40)      # the disk fills up after about 1.3 s
    qtbot.waitUntil(lambda: not w.recording, timeout=30000)
    assert not handed and w.guided.exam is None
    assert "recording failed" in w.guided.choice_note.text()
    assert not list((tmp_path / "live").glob("*_protocol.json"))


def test_a_leftover_record_never_lends_its_name_to_a_new_recording(qtbot, models, tmp_path, monkeypatch):
    class Fixed(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(live_recording.datetime, "datetime", Fixed)
    w, handed = _window(qtbot, models, tmp_path)
    (tmp_path / "live").mkdir(exist_ok=True)
    leftover = tmp_path / "live" / "exam_2026-01-02_030405_protocol.json"
    leftover.write_text("{}")
    assert w.start_recording()
    assert w.rec.writer.final.name == "exam_2026-01-02_030405_2.mp4"
    qtbot.waitUntil(lambda: len(w.rec.exam.times) >= 3, timeout=20000)     # something recorded to hand over
    w.stop_recording()
    assert leftover.read_text() == "{}" and handed and not handed[0]["record_there"]


def test_a_bad_protocol_file_is_said_at_once_and_the_standard_stays_chosen(qtbot, tmp_path):
    panel = GuidedPanel(engines=[])
    qtbot.addWidget(panel)
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "b", "steps": [{"task": "smile", "hold_s": 0.1}]}')
    assert not panel.set_protocol_file(bad)
    assert "holds 0.1 s" in panel.choice_note.text()
    assert panel.chosen_protocol().name == "standard"


def test_speech_is_off_by_default_and_says_why_it_cannot_be_on():
    assert "no text to speech module" in speech_unavailable_reason(None)
    assert "no text to speech engine" in speech_unavailable_reason([])
    assert speech_unavailable_reason(["speechd"]) == ""
    engines = speech_engines()
    assert engines is None or "mock" not in engines       # Qt's test engine is no voice


def test_no_engine_disables_the_speech_box(qtbot):
    panel = GuidedPanel(engines=[])
    qtbot.addWidget(panel)
    assert not panel.speak_box.isEnabled() and not panel.speak_box.isChecked()
    assert "no text to speech engine" in panel.speak_box.toolTip()


def test_spoken_prompts_follow_the_cues_only_when_asked_for(qtbot):
    from app.measures.protocol import protocol_from_dict

    speakers: list[FakeSpeaker] = []

    def factory(parent):
        speakers.append(FakeSpeaker(parent))
        return speakers[-1]

    panel = GuidedPanel(engines=["fake"], speaker_factory=factory)
    qtbot.addWidget(panel)
    assert panel.speak_box.isEnabled() and not panel.speak_box.isChecked()     # off by default
    panel.begin(protocol_from_dict(SHORT))
    for i in range(50):
        panel.tick(i / 20)
    assert not speakers and not panel.spoken
    panel.speak_box.setChecked(True)
    panel.begin(protocol_from_dict(SHORT))
    for i in range(50):
        panel.tick(i / 20)
    assert speakers[0].said[:4] == ["Raise your eyebrows", "Now", "Relax", "Smile with your lips closed"]
    assert speakers[0].said[-1] == "Thank you: the exam is over"
