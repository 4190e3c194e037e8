"""The input's first audio track, muxed into an output MP4 as the video is written.

Copied packet for packet (bytes unchanged) where MP4 holds the codec and common players
(QuickTime, browsers, Windows) play it from MP4: AAC, MP3, ALAC, AC-3, E-AC-3. Anything else
(Opus, Vorbis, FLAC, PCM, AMR, ...) is re-encoded to AAC. Timestamps are kept, so audio stays in
sync with video frames whose pts are the input's.

Memory stays flat in video length: the writer calls ``mux_until(t)`` after each frame and only
packets up to the current video time are read from the input (one pending packet is held).
Damaged audio in the input ends the audio track early (logged, and said in ``description``); it
does not fail the video. Write errors on the output propagate to the writer.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import av

log = logging.getLogger(__name__)

MP4_COPY_CODECS = frozenset({"aac", "mp3", "alac", "ac3", "eac3"})
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _aac_rate(rate: int) -> int:
    return rate if rate in AAC_RATES else 48000


class AudioTrack:
    """Feeds the first audio stream of ``source`` into ``output`` (see the module docstring)."""

    def __init__(self, source: str | os.PathLike, output: av.container.OutputContainer):
        self.source = Path(source)
        self.copy = False
        self.packets = 0
        self.description = "none (the input has no audio)"
        self._pending: av.Packet | None = None
        self._done = False
        self._in: av.container.InputContainer | None = av.open(str(self.source), metadata_errors="ignore")
        if not self._in.streams.audio:
            self._close_input()
            return
        src = self._in.streams.audio[0]
        self._src = src
        codec = src.codec_context.name
        if codec in MP4_COPY_CODECS:
            self.out = output.add_stream_from_template(src)
            self.copy = True
            self.description = f"copied ({codec})"
        else:
            layout = src.codec_context.layout
            name = layout.name if layout is not None and 0 < layout.nb_channels <= 8 else "stereo"
            self.out = output.add_stream("aac", rate=_aac_rate(int(src.codec_context.sample_rate or 48000)),
                                         layout=name)
            self.description = f"re-encoded to AAC (the input's {codec} cannot be copied into MP4)"
        self._packets = self._in.demux(src)

    @property
    def active(self) -> bool:
        return self._in is not None and not self._done

    def _next_packet(self) -> av.Packet | None:
        if self._pending is not None:
            pkt, self._pending = self._pending, None
            return pkt
        try:
            return next(self._packets, None)
        except av.FFmpegError as exc:
            log.warning("%s: audio could not be read further (%s); the audio track ends there",
                        self.source.name, exc)
            self.description += " (ends early: damaged audio data in the input)"
            return None

    def mux_until(self, seconds: float | None, output: av.container.OutputContainer) -> None:
        """Mux input audio packets whose time is <= ``seconds`` (None: all that are left)."""
        while self.active:
            pkt = self._next_packet()
            if pkt is None:
                self._done = True
                self._flush(output)
                return
            if pkt.size == 0:                # demuxer's end-of-stream marker
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if seconds is not None and ts is not None and float(ts * pkt.time_base) > seconds:
                self._pending = pkt
                return
            self._mux(pkt, output)

    def _mux(self, pkt: av.Packet, output: av.container.OutputContainer) -> None:
        if self.copy:
            if pkt.dts is None and pkt.pts is None:
                return                        # MP4 cannot place a packet without a time
            pkt.stream = self.out
            output.mux(pkt)
            self.packets += 1
            return
        try:
            frames = self._src.codec_context.decode(pkt)
        except av.FFmpegError as exc:         # one damaged input packet: skip it
            log.warning("%s: an audio packet could not be decoded (%s)", self.source.name, exc)
            return
        for frame in frames:
            for out_pkt in self.out.encode(frame):
                output.mux(out_pkt)
                self.packets += 1

    def _flush(self, output: av.container.OutputContainer) -> None:
        if self.copy:
            return
        try:
            frames = self._src.codec_context.decode(None)
        except av.FFmpegError:
            frames = []
        for frame in frames:
            for out_pkt in self.out.encode(frame):
                output.mux(out_pkt)
        for out_pkt in self.out.encode(None):
            output.mux(out_pkt)

    def finish(self, output: av.container.OutputContainer) -> None:
        """Mux everything left (the audio covers the input's whole duration), then close the input."""
        self.mux_until(None, output)
        self._close_input()

    def close(self) -> None:
        """Close the input (abort path; idempotent)."""
        self._close_input()

    def _close_input(self) -> None:
        self._done = True
        if self._in is not None:
            try:
                self._in.close()
            except av.FFmpegError:
                pass
            self._in = None
