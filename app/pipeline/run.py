"""One video in, outputs out.

    models = Models.load()                       # face detector + STAR (or the 5-point fallback)
    result = Pipeline(models, Settings()).process(video, out_dir,
                                                  on_progress=..., on_preview=..., cancel=event)

Stages (app/pipeline/stages, docs/ARCHITECTURE.md): a reader thread decodes frames into a bounded
channel; the calling thread runs detection/tracking, STAR and the midline (FrameAnalyzer) and
streams CSV rows to their temporary file; a post thread mirrors, annotates, encodes the three
videos and makes previews. Channels hold a few frames, so memory does not grow with video
length. Every stage is timed (wall seconds and calls; waits on the channels in both directions;
CPU seconds per thread) into the report's "timings", which `python main.py benchmark pipeline
VIDEO` prints as a table (docs/performance.md).

Callbacks are plain functions called from the pipeline's threads: `on_progress(Progress)` from
the calling thread, `on_preview(Preview)` from the post thread (at most `preview_fps` per
second; the newest frame wins). Cancel with a threading.Event: the run stops within a frame or
two and leaves no output file. Failures raise nothing: the Result says what went wrong.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.base import logs, model_files, notices, session_journal
from app.engine.midline import DEFAULT_METHOD, MIDLINE_METHODS, unhonoured_choice_note
from app.results.landmarks_csv import LandmarksCsv, csv_columns
from app.engine.model_set import Models
from app.base.outputs import (MEASURE_KINDS, OutputError, OutputSet, OutputsExist, output_paths, preflight,
                         write_error_message)
from app.results.report import build_report, write_report
from app.pipeline.stages.analysis import FrameAnalyzer
from app.pipeline.stages.channel import END, STAGE_THREAD, Channel, StageTimer
from app.pipeline.stages.post import Preview, PostStage, open_video_writers
from app.pipeline.stages.reader import ReaderStage
from app.results.verdict import assess
from app.video.reader import VideoError, VideoReader, grab_frames

# app.base.outputs kind -> app.measures.write_measures target key

__all__ = ["Cancelled", "Models", "Pipeline", "Preview", "Progress", "Result", "Settings", "STAGE_THREAD",
           "csv_columns"]

log = logging.getLogger(__name__)


class Cancelled(Exception):
    pass


@dataclass
class Settings:
    midline: str = DEFAULT_METHOD        # one of MIDLINE_METHODS ("pupils" needs STAR)
    annotated: bool = True
    audio: bool = True                   # copy the input's audio into every output video
    overwrite: bool = False
    redetect_every: int = 10
    preview_max_side: int = 480
    preview_fps: float = 20.0
    queue_size: int = 4
    max_frames: int | None = None        # stop after this many frames (benchmarks); None: all
    rest: tuple[float, float] | None = None   # rest window (s) for the measures; None: the quietest stretch
    protocol: Path | None = None         # a guided exam's record (NAME_protocol.json); None: the one beside the video, if any
    patient: str | None = None           # patient ID and visit label, for the report and the summary
    visit: str | None = None
    visit_date: str | None = None        # the visit's date given by the user (ISO), for undated recordings
    subject_from_folders: bool = False   # PATIENT/VISIT/recording.mp4: IDs from the two folder names

    def subject_for(self, video: Path) -> dict:
        """Patient and visit of ``video``: as given, else (with subject_from_folders) its folders'."""
        video = Path(video).absolute()
        folders = (video.parent.parent.name, video.parent.name) if self.subject_from_folders else (None, None)
        return {"patient": self.patient or folders[0] or None, "visit": self.visit or folders[1] or None,
                **({"visit_date": self.visit_date} if self.visit_date else {})}

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        if out.get("protocol") is not None:     # the report says which record, never where it lives
            out["protocol"] = Path(out["protocol"]).name
        return out


@dataclass
class Progress:
    frames_done: int
    frames_total: int | None      # estimate from the container
    elapsed_s: float
    fps: float
    eta_s: float | None
    stage_ms: dict                 # mean ms per frame by stage


@dataclass
class Result:
    input: Path
    ok: bool
    cancelled: bool = False
    error: str | None = None
    outputs_exist: bool = False    # failed only because earlier results are in the way (front ends advise)
    outputs: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    frames: int = 0
    fps: float = 0.0
    warnings: list = field(default_factory=list)


def _progress(frames: int, total: int | None, elapsed: float, timer: StageTimer) -> Progress:
    fps = frames / elapsed if elapsed > 0 else 0.0
    eta = (max(0, total - frames) / fps) if (total and fps > 0) else None
    return Progress(frames, total, elapsed, fps, eta, timer.mean_ms(frames))


class _InputHash(threading.Thread):
    """The input's sha256, computed beside the run (a 1 GB recording takes seconds)."""

    def __init__(self, path: Path):
        super().__init__(name="facemirror-hash", daemon=True)
        self.path = path
        self.sha256: str | None = None

    def run(self) -> None:
        try:
            self.sha256 = model_files.sha256_file(self.path)
        except OSError as exc:
            log.warning("cannot hash %s: %s", self.path, exc)


class Pipeline:
    COARSE_WARNING = notices.TEXT[notices.COARSE]
    UNTRAINED_WARNING = notices.TEXT[notices.UNTRAINED]

    def __init__(self, models: Models, settings: Settings | None = None):
        self.models = models
        self.settings = settings or Settings()
        if self.settings.midline not in MIDLINE_METHODS:
            raise ValueError(f"unknown midline method {self.settings.midline!r}; choose {', '.join(MIDLINE_METHODS)}")

    # ------------------------------------------------------------------------------------------
    def process(self, input_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                on_progress: Callable[[Progress], None] | None = None,
                on_preview: Callable[[Preview], None] | None = None,
                cancel: threading.Event | None = None) -> Result:
        input_path = Path(input_path)
        logs.note_private(input_path)       # the log names it only by an opaque token
        cancel = cancel or threading.Event()
        result = Result(input=input_path, ok=False)
        finals = output_paths(input_path, Path(out_dir), self.settings.annotated)
        try:
            preflight(finals, self.settings.overwrite)
            reader = VideoReader(input_path)
        except (OutputError, VideoError) as exc:
            result.error = str(exc)
            result.outputs_exist = isinstance(exc, OutputsExist)
            return result
        except OSError as exc:
            result.error = f"{input_path.name}: {exc.strerror or exc}"
            return result
        outputs = OutputSet(finals)
        session_journal.note_output_folder(outputs.out_dir)    # a crash's partial files get removed at next launch
        try:
            self._run(reader, outputs, result, on_progress, on_preview, cancel)
            outputs.publish(self.settings.overwrite)
            result.ok = True
            result.outputs = dict(finals)
        except Cancelled:
            result.cancelled = True
            result.error = "cancelled"
        except (OutputError, VideoError, FileExistsError) as exc:
            result.error = str(exc)
        except OSError as exc:
            result.error = (f"{input_path.name}: cannot write outputs in {outputs.out_dir}: "
                            f"{write_error_message(exc)}")
        except Exception as exc:  # noqa: BLE001 - a bug must not take the batch down; say what it was
            log.exception("unexpected error processing %s", input_path)
            result.error = f"{input_path.name}: unexpected error: {type(exc).__name__}: {exc}"
        finally:
            reader.close()
            if not result.ok:
                left = outputs.discard()
                if left and result.error:
                    result.error += outputs.left_behind_message(left)
        self._log_outcome(result)
        return result

    def _log_outcome(self, result: Result) -> None:
        """One log line per video: its error, or its frames, speed, backend and verdict."""
        if result.error:
            log.info("%s: %s", result.input, result.error)
            return
        verdict = result.report.get("verdict") or {}
        log.info("%s: done, %d frames at %.1f fps, backend %s, verdict %s: %s", result.input, result.frames,
                 result.fps, self.models.describe(), verdict.get("level"), "; ".join(verdict.get("reasons") or []))

    # ------------------------------------------------------------------------------------------
    def _run(self, reader: VideoReader, outputs: OutputSet, result: Result, on_progress, on_preview,
             cancel: threading.Event) -> None:
        s = self.settings
        timer = StageTimer()
        t_start = time.perf_counter()
        started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        hasher = _InputHash(reader.path)
        hasher.start()
        analyzer = FrameAnalyzer(self.models, midline_method=s.midline, redetect_every=s.redetect_every,
                                 frame_size=reader.frame_size, fps=reader.fps, timer=timer)
        stop = threading.Event()          # any stage failed: everyone winds down
        errors: list[BaseException] = []
        frames_in = Channel(s.queue_size, stop, cancel)
        frames_out = Channel(s.queue_size, stop, cancel)
        writers = open_video_writers(outputs.temp, reader, audio=s.audio)
        csv_sink = LandmarksCsv(outputs.temp["landmarks"], self.models.coarse)
        reader_stage = ReaderStage(reader, frames_in, timer, stop, errors, s.max_frames)
        post_stage = PostStage(frames_out, writers, timer, stop, errors,
                               (reader.height, reader.width, 3), on_preview=on_preview,
                               preview_fps=s.preview_fps, preview_max_side=s.preview_max_side,
                               untrained=self.models.untrained)
        reader_stage.start()
        post_stage.start()
        finished = False
        try:
            self._infer_loop(analyzer, frames_in, frames_out, csv_sink, timer, cancel, on_progress,
                             reader.frame_count_estimate, t_start)
            finished = True
        finally:
            if not finished:
                stop.set()
            frames_out.finish()
            post_stage.join()
            stop.set()
            reader_stage.join()
            csv_sink.close()
            self._finish_videos(writers, ok=finished and not errors and not cancel.is_set()
                                and analyzer.frames > 0 and analyzer.faces_found > 0)
        self._raise_for_outcome(errors, cancel, analyzer, reader)
        elapsed = time.perf_counter() - t_start
        hasher.join()
        if on_progress is not None:
            on_progress(_progress(analyzer.frames, analyzer.frames, elapsed, timer))
        result.warnings.extend(self._warnings(reader))
        subject = s.subject_for(reader.path)
        logs.note_private_words(*subject.values())
        report = build_report(started_at=started_at, models=self.models, settings=s.as_dict(), subject=subject,
                              reader=reader,
                              input_sha256=hasher.sha256, analyzer=analyzer, writers=writers,
                              finals=outputs.final, elapsed=elapsed, timer=timer, warnings=result.warnings)
        self._write_measures(reader, outputs, report, result)
        report["verdict"] = assess(report)      # again: the measures' outcome is part of it
        write_report(outputs.temp["report"], report)
        result.report = report
        result.frames = analyzer.frames
        result.fps = analyzer.frames / elapsed if elapsed else 0.0

    def _write_measures(self, reader: VideoReader, outputs: OutputSet, report: dict, result: Result) -> None:
        """NAME_measures.csv/.json and NAME_summary.html from the landmarks CSV just written. A video
        whose frames are all unusable for measuring keeps its other outputs, with a warning."""
        from app.measures import TARGET_FOR_KIND, write_measures
        from app.measures.io import MEASURES_FAILED, MeasuresError

        targets = {TARGET_FOR_KIND[k]: outputs.temp[k] for k in MEASURE_KINDS if k in outputs.temp}
        if not targets:
            return
        from app.measures.protocol import ProtocolError, find_record, read_record

        t = time.perf_counter()
        record_path: Path | None = None
        try:
            # the record given, else NAME_protocol.json beside the recording (a bad one: no measures, said why)
            record_path = self.settings.protocol or find_record(Path(reader.path))
            record = read_record(Path(record_path)) if record_path else None
            body = write_measures(outputs.temp["landmarks"], targets, rest=self.settings.rest, report=report,
                                  frame_provider=lambda times_ms: grab_frames(reader.path, times_ms), record=record)
            report["measures"] = {"rest": body.get("rest"), "segments": len(body.get("segments") or []),
                                  "seconds": round(time.perf_counter() - t, 3)}
            if record_path:
                report["measures"]["protocol_record"] = Path(record_path).name
        except (MeasuresError, ProtocolError) as exc:
            if isinstance(exc, ProtocolError) and record_path and Path(record_path).name not in str(exc):
                exc = ProtocolError(f"{Path(record_path).name}: {exc}")
            for kind in MEASURE_KINDS:
                outputs.drop(kind)
            result.warnings.append(f"{MEASURES_FAILED}{exc}")
            report["measures"] = {"error": str(exc)}
            report["outputs"] = {k: str(p) for k, p in outputs.final.items()}

    @staticmethod
    def _infer_loop(analyzer: FrameAnalyzer, inbox: Channel, outbox: Channel, csv_sink: LandmarksCsv,
                    timer: StageTimer, cancel: threading.Event, on_progress, total: int | None,
                    t_start: float) -> None:
        cpu0 = time.thread_time()
        last_progress = 0.0
        try:
            while True:
                with timer.stage("wait_input"):
                    item = inbox.get()
                if item is END or inbox.stopping():
                    break
                result = analyzer.analyze(item)
                with timer.stage("csv"):
                    csv_sink.write(result)
                with timer.stage("infer_blocked"):
                    if not outbox.put(result):
                        break
                now = time.perf_counter()
                if on_progress is not None and now - last_progress > 0.2:
                    last_progress = now
                    on_progress(_progress(analyzer.frames, total, now - t_start, timer))
        finally:
            timer.set_thread_cpu("inference", time.thread_time() - cpu0)

    @staticmethod
    def _finish_videos(writers: dict, ok: bool) -> None:
        """Close (verify) the videos of a good run; abort them otherwise. Nothing is published here."""
        if not ok:
            for w in writers.values():
                w.abort()
            return
        try:
            for w in writers.values():
                w.close()
        except BaseException:
            for w in writers.values():
                w.abort()
            raise

    @staticmethod
    def _raise_for_outcome(errors: list, cancel: threading.Event, analyzer: FrameAnalyzer, reader) -> None:
        if errors:
            raise errors[0]
        if cancel.is_set():
            raise Cancelled()
        if analyzer.frames == 0:
            raise VideoError(f"{reader.path.name}: no frame could be decoded.")
        if analyzer.faces_found == 0:
            # Mirrors about an arbitrary line would look like results; refuse instead.
            raise VideoError(f"{reader.path.name}: no face was found in any of its {analyzer.frames} frames; "
                             "no outputs were written.")

    def _warnings(self, reader) -> list[str]:
        out = []
        if reader.ended_early:
            out.append(reader.end_reason)
        out += [notices.TEXT[code] for code in notices.for_models(self.models)]
        choice_note = unhonoured_choice_note(self.settings.midline, self.models.coarse)
        if choice_note:
            out.append(choice_note)
        return out
