"""The queue's data, without Qt: jobs, which dropped paths are videos, durations, text for times.

Kept Qt-free so the rules (what is accepted, how ETAs add up) are testable on their own.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from app import verdict
from app.outputs import VIDEO_EXTENSIONS, find_videos
from app.stages.channel import STAGE_THREAD
from app.stages.channel import WAIT_STAGES as PIPELINE_WAIT_STAGES

# The pipeline's working stages in its order (the CSV row is too short to show), then the idle
# time of the inference thread waiting for decoded frames and of the post thread waiting for
# inference results.
STAGE_ORDER = tuple(s for s in STAGE_THREAD if s not in PIPELINE_WAIT_STAGES and s != "csv")
WAIT_STAGES = ("wait_input", "wait_output")
STAGE_LABEL = {"star_pre": "STAR prep", "star_infer": "STAR", "wait_input": "inference",
               "wait_output": "writer"}


class Status(str, enum.Enum):
    WAITING = "waiting"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Job:
    id: int
    path: Path
    status: Status = Status.WAITING
    frames: int | None = None          # estimate from the container
    fps: float | None = None
    duration_s: float | None = None
    probed: bool = False
    progress: float | None = 0.0       # 0..1; None while the total is unknown
    frames_done: int = 0
    message: str = ""                  # failure reason, or warnings of a finished file
    out_dir: Path | None = None        # fixed when processing starts
    outputs: dict = field(default_factory=dict)
    verdict: dict | None = None        # the report's verdict (app.verdict) of a finished file
    subject: dict = field(default_factory=dict)   # patient / visit the file was added with
    rest: tuple[float, float] | None = None       # a live exam's rest capture (s), the measures' rest

    @property
    def level(self) -> str:
        """The verdict level of a finished file: "good", "usable with warnings", "not usable", or
        "unknown" (no verdict: never shown as good); "" for a file that has not finished."""
        if self.status != Status.DONE:
            return ""
        return (self.verdict or {}).get("level") or verdict.UNKNOWN

    @property
    def reasons(self) -> list[str]:
        """What the verdict found, then this file's own warnings not already said."""
        reasons = list((self.verdict or {}).get("reasons") or [])
        extra = [self.message] if self.message and self.message not in reasons else []
        return reasons + extra

    @property
    def status_text(self) -> str:
        if self.status in (Status.FAILED,) and self.message:
            return f"failed: {self.message}"
        if self.status == Status.DONE:
            level = self.level
            head = {verdict.GOOD: "done: good", verdict.WARNINGS: "done: usable with warnings",
                    verdict.NOT_USABLE: "done: NOT USABLE"}.get(level, "done: no verdict")
            reasons = self.reasons
            return head + (f" - {'; '.join(reasons)}" if reasons else "")
        return self.status.value

    @property
    def status_tooltip(self) -> str:
        """Every reason on its own line, and what to do for a failed or cancelled file."""
        if self.status == Status.DONE:
            lines = [{verdict.GOOD: "Good: no problem found; the outputs can be used as they are.",
                      verdict.WARNINGS: "Usable with warnings: check these before relying on the outputs:",
                      verdict.NOT_USABLE: "NOT USABLE: do not use these outputs clinically:"}.get(
                          self.level, "No verdict: this file's report has none; check it before use:")]
            lines += [f"• {r}" for r in self.reasons]
            lines += [f"(note: {n})" for n in (self.verdict or {}).get("notes") or []]
            return "\n".join(lines)
        if self.status == Status.FAILED:
            return f"Failed: {self.message or 'unknown error'}\nSelect the row and press Retry to try again."
        if self.status == Status.CANCELLED:
            return "Cancelled: no output was written. Select the row and press Retry to process it."
        return self.status.value


def supported_extensions_text() -> str:
    return ", ".join(sorted(VIDEO_EXTENSIONS))


def collect_videos(paths: Iterable) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Dropped or chosen files and folders -> (videos, refused with a reason).

    Folders are searched recursively for video files (app.outputs.find_videos); a file is taken
    when its extension is a video extension, otherwise refused (not silently ignored).
    """
    return find_videos([Path(p) for p in paths], by_extension=True)


def refused_message(refused: list[tuple[Path, str]]) -> str:
    """One short line for the status bar."""
    if not refused:
        return ""
    first, why = refused[0]
    text = f"Not added: {first.name or first} ({why})"
    if len(refused) > 1:
        text += f" and {len(refused) - 1} more"
    if any(why == "not a video file" for _, why in refused):
        text += f". Video files end in {supported_extensions_text()}."
    return text


def probe_video(path: Path) -> tuple[int | None, float | None, float | None]:
    """(frame count estimate, fps, duration in s) read cheaply from the container, Nones if unknown.

    PyAV, like every other video read of the app: OpenCV is used for image operations only.
    """
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                return None, None, None
            stream = streams[0]
            n = stream.frames
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
    except (av.FFmpegError, OSError, ValueError):
        return None, None, None
    fps = fps if fps and 0 < fps <= 1000 else None
    frames = int(n) if n and n > 0 else (int(round(duration * fps)) if duration and fps else None)
    if duration is None and frames and fps:
        duration = frames / fps
    return frames, fps, duration


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_stage_ms(stage_ms: dict) -> str:
    """'decode 2.1 · detect 5.3 · ...' in pipeline order, waits last."""
    parts = [f"{STAGE_LABEL.get(k, k)} {stage_ms[k]:.1f}" for k in STAGE_ORDER if stage_ms.get(k, 0) >= 0.05]
    waits = [f"{STAGE_LABEL[k]} {stage_ms[k]:.1f}" for k in WAIT_STAGES if stage_ms.get(k, 0) >= 0.05]
    text = " · ".join(parts)
    if waits:
        text += "  (idle: " + ", ".join(waits) + ")"
    return text


def queue_eta(current_eta: float | None, waiting: Iterable[Job], fps: float) -> tuple[float | None, bool]:
    """Seconds until the whole queue is done, and whether it is a lower bound (unknown lengths)."""
    if current_eta is None or fps <= 0:
        return None, False
    total = current_eta
    partial = False
    for job in waiting:
        if job.frames:
            total += job.frames / fps
        else:
            partial = True
    return total, partial
