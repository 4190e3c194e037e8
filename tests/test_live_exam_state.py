"""The live exam's state machine (app.live.exam_state) and its per-frame step
(app.live.frame_step), without Qt: what each phase allows, refused transitions, the recording's
clock, and the figures Stop compares with the time Record was held."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.midline import Midline
from app.live.exam_state import Action, ExamState, Phase, RefusedTransition
from app.live.frame_step import LiveFrameStep


def test_idle_allows_record_and_camera_choice_but_not_stop_or_rest():
    exam = ExamState()
    assert exam.phase is Phase.IDLE
    assert exam.allows(Action.RECORD) and exam.allows(Action.CHANGE_CAMERA) and exam.allows(Action.FREEZE)
    assert exam.allows(Action.QUIT_WITHOUT_ASKING)
    assert not exam.allows(Action.STOP) and not exam.allows(Action.CAPTURE_REST)
    for refused in (exam.finish, exam.mark_rest, exam.finished, exam.fail):
        with pytest.raises(RefusedTransition):
            refused()
    with pytest.raises(RefusedTransition):
        exam.frame(1.0, 1.0)
    assert exam.phase is Phase.IDLE


def test_recording_refuses_a_second_record_the_camera_and_quitting_unasked():
    exam = ExamState()
    exam.begin(pressed=10.0)
    assert exam.recording
    assert exam.allows(Action.STOP) and exam.allows(Action.FREEZE)
    assert not exam.allows(Action.RECORD) and not exam.allows(Action.CHANGE_CAMERA)
    assert not exam.allows(Action.QUIT_WITHOUT_ASKING)
    # the rest is marked on a frame: none is in yet
    assert not exam.allows(Action.CAPTURE_REST)
    with pytest.raises(RefusedTransition):
        exam.mark_rest()
    with pytest.raises(RefusedTransition):
        exam.begin(pressed=11.0)
    with pytest.raises(RefusedTransition):
        exam.finished()


def test_the_recording_clock_starts_at_the_first_frame_and_the_rest_is_marked_on_the_last():
    exam = ExamState()
    exam.begin(pressed=100.0)
    assert exam.frame(52.5, 100.2) == 0.0           # a camera's own times start anywhere
    assert exam.frame(52.6, 100.3) == pytest.approx(0.1)
    assert exam.allows(Action.CAPTURE_REST)
    assert exam.mark_rest() == pytest.approx(0.1)
    assert exam.frame(53.5, 101.2) == pytest.approx(1.0)
    assert exam.rest_mark == pytest.approx(0.1) and exam.last == pytest.approx(1.0)
    assert exam.times == pytest.approx([0.0, 0.1, 1.0])
    assert exam.first_wall == 100.2


def test_a_given_origin_keeps_the_sources_own_times():
    exam = ExamState()
    exam.begin(origin=0.0)
    assert exam.frame(0.5, 7.0) == 0.5 and exam.frame(0.6, 7.1) == pytest.approx(0.6)


def test_stop_finishes_then_idle_and_nothing_starts_while_finishing():
    exam = ExamState()
    exam.begin(pressed=0.0)
    exam.frame(0.0, 0.1)
    exam.finish()
    assert exam.phase is Phase.FINISHING
    assert not exam.allows(Action.RECORD) and not exam.allows(Action.STOP)
    assert not exam.allows(Action.CAPTURE_REST) and exam.allows(Action.FREEZE)
    with pytest.raises(RefusedTransition):
        exam.frame(0.1, 0.2)                        # no frame joins a recording being finished
    with pytest.raises(RefusedTransition):
        exam.begin()
    exam.finished()
    assert exam.phase is Phase.IDLE
    exam.begin(pressed=5.0)                         # the next recording starts from nothing
    assert exam.times == [] and exam.rest_mark is None and exam.last == 0.0


def test_a_failed_write_allows_a_new_recording_but_not_stop():
    exam = ExamState()
    exam.begin(pressed=0.0)
    exam.fail()
    assert exam.phase is Phase.FAILED
    assert exam.allows(Action.RECORD) and not exam.allows(Action.STOP)
    with pytest.raises(RefusedTransition):
        exam.fail()
    with pytest.raises(RefusedTransition):
        exam.finished()
    exam.begin(pressed=1.0)
    assert exam.recording


def test_held_runs_from_record_to_one_frame_after_the_last_arrival():
    exam = ExamState()
    exam.begin(pressed=10.0)
    assert exam.held_s(25.0, now=12.0) == pytest.approx(2.0)    # nothing arrived: until now
    for i in range(5):
        exam.frame(i * 0.04, 10.5 + i * 0.04)                    # the first frame half a second late
    # 10.5 + 0.16 + 0.04 - 10.0: the half second before the first frame counts as held
    assert exam.held_s(25.0) == pytest.approx(0.7)
    timing = exam.timing(25.0)
    assert timing.frames_were_lost                              # 5 frames in 0.7 s at 25 fps


def test_held_without_record_time_runs_from_the_first_frame_and_fewer_written_frames_count():
    exam = ExamState()
    exam.begin(origin=0.0)
    assert exam.held_s(10.0) == 0.0
    for i in range(10):
        exam.frame(i / 10.0, 3.0 + i / 10.0)
    assert exam.held_s(10.0) == pytest.approx(1.0)
    assert not exam.timing(10.0).frames_were_lost
    assert exam.timing(10.0, recorded=5).frames_were_lost       # half of them written


class _Writer:
    def __init__(self):
        self.written: list[float] = []

    def write(self, image, t):
        self.written.append(t)


class _Marks:
    def __init__(self, size):
        self.offered: list[int] = []
        self.line = Midline.vertical(size, x=size[0] * 0.25)
        self.points = None

    def offer(self, index, image, t):
        self.offered.append(index)


def test_the_frame_step_offers_every_frame_and_records_only_while_recording():
    exam = ExamState()
    heard: list[float] = []
    step = LiveFrameStep(exam, on_recorded=heard.append)
    image = np.zeros((40, 60, 3), np.uint8)
    step.marks, step.writer = _Marks((60, 40)), _Writer()
    assert step.take(1, image, 5.0, 1.0) is None                 # idle: not recorded
    exam.begin(pressed=1.0)
    assert step.take(2, image, 5.1, 1.1) == 0.0
    assert step.take(3, image, 5.3, 1.3) == pytest.approx(0.2)
    assert step.marks.offered == [1, 2, 3]
    assert step.writer.written == pytest.approx([0.0, 0.2]) and heard == step.writer.written
    exam.finish()
    assert step.take(4, image, 5.4, 1.4) is None                 # finishing: no frame joins


def test_the_frame_step_draws_about_the_landmarks_line_or_the_picture_centre():
    from app.live.panes import PaneDrawer

    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :15] = 200                                           # a bright band left of x = 15
    step = LiveFrameStep(ExamState())
    centre = step.draw(image, 1.0)
    expected = PaneDrawer().draw(image, Midline.vertical((60, 40)), None, 1.0)
    assert np.array_equal(centre.left, expected.left) and np.array_equal(centre.right, expected.right)
    step.marks = _Marks((60, 40))                                 # a midline at x = 15
    at_band = step.draw(image, 1.0)
    expected = PaneDrawer().draw(image, step.marks.line, None, 1.0)
    assert np.array_equal(at_band.left, expected.left) and np.array_equal(at_band.right, expected.right)
    assert not np.array_equal(at_band.right, PaneDrawer().draw(image, Midline.vertical((60, 40)), None, 1.0).right)


def test_the_status_line_says_time_sound_rest_freeze_and_encoder_backlog():
    from app.live.exam_text import clock, status_line

    assert clock(75.25) == "1:15.2" and clock(-3) == "0:00.0"
    exam = ExamState()
    assert status_line(exam, frozen=False, sound_note="", backlog=0, fps=30.0) == "Not recording"
    assert status_line(exam, frozen=True, sound_note="", backlog=0, fps=30.0) == "Frozen (not recording)"
    exam.begin(pressed=0.0)
    exam.frame(10.0, 0.1)
    exam.frame(11.0, 1.1)                               # one second recorded
    exam.mark_rest()
    exam.frame(11.5, 1.6)
    line = status_line(exam, frozen=True, sound_note="no sound (file source)", backlog=90, fps=30.0)
    assert line.split("  \u00b7  ") == ["\u25cf REC 0:01.5", "no sound (file source)",
                                        "rest marked at 0:01.0: hold still 1.0 s",
                                        "panes frozen, still recording", "saving 3 s behind"]
    assert "behind" not in status_line(exam, frozen=False, sound_note="", backlog=60, fps=30.0)


def test_the_stop_sentence_puts_lost_frames_first_and_says_an_unused_rest():
    from app.live.exam_text import saved_sentence

    exam = ExamState()
    exam.begin(pressed=0.0)
    exam.frame(0.0, 0.0)
    exam.mark_rest()
    exam.frame(2.0, 2.0)
    text = saved_sentence("exam.mp4", exam, (0.0, 1.5), sound_note="", guided_note="", lost="")
    assert text.startswith("Saved exam.mp4 (0:02.0, with sound); rest 0.0-1.5 s. The main window")
    exam.rest_mark = 1.9                                  # too close to Stop: no rest window
    text = saved_sentence("exam.mp4", exam, None, sound_note="no sound: no microphone",
                          guided_note="guided exam: 3 of 3 tasks", lost="12 frames were lost.")
    assert text.startswith("12 frames were lost. Saved exam.mp4 (0:02.0, no sound: no microphone); guided exam")
    assert "too close to Stop" in text


def test_the_controls_follow_the_phase():
    exam = ExamState()
    assert exam.controls(has_source=False, frozen=False, has_cameras=False) == \
        (False, False, False, False, True, False)             # no picture: nothing to record or freeze
    idle = exam.controls(has_source=True, frozen=False, has_cameras=True)
    assert idle.record and idle.freeze and idle.camera and idle.folder and idle.guided and not idle.rest
    exam.begin(pressed=0.0)
    rec = exam.controls(has_source=True, frozen=False, has_cameras=True)
    assert rec.record and rec.rest and not rec.camera and not rec.folder and not rec.guided
    # a camera unplugged mid-recording: Stop stays, and a frozen picture can still be let go
    gone = exam.controls(has_source=False, frozen=True, has_cameras=False)
    assert gone.record and gone.freeze and not gone.guided
    exam.finish()
    fin = exam.controls(has_source=True, frozen=False, has_cameras=True)
    assert not fin.record and not fin.rest and not fin.camera and not fin.guided
    exam.fail()
    failed = exam.controls(has_source=True, frozen=False, has_cameras=True)
    assert failed.record and failed.camera and failed.guided and not failed.rest


def test_the_camera_opened_is_the_shown_then_the_remembered_then_the_default_then_the_first():
    from app.gui.live_cameras import wanted_camera

    ids = ["a", "b", "c"]
    assert wanted_camera(ids, "b", "c", "a") == "b"
    assert wanted_camera(ids, "gone", "c", "a") == "c"
    assert wanted_camera(ids, None, "unplugged", "a") == "a"
    assert wanted_camera(ids, None, None, None) == "a"
    assert wanted_camera(["x"], None, None, "a") == "x"
