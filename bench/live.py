"""`python main.py benchmark live [--source FILE] [--seconds N] [--star MODEL] [--pane-width PIXELS]
[--json]`: the live mode's figures on this machine: display fps, camera-frame-in to
mirrored-panes-out latency (p95, landmark inference excluded: it runs beside the display; the
panes drawn at the width given, as the window draws them at the size it shows them), landmark
fps (the live models: STAR cut after 2 stacks where converted), recorded frames dropped,
and the process's resident memory over the run (a long run, e.g. --seconds 600, shows whether it
stays flat). A benchmark, not a test: it prints figures.

The source (FILE, default a 10 s synthetic portrait clip) is played as the camera in real time
and looped until N seconds have passed, so a 10-minute run needs no 10-minute file.
"""
from __future__ import annotations

import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

CLIP_SECONDS = 10.0        # the synthetic camera clip, looped
MEMORY_EVERY_S = 5.0       # one resident-memory sample per this many seconds
# memory before this is start-up, not growth: models, encoder, and ONNX Runtime's arenas, which grow
# over STAR's first ~100 runs (measured here: +70 MB, then flat to 0.1 MB over 800 more runs)
WARM_UP_S = 60.0
# a slope over less than this after the warm-up is noise (a 66 s run once read -1330 MB/min from
# three samples over 6 s): the figure is given only for longer runs
MIN_GROWTH_SPAN_S = 60.0


def memory_figures(samples: list[tuple[float, int]], warm_up_s: float = WARM_UP_S) -> dict:
    """Resident memory after the warm-up, at the end, and its growth per minute (least-squares
    slope over the samples after the warm-up: a flat run is ~0, a leak is its rate). ``samples``:
    (clock seconds, bytes), as bench.machine.RssSampler keeps them."""
    if not samples:
        return {"rss_growth_mb_per_min": None}      # no /proc here: no figure rather than a guess
    t0 = samples[0][0]
    steady = [(t - t0, b / 1e6) for t, b in samples if t - t0 >= warm_up_s]
    if len(steady) < 3 or steady[-1][0] - steady[0][0] < MIN_GROWTH_SPAN_S:
        return {"rss_mb_end": round(samples[-1][1] / 1e6, 1), "rss_growth_mb_per_min": None}
    t = np.array([s[0] for s in steady])
    mb = np.array([s[1] for s in steady])
    slope_per_s = float(np.polyfit(t, mb, 1)[0])
    return {"rss_mb_after_warm_up": round(float(mb[0]), 1), "rss_mb_end": round(float(mb[-1]), 1),
            "rss_mb_max": round(float(mb.max()), 1), "rss_growth_mb_per_min": round(slope_per_s * 60.0, 2)}


def _models(star: Path | None):
    from app.engine.model_set import Models

    if star is None:
        return Models.load(live=True)
    from app.base import model_files
    from app.engine.landmarks import StarLandmarkDetector

    models = Models.load()
    return Models(faces=models.faces, landmarks=StarLandmarkDetector(star),
                  files=models.files | {model_files.STAR_KEY: Path(star)})


def _landmarks_name(models) -> str:
    if models.landmarks is None:
        return "5-point"
    return models.landmarks.backend.model_name or "STAR"     # e.g. star-wflw-98, star-wflw-98-stack2


def benchmark_live(source: Path | None, seconds: float, *, as_json: bool = False, star: Path | None = None,
                   pane_width: int | None = None) -> int:
    import app  # noqa: F401  (privacy settings first)
    from app.live.panes import HEADLESS_PANE_WIDTH
    from app.live.session import record
    from app.live.sources import FileSource, LoopedSource
    from bench.media import make_video
    from bench.machine import LoadMeter, RssSampler

    with tempfile.TemporaryDirectory(prefix="facemirror-live-bench-") as tmp:
        folder = Path(tmp)
        if source is None:
            source = make_video(folder / "camera.mp4", (1280, 720), min(seconds, CLIP_SECONDS), 30.0,
                                out=open("/dev/null", "w"))
        models = _models(star)
        cam = LoopedSource(FileSource(Path(source), realtime=True), seconds)
        if not as_json:
            print(f"playing {cam.size[0]}x{cam.size[1]} at {cam.fps:.0f} fps as the camera for {seconds:.0f} s ...",
                  file=sys.stderr)
        tracemalloc.start()
        with RssSampler(MEMORY_EVERY_S) as memory, LoadMeter() as load:
            pane_width = HEADLESS_PANE_WIDTH if pane_width is None else pane_width
            _, stats = record(cam, models, folder / "live.mp4", pane_width=pane_width)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures = stats.as_dict() | {"size": f"{cam.size[0]}x{cam.size[1]}", "source_fps": round(cam.fps, 2),
                                     "seconds": round(stats.seconds, 2), "frames": stats.frames,
                                     "landmarks": _landmarks_name(models), "pane_width": pane_width or cam.size[0],
                                     "python_heap_peak_mb": round(peak / 1e6, 1),
                                     "other_load": load.describe()} | memory_figures(memory.samples)
    if as_json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:26s} {v}")
    return 0
