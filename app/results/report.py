"""NAME_report.json: everything needed to reproduce and audit one run (fields in README.md)."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from app import APP_NAME, __version__
from app.engine.midline import METHOD_DESCRIPTIONS, method_used, unhonoured_choice_note
from app.results.verdict import assess


def jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        elif isinstance(v, Path):
            v = str(v)
        out[k] = v
    return out


def timings(elapsed: float, frames: int, timer) -> dict:
    return {"total_s": round(elapsed, 3), "fps": round(frames / elapsed, 3) if elapsed else None,
            "mean_ms_per_frame_by_stage": {k: round(v, 3) for k, v in timer.mean_ms(frames).items()},
            "calls_by_stage": timer.counts(),
            "thread_cpu_s": {k: round(v, 3) for k, v in timer.thread_cpu.items()}}


def face_facts(analyzer) -> dict:
    """Face size, the landmark-model check and scene cuts, for the verdict and the window."""
    px = np.asarray(analyzer.pupil_px, dtype=np.float64)
    size = {"frames": int(px.size),
            "pupil_px_median": round(float(np.median(px)), 2) if px.size else None,
            "pupil_px_p10": round(float(np.percentile(px, 10)), 2) if px.size else None}
    return {"face_size": size, "model_check": analyzer.model_check.as_dict(),
            "scene_cuts": analyzer.cuts.as_dict()}


def build_report(*, started_at: str, models, settings: dict, reader, input_sha256: str | None,
                 subject: dict | None = None,
                 analyzer, writers: dict, finals: dict, elapsed: float, timer, warnings: list[str]) -> dict:
    from app.video.recorded_at import recorded_at

    frames = analyzer.frames
    when, when_source = recorded_at(reader.path)
    report = {
        "app": {"name": APP_NAME, "version": __version__},
        "created_utc": started_at,
        "platform": {"python": platform.python_version(), "system": platform.system(),
                     "machine": platform.machine()},
        "models": models.report(),
        "backend": models.describe(),
        "settings": settings,
        "midline_method_used": METHOD_DESCRIPTIONS[method_used(settings["midline"], models.coarse)],
        "midline_choice_note": unhonoured_choice_note(settings["midline"], models.coarse),
        "input": {"file": str(reader.path), "sha256": input_sha256, "bytes": reader.path.stat().st_size,
                  **jsonable(reader.info()),
                  "recorded_at": when, "recorded_at_source": when_source},
        "subject": subject or {"patient": settings.get("patient"), "visit": settings.get("visit")},
        "frames": {"processed": frames, "estimated_total": reader.frame_count_estimate,
                   "with_face": analyzer.faces_found, "without_face": frames - analyzer.faces_found,
                   "ended_early": bool(reader.ended_early), "end_reason": reader.end_reason},
        "quality_flags": analyzer.quality.as_dict(),
        "tracking": analyzer.tracker.stats.as_dict(),
        **face_facts(analyzer),
        "output_video": {kind: w.info() for kind, w in writers.items()},
        "outputs": {k: str(p) for k, p in finals.items()},
        "timings": timings(elapsed, frames, timer),
        "warnings": warnings,
    }
    report["verdict"] = assess(report)
    return report


def write_report(path: Path, report: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
        fh.write("\n")
