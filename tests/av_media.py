"""Test media made with PyAV itself (issue 10): any codec/container of this FFmpeg build, exact pts,
display rotation, audio tracks, 10-bit HDR (HLG/PQ) HEVC."""
from __future__ import annotations

import fractions
import math
from pathlib import Path

import av
import cv2
import numpy as np

F = fractions.Fraction


def has_encoder(name: str) -> bool:
    return name in av.codecs_available


def pattern(w: int, h: int, i: int = 0) -> np.ndarray:
    """Smooth gradient + a moving disc + a corner marker (compresses well; shows motion and orientation)."""
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    f = np.empty((h, w, 3), np.uint8)
    f[..., 0] = x * 0.5 + y * 0.5
    f[..., 1] = (x * 0.8 + 3 * i) % 256
    f[..., 2] = y
    cx = int(w * (0.3 + 0.4 * ((i * 7) % 20) / 20))
    cv2.circle(f, (cx, h // 2), max(3, min(w, h) // 8), (40, 200, 90), -1, lineType=cv2.LINE_AA)
    return f


def y_psnr(a_bgr: np.ndarray, b_bgr: np.ndarray) -> float:
    """PSNR of the BT.709 luma of two BGR images."""
    def luma(img):
        f = img.astype(np.float64)
        return 0.0722 * f[..., 0] + 0.7152 * f[..., 1] + 0.2126 * f[..., 2]
    mse = float(np.mean((luma(a_bgr) - luma(b_bgr)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def _sine(n: int, rate: int, start: int) -> np.ndarray:
    t = (np.arange(start, start + n) / rate).astype(np.float32)
    return (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)


def _add_audio(container, codec: str, rate: int):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "stereo" if codec != "libmp3lame" else "mono"
    return stream


def _encode_audio(container, stream, seconds: float) -> None:
    ctx = stream.codec_context
    rate = ctx.sample_rate
    fmt = ctx.format.name
    chunk = ctx.frame_size or 1024
    nb = stream.layout.nb_channels
    done, total = 0, int(seconds * rate)
    while done < total:
        s = _sine(chunk, rate, done)
        planar = np.stack([s] * nb)
        if fmt == "s16p" or fmt == "s16":
            planar = (planar * 32767).astype(np.int16)
        arr = planar if fmt.endswith("p") else planar.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=stream.layout.name)
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = F(1, rate)
        for p in stream.encode(frame):
            container.mux(p)
        done += chunk
    for p in stream.encode(None):
        container.mux(p)


def encode_video(path: Path, frames, *, codec: str = "libx264", pix_fmt: str = "yuv420p",
                 time_base: F = F(1, 25), pts=None, rotation_ccw: int | None = None,
                 audio: str | None = None, audio_rate: int = 48000, options: dict | None = None,
                 fmt: str | None = None, color: dict | None = None) -> Path:
    """Encode BGR frames (or ready av.VideoFrames) with exact pts; optional audio track of the same length."""
    frames = list(frames)
    pts = list(range(len(frames))) if pts is None else list(pts)
    first = frames[0]
    h, w = (first.height, first.width) if isinstance(first, av.VideoFrame) else first.shape[:2]
    c = av.open(str(path), "w", format=fmt)
    v = c.add_stream(codec, rate=round(1 / time_base) if time_base < 1 else 25)
    v.width, v.height, v.pix_fmt = w, h, pix_fmt
    v.time_base = time_base
    v.codec_context.time_base = time_base
    if options:
        v.codec_context.options = options
    for k, val in (color or {}).items():
        setattr(v.codec_context, k, val)
    if rotation_ccw is not None:
        v.set_display_rotation(rotation_ccw)
    a = _add_audio(c, audio, audio_rate) if audio else None
    for img, t in zip(frames, pts):
        f = img if isinstance(img, av.VideoFrame) else av.VideoFrame.from_ndarray(img, format="bgr24")
        f = f.reformat(format=pix_fmt) if f.format.name != pix_fmt else f
        f.pts, f.time_base = t, time_base
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    if a is not None:
        seconds = float((pts[-1] - pts[0]) * time_base) + float(time_base if time_base < 1 else F(1, 25))
        _encode_audio(c, a, seconds)
    c.close()
    return Path(path)


# ---- 10-bit HDR ---------------------------------------------------------------------------------

_M709_TO_2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
TRC_IDS = {"hlg": 18, "pq": 16}


def _bt709_to_linear(v):
    return np.where(v < 0.081, v / 4.5, ((v + 0.099) / 1.099) ** (1 / 0.45))


def _hlg_oetf(e):
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return np.where(e <= 1 / 12, np.sqrt(3 * e), a * np.log(np.maximum(12 * e - b, 1e-9)) + c)


def _pq_oetf(lum):
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    p = lum ** m1
    return ((c1 + c2 * p) / (1 + c3 * p)) ** m2


def hdr_frame(sdr_bgr: np.ndarray, kind: str) -> av.VideoFrame:
    """A 10-bit BT.2020 HLG/PQ frame showing the given SDR image (SDR white -> HDR reference white)."""
    rgb = sdr_bgr[..., ::-1].astype(np.float64) / 255.0
    lin = _bt709_to_linear(rgb) @ _M709_TO_2020.T
    sig = _hlg_oetf(np.clip(lin * 0.2646, 0, 1)) if kind == "hlg" else _pq_oetf(np.clip(lin * 203 / 10000, 0, 1))
    kr, kb = 0.2627, 0.0593
    y = kr * sig[..., 0] + (1 - kr - kb) * sig[..., 1] + kb * sig[..., 2]
    cb = (sig[..., 2] - y) / (2 * (1 - kb))
    cr = (sig[..., 0] - y) / (2 * (1 - kr))
    h, w = y.shape
    planes = [np.round(64 + 876 * y), np.round(512 + 896 * cb), np.round(512 + 896 * cr)]
    frame = av.VideoFrame(w, h, "yuv420p10le")
    for k, plane in enumerate(planes):
        if k:
            plane = cv2.resize(plane.astype(np.float32), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        arr = np.clip(np.round(plane), 0, 1023).astype(np.uint16)
        dst = frame.planes[k]
        stride = dst.line_size // 2
        buf = np.zeros((arr.shape[0], stride), np.uint16)
        buf[:, :arr.shape[1]] = arr
        dst.update(buf.tobytes())
    frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = 9, TRC_IDS[kind], 9, 1
    return frame


def encode_hdr_hevc(path: Path, sdr_frames, kind: str) -> Path:
    frames = [hdr_frame(f, kind) for f in sdr_frames]
    color = {"color_primaries": 9, "color_trc": TRC_IDS[kind], "colorspace": 9, "color_range": 1}
    return encode_video(path, frames, codec="libx265", pix_fmt="yuv420p10le", time_base=F(1, 25),
                        options={"x265-params": "log-level=error"}, color=color)
