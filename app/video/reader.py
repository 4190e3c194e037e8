"""Read a video file frame by frame (FFmpeg through PyAV), with clear errors for unusable files.

Qt-free. The API below is the contract with app/pipeline/run.py (issue 10, media fidelity).

::

    with VideoReader(path) as reader:          # raises VideoOpenError with a clinician-readable message
        reader.width, reader.height, reader.fps, reader.time_base, reader.rotation_deg, reader.hdr
        for index, timestamp_ms, image, pts in reader:   # VideoFrame named tuples
            ...
        reader.frames_read, reader.ended_early, reader.end_reason

Opening checks, in order (each failure raises :class:`VideoOpenError`, whose message starts with
the file name): the file exists, is a file and is readable; it is not empty; its first bytes are
not those of a still image, an audio-only file or plain text; an MP4/MOV has its index ('moov');
FFmpeg opens it; it has a video track; the first frame decodes. The first frame is kept so
iteration starts with it (nothing is decoded twice).

* Every container/codec this FFmpeg decodes; multi-threaded decoding (frame + slice threads).
* Times: each frame's pts from the stream (``timestamp_ms`` relative to the first frame; variable
  frame rate kept exactly). A missing or non-increasing pts (damaged files) is replaced by the
  previous one + one average frame interval and counted in ``timestamp_fallbacks``.
* Rotation: the display matrix (phones store portrait video as landscape + a rotation) is applied;
  frames, ``width`` and ``height`` are upright. ``rotation_deg`` is the clockwise display rotation
  found in the file (0/90/180/270); ``mirrored`` is True when the matrix also flips (undone too:
  frames look as players show them). Non-square pixels are resized to the display aspect ratio.
* HDR: 10-bit HLG/PQ is converted to SDR BT.709 (see app/video/hdr.py); ``hdr`` says what was done.
* End of stream: iteration stops at the end or where the data is damaged (demuxer error, or
  ``MAX_CONSECUTIVE_DECODE_ERRORS`` undecodable packets in a row) and never raises for that.
  ``ended_early`` is True when the frames stop clearly before the container said (frame count or
  duration), and ``end_reason`` says so in words ("the recording ends early at 0:07 of 0:20 ...").
  If the caller stops iterating, ``ended_early`` stays None. Iterating again re-opens the file.
"""
from __future__ import annotations

import fractions
import math
import os
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import av
import cv2
from av.video.reformatter import VideoReformatter
import numpy as np

from app.video.ffmpeg_log import route_ffmpeg_log_to_python
from app.video.hdr import HdrToSdr, hdr_transfer

__all__ = ["VideoError", "VideoOpenError", "VideoFrame", "VideoReader", "grab_frames", "sniff_file_kind"]

route_ffmpeg_log_to_python()


class VideoError(Exception):
    """Base class for video reading/writing errors (messages are meant for the user)."""


class VideoOpenError(VideoError):
    """The file cannot be used as an input video; the message says why, in plain words."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


class VideoFrame(NamedTuple):
    index: int  # type: ignore[assignment]  # 0-based decode order (the contract name; shadows tuple.index)
    timestamp_ms: float     # presentation time since the first frame (from the stream's pts)
    image: np.ndarray       # BGR uint8, upright, display size
    pts: int                # raw pts in VideoReader.time_base units (given unchanged to the writer)


# ---- file sniffing ------------------------------------------------------------------------------

# What an ISO file is by its major brand, for the brands that are not video
_FTYP_KINDS = {**dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif",
                                b"avis"), "image:HEIC/AVIF"),
               **dict.fromkeys((b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "), "audio:M4A")}
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
    known = _sniff_magic(head, size) or _sniff_ftyp_brand(head)
    if known:
        return known
    if head[4:8] in _ISO_BOXES:
        return "mp4-no-index" if _iso_has_moov(p, size) is False else "iso-video"
    return "text" if _is_text(head) else None


# Magic bytes of the still images users mistake for videos and of audio-only files (first match wins).
_MAGIC_PREFIXES = (
    (b"\xff\xd8\xff", "image:JPEG"), (b"\x89PNG\r\n\x1a\n", "image:PNG"), (b"GIF87a", "image:GIF"),
    (b"GIF89a", "image:GIF"), (b"II*\x00", "image:TIFF"), (b"MM\x00*", "image:TIFF"),
    (b"ID3", "audio:MP3"), (b"fLaC", "audio:FLAC"),
)
_RIFF_FORMS = {b"WEBP": "image:WebP", b"WAVE": "audio:WAV"}          # bytes 8-12 of a RIFF file
# the second byte of a raw MPEG audio stream's first frame header (after the 0xFF sync byte)
_FRAME_SYNC = {b"\xfb": "audio:MP3", b"\xf3": "audio:MP3", b"\xf2": "audio:MP3", b"\xfa": "audio:MP3",
               b"\xf1": "audio:AAC", b"\xf9": "audio:AAC"}


def _sniff_magic(head: bytes, size: int) -> str | None:
    """'image:<type>' or 'audio:<type>' from a file's first bytes, None for anything else."""
    for prefix, kind in _MAGIC_PREFIXES:
        if head.startswith(prefix):
            return kind
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_FORMS:
        return _RIFF_FORMS[head[8:12]]
    if head[:1] == b"\xff" and head[1:2] in _FRAME_SYNC:
        return _FRAME_SYNC[head[1:2]]
    if head.startswith(b"BM") and len(head) >= 26 and int.from_bytes(head[2:6], "little") == size:
        return "image:BMP"      # a BMP header carries the file's size
    return None


def _sniff_ftyp_brand(head: bytes) -> str | None:
    """ISO files whose major brand says image (HEIC/AVIF) or audio (M4A); None for video brands."""
    return _FTYP_KINDS.get(head[8:12]) if head[4:8] == b"ftyp" else None


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t\f" for c in text)



# ---- reader -------------------------------------------------------------------------------------

_ATTACHED_PIC = 0x400            # AV_DISPOSITION_ATTACHED_PIC: cover art, not a video track
_CW, _CCW = cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE


def _transpose(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(1, 0, 2))


# For 0, 90 and 270 degrees clockwise: whether the display matrix also mirrors, and the image
# operations that make such a frame upright.
_MIRRORS: dict[int, Callable[[np.ndarray], bool]] = {
    0: lambda m: m[4] < 0, 90: lambda m: m[3] > 0, 270: lambda m: m[3] < 0}
_UPRIGHT_OPS: dict[tuple[int, bool], tuple[Callable[[np.ndarray], np.ndarray], ...]] = {
    (0, False): (),
    (0, True): (lambda i: cv2.flip(i, 0),),
    (90, False): (lambda i: cv2.rotate(i, _CW),),
    (90, True): (_transpose,),
    (270, False): (lambda i: cv2.rotate(i, _CCW),),
    (270, True): (lambda i: cv2.flip(cv2.rotate(i, _CW), 0),),
}


def _orientation(frame: av.VideoFrame) -> tuple[int, bool, list[Callable[[np.ndarray], np.ndarray]]]:
    """(clockwise rotation, whether it also mirrors, image operations) from the frame's display matrix.

    Same decisions as the ffmpeg command line's autorotate (fftools, FFmpeg 7-8), so frames come out
    as FFmpeg-based players show them, flipped matrices (mirrored front-camera recordings) included.
    Rotations other than multiples of 90 degrees are ignored (not produced by cameras).
    """
    sd = frame.side_data.get("DISPLAYMATRIX") if hasattr(frame.side_data, "get") else None
    if sd is None:
        return 0, False, []
    m = np.frombuffer(memoryview(sd), dtype=np.int32)  # type: ignore[arg-type]  # SideData has the buffer protocol
    theta = int(round(-(frame.rotation or 0))) % 360            # PyAV: counter-clockwise
    if theta == 180:        # two flips, each decided by its own diagonal element
        ops = ([lambda i: cv2.flip(i, 1)] if m[0] < 0 else []) + ([lambda i: cv2.flip(i, 0)] if m[4] < 0 else [])
        return 180, len(ops) == 1, ops
    mirrors = _MIRRORS.get(theta)
    if mirrors is None:     # not a multiple of 90 degrees
        return 0, False, []
    mirrored = bool(mirrors(m))
    return theta, mirrored, list(_UPRIGHT_OPS[theta, mirrored])


# What a file refused before decoding is, by the kind its first bytes show (sniff_file_kind; "{}" is
# the format after "image:" or "audio:").
_REFUSED_KINDS = {
    "empty": "the file is empty (0 bytes), so it is not a usable video. The recording or the copy may have failed.",
    "image": "is a still image ({}), not a video file. FaceMirror needs a video recording.",
    "audio": "contains audio only ({}), no video. FaceMirror needs a video recording.",
    "text": "is a text file, not a video file.",
    "mp4-no-index": ("the video file is incomplete: its index is missing, which usually means the recording was "
                     "interrupted or the file was not copied completely. Try the original file from the camera."),
}
_NOT_OPENABLE = ("not a video file that can be opened: it may be damaged or incomplete, contain no "
                 "video track (audio only), or use a format this computer cannot decode.")
_NO_FRAMES = ("contains no video frames that can be decoded: it may be damaged, contain audio only, "
              "or use a format this computer cannot decode.")


def _clock(ms: float) -> str:
    """0:07, 12:03, 1:02:03."""
    s = int(max(0.0, ms) // 1000)
    h, m, sec = s // 3600, (s // 60) % 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _pick_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for stream in container.streams.video:
        if not (int(stream.disposition or 0) & _ATTACHED_PIC):
            return stream
    return None


def _audio_info(container: av.container.InputContainer) -> dict | None:
    if not container.streams.audio:
        return None
    ctx = container.streams.audio[0].codec_context
    layout = getattr(ctx, "layout", None)
    return {"codec": ctx.name, "sample_rate": int(ctx.sample_rate or 0),
            "channels": int(getattr(layout, "nb_channels", 0) or getattr(ctx, "channels", 0) or 0)}


class VideoReader:
    """Frame-by-frame reader over PyAV (see the module docstring)."""

    MAX_REASONABLE_FPS = 1000.0
    DEFAULT_FPS = 30.0
    MAX_CONSECUTIVE_DECODE_ERRORS = 25
    SEEK_AHEAD_MS = 3000.0          # grab_frames seeks rather than decodes forward beyond this

    def __init__(self, path: str | os.PathLike, *, threads: int = 0):
        self.path = Path(path)
        self.threads = int(threads)
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._first: VideoFrame | None = None
        self._hdr: HdrToSdr | None = None
        self._stop_reason: str | None = None
        self.frames_read = 0
        self.ended_early: bool | None = None
        self.end_reason = ""
        self.timestamp_fallbacks = 0
        self.decode_errors = 0
        self.last_timestamp_ms: float | None = None
        self._grab_pos_ms: float | None = None
        self._grab_last: tuple[float, np.ndarray] | None = None
        # one reformatter for the whole stream: it keeps its swscale context (building one per frame
        # cost 7.8 CPU-ms at 1080p, converting 0.7)
        self._to_bgr = VideoReformatter()
        self._check_file()
        try:
            self._open()
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
        family, _, detail = (kind or "").partition(":")
        if family in _REFUSED_KINDS:
            raise VideoOpenError(p, _REFUSED_KINDS[family].format(detail))

    def _open(self) -> None:
        """Open the container and the video stream (again, for a second pass)."""
        if self._container is not None:
            self._container.close()
        try:
            container = self._container = av.open(str(self.path), metadata_errors="ignore")
        except PermissionError:
            raise VideoOpenError(self.path, "cannot be read: permission denied.") from None
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
            raise VideoOpenError(self.path, _NOT_OPENABLE) from None
        stream = _pick_video_stream(container)
        if stream is None:
            if container.streams.audio:
                raise VideoOpenError(self.path, _REFUSED_KINDS["audio"].format(container.streams.audio[0].codec_context.name))
            raise VideoOpenError(self.path, "contains no video track.")
        stream.thread_type = "AUTO"               # frame + slice threads
        stream.codec_context.thread_count = self.threads
        self._stream = stream
        self._stop_reason = None
        self._frames = self._decoded(container, stream)

    def _live(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream, Iterator[av.VideoFrame]]:
        """Container, stream and frame iterator of an open reader."""
        if self._container is None or self._stream is None or self._frames is None:
            raise VideoError(f"{self.path.name}: the reader is closed.")
        return self._container, self._stream, self._frames

    def _probe(self) -> None:
        container, stream, frames = self._live()
        self.codec = stream.codec_context.name
        self.pix_fmt = stream.codec_context.pix_fmt or ""
        self.time_base: fractions.Fraction = stream.time_base or fractions.Fraction(1, 90000)
        self._probe_timing(stream, container)
        self.audio = _audio_info(container)
        first = next(frames, None)
        if first is None:
            raise VideoOpenError(self.path, _NO_FRAMES)
        self._probe_first_frame(stream, first)

    def _probe_timing(self, stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> None:
        """fps (the default where the file's is missing or absurd), duration and frame count."""
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else float("nan")
        self.fps_reliable = bool(math.isfinite(fps) and 0 < fps <= self.MAX_REASONABLE_FPS)
        self.fps = fps if self.fps_reliable else self.DEFAULT_FPS
        self.duration_ms = self._duration_ms(stream, container)
        self.frame_count_exact = bool(stream.frames and stream.frames > 0)
        if self.frame_count_exact:
            self.frame_count_estimate: int | None = int(stream.frames)
        elif self.duration_ms:
            self.frame_count_estimate = int(round(self.duration_ms * self.fps / 1000.0)) or None
        else:
            self.frame_count_estimate = None

    def _probe_first_frame(self, stream: av.video.stream.VideoStream, first: av.VideoFrame) -> None:
        """Orientation, pixel aspect, HDR and the upright size, all from the first frame."""
        self.rotation_deg, self.mirrored, self._orient_ops = _orientation(first)
        sar = stream.sample_aspect_ratio
        self._sar = float(sar) if sar and float(sar) > 0 and abs(float(sar) - 1.0) > 1e-3 else 1.0
        self._coded_size = (first.width, first.height)
        self._hdr = HdrToSdr(stream, first) if hdr_transfer(first) is not None else None
        self.hdr: dict | None = self._hdr.info() if self._hdr else None
        self._pts0 = first.pts if first.pts is not None else 0
        self._prev_pts: int | None = None
        image = self._upright(first, self._hdr.first_image() if self._hdr else None)
        self.height, self.width = image.shape[:2]
        self._first = VideoFrame(0, 0.0, image, self._next_pts(first))
        self._preview = image

    @staticmethod
    def _duration_ms(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> float | None:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base) * 1000.0
        if container.duration:
            return container.duration / 1000.0       # AV_TIME_BASE is microseconds
        return None

    # ---- decoding -------------------------------------------------------------------------------
    def _decoded(self, container: av.container.InputContainer,
                 stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
        """Decoded frames; stops (never raises) at the end or where the data is damaged."""
        errors = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:
                    self.decode_errors += 1
                    errors += 1
                    if errors >= self.MAX_CONSECUTIVE_DECODE_ERRORS:
                        self._stop_reason = f"the video data is damaged ({exc.strerror or exc})"
                        _drain(stream)
                        return
                    continue
                for frame in frames:
                    errors = 0
                    yield frame
        except av.FFmpegError as exc:                # demuxer: truncated or damaged container
            self._stop_reason = f"the file could not be read further ({exc.strerror or exc})"
            try:
                yield from stream.codec_context.decode(None)   # frames still inside the decoder
            except av.FFmpegError:
                pass

    def _next_pts(self, frame: av.VideoFrame) -> int:
        """The frame's pts, or previous + one frame interval when missing / not increasing."""
        pts = frame.pts
        if self._prev_pts is not None and (pts is None or pts <= self._prev_pts):
            step = max(1, int(round(1.0 / (self.fps * float(self.time_base)))))
            pts = self._prev_pts + step
            self.timestamp_fallbacks += 1
        elif pts is None:
            pts = self._pts0
        self._prev_pts = int(pts)
        return int(pts)

    def _upright(self, frame: av.VideoFrame, image: np.ndarray | None = None) -> np.ndarray:
        """BGR uint8 image at display size (HDR converted, aspect ratio and rotation applied)."""
        if image is None:
            image = self._hdr.convert(frame) if self._hdr else self._to_bgr.reformat(frame, format="bgr24").to_ndarray()
        h, w = image.shape[:2]
        if (w, h) != self._coded_size:                    # resolution change mid-stream
            image = cv2.resize(image, self._coded_size, interpolation=cv2.INTER_AREA)
            w, h = self._coded_size
        if self._sar != 1.0:
            image = cv2.resize(image, (int(round(w * self._sar)), h), interpolation=cv2.INTER_CUBIC)
        for op in self._orient_ops:
            image = op(image)
        return image

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
    def start_time_s(self) -> float:
        """The player's clock at the first frame: its pts in seconds (the CSV's time_ms counts from it)."""
        return round(float(getattr(self, "_pts0", 0) or 0) * float(self.time_base), 6)

    def info(self) -> dict:
        """JSON-able facts for the report's "input"."""
        return {
            "path": str(self.path), "width": self.width, "height": self.height,
            "codec": self.codec, "pix_fmt": self.pix_fmt, "fps": round(self.fps, 6),
            "fps_reliable": self.fps_reliable, "time_base": str(self.time_base),
            "frame_count_estimate": self.frame_count_estimate, "duration_ms": self.duration_ms,
            # the player's clock at the first frame: every time_ms of the CSV plus this is what a
            # player shows (the outputs keep the input's frame times)
            "start_time_s": self.start_time_s,
            "rotation_deg": self.rotation_deg, "mirrored": self.mirrored, "hdr": self.hdr, "audio": self.audio,
            "frames_read": self.frames_read, "last_timestamp_ms": self.last_timestamp_ms,
            "ended_early": self.ended_early, "end_reason": self.end_reason,
            "timestamp_fallbacks": self.timestamp_fallbacks, "decode_errors": self.decode_errors,
        }

    # ---- iteration ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[VideoFrame]:
        return self.frames()

    def frames(self) -> Iterator[VideoFrame]:
        """Yield ``VideoFrame(index, timestamp_ms, image, pts)`` from the first frame to the last readable one."""
        if self._container is None:
            raise VideoError(f"{self.path.name}: the reader is closed.")
        first = self._first
        if first is None:                    # second pass: start again from the beginning
            self._open()
            self._prev_pts = None
            raw = next(self._live()[2], None)
            if raw is None:
                self._finish(0, "the video could not be read again.")
                return
            first = VideoFrame(0, 0.0, self._upright(raw), self._next_pts(raw))
        self._first = None
        self.frames_read = 0
        self.ended_early = None
        self.end_reason = ""
        self.timestamp_fallbacks = 0
        self.decode_errors = 0
        self.last_timestamp_ms = 0.0
        self.frames_read = 1
        yield first
        index = 1
        scale = 1000.0 * float(self.time_base)
        while True:
            frames = self._frames
            if frames is None:                # closed while iterating
                self._finish(index, "the reader was closed.")
                return
            raw = next(frames, None)
            if raw is None:
                break
            pts = self._next_pts(raw)
            ts = (pts - self._pts0) * scale
            self.frames_read = index + 1
            self.last_timestamp_ms = ts
            yield VideoFrame(index, ts, self._upright(raw), pts)
            index += 1
        self._finish(index, None)

    def _finish(self, n: int, reason: str | None) -> None:
        """Set frames_read / ended_early / end_reason after the last frame."""
        self.frames_read = n
        if reason:
            self.ended_early, self.end_reason = True, reason
            return
        interval = 1000.0 / self.fps
        covered = (self.last_timestamp_ms or 0.0) + interval        # the time the frames read cover
        self.ended_early = self._stop_reason is not None or self._short_of_header(n, covered, interval)
        self.end_reason = self._early_end_text(n, covered, interval) if self.ended_early else "end of file."

    def _short_of_header(self, n: int, covered: float, interval: float) -> bool:
        """Fewer frames than the header's exact count, or less time than its duration (a 1 % margin)."""
        est, dur = self.frame_count_estimate, self.duration_ms
        if self.frame_count_exact and est is not None:
            return n < est - max(2, int(0.01 * est))
        if not dur:
            return False
        return dur - covered > max(2 * interval, 0.01 * dur)

    def _early_end_text(self, n: int, covered: float, interval: float) -> str:
        """Where the recording ends, of how long it should be, and why (the reader's or the file's)."""
        est, dur = self.frame_count_estimate, self.duration_ms
        if self.frame_count_exact and est:       # the header's count outranks a duration of what is left
            dur = max(dur or 0.0, est * interval)
        total = f" of {_clock(dur)}" if dur else ""
        count = f"{n} of about {est} frames" if est else f"{n} frames"
        why = self._stop_reason or "the file is probably truncated or damaged"
        return (f"the recording ends early at {_clock(covered)}{total} ({count}): {why}."
                .replace("): the file", "); the file"))

    # ---- single frames (grab_frames) ---------------------------------------------------------------
    def _frame_at_or_after(self, target_ms: float) -> np.ndarray | None:
        """The first frame whose time is >= target_ms; calls must come in increasing time order and
        not be mixed with iteration."""
        scale = 1000.0 * float(self.time_base)
        if self._first is not None:
            if target_ms <= 0.0:
                return self._first.image
            self._first = None                # the decoder is now past the first frame
            self._grab_pos_ms = 0.0
        if self._grab_last is not None and self._grab_last[0] >= target_ms - 1e-6:
            return self._grab_last[1]
        container, stream, frames = self._live()
        if target_ms - (self._grab_pos_ms or 0.0) > self.SEEK_AHEAD_MS:
            try:
                container.seek(self._pts0 + int(target_ms / scale), stream=stream, backward=True, any_frame=False)
                frames = self._frames = self._decoded(container, stream)
            except av.FFmpegError:
                pass                          # cannot seek: decode forward from here
        for raw in frames:
            if raw.pts is None:
                continue
            ts = (raw.pts - self._pts0) * scale
            self._grab_pos_ms = ts
            if ts >= target_ms - 1e-6:
                self._grab_last = (ts, self._upright(raw))
                return self._grab_last[1]
        return None

    # ---- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        self._frames = None
        if self._stream is not None:
            _drain(self._stream)
            self._stream = None
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError:
                pass
            self._container = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass


def _drain(stream) -> None:
    """Take every frame out of the decoder and reset it. A frame-threaded FFmpeg decoder that is
    freed with work still inside it (after damaged data, or when a run stops early) can wait
    forever in avcodec_free_context for its worker threads (seen under load: FFmpeg 8.1)."""
    try:
        for _ in stream.codec_context.decode(None):
            pass
    except (av.FFmpegError, ValueError):
        pass
    try:
        stream.codec_context.flush_buffers()
    except (av.FFmpegError, ValueError):
        pass


def grab_frames(path: str | os.PathLike, times_ms: Sequence[float]) -> list[np.ndarray | None]:
    """Upright BGR frames at or after each time (ms since the first frame); None past the end.

    Times are visited in order; a time more than ``SEEK_AHEAD_MS`` ahead of the decoding position
    is reached by seeking to the keyframe before it and decoding forward (so a frame near the end
    of a long recording does not cost decoding all of it); closer ones by decoding forward. Frame
    choice is by pts either way, so the result does not depend on seeking. Raises VideoOpenError
    like VideoReader.
    """
    order = sorted(range(len(times_ms)), key=lambda k: times_ms[k])
    out: list[np.ndarray | None] = [None] * len(times_ms)
    if not order:
        return out
    with VideoReader(path) as reader:
        for k in order:
            out[k] = reader._frame_at_or_after(float(times_ms[k]))
    return out
