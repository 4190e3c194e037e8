"""Write a video file that appears only when it is complete.

Qt-free (OpenCV's FFmpeg backend).

API
---
::

    with VideoWriter(out_path, fps=reader.fps, frame_size=reader.frame_size) as w:
        for frame in frames:
            w.write(frame)          # BGR uint8, exactly frame_size
    # leaving the block normally commits (close); an exception aborts (temp file deleted)

    w.codec            # 'avc1' (H.264) or 'mp4v' (MPEG-4 Part 2), whichever this OpenCV can write
    w.frames_written, w.path (final), w.temp_path

* ``VideoWriter(path, fps, frame_size, *, codec=None, overwrite=False, min_free_bytes=...)``
  writes to a hidden temporary file in the target folder (``.NAME.partial-XXXX.mp4``) and only
  ``close()`` renames it to ``path``, after checking that the file exists, is not empty and
  reads back with the expected number of frames. ``abort()`` deletes the temporary file. Use as a
  context manager: an exception inside the block aborts.
* Never overwrites: if ``path`` exists and ``overwrite`` is False, the constructor raises
  ``FileExistsError``; the final rename is also no-clobber (hard link + unlink where the file
  system allows it), so a file that appeared meanwhile is not replaced.
* Codec: ``codec=None`` picks H.264 ``'avc1'`` if :func:`h264_available` (probed once per process
  by writing and reading back a tiny video in a temporary folder) and ``'mp4v'`` otherwise. The
  opencv-python(-headless) wheels for Linux ship an FFmpeg without an H.264 encoder, so there the
  writer uses ``'mp4v'`` (plays in VLC, QuickTime, browsers with MPEG-4 Part 2 support; PSNR about
  38-39 dB at 640x360 in a measurement on the test clip).
* Odd frame sizes: the encoders need even width and height (FFmpeg would silently crop a
  column/row). Frames are padded with one black column/row at the right/bottom instead, so no
  pixel is lost; ``encoded_size`` is the size in the file. Frames of any other size, or not
  3-channel uint8, raise ``ValueError`` (``cv2.VideoWriter`` would drop them silently).
* Errors: ``cv2.VideoWriter.write`` reports nothing, so the writer checks free disk space when
  opening and every ``SPACE_CHECK_EVERY`` frames, verifies the file on close and turns failures
  (disk full, folder not writable, rename failed) into :class:`VideoWriteError` with a plain
  message. After an error the temporary file is removed.

Encoding overlaps inference because the pipeline writes from its own post thread.
"""
from __future__ import annotations

import errno
import functools
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from app.video.reader import VideoError

__all__ = ["VideoWriteError", "VideoWriter", "h264_available", "default_codec",
           "find_partial_files", "PARTIAL_MARKER"]

PARTIAL_MARKER = ".partial-"
MB = 1024 * 1024


class VideoWriteError(VideoError):
    """The output video could not be written; the message says why in plain words."""


# ---- codec probe ----------------------------------------------------------------------------------

class _QuietStderr:
    """Silence C-level stderr (FFmpeg prints encoder probing noise) for a short block."""

    def __enter__(self):
        self._saved = None
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self._saved = None
        self._level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        return self

    def __exit__(self, *exc):
        cv2.utils.logging.setLogLevel(self._level)
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)


def _try_codec(fourcc: str, folder: Path, frames: int = 8, size: tuple[int, int] = (64, 48)) -> bool:
    path = folder / f"probe_{fourcc}.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, size)
    if not w.isOpened():
        w.release()
        return False
    rng = np.random.default_rng(0)
    for _ in range(frames):
        w.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    w.release()
    if not path.exists() or path.stat().st_size == 0:
        return False
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened():
        ok, img = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n == frames


@functools.lru_cache(maxsize=1)
def h264_available() -> bool:
    """True if this OpenCV can write H.264 ('avc1') MP4 files (probed once per process)."""
    with tempfile.TemporaryDirectory(prefix="facemirror-codec-") as tmp, _QuietStderr():
        try:
            return _try_codec("avc1", Path(tmp))
        except cv2.error:
            return False


def default_codec() -> str:
    """'avc1' where H.264 can be written, else 'mp4v'."""
    return "avc1" if h264_available() else "mp4v"


def find_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Temporary files left in ``folder`` by writers that never finished (e.g. after a crash)."""
    return sorted(p for p in Path(folder).glob(f".*{PARTIAL_MARKER}*") if p.is_file())


# ---- writer -----------------------------------------------------------------------------------------

class VideoWriter:
    """MP4 writer that commits by rename on ``close()`` (see the module docstring)."""

    SPACE_CHECK_EVERY = 100            # frames
    DEFAULT_MIN_FREE_BYTES = 50 * MB   # refuse to start below this
    RUNNING_MIN_FREE_BYTES = 10 * MB   # stop with an error below this while writing

    def __init__(self, path: str | os.PathLike, fps: float, frame_size: Sequence[int], *,
                 codec: str | None = None, overwrite: bool = False,
                 min_free_bytes: int = DEFAULT_MIN_FREE_BYTES, verify: bool = True):
        self.path = Path(path)
        self.fps = float(fps)
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.overwrite = bool(overwrite)
        self.verify = bool(verify)
        self.frames_written = 0
        self.committed = False
        self.closed = False
        self.temp_path: Path | None = None
        self._writer: cv2.VideoWriter | None = None

        w, h = self.frame_size
        if w <= 0 or h <= 0:
            raise ValueError(f"invalid frame size {self.frame_size}")
        if not (self.fps > 0 and np.isfinite(self.fps)):
            raise ValueError(f"invalid frame rate {fps}")
        self.encoded_size = (w + (w & 1), h + (h & 1))
        self.codec = codec or default_codec()
        if len(self.codec) != 4:
            raise ValueError(f"codec must be a FourCC like 'avc1' or 'mp4v', got {self.codec!r}")

        folder = self.path.parent
        if not folder.is_dir():
            raise VideoWriteError(f"{self.path.name}: the output folder {folder} does not exist.")
        if self.path.exists() and not self.overwrite:
            raise FileExistsError(errno.EEXIST, f"{self.path.name} already exists and was not overwritten",
                                  str(self.path))
        free = _free_bytes(folder)
        if free is not None and free < min_free_bytes:
            raise VideoWriteError(f"{self.path.name}: not enough free disk space in {folder} "
                                  f"({free / MB:.0f} MB free).")
        self.temp_path = _reserve_temp_name(folder, self.path)
        self._writer = cv2.VideoWriter(str(self.temp_path), cv2.VideoWriter_fourcc(*self.codec),
                                       self.fps, self.encoded_size)
        if not self._writer.isOpened():
            self._cleanup()
            raise VideoWriteError(f"{self.path.name}: the video encoder ({self.codec}) could not be "
                                  "started on this computer.")

    # ---- writing --------------------------------------------------------------------------------
    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame of exactly ``frame_size``."""
        if self.closed or self._writer is None:
            raise VideoWriteError(f"{self.path.name}: the writer is already closed.")
        w, h = self.frame_size
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.shape != (h, w, 3):
            shape = getattr(frame, "shape", None)
            dtype = getattr(frame, "dtype", None)
            raise ValueError(f"frame must be uint8 with shape {(h, w, 3)}, got {dtype} {shape}")
        if self.encoded_size != self.frame_size:
            frame = cv2.copyMakeBorder(frame, 0, self.encoded_size[1] - h, 0, self.encoded_size[0] - w,
                                       cv2.BORDER_CONSTANT, value=(0, 0, 0))
        self._writer.write(frame)
        self.frames_written += 1
        if self.frames_written % self.SPACE_CHECK_EVERY == 0:
            free = _free_bytes(self.path.parent)
            if free is not None and free < self.RUNNING_MIN_FREE_BYTES:
                self.abort()
                raise VideoWriteError(f"{self.path.name}: the disk is full (or nearly), so the video "
                                      "could not be written. Free some space and run again.")

    # ---- finishing ------------------------------------------------------------------------------
    def close(self) -> Path:
        """Finish the file, verify it and rename it into place; returns the final path."""
        if self.committed:
            return self.path
        if self.closed:
            raise VideoWriteError(f"{self.path.name}: the writer was aborted.")
        self.closed = True
        try:
            self._writer.release()
        except cv2.error as exc:
            self._cleanup()
            raise VideoWriteError(f"{self.path.name}: finishing the video failed ({exc}).") from None
        self._writer = None
        try:
            self._check_written()
            self._commit()
        except BaseException:
            self._cleanup()
            raise
        self.committed = True
        return self.path

    def _check_written(self) -> None:
        name = self.path.name
        if self.frames_written == 0:
            raise VideoWriteError(f"{name}: no frames were written.")
        tmp = self.temp_path
        if tmp is None or not tmp.exists() or tmp.stat().st_size == 0:
            raise VideoWriteError(f"{name}: the video file was not written (the disk may be full or "
                                  "the folder not writable).")
        if not self.verify:
            return
        cap = cv2.VideoCapture(str(tmp))
        try:
            if not cap.isOpened():
                raise VideoWriteError(f"{name}: the written video cannot be read back (the disk may "
                                      "be full).")
            n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        finally:
            cap.release()
        if np.isfinite(n) and n > 0 and int(round(n)) < self.frames_written:
            raise VideoWriteError(f"{name}: only {int(n)} of {self.frames_written} frames reached the "
                                  "file (the disk may be full).")

    def _commit(self) -> None:
        tmp, final = self.temp_path, self.path
        try:
            if self.overwrite:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)         # atomic and never replaces an existing file
                except FileExistsError:
                    raise FileExistsError(errno.EEXIST, f"{final.name} already exists and was not "
                                          "overwritten", str(final)) from None
                except OSError:
                    # file systems without hard links (exFAT, some network shares)
                    if final.exists():
                        raise FileExistsError(errno.EEXIST, f"{final.name} already exists and was "
                                              "not overwritten", str(final)) from None
                    os.replace(tmp, final)
                else:
                    try:
                        tmp.unlink()
                    except OSError:
                        pass   # the video is in place; a stray hidden temp name is harmless
        except FileExistsError:
            raise
        except OSError as exc:
            raise VideoWriteError(f"{final.name}: the finished video could not be moved into place "
                                  f"({exc.strerror or exc}).") from None
        self.temp_path = None

    def abort(self) -> None:
        """Stop writing and delete the temporary file. Safe to call more than once."""
        if self.committed:
            return
        self.closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        if self._writer is not None:
            try:
                self._writer.release()
            except cv2.error:
                pass
            self._writer = None
        if self.temp_path is not None:
            try:
                self.temp_path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass
            self.temp_path = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self):  # pragma: no cover - never leave a temp file behind
        try:
            if not self.committed:
                self._cleanup()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass


def _reserve_temp_name(folder: Path, final: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``final`` (normal permissions, umask applies)."""
    suffix = final.suffix or ".mp4"
    for _ in range(100):
        candidate = folder / f".{final.stem}{PARTIAL_MARKER}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise VideoWriteError(f"{final.name}: cannot write in {folder} ({exc.strerror or exc}).") from None
        os.close(fd)
        return candidate
    raise VideoWriteError(f"{final.name}: cannot create a temporary file in {folder}.")


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None
