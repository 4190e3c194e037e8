"""The guided exam's state machine (app.live.guided) on an injected player clock (frame times at
30 fps, no sleeps): the phases' timing, the record it produces, and the clinician's Repeat, Skip
and Stop. Expected times are worked out from the protocol by hand (frame grid of 1/30 s)."""
from __future__ import annotations

import pytest

from app.live.guided import GuidedExam, Phase
from app.measures.protocol import STANDARD, Protocol, Step, record_from_dict

FPS = 30.0
SHORT = Protocol("short", (Step("brow_raise", hold_s=1.0, lead_s=0.5, relax_s=0.5),
                           Step("smile", hold_s=1.0, lead_s=0.5, relax_s=0.5),
                           Step("pucker", hold_s=1.0, lead_s=0.5, relax_s=0.5)))


def frame(i: int) -> float:
    return i / FPS


class Run:
    """Frames from 0 on; ``until(t)`` ticks every frame up to time t."""

    def __init__(self, protocol: Protocol):
        self.exam = GuidedExam(protocol)
        self.i = 0
        self.exam.start(frame(0))

    @property
    def now(self) -> float:
        return frame(self.i)

    def until(self, t: float) -> None:
        while frame(self.i + 1) <= t + 1e-9 and not self.exam.done:
            self.i += 1
            self.exam.tick(self.now)

    def to_end(self, limit: float = 600.0) -> None:
        self.until(limit)
        assert self.exam.done


def spans(exam: GuidedExam) -> list[tuple[str, float, float]]:
    rec = exam.record()
    assert rec is not None
    record_from_dict(rec.as_dict())          # a valid record: ordered, not overlapping, long enough
    return [(t.task, round(t.start_s, 3), round(t.end_s, 3)) for t in rec.tasks]


def test_an_exam_without_interventions_holds_each_task_for_its_time_in_order():
    run = Run(SHORT)
    run.to_end()
    # step k starts its countdown at 2.0 k s; the hold from 0.5 s after to 1.5 s after (on the frame grid)
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5), ("smile", 2.5, 3.5), ("pucker", 4.5, 5.5)]
    assert run.now == pytest.approx(6.0)     # the last relax ends the exam
    assert not run.exam.stopped
    phases = [(c.phase, c.step) for c in run.exam.cues]
    assert phases[:4] == [(Phase.COUNTDOWN, 1), (Phase.HOLD, 1), (Phase.RELAX, 1), (Phase.COUNTDOWN, 2)]
    assert phases[-1] == (Phase.DONE, 0)


def test_frames_between_due_times_make_each_phase_last_at_least_what_is_asked():
    exam = GuidedExam(SHORT)
    exam.start(0.0)
    t = 0.0
    while not exam.done:           # an uneven camera: 0.07 s between frames, not dividing the phases
        t = round(t + 0.07, 3)
        exam.tick(t)
    for task in exam.record().tasks:
        assert 1.0 <= task.end_s - task.start_s < 1.0 + 0.07 + 1e-9


def test_the_display_counts_down_and_names_the_step():
    run = Run(SHORT)
    d = run.exam.display(run.now)
    assert (d.phase, d.prompt, d.step, d.steps, d.detail) == (Phase.COUNTDOWN, "Raise your eyebrows", 1, 3, "in 1")
    run.until(0.6)
    d = run.exam.display(run.now)
    assert d.phase is Phase.HOLD and d.prompt == "Raise your eyebrows" and d.seconds_left == pytest.approx(0.9)
    run.until(1.6)
    d = run.exam.display(run.now)
    assert d.phase is Phase.RELAX and d.prompt == "Relax" and d.detail == "next: Smile with your lips closed"
    assert (d.repeat_task, d.skip_task) == ("brow_raise", "smile")


def test_the_standard_protocol_records_every_task_of_the_vocabulary_in_its_order():
    run = Run(STANDARD)
    run.to_end()
    rec = run.exam.record()
    assert [t.task for t in rec.tasks] == [s.task for s in STANDARD.steps]
    assert rec.protocol == "standard"
    assert run.now == pytest.approx(STANDARD.duration_s, abs=0.2)


def test_repeat_during_the_relax_replaces_the_take_and_the_exam_goes_on():
    run = Run(SHORT)
    run.until(1.7)                       # brow raise held 0.5-1.5, relaxing
    run.exam.repeat(run.now)             # countdown again from 1.7: hold 2.2-3.2, relax to 3.7
    run.to_end()
    assert spans(run.exam) == [("brow_raise", 2.2, 3.2), ("smile", 4.2, 5.2), ("pucker", 6.2, 7.2)]


def test_repeat_during_the_next_countdown_redoes_the_task_just_held():
    run = Run(SHORT)
    run.until(2.1)                       # smile's countdown (2.0-2.5)
    assert run.exam.display(run.now).repeat_task == "brow_raise"
    run.exam.repeat(run.now)             # brow raise again: hold 2.6-3.6, relax to 4.1; then smile
    run.to_end()
    assert spans(run.exam) == [("brow_raise", 2.6, 3.6), ("smile", 4.6, 5.6), ("pucker", 6.6, 7.6)]


def test_repeat_during_a_hold_restarts_it_and_the_cut_take_is_not_recorded():
    run = Run(SHORT)
    run.until(3.0)                       # smile held since 2.5
    run.exam.repeat(run.now)             # countdown 3.0-3.5, hold 3.5-4.5
    run.to_end()
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5), ("smile", 3.5, 4.5), ("pucker", 5.5, 6.5)]


def test_a_repeat_cut_short_by_stop_keeps_the_earlier_take():
    run = Run(SHORT)
    run.until(1.7)
    run.exam.repeat(run.now)             # the retake's hold would be 2.2-3.2
    run.until(2.5)
    run.exam.stop(run.now)
    assert run.exam.done and run.exam.stopped
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5)]


def test_skip_in_a_countdown_a_hold_and_a_relax():
    run = Run(SHORT)
    run.exam.skip(run.now)               # brow raise skipped in its countdown: smile's countdown 0-0.5
    run.until(0.8)                       # smile held since 0.5
    run.exam.skip(run.now)               # cut: not recorded; relax 0.8-1.3, then pucker
    assert run.exam.phase is Phase.RELAX
    run.to_end()
    assert spans(run.exam) == [("pucker", 1.8, 2.8)]

    run = Run(SHORT)
    run.until(1.6)                       # relaxing after the brow raise; smile comes next
    assert run.exam.display(run.now).skip_task == "smile"
    run.exam.skip(run.now)
    assert run.exam.display(run.now).detail == "next: Pucker your lips, as if to whistle"
    run.to_end()                         # the relax keeps its time: pucker's countdown 2.0-2.5
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5), ("pucker", 2.5, 3.5)]


def test_skipping_the_last_task_ends_the_exam_with_what_was_held():
    run = Run(SHORT)
    run.until(4.6)                       # pucker held since 4.5
    run.exam.skip(run.now)
    run.to_end()
    assert not run.exam.stopped
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5), ("smile", 2.5, 3.5)]


def test_stop_during_a_hold_records_only_the_tasks_held_to_their_end():
    run = Run(SHORT)
    run.until(3.0)                       # smile half held
    run.exam.stop(run.now)
    assert run.exam.display(run.now).prompt == "The exam was stopped"
    run.exam.tick(run.now + 5)           # frames after Stop change nothing
    assert spans(run.exam) == [("brow_raise", 0.5, 1.5)]


def test_stop_before_any_task_was_held_gives_no_record():
    run = Run(SHORT)
    run.until(1.0)
    run.exam.stop(run.now)
    assert run.exam.record() is None
    assert run.exam.repeat(run.now) == [] and run.exam.skip(run.now) == []


def test_zero_lead_and_relax_run_straight_into_the_hold():
    protocol = Protocol("tight", (Step("smile", hold_s=0.5, lead_s=0.0, relax_s=0.0),
                                  Step("pucker", hold_s=0.5, lead_s=0.0, relax_s=0.0)))
    run = Run(protocol)
    assert run.exam.phase is Phase.WAITING or run.exam.phase is Phase.COUNTDOWN
    run.until(0.0)
    run.exam.tick(0.0)
    assert run.exam.phase is Phase.HOLD
    run.to_end()
    assert spans(run.exam) == [("smile", 0.0, 0.5), ("pucker", 0.5, 1.0)]


def test_a_due_time_that_is_a_sum_of_floats_is_met_on_its_frame():
    # 1.1 + 0.3 is 1.4000000000000001 in floats: the frame at 28/20 = 1.4 s must start the hold
    protocol = Protocol("short", (Step("brow_raise", hold_s=0.5, lead_s=0.3, relax_s=0.3),
                                  Step("smile", hold_s=0.5, lead_s=0.3, relax_s=0.3)))
    exam = GuidedExam(protocol)
    exam.start(0.0)
    i = 0
    while not exam.done:
        i += 1
        exam.tick(i / 20)
    assert spans(exam) == [("brow_raise", 0.3, 0.8), ("smile", 1.4, 1.9)]
