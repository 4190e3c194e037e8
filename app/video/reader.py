"""Read a video file frame by frame, with clear errors for files that are not usable videos.

Qt-free (OpenCV's FFmpeg backend).

API
---
::

    with VideoReader(path) as reader:          # raises VideoOpenError with a clinician-readable message
        reader.width, reader.height, reader.fps, reader.frame_count_estimate, reader.rotation_deg
        for index, timestamp_ms, frame in reader:   # VideoFrame named tuples, frame is BGR uint8
            ...
        reader.frames_read, reader.ended_early, reader.end_reason

Opening checks, in order (each failure raises :class:`VideoOpenError`, whose message starts with
the file name and says what is wrong in plain words): the file exists, is a file and is
readable; it is not empty; its first bytes are not those of a still image (JPEG, PNG, GIF, BMP,
TIFF, WebP, HEIC/AVIF), an audio-only file (WAV, MP3, M4A, FLAC, AAC) or plain text; an MP4/MOV
file has its index ('moov' box; missing when a recording was interrupted or a copy is
incomplete); OpenCV can open it; and the first frame decodes. The first frame is kept so
iteration starts with it (nothing is decoded twice).

Properties
----------
* ``width``, ``height``: of the frames as delivered (taken from the first decoded frame).
* Rotation: phones store portrait video as landscape plus a rotation tag. OpenCV applies the tag
  by default (``CAP_PROP_ORIENTATION_AUTO``); this reader sets it explicitly, so frames are
  delivered UPRIGHT and ``width``/``height`` describe the upright frames. ``rotation_deg`` is the
  tag found in the file (``CAP_PROP_ORIENTATION_META``: 0, 90, 180 or 270), for information only.
* ``fps``: the container's frame rate; if it is missing or absurd (<= 0 or > 1000) 30.0 is used
  and ``fps_reliable`` is False. The writer should use ``fps`` for the outputs.
* ``frame_count_estimate``: ``CAP_PROP_FRAME_COUNT``, an ESTIMATE (some containers derive it from
  the duration; it can be off, or missing -> None). Use it for progress bars only.
* Timestamps: each frame's presentation time in milliseconds (``CAP_PROP_POS_MSEC`` after the
  read), so variable-frame-rate recordings keep their real timing. If the value is missing or
  not increasing, the previous timestamp + 1000 / fps is used and ``timestamp_fallbacks`` counts
  those frames.

End of stream
-------------
Iteration stops at the first frame that cannot be read (end of file, truncated or damaged data)
and never raises for that. Afterwards ``frames_read`` is the number of frames delivered and
``ended_early`` is True when that is clearly less than the estimate (more than
``max(2, 1 %)`` short), for example a truncated file; ``end_reason`` says why in words. If the
caller stops iterating early, ``ended_early`` stays None. Iterating again re-opens the file and
starts from frame 0.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, NamedTuple

import cv2
import numpy as np

__all__ = ["VideoError", "VideoOpenError", "VideoFrame", "VideoReader", "sniff_file_kind"]


class VideoError(Exception):
    """Base class for video reading/writing errors (messages are meant for the user)."""


class VideoOpenError(VideoError):
    """The file cannot be used as an input video; the message says why, in plain words."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


class VideoFrame(NamedTuple):
    index: int
    timestamp_ms: float
    image: np.ndarray


# ---- file sniffing ------------------------------------------------------------------------------

_IMAGE_FTYP_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_FTYP_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid"}


def _iso_has_moov(path: Path, size: int) -> bool | None:
    """Walk the top-level ISO-BMFF boxes; True if a 'moov' box is present, None if unparsable."""
    try:
        with open(path, "rb") as fh:
            pos = 0
            for _ in range(10000):
                if pos + 8 > size:
                    return False
                fh.seek(pos)
                head = fh.read(16)
                box_size = int.from_bytes(head[0:4], "big")
                box_type = head[4:8]
                if box_type == b"moov":
                    return True
                if box_size == 1:
                    if len(head) < 16:
                        return False
                    box_size = int.from_bytes(head[8:16], "big")
                elif box_size == 0:   # box runs to the end of the file
                    return False
                if box_size < 8:
                    return None
                pos += box_size
            return None
    except OSError:
        return None


def sniff_file_kind(path: str | os.PathLike) -> str | None:
    """Guess what a file is from its first bytes.

    Returns one of 'empty', 'image:<type>', 'audio:<type>', 'text', 'mp4-no-index', 'iso-video'
    or None (unknown; let the decoder try).
    """
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        return "empty"
    with open(p, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"\xff\xd8\xff"):
        return "image:JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image:PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image:GIF"
    if head.startswith(b"BM") and len(head) >= 26 and int.from_bytes(head[2:6], "little") == size:
        return "image:BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image:TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image:WebP"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio:WAV"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] in (0xFB, 0xF3, 0xF2, 0xFA)):
        return "audio:MP3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] in (0xF1, 0xF9):
        return "audio:AAC"
    if head.startswith(b"fLaC"):
        return "audio:FLAC"
    if head[4:8] == b"ftyp":
        major = head[8:12]
        if major in _IMAGE_FTYP_BRANDS:
            return "image:HEIC/AVIF"
        if major in _AUDIO_FTYP_BRANDS:
            return "audio:M4A"
    if head[4:8] in _ISO_BOXES:
        has = _iso_has_moov(p, size)
        if has is False:
            return "mp4-no-index"
        return "iso-video"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t\f" for c in text):
        return "text"
    return None


# ---- reader -------------------------------------------------------------------------------------

def _fourcc_str(value: float) -> str:
    try:
        code = int(value)
    except (TypeError, ValueError, OverflowError):
        return ""
    if code <= 0:
        return ""
    s = code.to_bytes(4, "little", signed=False).decode("latin-1")
    return s if s.isprintable() else ""


class VideoReader:
    """Frame-by-frame reader over ``cv2.VideoCapture`` (see the module docstring)."""

    MAX_REASONABLE_FPS = 1000.0
    DEFAULT_FPS = 30.0

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._preview: np.ndarray | None = None
        self._first_ts: float | None = None
        self.frames_read = 0
        self.ended_early: bool | None = None
        self.end_reason = ""
        self.timestamp_fallbacks = 0
        self._check_file()
        self._cap = self._open_capture()
        try:
            self._probe()
        except BaseException:
            self.close()
            raise

    # ---- opening --------------------------------------------------------------------------------
    def _check_file(self) -> None:
        p = self.path
        if not p.exists():
            raise VideoOpenError(p, "file not found.")
        if p.is_dir():
            raise VideoOpenError(p, "is a folder, not a video file.")
        try:
            kind = sniff_file_kind(p)
        except PermissionError:
            raise VideoOpenError(p, "cannot be read: permission denied.") from None
        except OSError as exc:
            raise VideoOpenError(p, f"cannot be read ({exc.strerror or exc}).") from None
        if kind == "empty":
            raise VideoOpenError(p, "the file is empty (0 bytes), so it is not a usable video. "
                                    "The recording or the copy may have failed.")
        if kind and kind.startswith("image:"):
            raise VideoOpenError(p, f"is a still image ({kind[6:]}), not a video file. "
                                    "FaceMirror needs a video recording.")
        if kind and kind.startswith("audio:"):
            raise VideoOpenError(p, f"contains audio only ({kind[6:]}), no video. "
                                    "FaceMirror needs a video recording.")
        if kind == "text":
            raise VideoOpenError(p, "is a text file, not a video file.")
        if kind == "mp4-no-index":
            raise VideoOpenError(p, "the video file is incomplete: its index is missing, which usually "
                                    "means the recording was interrupted or the file was not copied "
                                    "completely. Try the original file from the camera.")

    def _open_capture(self) -> cv2.VideoCapture:
        backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
        cap = cv2.VideoCapture(str(self.path), backend)
        if not cap.isOpened():
            cap.release()
            raise VideoOpenError(self.path, "not a video file that can be opened: it may be damaged or "
                                            "incomplete, contain no video track (audio only), or use "
                                            "a format this computer cannot decode.")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # deliver frames upright (also OpenCV's default)
        return cap

    def _probe(self) -> None:
        cap = self._cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps_reported = fps
        self.fps_reliable = bool(math.isfinite(fps) and 0 < fps <= self.MAX_REASONABLE_FPS)
        self.fps = float(fps) if self.fps_reliable else self.DEFAULT_FPS
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count_estimate = int(round(n)) if math.isfinite(n) and 0 < n < 1e9 else None
        rot = cap.get(cv2.CAP_PROP_ORIENTATION_META)
        self.rotation_deg = int(round(rot)) % 360 if math.isfinite(rot) else 0
        self.codec = _fourcc_str(cap.get(cv2.CAP_PROP_FOURCC))
        self.backend = cap.getBackendName()
        ok, frame = self._read(cap)
        if not ok:
            raise VideoOpenError(self.path, "contains no video frames that can be decoded: it may be "
                                            "damaged, contain audio only, or use a format this computer "
                                            "cannot decode.")
        self._first = self._preview = frame
        self._first_ts = cap.get(cv2.CAP_PROP_POS_MSEC)
        self.height, self.width = frame.shape[:2]

    @staticmethod
    def _read(cap: cv2.VideoCapture) -> tuple[bool, np.ndarray | None]:
        try:
            ok, frame = cap.read()
        except cv2.error:
            return False, None
        if not ok or frame is None or frame.size == 0:
            return False, None
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        return True, frame

    # ---- properties -----------------------------------------------------------------------------
    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the delivered (upright) frames."""
        return (self.width, self.height)

    @property
    def first_frame(self) -> np.ndarray:
        """The first frame (decoded when the file was opened), e.g. for a preview."""
        return self._preview

    @property
    def duration_ms_estimate(self) -> float | None:
        if self.frame_count_estimate is None:
            return None
        return self.frame_count_estimate * 1000.0 / self.fps

    def info(self) -> dict:
        """Plain dict for reports."""
        return {
            "path": str(self.path), "width": self.width, "height": self.height,
            "fps": self.fps, "fps_reported": self.fps_reported, "fps_reliable": self.fps_reliable,
            "frame_count_estimate": self.frame_count_estimate, "rotation_deg": self.rotation_deg,
            "codec": self.codec, "backend": self.backend,
            "frames_read": self.frames_read, "ended_early": self.ended_early,
            "end_reason": self.end_reason, "timestamp_fallbacks": self.timestamp_fallbacks,
        }

    # ---- iteration ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[VideoFrame]:
        return self.frames()

    def frames(self) -> Iterator[VideoFrame]:
        """Yield ``VideoFrame(index, timestamp_ms, image)`` from the first frame to the last readable one."""
        if self._cap is None:
            raise VideoError(f"{self.path.name}: the reader is closed.")
        if self._first is None:      # second pass: start again from the beginning
            self._cap.release()
            self._cap = self._open_capture()
            ok, frame = self._read(self._cap)
            if not ok:
                self._finish(0, "the video could not be read again.")
                return
            self._first, self._first_ts = frame, self._cap.get(cv2.CAP_PROP_POS_MSEC)
        self.frames_read = 0
        self.ended_early = None
        self.end_reason = ""
        self.timestamp_fallbacks = 0
        step = 1000.0 / self.fps
        frame, raw_ts = self._first, self._first_ts
        self._first = None
        index, prev_ts = 0, None
        while True:
            ts = raw_ts
            if ts is None or not math.isfinite(ts) or ts < 0 or (prev_ts is not None and ts <= prev_ts):
                ts = (prev_ts + step) if prev_ts is not None else 0.0
                self.timestamp_fallbacks += 1
            self.frames_read = index + 1
            yield VideoFrame(index, float(ts), frame)
            prev_ts = ts
            index += 1
            if self._cap is None:    # closed while iterating
                self._finish(index, "the reader was closed.")
                return
            ok, frame = self._read(self._cap)
            if not ok:
                break
            raw_ts = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        self._finish(index, None)

    def _finish(self, n: int, reason: str | None) -> None:
        self.frames_read = n
        est = self.frame_count_estimate
        short = est is not None and n < est - max(2, int(0.01 * est))
        self.ended_early = bool(short)
        if reason:
            self.end_reason = reason
        elif short:
            self.end_reason = (f"the video ended after {n} of about {est} frames; the file is probably "
                               "truncated or damaged.")
        else:
            self.end_reason = "end of file."

    # ---- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass
