"""The live recording: camera frames written with their capture times (PyAV, with the encoder the
outputs use: app.video.encoders), as a fragmented MP4 so that a crash or a quit leaves a
playable file: every keyframe (each second) closes a fragment on disk, so at most the last
second is lost to a hard crash; a normal stop loses nothing.

Sound (optional): 16-bit PCM chunks from the microphone, encoded as AAC into the same file. The
audio track starts at the recording's first frame: silence is put in front when the microphone
started later, and in a gap of more than 75 ms (dropped buffers), so the sound stays in step.

The file is written under NAME.recording.mp4 and renamed to NAME.mp4 when it is complete; a
file that still has the .recording name is the playable part of an interrupted recording, so it is
never written over: a recorder refuses a name whose .recording file exists (created exclusively),
and :func:`fresh_recording_path` picks the next free name.

A write that fails (a full disk) stops the recording: the part written so far is closed (playable
up to its last complete fragment) and :func:`write_failure_sentence` says so in plain words.
"""
from __future__ import annotations

import errno
import fractions
import os
from pathlib import Path
from typing import cast

import av
import numpy as np

from app.base import session_journal
from app.video.encoders import choose_encoder

TIME_BASE = fractions.Fraction(1, 1000)      # capture times in milliseconds
PARTIAL_SUFFIX = ".recording.mp4"
AUDIO_GAP_S = 0.075     # a longer hole in the sound is filled with silence; shorter is arrival jitter
# libx264 preset of the recording: up to 720p superfast rather than the outputs' ultrafast (720p here,
# CPU per frame veryfast 22.6 ms, superfast 15.7, ultrafast 11.2; file sizes 1 : 1.17 : 2.1 at the
# same crf: superfast costs a seventh of a core at 30 fps and nearly halves a long exam's file); above 720p
# superfast would need about two cores at 30 fps (64 ms per 1080p frame), so the outputs' preset
LIVE_SUPERFAST_MAX_PIXELS = 1280 * 720


def partial_path(final: Path) -> Path:
    """Where the recording of ``final`` is written until it is complete (NAME.recording.mp4)."""
    final = Path(final)
    return final.with_name(final.stem + PARTIAL_SUFFIX)


def fresh_recording_path(folder: Path, stem: str, taken=None) -> Path:
    """``folder/stem.mp4``, else ``stem_2.mp4``, ``stem_3.mp4``...: the first name with neither a
    recording nor a kept interrupted recording (``.recording.mp4``), nor anything ``taken(path)``
    says is in the way (e.g. the outputs of an earlier recording of that name)."""
    path, n = Path(folder) / f"{stem}.mp4", 2
    while path.exists() or partial_path(path).exists() or (taken is not None and taken(path)):
        path, n = Path(folder) / f"{stem}_{n}.mp4", n + 1
    return path


# Why a write failed, in the user's words, by the error's errno (others: the system's own words).
_WHY_WRITE_FAILED: dict[int | None, str] = {
    errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk is full",
    errno.EFBIG: "the file grew larger than this disk or account allows"}


def write_failure_sentence(exc: BaseException, partial: Path, recorded_s: float) -> str:
    """One plain sentence for a recording stopped by a failed write (a full disk first of all)."""
    why = (_WHY_WRITE_FAILED.get(getattr(exc, "errno", None))
           or f"it could not be written ({getattr(exc, 'strerror', None) or exc})")
    kept = playable_seconds(partial)
    part = (f"the {kept:.1f} s recorded before that is kept, playable, as {partial}" if kept > 0
            else f"nothing playable was written ({partial} is kept as it is)")
    return (f"The recording stopped after {recorded_s:.1f} s because {why}: {part}; "
            "free some space (or choose another folder) and record again.")


def trim_to_whole_fragments(path: Path) -> int:
    """Cut a fragmented MP4 that a failed write left with a torn end back to its last whole
    fragment (moof + mdat), so that it plays to its end without a decoding error; cutting frees
    space, so it works on a full disk. Returns the bytes cut (0: nothing was torn)."""
    import struct

    size = path.stat().st_size
    keep = pos = 0
    with open(path, "rb") as f:
        while pos + 8 <= size:
            f.seek(pos)
            length, kind = struct.unpack(">I4s", f.read(8))
            if length == 1:                   # a 64-bit size follows; a disk that filled inside it tore the box
                wide = f.read(8)
                length = struct.unpack(">Q", wide)[0] if len(wide) == 8 else 0
            if length < 8 or pos + length > size:
                break                 # a torn box: the end
            pos += length
            if kind != b"moof":       # a moof is kept only with the box after it (its mdat)
                keep = pos
    if keep < size:
        with open(path, "r+b") as f:
            f.truncate(keep)
        return size - keep
    return 0


class RecordingFailed(Exception):
    """A write failed (a full disk) and stopped the recording; the part written is kept as
    ``partial``. Its text is :func:`write_failure_sentence`'s."""

    def __init__(self, cause: BaseException, partial: Path, recorded_s: float):
        super().__init__(write_failure_sentence(cause, partial, recorded_s))
        self.cause, self.partial, self.recorded_s = cause, partial, recorded_s


def playable_seconds(path: Path) -> float:
    """How much of a (possibly cut) recording plays: the video packets that can be read, as seconds
    (the end of the last one). Reads packets only, no decoding; 0.0 when nothing can be read."""
    end = 0.0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    except (av.FFmpegError, OSError, IndexError):
        pass             # a cut last fragment: what was read before it plays
    return end


class Recorder:
    def __init__(self, final: Path, size: tuple[int, int], fps: float, *, audio: tuple[int, int] | None = None):
        """``audio``: (sample rate, channels) of the PCM that :meth:`write_audio` will be given.
        Raises FileExistsError when ``final``'s .recording file exists: an interrupted recording
        is never written over (choose another name: :func:`fresh_recording_path`)."""
        self.final = Path(final)
        self.partial = partial_path(self.final)
        self.frames = 0
        self.failed: BaseException | None = None      # the write failure that stopped the recording
        self._last_ms = -1
        self._closed = False
        try:
            # created exclusively: FFmpeg's "w" would truncate a kept interrupted recording
            os.close(os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, f"{self.partial.name} already exists (an interrupted recording, "
                                  "kept); it is never written over", str(self.partial)) from None
        try:
            self._container = av.open(str(self.partial), "w", format="mp4",
                                      options={"movflags": "frag_keyframe+empty_moov+default_base_moof",
                                               "flush_packets": "1"})   # each fragment reaches the disk at once
        except BaseException:
            self.partial.unlink(missing_ok=True)      # the empty file just made: ours
            raise
        # a crash from here on leaves this file: the window's next launch names it (session_journal)
        session_journal.note_recording(self.partial)
        enc = choose_encoder()          # the outputs' encoder (VideoToolbox on a Mac, else libx264, ...)
        self._stream = cast(av.video.stream.VideoStream,
                            self._container.add_stream(enc.codec, rate=max(1, int(round(fps)))))
        # 4:2:0 needs even sides: an odd camera size loses its last column / row
        self._size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
        self._stream.width, self._stream.height = self._size
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = TIME_BASE
        self._stream.codec_context.time_base = TIME_BASE
        self._stream.codec_context.gop_size = max(1, int(round(fps)))
        rate = enc.bit_rate(self._size, fps)
        if rate:
            self._stream.codec_context.bit_rate = rate
        options = enc.options_for(self._size)
        if enc.codec == "libx264":
            # zerolatency: no frame held back in the encoder's look-ahead (a crash would lose it)
            options["tune"] = "zerolatency"
            if self._size[0] * self._size[1] <= LIVE_SUPERFAST_MAX_PIXELS:
                options["preset"] = "superfast"
        self._stream.codec_context.options = options
        self._audio: av.audio.stream.AudioStream | None = None
        self.audio_samples = 0            # written so far (silence included), per channel
        if audio is not None:
            rate, channels = audio
            self._audio = cast(av.audio.stream.AudioStream, self._container.add_stream("aac", rate=rate))
            self._audio.layout = "mono" if channels == 1 else "stereo"
            self._audio_rate, self._audio_channels = rate, channels
            # the fragmented header is written at the first packet and must hold AAC's setup
            # (extradata): open both encoders now, not lazily at their first frame
            self._container.start_encoding()

    def write(self, image: np.ndarray, t_s: float) -> None:
        ms = max(int(round(t_s * 1000)), self._last_ms + 1)     # strictly increasing pts
        w, h = self._size
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="bgr24")
        frame.pts, frame.time_base = ms, TIME_BASE
        self._mux(self._stream.encode(frame))
        self._last_ms = ms
        self.frames += 1

    @property
    def last_s(self) -> float:
        """The time of the last frame written (0.0 before the first)."""
        return max(0, self._last_ms) / 1000.0

    def _mux(self, packets) -> None:
        try:
            for packet in packets:
                self._container.mux(packet)
        except OSError as exc:       # a full disk: PyAV's errors with an errno are OSErrors
            self.failed = self.failed or exc
            raise

    def write_audio(self, samples: np.ndarray, t_s: float) -> None:
        """PCM int16 (n, channels) whose first sample was captured at ``t_s`` on the recording's clock."""
        if self._audio is None:
            return
        samples = np.asarray(samples, np.int16).reshape(-1, self._audio_channels)
        rate = self._audio_rate
        gap = int(round(t_s * rate)) - self.audio_samples
        if gap < 0 and self.audio_samples == 0:
            samples = samples[-gap:]           # captured before the first frame: not part of the recording
        elif gap > AUDIO_GAP_S * rate or (gap > 0 and self.audio_samples == 0):
            self._encode_audio(np.zeros((gap, self._audio_channels), np.int16))
        # smaller differences are the jitter of arrival times: the microphone's own clock rules
        if len(samples):
            self._encode_audio(samples)

    def _encode_audio(self, samples: np.ndarray) -> None:
        assert self._audio is not None
        layout = "mono" if self._audio_channels == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples).reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = self._audio_rate
        frame.pts, frame.time_base = self.audio_samples, fractions.Fraction(1, self._audio_rate)
        self._mux(self._audio.encode(frame))
        self.audio_samples += len(samples)

    def _flush(self) -> None:
        self._mux(self._stream.encode(None))
        if self._audio is not None:
            self._mux(self._audio.encode(None))

    def finish(self, *, replace: bool = False) -> Path:
        """Flush, close and put the recording in place: never over an existing file, unless
        ``replace`` (then the earlier recording is replaced only now, by the complete new one).
        On a failure the .recording file is closed and kept (:meth:`close_partial`)."""
        try:
            self._flush()
            self._close()
        except BaseException:
            self.close_partial()
            raise
        if self.final.exists() and not replace:
            raise FileExistsError(f"{self.final.name} already exists; the recording stays as {self.partial.name}")
        os.replace(self.partial, self.final)
        return self.final

    def close_partial(self) -> Path:
        """Close after a failure or a quit: the .recording file stays, playable up to its last
        fragment. After a failed write (a full disk) nothing more is forced onto the disk and a
        second failure while closing is not raised: ``failed`` says what happened."""
        if self._closed:
            return self.partial
        if self.failed is None:
            try:
                self._flush()
            except OSError:
                pass                 # kept in ``failed`` by _mux: the fragments written so far play
        try:
            self._close()
        except (av.FFmpegError, OSError) as exc:
            self.failed = self.failed or exc
        if self.failed is not None:
            try:
                trim_to_whole_fragments(self.partial)     # a torn last fragment would end in an error
            except OSError:
                pass
        return self.partial

    def _close(self) -> None:
        self._closed = True          # once: a failed close is not tried again
        try:
            self._container.close()
        finally:
            session_journal.recording_closed(self.partial)     # closed: the caller reports what happened


class RecorderThread:
    """A :class:`Recorder` fed from a thread of its own, for a caller that must not wait for the
    encoder (the window's event loop paints the panes at the camera's rate). Every frame is kept:
    the hand-off is a plain queue, not a one-frame slot, because the recording must hold each
    frame with its time. ``backlog`` says how far the encoder is behind."""

    def __init__(self, final: Path, size: tuple[int, int], fps: float, *, audio: tuple[int, int] | None = None):
        import queue
        import threading

        # opened here: a bad folder fails at once, in the caller
        self.recorder = Recorder(final, size, fps, audio=audio)
        # (is sound, samples or image, time): one thread muxes both tracks
        self._queue: queue.Queue[tuple[bool, np.ndarray, float] | None] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="facemirror-live-recorder", daemon=True)
        self._thread.start()

    @property
    def final(self) -> Path:
        return self.recorder.final

    @property
    def partial(self) -> Path:
        return self.recorder.partial

    @property
    def frames(self) -> int:
        return self.recorder.frames

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def write(self, image: np.ndarray, t_s: float) -> None:
        """Hand one frame over (the caller must not change ``image`` afterwards)."""
        self._queue.put((False, image, t_s))

    def write_audio(self, samples: np.ndarray, t_s: float) -> None:
        self._queue.put((True, samples, t_s))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is not None:
                continue                      # drain: the caller learns of the failure at finish
            try:
                if item[0]:
                    self.recorder.write_audio(item[1], item[2])
                else:
                    self.recorder.write(item[1], item[2])
            except Exception as exc:  # noqa: BLE001 - kept and raised in the caller at finish
                self.error = exc

    def _drain(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def finish(self, *, replace: bool = False) -> Path:
        """Write what is queued, then finish as :meth:`Recorder.finish`. After a write failure the
        partial file is closed (playable up to the failure) and the failure raised."""
        self._drain()
        if self.error is not None:
            self.recorder.close_partial()
            raise self.error
        return self.recorder.finish(replace=replace)

    def close_partial(self) -> Path:
        self._drain()
        return self.recorder.close_partial()
