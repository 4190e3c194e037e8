"""One video in, outputs out.

    models = Models.load()                       # face detector + STAR (or the 5-point fallback)
    result = Pipeline(models, Settings()).process(video, out_dir,
                                                  on_progress=..., on_preview=..., cancel=event)

Threads (DESIGN.md): a reader thread decodes frames into a bounded queue; the calling thread
runs detection/tracking, STAR and the midline; a post thread mirrors, annotates, encodes the
three videos and makes previews. Queues are small (a few frames), so memory does not grow with
video length and inference never waits on I/O unless I/O is the slower side.

Speed (docs/performance.md): on a plain CPU STAR inference is ~90 % of the CPU time per frame,
so the other threads must stay cheap. The post thread reuses one pair of mirror buffers (the
writers encode synchronously, so they are free once written), annotates only frames that are
written or previewed, and CSV rows go straight to their temporary file (memory does not grow
with the video). Every stage is timed (wall seconds and calls; waits on the queues in both
directions; CPU seconds per thread) into the report's "timings", which
`python main.py benchmark pipeline VIDEO` prints as a table.

Callbacks are plain functions called from the pipeline's threads: `on_progress(Progress)` from
the calling thread, `on_preview(Preview)` from the post thread (at most `preview_fps` per
second; the newest frame wins). Cancel with a threading.Event: the run stops within a frame or
two and leaves no output file. Failures raise nothing: the Result says what went wrong.
"""
from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import os
import platform
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from app import __version__, APP_NAME, model_files
from app.engine import runtime
from app.engine.annotate import annotate_frame, banner_for, stamp_untrained
from app.engine.landmarks import StarLandmarkDetector, crop_to_frame, model_to_crop
from app.engine.midline import (METHOD_DESCRIPTIONS, MIDLINE_CSV_COLUMNS, MIDLINE_METHODS, Midline,
                                MidlineSmoother, method_used, midline_from_5points, midline_from_wflw98,
                                unhonoured_choice_note)
from app.engine.mirror import MirrorPair, mirror_both
from app.engine.quality import QUALITY_CSV_COLUMNS, QualityCounter, assess_frame
from app.engine.tracking import FaceTracker
from app.outputs import OutputError, OutputSet, output_paths, preflight
from app.video.reader import VideoError, VideoReader
from app.verdict import assess
from app.video.writer import VideoWriter

STAGES = ("decode", "detect", "track", "star_pre", "star_infer", "midline", "csv", "mirror", "annotate",
          "encode", "preview", "wait_input", "wait_output", "infer_blocked", "read_blocked")
# Which thread each stage runs on. wait_input: the inference thread waiting for decoded frames;
# wait_output: the post thread waiting for inference results; infer_blocked: the inference thread
# waiting for room in the post queue (post-processing is the slower side); read_blocked: the
# reader waiting for room in the input queue (decoding is ahead, the normal case).
STAGE_THREAD = {"decode": "reader", "read_blocked": "reader",
                "detect": "inference", "track": "inference", "star_pre": "inference",
                "star_infer": "inference", "midline": "inference", "csv": "inference",
                "wait_input": "inference", "infer_blocked": "inference",
                "mirror": "post", "annotate": "post", "encode": "post", "preview": "post",
                "wait_output": "post"}
_END = object()


class Cancelled(Exception):
    pass


@dataclass
class Settings:
    midline: str = "glabella-chin"       # or "pupils" (STAR only)
    annotated: bool = True
    overwrite: bool = False
    redetect_every: int = 10
    preview_max_side: int = 480
    preview_fps: float = 20.0
    queue_size: int = 4
    max_frames: int | None = None        # stop after this many frames (benchmarks); None: all

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Models:
    faces: object                               # app.engine.faces.FaceDetector
    landmarks: StarLandmarkDetector | None      # None: 5-point fallback
    files: dict = field(default_factory=dict)   # key -> Path

    @classmethod
    def load(cls, threads: int | None = None) -> "Models":
        """Load the installed models. The face detector is required; STAR is optional."""
        from app.engine.faces import CREATE_COMMAND as FACES_CMD, FaceDetector

        files = {}
        rf = model_files.find_model(model_files.RETINAFACE_KEY)
        if rf is None:
            raise runtime.ModelFileError(
                "face detector model retinaface_mobilenet025.onnx not found (searched "
                + ", ".join(str(d) for d in model_files.paths.weights_search_dirs())
                + f"). Create it with: {FACES_CMD}")
        files[model_files.RETINAFACE_KEY] = rf
        faces = FaceDetector(rf, threads=threads)
        star_path = model_files.find_model(model_files.STAR_KEY)
        star = None
        if star_path is not None:
            star = StarLandmarkDetector(star_path, threads=threads)
            files[model_files.STAR_KEY] = star_path
        return cls(faces=faces, landmarks=star, files=files)

    @property
    def coarse(self) -> bool:
        return self.landmarks is None

    def describe(self) -> str:
        if self.landmarks is None:
            return f"{self.faces.backend.describe()} | 5-point fallback (coarse midline)"
        return f"{self.landmarks.backend.describe()} | STAR 98-point"

    def _sha256(self, path: Path) -> str:
        # Hash each model file once per Models, not once per video of a batch (STAR is 52 MB).
        cache = self.__dict__.setdefault("_sha_cache", {})
        if path not in cache:
            cache[path] = model_files.sha256_file(path)
        return cache[path]

    def report(self) -> dict:
        out = {}
        for key, path in self.files.items():
            out[key] = {"file": str(path), "sha256": self._sha256(path)}
        out["retinaface"]["backend"] = self.faces.backend.as_dict()
        if self.landmarks is not None:
            out["star"]["backend"] = self.landmarks.backend.as_dict()
            out["star"]["untrained"] = self.landmarks.untrained
        out["landmark_model"] = "5-point fallback" if self.landmarks is None else "STAR 98-point"
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
class Preview:
    frame_index: int
    annotated: np.ndarray          # BGR, downscaled
    left: np.ndarray               # anatomical left mirrored
    right: np.ndarray              # anatomical right mirrored


@dataclass
class Result:
    input: Path
    ok: bool
    cancelled: bool = False
    error: str | None = None
    outputs: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    frames: int = 0
    fps: float = 0.0
    warnings: list = field(default_factory=list)


class _Timer:
    """Accumulated seconds and call counts per stage, safe across the pipeline's threads."""

    def __init__(self):
        self.total = defaultdict(float)
        self.calls = defaultdict(int)
        self.thread_cpu: dict[str, float] = {}   # CPU seconds used by each pipeline thread
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.total[stage] += seconds
            self.calls[stage] += 1

    def mean_ms(self, frames: int) -> dict:
        with self._lock:
            return {k: 1000.0 * v / max(1, frames) for k, v in self.total.items()}

    def counts(self) -> dict:
        with self._lock:
            return dict(self.calls)

    def set_thread_cpu(self, thread: str, seconds: float) -> None:
        with self._lock:
            self.thread_cpu[thread] = seconds


class _TimedDetector:
    """Wraps the face detector so detector time is its own stage."""

    def __init__(self, detector, timer: _Timer):
        self._d, self._timer = detector, timer
        self.runs = 0

    def detect(self, image):
        t = time.perf_counter()
        faces = self._d.detect(image)
        self._timer.add("detect", time.perf_counter() - t)
        self.runs += 1
        return faces


def _sha256_file(path: Path, out: dict) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    out["sha256"] = h.hexdigest()


def _downscale(img: np.ndarray, max_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img.copy()
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def csv_columns(coarse: bool) -> list[str]:
    cols = ["frame", "time_ms", "face_found", "n_faces", "box_source", "box_x1", "box_y1", "box_x2",
            "box_y2", "score", "detector_ran"]
    n = 5 if coarse else 98
    for i in range(n):
        cols += [f"p{i}_x", f"p{i}_y"]
    cols += list(MIDLINE_CSV_COLUMNS) + list(QUALITY_CSV_COLUMNS)
    return cols


class Pipeline:
    COARSE_WARNING = ("no STAR model installed: the midline comes from the face detector's 5 points "
                      "and is coarse")
    UNTRAINED_WARNING = "the STAR model is an UNTRAINED development model: landmarks are meaningless"

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
        out_dir = Path(out_dir)
        cancel = cancel or threading.Event()
        result = Result(input=input_path, ok=False)
        finals = output_paths(input_path, out_dir, self.settings.annotated)
        try:
            preflight(finals, self.settings.overwrite)
            reader = VideoReader(input_path)
        except (OutputError, VideoError) as exc:
            result.error = str(exc)
            return result
        except OSError as exc:
            result.error = f"{input_path.name}: {exc.strerror or exc}"
            return result
        outputs = OutputSet(finals)
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
            result.error = f"{input_path.name}: cannot write outputs: {exc.strerror or exc}"
        except Exception as exc:  # noqa: BLE001 - a bug must not take the batch down; say what it was
            result.error = f"{input_path.name}: unexpected error: {type(exc).__name__}: {exc}"
        finally:
            reader.close()
            if not result.ok:
                outputs.discard()
        return result

    # ------------------------------------------------------------------------------------------
    def _run(self, reader: VideoReader, outputs: OutputSet, result: Result, on_progress, on_preview,
             cancel: threading.Event) -> None:
        s = self.settings
        timer = _Timer()
        coarse = self.models.coarse
        untrained = self.models.landmarks is not None and self.models.landmarks.untrained   # mark every output frame
        t_start = time.perf_counter()
        started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

        input_hash: dict = {}
        hasher = threading.Thread(target=_sha256_file, args=(reader.path, input_hash), daemon=True)
        hasher.start()

        detector = _TimedDetector(self.models.faces, timer)
        tracker = FaceTracker(detector, redetect_every=s.redetect_every, use_landmarks=not coarse)
        smoother = MidlineSmoother(fps=reader.fps)
        counter = QualityCounter()
        size = reader.frame_size
        default_line = Midline.vertical(size)
        default_frame = np.empty((size[1], size[0], 3), np.uint8)   # shape/dtype template only

        q_in: queue.Queue = queue.Queue(maxsize=s.queue_size)
        q_out: queue.Queue = queue.Queue(maxsize=s.queue_size)
        stop = threading.Event()          # any thread failed or cancel: everyone winds down
        errors: list[BaseException] = []

        # --- reader thread --------------------------------------------------------------------
        def read_loop():
            read = 0
            try:
                it = iter(reader)
                while not stop.is_set():
                    t = time.perf_counter()
                    item = next(it, None)
                    timer.add("decode", time.perf_counter() - t)
                    if item is None:
                        break
                    t = time.perf_counter()
                    while not stop.is_set():
                        try:
                            q_in.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    timer.add("read_blocked", time.perf_counter() - t)
                    read += 1
                    if s.max_frames is not None and read >= s.max_frames:
                        break
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                stop.set()
            finally:
                while not stop.is_set():   # normal end: wait for room, drop nothing
                    try:
                        q_in.put(_END, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                else:
                    _put_end(q_in, stop)   # winding down: frames may be dropped
                timer.set_thread_cpu("reader", time.thread_time())

        # --- post thread: mirror, annotate, encode, preview -----------------------------------
        writers: dict[str, VideoWriter] = {}
        codec = {}

        def post_loop():
            last_preview = 0.0
            # The writers encode synchronously, so once a frame is written its mirror buffers
            # are free again: one reused pair saves two frame allocations (and their first-touch
            # page faults) per frame. Previews are downscaled copies.
            try:
                mirror_out = MirrorPair(np.empty_like(default_frame), np.empty_like(default_frame))
                for kind in ("left_mirrored", "right_mirrored", "annotated"):
                    if kind in outputs.temp:
                        writers[kind] = VideoWriter(outputs.temp[kind], reader.fps, size, overwrite=True,
                                                    verify=False)
                        codec[kind] = writers[kind].codec
                while True:
                    t = time.perf_counter()
                    item = q_out.get()
                    timer.add("wait_output", time.perf_counter() - t)
                    if item is _END:
                        break
                    if stop.is_set():
                        continue
                    idx, frame, line, raw_line, points, box, warning = item
                    t0 = time.perf_counter()
                    pair = mirror_both(frame, line, out=mirror_out)
                    if untrained:
                        stamp_untrained(pair.left)
                        stamp_untrained(pair.right)
                    t1 = time.perf_counter()
                    annotated = None
                    preview_due = on_preview is not None and (t1 - last_preview) * s.preview_fps >= 1.0
                    if "annotated" in writers or preview_due:   # only when written or shown
                        annotated = annotate_frame(frame, landmarks=points, box=box, midline=line,
                                                   raw_midline=raw_line, banner=warning)
                        if untrained:
                            stamp_untrained(annotated)
                    t2 = time.perf_counter()
                    writers["left_mirrored"].write(pair.left)
                    writers["right_mirrored"].write(pair.right)
                    if "annotated" in writers:
                        writers["annotated"].write(annotated)
                    t3 = time.perf_counter()
                    timer.add("mirror", t1 - t0)
                    timer.add("annotate", t2 - t1)
                    timer.add("encode", t3 - t2)
                    if preview_due:
                        last_preview = t1
                        m = s.preview_max_side
                        on_preview(Preview(idx, _downscale(annotated, m), _downscale(pair.left, m),
                                           _downscale(pair.right, m)))
                        timer.add("preview", time.perf_counter() - t3)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                stop.set()
                # keep draining so the inference thread never blocks on a full queue
                while q_out.get() is not _END:
                    pass
            finally:
                timer.set_thread_cpu("post", time.thread_time())

        # CSV rows go straight to the temporary file (published or discarded with the others),
        # so memory does not grow with the video's length.
        csv_fh = open(outputs.temp["landmarks"], "w", encoding="utf-8", newline="")
        csv_writer = csv.DictWriter(csv_fh, fieldnames=csv_columns(coarse), extrasaction="ignore")
        csv_writer.writeheader()

        reader_thread = threading.Thread(target=read_loop, name="facemirror-read", daemon=True)
        post_thread = threading.Thread(target=post_loop, name="facemirror-post", daemon=True)
        reader_thread.start()
        post_thread.start()

        frames = faces_found = 0
        total = reader.frame_count_estimate
        last_progress = 0.0
        star = self.models.landmarks
        finished = False
        cpu0 = time.thread_time()
        try:
            while True:
                t = time.perf_counter()
                item = q_in.get()
                timer.add("wait_input", time.perf_counter() - t)
                if item is _END or stop.is_set():
                    break
                if cancel.is_set():
                    raise Cancelled()
                idx, ts_ms, frame = item
                detect_before = timer.total["detect"]
                t0 = time.perf_counter()
                track = tracker.step(frame)
                timer.add("track", time.perf_counter() - t0 - (timer.total["detect"] - detect_before))
                points = None
                if track.box is not None:
                    if coarse:
                        points = track.points5
                    else:
                        t1 = time.perf_counter()
                        matrix = star.preprocess(frame, track.box)
                        t2 = time.perf_counter()
                        raw = star.infer().astype(np.float64)
                        t3 = time.perf_counter()
                        points = crop_to_frame(model_to_crop(raw), matrix).astype(np.float32)
                        tracker.feedback(points)
                        timer.add("star_pre", t2 - t1)
                        timer.add("star_infer", t3 - t2)
                elif not coarse:
                    tracker.feedback(None)
                t4 = time.perf_counter()
                raw_line = None
                if points is not None:
                    raw_line = (midline_from_5points(points, size) if coarse
                                else midline_from_wflw98(points, size, self.settings.midline))
                quality = assess_frame(size, box=track.box, score=track.score, landmarks=points, coarse=coarse)
                estimate = smoother.update(raw_line, ts_ms / 1000.0)  # None (no face) holds the line
                line = estimate.smoothed or default_line
                counter.add(quality)
                timer.add("midline", time.perf_counter() - t4)
                if track.box is not None:
                    faces_found += 1
                t5 = time.perf_counter()
                csv_writer.writerow(self._csv_row(idx, ts_ms, track, points, estimate, quality, coarse))
                warning = banner_for(quality)
                t6 = time.perf_counter()
                timer.add("csv", t6 - t5)
                while not stop.is_set():
                    try:
                        q_out.put((idx, frame, line, raw_line, points, track.box, warning), timeout=0.1)
                        break
                    except queue.Full:
                        if cancel.is_set():
                            raise Cancelled()
                timer.add("infer_blocked", time.perf_counter() - t6)
                frames += 1
                now = time.perf_counter()
                if on_progress is not None and (now - last_progress > 0.2):
                    last_progress = now
                    on_progress(self._progress(frames, total, now - t_start, timer))
            finished = True
        finally:
            timer.set_thread_cpu("inference", time.thread_time() - cpu0)
            if finished and not stop.is_set():
                q_out.put(_END)
            else:
                stop.set()
                _put_end(q_out, None)
            post_thread.join()
            stop.set()
            reader_thread.join()
            csv_fh.close()
            failed = not finished or bool(errors) or cancel.is_set() or frames == 0
            if failed:
                for w in writers.values():
                    w.abort()
        if errors:
            raise errors[0]
        if cancel.is_set():
            raise Cancelled()
        if frames == 0:
            raise VideoError(f"{reader.path.name}: no frame could be decoded.")
        if faces_found == 0:
            # Mirrors about an arbitrary line would look like results; refuse instead.
            for w in writers.values():
                w.abort()
            raise VideoError(f"{reader.path.name}: no face was found in any of its {frames} frames; "
                             "no outputs were written.")
        for w in writers.values():
            w.close()
        elapsed = time.perf_counter() - t_start
        hasher.join()
        if on_progress is not None:
            on_progress(self._progress(frames, frames, elapsed, timer))

        if reader.ended_early:
            result.warnings.append(reader.end_reason)
        if coarse:
            result.warnings.append(self.COARSE_WARNING)
        if star is not None and star.untrained:
            result.warnings.append(self.UNTRAINED_WARNING)
        choice_note = unhonoured_choice_note(s.midline, coarse)
        if choice_note:
            result.warnings.append(choice_note)
        report = {
            "app": {"name": APP_NAME, "version": __version__},
            "created_utc": started_at,
            "platform": {"python": platform.python_version(), "system": platform.system(),
                         "machine": platform.machine()},
            "models": self.models.report(),
            "backend": self.models.describe(),
            "settings": self.settings.as_dict(),
            "midline_method_used": METHOD_DESCRIPTIONS[method_used(s.midline, coarse)],
            "midline_choice_note": choice_note,
            "input": {"file": str(reader.path), "sha256": input_hash.get("sha256"),
                      "bytes": reader.path.stat().st_size, **_jsonable(reader.info())},
            "frames": {"processed": frames, "estimated_total": total, "with_face": faces_found,
                       "without_face": frames - faces_found, "ended_early": bool(reader.ended_early),
                       "end_reason": reader.end_reason},
            "quality_flags": counter.as_dict(),
            "tracking": tracker.stats.as_dict(),
            "output_codec": codec,
            "outputs": {k: str(p) for k, p in outputs.final.items()},
            "timings": {"total_s": round(elapsed, 3), "fps": round(frames / elapsed, 3) if elapsed else None,
                        "mean_ms_per_frame_by_stage": {k: round(v, 3) for k, v in timer.mean_ms(frames).items()},
                        "calls_by_stage": timer.counts(),
                        "thread_cpu_s": {k: round(v, 3) for k, v in timer.thread_cpu.items()}},
            "warnings": result.warnings,
        }
        report["verdict"] = assess(report)
        with open(outputs.temp["report"], "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        result.report = report
        result.frames = frames
        result.fps = frames / elapsed if elapsed else 0.0

    @staticmethod
    def _progress(frames: int, total: int | None, elapsed: float, timer: _Timer) -> Progress:
        fps = frames / elapsed if elapsed > 0 else 0.0
        eta = (max(0, total - frames) / fps) if (total and fps > 0) else None
        return Progress(frames, total, elapsed, fps, eta, timer.mean_ms(frames))

    @staticmethod
    def _csv_row(idx, ts_ms, track, points, estimate, quality, coarse) -> dict:
        row = {"frame": idx, "time_ms": round(float(ts_ms), 3), "face_found": int(track.box is not None),
               "n_faces": "" if track.n_faces < 0 else track.n_faces, "box_source": track.source,
               "detector_ran": int(track.detector_ran),
               "score": "" if track.score is None else round(float(track.score), 4)}
        if track.box is not None:
            for k, v in zip(("box_x1", "box_y1", "box_x2", "box_y2"), track.box):
                row[k] = round(float(v), 2)
        if points is not None:
            for i, (x, y) in enumerate(np.asarray(points, np.float64)):
                row[f"p{i}_x"], row[f"p{i}_y"] = round(x, 2), round(y, 2)
        row.update(estimate.as_dict())
        row.update(quality.as_dict())
        return row


def _put_end(q: queue.Queue, stop: threading.Event | None) -> None:
    """Put the end marker even if the queue is full (make room by dropping frames)."""
    while True:
        try:
            q.put_nowait(_END)
            return
        except queue.Full:
            try:
                q.get_nowait()
            except queue.Empty:
                pass


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        elif isinstance(v, Path):
            v = str(v)
        out[k] = v
    return out
