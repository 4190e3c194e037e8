"""What the live window says about the recording, Qt-free (the window only shows it): the status
line while recording, and the sentence at Stop."""
from __future__ import annotations

from app.live.exam_state import ExamState
from app.live.session import REST_SECONDS

SEPARATOR = "  \u00b7  "


def clock(seconds: float) -> str:
    """m:ss.s, as the recording's time is shown."""
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def status_line(exam: ExamState, *, frozen: bool, sound_note: str, backlog: int, fps: float) -> str:
    """The status while recording (``exam.recording``), else whether the panes are frozen."""
    if not exam.recording:
        return "Frozen (not recording)" if frozen else "Not recording"
    parts = [f"\u25cf REC {clock(exam.last)}", sound_note or "with sound"]
    if exam.rest_mark is not None:
        left = exam.rest_mark + REST_SECONDS - exam.last
        parts.append(f"rest marked at {clock(exam.rest_mark)}" + (f": hold still {left:.1f} s" if left > 0 else ""))
    if frozen:
        parts.append("panes frozen, still recording")
    if backlog > 2 * fps:
        # the encoder is slower than the camera: frames wait in memory (none is lost); said so
        # that a clinician on a slow machine stops before the memory runs out
        parts.append(f"saving {backlog / fps:.0f} s behind")
    return SEPARATOR.join(parts)


def saved_sentence(name: str, exam: ExamState, rest: tuple[float, float] | None, *, sound_note: str,
                   guided_note: str, lost: str) -> str:
    """What Stop says once the recording ``name`` is handed over; ``lost``: the frames-lost
    sentence ("" when none were), said first."""
    note = f"Saved {name} ({clock(exam.last)}, {sound_note or 'with sound'})"
    if guided_note:
        note += f"; {guided_note}"
    if exam.rest_mark is not None and rest is None:
        note += "; the rest capture was too close to Stop and is not used (the rest is found automatically)"
    elif rest is not None:
        note += f"; rest {rest[0]:.1f}-{rest[1]:.1f} s"
    note += ". The main window processes it now (its queue shows the progress and the summary)."
    return f"{lost} {note}" if lost else note
