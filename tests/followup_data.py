"""Synthetic FaceMirror output sets for `compare` tests, written to the data contracts of issue 24
(NAME_report.json: app, subject, input.recorded_at, verdict; NAME_measures.json: headlines, rest),
with values chosen by the test, never computed by the code under test."""
from __future__ import annotations

import json
from pathlib import Path

from app import APP_NAME
from app.verdict import GOOD, NOT_USABLE, WARNINGS

__all__ = ["GOOD", "NOT_USABLE", "WARNINGS", "headline", "write_output_set"]


def headline(region: str, sym: float | None, ci: tuple[float, float] | None, *, right: float = 10.0,
             left: float | None = None, peak_s: float = 2.0) -> dict:
    measure = {"mouth": "commissure_excursion", "brow": "brow_height", "eyes": "palpebral_fissure"}[region]
    label = {"mouth": "smile (commissure excursion)", "brow": "brow raise", "eyes": "eye closure"}[region]
    left = right * (sym or 100.0) / 100.0 if left is None else left
    return {"region": region, "measure": measure, "label": label, "segment": 0, "peak_s": peak_s, "unit": "mm",
            "right": {"value": right, "ci95": [right - 0.5, right + 0.5]},
            "left": {"value": left, "ci95": [left - 0.5, left + 0.5]},
            "symmetry_pct": sym, "symmetry_ci95": list(ci) if ci else None,
            "weaker": "left" if sym is not None and sym < 95 else None}


def write_output_set(folder: Path, name: str, *, patient: str | None, visit: str | None, recorded_at: str | None,
                     level: str = GOOD, reasons: list[str] | None = None, headlines: list[dict] = (),
                     rest_difference_mm: float = 1.0, video: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    report = {"app": {"name": APP_NAME, "version": "0.1.0"},
              "input": {"file": str(video or folder / f"{name}.mp4"), "sha256": "0" * 64, "recorded_at": recorded_at,
                        "recorded_at_source": "recording's own creation time (container metadata)"},
              "subject": {"patient": patient, "visit": visit},
              "verdict": {"level": level, "reasons": reasons or [], "notes": []}}
    measures = {"mode": "98-point WFLW", "headlines": list(headlines),
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
