"""The window's queue helpers, without Qt: which dropped paths are videos, durations, text for times.

Kept Qt-free so the rules (what is accepted, how ETAs add up) are testable on their own. The jobs
themselves and their states are app.batch.job_queue's (re-exported here for the window's modules).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from app.batch.job_queue.jobs import Job, Status
from app.base.outputs import VIDEO_EXTENSIONS, find_videos
from app.pipeline.stages.channel import STAGE_THREAD
from app.pipeline.stages.channel import WAIT_STAGES as PIPELINE_WAIT_STAGES

# The pipeline's working stages in its order (the CSV row is too short to show), then the idle
# time of the inference thread waiting for decoded frames and of the post thread waiting for
# inference results.
STAGE_ORDER = tuple(s for s in STAGE_THREAD if s not in PIPELINE_WAIT_STAGES and s != "csv")
WAIT_STAGES = ("wait_input", "wait_output")
STAGE_LABEL = {"star_pre": "STAR prep", "star_infer": "STAR", "wait_input": "inference",
               "wait_output": "writer"}
__all__ = ["Job", "Status", "collect_videos", "format_duration", "format_stage_ms", "probe_video", "queue_eta",
           "refused_message"]


def supported_extensions_text() -> str:
    return ", ".join(sorted(VIDEO_EXTENSIONS))


def collect_videos(paths: Iterable) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Dropped or chosen files and folders -> (videos, refused with a reason).

    Folders are searched recursively for video files (app.base.outputs.find_videos); a file is taken
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
            duration = _declared_duration_s(stream, container)
    except (av.FFmpegError, OSError, ValueError):
        return None, None, None
    fps = fps if fps and 0 < fps <= 1000 else None
    frames, duration = _frames_and_duration(n, fps, duration)
    return frames, fps, duration


def _frames_and_duration(n: int | None, fps: float | None, duration: float | None
                         ) -> tuple[int | None, float | None]:
    """The declared frame count (else duration x fps), and the duration (else frames / fps)."""
    frames = int(n) if n and n > 0 else (int(round(duration * fps)) if duration and fps else None)
    if duration is None and frames and fps:
        duration = frames / fps
    return frames, duration


def _declared_duration_s(stream, container) -> float | None:
    """The stream's own duration, else the container's; None when neither is declared."""
    import av

    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


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
