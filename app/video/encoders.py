"""Which H.264 encoder the outputs use, and with which settings (probed once per process).

Order (issue 10): ``h264_videotoolbox`` on macOS (hardware), ``libx264`` elsewhere (and on a Mac
whose VideoToolbox does not open), ``libopenh264`` where an LGPL-only FFmpeg has it, and only if no
H.264 encoder opens a high-bitrate MPEG-4 Part 2 fallback. Each candidate is actually opened and
fed two frames before it is chosen, because FFmpeg lists encoders that may still fail to start
(VideoToolbox in a VM, a build without the hardware session).

Settings and why (figures from bench runs on this 2-core Linux box, see X264_* below):
* libx264: CRF + preset chosen by measurement against the end-to-end speed target (below).
* VideoToolbox cannot do CRF on every Mac, so it gets an average bitrate of 0.20 bit per pixel per
  frame: 12.4 Mbit/s at 1080p30, 5.5 at 720p30. That is about 3x what x264 needs for 41-42 dB on a
  face clip; Apple's hardware H.264 needs roughly twice x264's rate for equal quality, so this is
  visually lossless with margin (not measurable here: no Mac).
* Fallbacks are bitrate-driven with the same or more generous budgets.
"""
from __future__ import annotations

import fractions
import functools
import logging
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, cast

import av
import av.video.codeccontext
import numpy as np

log = logging.getLogger(__name__)

# libx264 choice, measured on this 2-core box (bench: portrait photo with head motion, sensor noise
# sigma 1.5, 48 frames; shared machine, so +-30 % on times):
#   single stream, ms/frame | Mbit/s at 30 fps | Y-PSNR vs the frames given
#   720p  veryfast  CRF18: 15.6 ms  1.52 Mbit/s 44.0 dB | ultrafast CRF18:  6.0 ms  6.7 Mbit/s 45.0 dB
#   720p  veryfast  CRF23: 14.9 ms  0.70 Mbit/s 41.9 dB | faster    CRF18: 26.3 ms  1.7 Mbit/s 44.6 dB
#   1080p veryfast  CRF18: 85 ms    3.10 Mbit/s 44.5 dB | ultrafast CRF18: 13.8 ms 13.9 Mbit/s 45.4 dB
#   1080p ultrafast CRF20: 19.6 ms  9.48 Mbit/s 44.9 dB | superfast CRF20: 65 ms   11.4 Mbit/s 44.7 dB
#   three concurrent encodes (the app's three outputs), wall ms per frame of all three:
#   720p  veryfast CRF18: threads=1 54.5, 2 36.9, auto 39.5 | ultrafast: 16.1 / 12.5 / 10.6
#   1080p veryfast CRF18: threads=1 170,  2 148,  auto 132  | ultrafast: 37.9 / 23.7 / 26.2
#   wall times above swing +-50 % with the other jobs on this machine; CPU time of the whole output
#   stage (decode + mirror + three outputs via VideoWriter, process_time, 24 frames) is steadier:
#   720p  veryfast CRF18 43 CPU-ms/frame (2.0 Mbit/s per output) | ultrafast CRF20 20 (5.9 Mbit/s)
#   1080p veryfast CRF18 91 CPU-ms/frame (3.9 Mbit/s)            | superfast CRF20 64 (6.6 Mbit/s)
#   1080p ultrafast CRF20 39 CPU-ms/frame (11.2 Mbit/s)          | ultrafast CRF23 35 (7.5 Mbit/s)
#   (with the writer's OpenCV colour conversion since: 720p veryfast CRF18 41, ultrafast CRF20 16,
#   1080p ultrafast CRF20 36 CPU-ms/frame)
# The end-to-end target is >= 0.8 of STAR's own rate with all three outputs and audio. Measured
# with `benchmark pipeline` (720p, 90 frames, random-weights STAR, idle machine; the CI machine
# since has AVX-512, where STAR alone takes ~95 ms, so the budget for everything else is small):
#   preset (CRF)      ratio to 1/STAR alone | encode ms/frame (3 videos) | single-stream quality, 720p
#   veryfast (18)     0.746                 | 38                         | 1.2 Mbit/s, 44.3 dB Y-PSNR
#   superfast (20)    0.783-0.794           | 27-30                      | 1.9 Mbit/s, 44.4 dB
#   ultrafast (20)    0.839                 | 18                         | 5.3 Mbit/s, 43.4 dB
#   faster (20), 1 thread per encoder 0.744; superfast with 1 thread 0.792 (threads: no gain)
# Hence ultrafast CRF 20 at every size: visually lossless (43-45 dB), within the speed budget, and
# about the bitrate VideoToolbox gives on a Mac (0.20 bit/pixel: 5.5 Mbit/s at 720p30). The cost
# is file size (~3-4x veryfast's). Threads: FFmpeg's choice.
X264_PRESET = "ultrafast"
X264_CRF = 20
X264_LARGE_PIXELS = 1280 * 720        # above this frame area (kept for a different choice per size):
X264_LARGE_PRESET = "ultrafast"
X264_LARGE_CRF = 20


@dataclass(frozen=True)
class Encoder:
    """An FFmpeg video encoder and its settings for H.264-in-MP4 outputs."""

    codec: str                                       # FFmpeg encoder name
    options: dict[str, str] = field(default_factory=dict)   # encoder private options
    bits_per_pixel: float | None = None              # bitrate-driven encoders: bit/s = bpp * w * h * fps
    hardware: bool = False
    h264: bool = True
    threads: int = 0                                 # 0 = FFmpeg's choice

    def bit_rate(self, size: tuple[int, int], fps: float) -> int | None:
        if self.bits_per_pixel is None:
            return None
        fps = fps if fps and fps > 0 else 30.0
        return int(self.bits_per_pixel * size[0] * size[1] * min(fps, 120.0))

    def options_for(self, size: tuple[int, int]) -> dict[str, str]:
        """Encoder options for a frame size (libx264 trades preset for speed above 720p)."""
        opts = dict(self.options)
        if self.codec == "libx264" and size[0] * size[1] > X264_LARGE_PIXELS:
            opts.update(preset=X264_LARGE_PRESET, crf=str(X264_LARGE_CRF))
        return opts

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        rate = f", {self.bits_per_pixel} bit/pixel" if self.bits_per_pixel else ""
        return f"{self.codec} ({opts}{rate})" if opts or rate else self.codec


VIDEOTOOLBOX = Encoder("h264_videotoolbox", {"profile": "high", "allow_sw": "1", "realtime": "0"},
                       bits_per_pixel=0.20, hardware=True)
LIBX264 = Encoder("libx264", {"preset": X264_PRESET, "crf": str(X264_CRF), "profile": "high"})
OPENH264 = Encoder("libopenh264", {"profile": "high"}, bits_per_pixel=0.25)
MPEG4_FALLBACK = Encoder("mpeg4", {}, bits_per_pixel=0.40, h264=False)


def candidates(platform: str) -> list[Encoder]:
    """Encoders to try, best first, for a ``sys.platform`` value."""
    order = [LIBX264, OPENH264, MPEG4_FALLBACK]
    if platform == "darwin":
        order.insert(0, VIDEOTOOLBOX)
    return order


def select_encoder(platform: str, available: Iterable[str], can_open: Callable[[Encoder], bool]) -> Encoder:
    """First candidate that this FFmpeg build lists AND that actually opens and encodes.

    ``available`` and ``can_open`` are injectable so the macOS order can be tested on Linux.
    """
    names = set(available)
    tried: list[str] = []
    for enc in candidates(platform):
        if enc.codec not in names:
            continue
        if can_open(enc):
            if tried:
                log.warning("video encoder %s used; %s did not open", enc.codec, ", ".join(tried))
            return enc
        tried.append(enc.codec)
    raise RuntimeError("no usable video encoder in this FFmpeg build (tried: "
                       f"{', '.join(tried) or 'none listed'})")


def can_open(enc: Encoder, size: tuple[int, int] = (256, 144)) -> bool:
    """Open the encoder and encode two frames; False on any FFmpeg error."""
    try:
        ctx = cast(av.video.codeccontext.VideoCodecContext, av.CodecContext.create(enc.codec, "w"))
        ctx.width, ctx.height = size
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = fractions.Fraction(1, 30)
        ctx.framerate = fractions.Fraction(30, 1)
        rate = enc.bit_rate(size, 30.0)
        if rate:
            ctx.bit_rate = rate
        ctx.options = dict(enc.options)
        ctx.open()
        img = np.full((size[1], size[0], 3), 128, np.uint8)
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
            frame.pts = i
            ctx.encode(frame)
        ctx.encode(None)
        return True
    except (av.FFmpegError, ValueError, OSError) as exc:
        log.info("video encoder %s does not open: %s", enc.codec, exc)
        return False


@functools.lru_cache(maxsize=1)
def choose_encoder() -> Encoder:
    """The encoder for this computer (probed once per process)."""
    enc = select_encoder(sys.platform, av.codecs_available, can_open)
    log.info("video encoder: %s", enc.describe())
    return enc
