"""Self-test checks for the media stack: H.264 through PyAV and OpenCV in one process, plots.

Every video read and write of the app goes through PyAV; OpenCV is used for image operations
only. OpenCV's wheel still loads its own FFmpeg build with cv2, so two FFmpeg copies live in the
process: their C symbols stay apart (each library binds to its own copy), but on macOS both
libavdevice copies register the same Objective-C class names, and the runtime warns that which
one is used is undefined. Those classes belong to the AVFoundation capture device, which
FaceMirror does not use through FFmpeg. This check imports cv2 first, then encodes and decodes
with PyAV in the same process, so the frozen app on the macOS CI proves the duplicate is
harmless for what the app does. The encode goes through the app's own writer, so it uses the app's encoder choice
(VideoToolbox on a Mac where it opens, else libx264). Qt-free.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from app.base import paths

FRAMES = 12
SIZE = (128, 96)  # width, height: even (yuv420p), above every encoder's minimum


class MediaCheckError(RuntimeError):
    pass


def _frames() -> list[np.ndarray]:
    w, h = SIZE
    out = []
    for i in range(FRAMES):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : (i * 9) % w] = (40, 160, 220)
        out.append(img)
    return out


def encode_with_app_writer(path: Path) -> str:
    """Write FRAMES frames with the app's own writer (its encoder choice); returns what it used."""
    from fractions import Fraction

    from app.video.writer import VideoWriter

    writer = VideoWriter(path, SIZE, time_base=Fraction(1, 25), fps=25.0)
    try:
        for i, img in enumerate(_frames()):
            writer.write(img, i)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.encoder.describe()


def decode_pyav(path: Path) -> tuple[int, str]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        return n, stream.codec_context.name


def check_video(folder: Path) -> list[str]:
    """Encode H.264 with the app's writer (PyAV) and decode it with PyAV, with OpenCV (and its
    FFmpeg) loaded in the same process; lines to print."""
    import av
    import cv2

    path = folder / "selftest.mp4"
    encoder = encode_with_app_writer(path)
    n_av, codec = decode_pyav(path)
    lines = [f"PyAV {av.__version__}, FFmpeg libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}; "
             f"OpenCV {cv2.__version__} loaded (images only)"]
    if codec != "h264" or n_av != FRAMES:
        raise MediaCheckError(f"{encoder}: wrote {FRAMES} frames, PyAV decoded {n_av} ({codec})")
    lines.append(f"H.264 encode ({encoder}) and decode in one process: PyAV {n_av}/{FRAMES} frames")
    return lines


def check_plots(folder: Path) -> list[str]:
    """Render a plot with matplotlib (Agg) and say where its config and font cache live."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5), dpi=50)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 1, 0])
    ax.set_title("FaceMirror")
    out = folder / "selftest_plot.png"
    fig.savefig(out)
    if out.stat().st_size < 100:
        raise MediaCheckError("matplotlib wrote an empty image")
    config = Path(matplotlib.get_configdir())
    lines = [f"matplotlib {matplotlib.__version__}: plot rendered; config and font cache in {config}"]
    if paths.bundle_dir() is not None and paths.user_cache_dir() not in config.parents:
        raise MediaCheckError(f"matplotlib's config folder {config} is not in the user's cache folder "
                              f"{paths.user_cache_dir()} (the font cache would be rebuilt at every start)")
    return lines
