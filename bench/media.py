"""The benchmarks' synthetic test video (a portrait photograph moving like a head, written like a
phone recording): one home for `make_video`, used by the pipeline, live, cluster and soak benchmarks."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

DEFAULT_IMAGE = Path(__file__).resolve().parents[2] / "shared" / "media" / "portrait_frontal.jpg"   # ../shared beside the repository


def make_video(out_path: Path, size: tuple[int, int] = (1280, 720), seconds: float = 10.0, fps: float = 30.0,
               image: Path | None = None, noise: float = 2.0, out=None) -> Path:
    """A portrait photograph on a `size` canvas, moving like a head (rotation +-8 deg, shift,
    +-5 % scale, a 4 s cycle) with a little sensor noise; written like a phone recording: H.264
    with an AAC stereo track (a 440 Hz tone), so the pipeline benchmark copies audio as in use."""
    import cv2

    out = out or sys.stdout
    image = Path(image) if image else DEFAULT_IMAGE
    src = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if src is None:
        raise SystemExit(f"cannot read image {image} (give --image PATH)")
    w, h = size
    # fit the portrait to the frame height, centred on a neutral background
    s = h / src.shape[0]
    pw = int(round(src.shape[1] * s))
    portrait = cv2.resize(src, (pw, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    base = np.full((h, w, 3), 96, np.uint8)
    x0 = max(0, (w - pw) // 2)
    cw = min(pw, w)
    base[:, x0:x0 + cw] = portrait[:, (pw - cw) // 2:(pw - cw) // 2 + cw]
    n = max(1, int(round(seconds * fps)))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    vw = _PhoneLikeWriter(out_path, (w, h), fps, seconds=n / fps)
    rng = np.random.default_rng(0)
    noise_frames = [rng.normal(0, noise, (h, w, 3)).astype(np.int16) for _ in range(4)] if noise else []
    centre = (w / 2.0, h * 0.4)
    frame = np.empty_like(base)
    try:
        for k in range(n):
            t = k / fps
            angle = 8.0 * math.sin(2 * math.pi * t / 4.0)
            scale = 1.0 + 0.05 * math.sin(2 * math.pi * t / 6.0 + 1.3)
            m = cv2.getRotationMatrix2D(centre, angle, scale)
            m[0, 2] += 0.03 * w * math.sin(2 * math.pi * t / 5.0 + 0.7)
            m[1, 2] += 0.02 * h * math.cos(2 * math.pi * t / 4.0)
            cv2.warpAffine(base, m, (w, h), dst=frame, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if noise_frames:
                frame = np.clip(frame + noise_frames[k % len(noise_frames)], 0, 255).astype(np.uint8)
            vw.write(frame)
    finally:
        vw.close()
    print(f"wrote {out_path} ({w}x{h}, {n} frames at {fps:g} fps = {n / fps:.1f} s)", file=out)
    return out_path


class _PhoneLikeWriter:
    """H.264 video + AAC audio test file through PyAV (benchmark input, not an app output)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, seconds: float):
        import fractions

        import av

        self._av = av
        self.c = av.open(str(path), "w")
        rate = fractions.Fraction(fps).limit_denominator(1001)
        self.v = self.c.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
        self.v.width, self.v.height, self.v.pix_fmt = size[0], size[1], "yuv420p"
        self.a = self.c.add_stream("aac", rate=48000, layout="stereo")
        self.seconds, self.k = seconds, 0

    def write(self, frame) -> None:
        vf = self._av.VideoFrame.from_ndarray(frame, format="bgr24")
        vf.pts = self.k
        self.k += 1
        for p in self.v.encode(vf):
            self.c.mux(p)

    def close(self) -> None:
        for p in self.v.encode(None):
            self.c.mux(p)
        rate, chunk = 48000, 1024
        for start in range(0, int(self.seconds * rate), chunk):
            t = (np.arange(start, start + chunk) / rate).astype(np.float32)
            tone = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
            af = self._av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts = rate, start
            for p in self.a.encode(af):
                self.c.mux(p)
        for p in self.a.encode(None):
            self.c.mux(p)
        self.c.close()
