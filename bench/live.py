"""`python main.py benchmark live [--source FILE] [--seconds N] [--json]`: the live mode's figures on
this machine: display fps, camera-frame-in to mirrored-panes-out latency (p95, landmark inference
excluded: it runs beside the display), landmark fps and recorded frames dropped. A benchmark, not
a test: it prints figures."""
from __future__ import annotations

import json
import tempfile
import tracemalloc
from pathlib import Path


def benchmark_live(source: Path | None, seconds: float, *, as_json: bool = False) -> int:
    import app  # noqa: F401  (privacy settings first)
    from app.live.session import record
    from app.live.sources import FileSource
    from app.model_set import Models
    from bench.benchmark import make_video

    with tempfile.TemporaryDirectory(prefix="facemirror-live-bench-") as tmp:
        folder = Path(tmp)
        if source is None:
            source = make_video(folder / "camera.mp4", (1280, 720), seconds, 30.0, out=open("/dev/null", "w"))
        models = Models.load()
        cam = FileSource(Path(source), realtime=True, max_seconds=seconds)
        tracemalloc.start()
        _, stats = record(cam, models, folder / "live.mp4")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures = stats.as_dict() | {"size": f"{cam.size[0]}x{cam.size[1]}", "source_fps": round(cam.fps, 2),
                                     "seconds": round(stats.seconds, 2), "frames": stats.frames,
                                     "landmarks": "5-point" if models.coarse else "STAR",
                                     "python_heap_peak_mb": round(peak / 1e6, 1)}
    if as_json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:26s} {v}")
    return 0
