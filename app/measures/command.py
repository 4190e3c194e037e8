"""`python main.py measures NAME_landmarks.csv [--out DIR] [--rest 0:00-0:03] [--overwrite]`.

Recomputes NAME_measures.csv, NAME_measures.json and NAME_summary.html from a landmarks CSV, e.g.
with another rest window, without re-processing the video. The three files are written under
temporary names and renamed into place only when all are complete; existing files are never
replaced without --overwrite. NAME_report.json beside the CSV, when present, supplies the verdict,
models, settings and the input video (for the pictures).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from app.measures import TARGET_KEYS, MeasuresError, parse_time_range, write_measures
from app.outputs import temp_path

log = logging.getLogger(__name__)
SUFFIX = {"measures_csv": "_measures.csv", "measures_json": "_measures.json", "summary_html": "_summary.html"}
LANDMARKS_SUFFIX = "_landmarks"


def base_name(csv_path: Path) -> str:
    stem = csv_path.stem
    return stem[: -len(LANDMARKS_SUFFIX)] if stem.endswith(LANDMARKS_SUFFIX) and len(stem) > len(LANDMARKS_SUFFIX) \
        else stem


def target_paths(csv_path: Path, out_dir: Path | None) -> dict[str, Path]:
    folder = Path(out_dir) if out_dir is not None else csv_path.parent
    name = base_name(csv_path)
    return {k: folder / f"{name}{SUFFIX[k]}" for k in TARGET_KEYS}


def load_report(csv_path: Path) -> dict | None:
    path = csv_path.with_name(f"{base_name(csv_path)}_report.json")
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError) as exc:
        print(f"warning: ignoring {path.name}: {exc}", file=sys.stderr)
        return None


def frame_provider_for(report: dict | None):
    """grab_frames of the report's input video, or None when the video or the reader is unavailable."""
    video = ((report or {}).get("input") or {}).get("file")
    if not video or not Path(video).is_file():
        return None
    try:
        from app.video.reader import grab_frames  # type: ignore[attr-defined]
    except ImportError:
        return None
    return lambda times_ms: grab_frames(Path(video), times_ms)


def publish(temps: dict[str, Path], finals: dict[str, Path], overwrite: bool) -> None:
    if not overwrite:
        clash = [p for p in finals.values() if p.exists()]
        if clash:
            raise MeasuresError(f"{clash[0]} appeared while computing; not overwritten")
    for k, tmp in temps.items():
        os.replace(tmp, finals[k])


def run(csv_path: Path, out_dir: Path | None, rest_text: str | None, overwrite: bool) -> dict[str, Path]:
    """Do the work; raise MeasuresError / OSError with a message for the user."""
    if not csv_path.is_file():
        raise MeasuresError(f"{csv_path} is not a file")
    rest = parse_time_range(rest_text) if rest_text else None
    finals = target_paths(csv_path, out_dir)
    existing = [p.name for p in finals.values() if p.exists()]
    if existing and not overwrite:
        raise MeasuresError(f"{', '.join(existing)} already exist(s) in {next(iter(finals.values())).parent}; "
                            "nothing was changed. Use --overwrite to replace them or --out to write elsewhere.")
    next(iter(finals.values())).parent.mkdir(parents=True, exist_ok=True)
    report = load_report(csv_path)
    temps = {k: temp_path(p) for k, p in finals.items()}
    try:
        write_measures(csv_path, temps, rest=rest, report=report, frame_provider=frame_provider_for(report))
        publish(temps, finals, overwrite)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return finals


def measures_command(args) -> int:
    try:
        finals = run(Path(args.landmarks_csv), args.out, args.rest, args.overwrite)
    except MeasuresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the measures: {exc}", file=sys.stderr)
        return 1
    for p in finals.values():
        print(f"wrote {p}")
    return 0
