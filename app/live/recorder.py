"""The live recording: camera frames written with their capture times (PyAV, with the encoder the
outputs use: app.video.encoders), as a fragmented MP4 so that a crash or a quit leaves a
playable file: every keyframe (each second) closes a fragment on disk, so at most the last
second is lost to a hard crash; a normal stop loses nothing.

Sound (optional): 16-bit PCM chunks from the microphone, encoded as AAC into the same file. The
audio track starts at the recording's first frame: silence is put in front when the microphone
started later, and in a gap of more than 75 ms (dropped buffers), so the sound stays in step.

The file is written under NAME.recording.mp4 and renamed to NAME.mp4 when it is complete; a
file that still has the .recording name is the playable part of an interrupted recording.
"""
from __future__ import annotations

import fractions
import os
from pathlib import Path
from typing import cast

import av
import numpy as np

from app import session_journal
from app.video.encoders import choose_encoder

TIME_BASE = fractions.Fraction(1, 1000)      # capture times in milliseconds
PARTIAL_SUFFIX = ".recording.mp4"
AUDIO_GAP_S = 0.075     # a longer hole in the sound is filled with silence; shorter is arrival jitter
# libx264 preset of the recording: up to 720p superfast rather than the outputs' ultrafast (720p here,
# CPU per frame veryfast 22.6 ms, superfast 15.7, ultrafast 11.2; file sizes 1 : 1.17 : 2.1 at the
# same crf: superfast costs a seventh of a core at 30 fps and nearly halves a long exam's file); above 720p
# superfast would need about two cores at 30 fps (64 ms per 1080p frame), so the outputs' preset
LIVE_SUPERFAST_MAX_PIXELS = 1280 * 720


class Recorder:
    def __init__(self, final: Path, size: tuple[int, int], fps: float, *, audio: tuple[int, int] | None = None):
        """``audio``: (sample rate, channels) of the PCM that :meth:`write_audio` will be given."""
        self.final = Path(final)
        self.partial = self.final.with_name(self.final.stem + PARTIAL_SUFFIX)
        self.frames = 0
        self._last_ms = -1
        self._container = av.open(str(self.partial), "w", format="mp4",
                                  options={"movflags": "frag_keyframe+empty_moov+default_base_moof",
                                           "flush_packets": "1"})   # each fragment reaches the disk at once
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
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_ms = ms
        self.frames += 1

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
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        self.audio_samples += len(samples)

    def _flush(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            for packet in self._audio.encode(None):
                self._container.mux(packet)

    def finish(self) -> Path:
        """Flush, close and put the recording in place (never over an existing file)."""
        self._flush()
        self._container.close()
        session_journal.recording_closed(self.partial)     # from here the caller reports what happened
        if self.final.exists():
            raise FileExistsError(f"{self.final.name} already exists; the recording stays as {self.partial.name}")
        os.replace(self.partial, self.final)
        return self.final

    def close_partial(self) -> Path:
        """Close after a failure or a quit: the .recording file stays, playable up to its last fragment."""
        try:
            self._flush()
        finally:
            self._container.close()
            session_journal.recording_closed(self.partial)     # kept, and reported by the caller now
        return self.partial


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

    def finish(self) -> Path:
        """Write what is queued, then finish as :meth:`Recorder.finish`. After a write failure the
        partial file is closed (playable up to the failure) and the failure raised."""
        self._drain()
        if self.error is not None:
            self.recorder.close_partial()
            raise self.error
        return self.recorder.finish()

    def close_partial(self) -> Path:
        self._drain()
        return self.recorder.close_partial()
