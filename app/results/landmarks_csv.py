"""NAME_landmarks.csv: one row per frame (columns documented in README.md, "CSV columns").

Rows go straight to the (temporary) file as they are made, so memory does not grow with the
video's length. The measures (app/measures) read this file back.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from app.engine.midline import MIDLINE_CSV_COLUMNS
from app.engine.quality import QUALITY_CSV_COLUMNS

BASE_COLUMNS = ("frame", "time_ms", "face_found", "n_faces", "box_source", "box_x1", "box_y1", "box_x2",
                "box_y2", "score", "detector_ran")


def csv_columns(coarse: bool) -> list[str]:
    cols = list(BASE_COLUMNS)
    for i in range(5 if coarse else 98):
        cols += [f"p{i}_x", f"p{i}_y"]
    return cols + list(MIDLINE_CSV_COLUMNS) + list(QUALITY_CSV_COLUMNS)


def csv_row(r) -> dict:
    """The row for one app.pipeline.stages.analysis.FrameResult."""
    track = r.track
    row = {"frame": r.index, "time_ms": round(float(r.timestamp_ms), 3), "face_found": int(track.box is not None),
           "n_faces": "" if track.n_faces < 0 else track.n_faces, "box_source": track.source,
           "detector_ran": int(track.detector_ran),
           "score": "" if track.score is None else round(float(track.score), 4)}
    if track.box is not None:
        for k, v in zip(("box_x1", "box_y1", "box_x2", "box_y2"), track.box):
            row[k] = round(float(v), 2)
    if r.points is not None:
        for i, (x, y) in enumerate(np.asarray(r.points, np.float64)):
            row[f"p{i}_x"], row[f"p{i}_y"] = round(x, 2), round(y, 2)
    row.update(r.estimate.as_dict())
    row.update(r.quality.as_dict())
    return row


class LandmarksCsv:
    def __init__(self, path: Path, coarse: bool):
        self._fh = open(path, "w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=csv_columns(coarse), extrasaction="ignore")
        self._writer.writeheader()

    def write(self, result) -> None:
        self._writer.writerow(csv_row(result))

    def close(self) -> None:
        self._fh.close()
