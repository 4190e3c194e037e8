"""Synthetic FaceMirror output sets for `compare` tests, written to the data contracts of issues 24
and 33 (NAME_report.json: app, subject, input (sha256, size, frame rate, recorded_at and its
source), models, face_size, verdict; NAME_measures.json: subject, mode, headlines, rest), with
values chosen by the test, never computed by the code under test."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app import APP_NAME
from app.results.verdict import GOOD, NOT_USABLE, WARNINGS
from app.video.recorded_at import CONTAINER, FILE_TIME

__all__ = ["CONTAINER", "FILE_TIME", "GOOD", "NOT_USABLE", "WARNINGS", "headline", "write_output_set"]

STAR_SHA = "a" * 64
DETECTOR_SHA = "b" * 64


def headline(region: str, sym: float | None, ci: tuple[float, float] | None, *, right: float = 10.0,
             left: float | None = None, peak_s: float = 2.0, weaker: str | None = "auto") -> dict:
    measure = {"mouth": "commissure_excursion", "brow": "brow_height", "eyes": "palpebral_fissure"}[region]
    label = {"mouth": "smile (commissure excursion)", "brow": "brow raise", "eyes": "eye closure"}[region]
    left = right * (sym or 100.0) / 100.0 if left is None else left
    if weaker == "auto":
        weaker = "left" if sym is not None and sym < 95 else None
    return {"region": region, "measure": measure, "label": label, "segment": 0, "peak_s": peak_s, "unit": "mm",
            "right": {"value": right, "ci95": [right - 0.5, right + 0.5]},
            "left": {"value": left, "ci95": [left - 0.5, left + 0.5]},
            "symmetry_pct": sym, "symmetry_ci95": list(ci) if ci else None, "weaker": weaker}


def write_output_set(folder: Path, name: str, *, patient: str | None, visit: str | None, recorded_at: str | None,
                     level: str = GOOD, reasons: list[str] | None = None, headlines: list[dict] = (),
                     rest_difference_mm: float = 1.0, video: Path | None = None, date_source: str = CONTAINER,
                     visit_date: str | None = None, sha256: str | None = None, mode: str = "98-point WFLW",
                     size: tuple[int, int] = (480, 600), fps: float = 30.0, face_px: float = 60.0,
                     star_sha256: str | None = STAR_SHA) -> Path:
    """One output set. ``sha256`` defaults to one of its own (the folder and name), so two sets are two
    recordings unless the test says they are one."""
    folder.mkdir(parents=True, exist_ok=True)
    coarse = mode.startswith("5-point")
    subject = {"patient": patient, "visit": visit, **({"visit_date": visit_date} if visit_date else {})}
    models = {"retinaface": {"file": "retinaface.onnx", "sha256": DETECTOR_SHA},
              "landmark_model": "5-point fallback" if coarse else "STAR 98-point"}
    if not coarse and star_sha256:
        models["star"] = {"file": "star.onnx", "sha256": star_sha256}
    report = {"app": {"name": APP_NAME, "version": "0.1.0"}, "models": models,
              "input": {"file": str(video or folder / f"{name}.mp4"),
                        "sha256": sha256 or hashlib.sha256(str(folder / name).encode()).hexdigest(),
                        "width": size[0], "height": size[1], "fps": fps,
                        "recorded_at": recorded_at, "recorded_at_source": date_source if recorded_at else None},
              "face_size": {"pupil_px_median": face_px},
              "subject": subject,
              "verdict": {"level": level, "reasons": reasons or [], "notes": []}}
    measures = {"mode": "5-point (coarse)" if coarse else mode, "coarse": coarse, "subject": subject,
                "headlines": list(headlines),
                "rest": {"start_s": 0.0, "end_s": 1.0, "frames": 30,
                         "values": {"commissure_height": {"right": 0.5, "left": 0.5 - rest_difference_mm / 63,
                                                          "difference": rest_difference_mm / 63, "right_mm": 31.5,
                                                          "left_mm": 31.5 - rest_difference_mm,
                                                          "difference_mm": rest_difference_mm, "unit": "IPD"}}},
                "segments": []}
    path = folder / f"{name}_report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    (folder / f"{name}_measures.json").write_text(json.dumps(measures), encoding="utf-8")
    return path
