"""`python main.py measures NAME_landmarks.csv [--out DIR] [--rest 0:00-0:03] [--protocol FILE] [--overwrite]`.

Recomputes NAME_measures.csv, NAME_measures.json and NAME_summary.html from a landmarks CSV, e.g.
with another rest window, without re-processing the video. The three files are written under
temporary names and renamed into place only when all are complete; existing files are never
replaced without --overwrite. NAME_report.json beside the CSV, when present, supplies the verdict,
models, settings and the input video (for the pictures). A guided exam's record (--protocol, else
NAME_protocol.json beside the CSV or beside the recording) adds the results per task.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from app.base import cli_options
from app.measures import TARGET_FOR_KIND, write_measures
from app.measures.io import MeasuresError
from app.measures.segments import parse_time_range
from app.measures.protocol import ProtocolError, Record, find_record, read_record
from app.base.outputs import MEASURE_KINDS, OutputError, OutputSet
from app.base.outputs import SUFFIX as OUTPUT_SUFFIX

log = logging.getLogger(__name__)
# app.base.outputs kinds -> write_measures target keys
LANDMARKS_SUFFIX = "_landmarks"


def base_name(csv_path: Path) -> str:
    stem = csv_path.stem
    return stem[: -len(LANDMARKS_SUFFIX)] if stem.endswith(LANDMARKS_SUFFIX) and len(stem) > len(LANDMARKS_SUFFIX) \
        else stem


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
        from app.video.reader import grab_frames
    except ImportError:
        return None
    return lambda times_ms: grab_frames(Path(video), times_ms)


def protocol_record(given: Path | None, csv_path: Path, report: dict | None) -> tuple[Record, Path] | None:
    """The guided exam's record: the file given, else NAME_protocol.json beside the CSV, else beside the
    recording the report names. Raises ProtocolError (naming the file and the fault) for a bad one."""
    if given is not None:
        return read_record(Path(given)), Path(given)
    video = ((report or {}).get("input") or {}).get("file")
    for media in [csv_path] + ([Path(video)] if video else []):
        found = find_record(media)
        if found is not None:
            return read_record(found), found
    return None


def run(csv_path: Path, out_dir: Path | None, rest_text: str | None, overwrite: bool,
        subject: dict | None = None, protocol: Path | None = None, notes: list[str] | None = None) -> dict[str, Path]:
    """Do the work; raise MeasuresError / OutputError / OSError with a message for the user.

    The three files are published like every result set (app/base/outputs.OutputSet): all at once,
    earlier ones replaced only with --overwrite and then all or none.
    """
    from app.base import logs

    logs.note_private(csv_path)
    logs.note_private_words(*(subject or {}).values())
    if not csv_path.is_file():
        raise MeasuresError(f"{csv_path} is not a file")
    rest = parse_time_range(rest_text) if rest_text else None
    finals = _targets(csv_path, out_dir, overwrite)
    report = load_report(csv_path)
    found = protocol_record(protocol, csv_path, report)     # before anything is written
    if found is not None and notes is not None:
        notes.append(f"measured per task with the protocol record {found[1].name}")
    _publish(csv_path, finals, rest, report, subject, found, overwrite)
    return {TARGET_FOR_KIND[k]: p for k, p in finals.items()}


def _targets(csv_path: Path, out_dir: Path | None, overwrite: bool) -> dict[str, Path]:
    """The final path of each measure output (its folder made); refused when they exist without --overwrite."""
    folder = Path(out_dir) if out_dir is not None else csv_path.parent
    finals = {k: folder / f"{base_name(csv_path)}{OUTPUT_SUFFIX[k]}" for k in MEASURE_KINDS}
    existing = [p.name for p in finals.values() if p.exists()]
    if existing and not overwrite:
        raise MeasuresError(f"{', '.join(existing)} already exist(s) in {folder}; "
                            "nothing was changed. Use --overwrite to replace them or --out to write elsewhere.")
    folder.mkdir(parents=True, exist_ok=True)
    return finals


def _publish(csv_path: Path, finals: dict[str, Path], rest, report: dict | None, subject: dict | None,
             found: tuple[Record, Path] | None, overwrite: bool) -> None:
    outputs = OutputSet(dict(finals), scope=MEASURE_KINDS)
    published = False
    try:
        try:
            write_measures(csv_path, {TARGET_FOR_KIND[k]: outputs.temp[k] for k in MEASURE_KINDS}, rest=rest,
                           report=report, frame_provider=frame_provider_for(report), subject=subject,
                           record=found[0] if found else None)
        except ProtocolError as exc:      # the record does not fit this recording: say which record
            raise ProtocolError(f"{found[1].name if found else 'protocol record'}: {exc}") from None
        outputs.publish(overwrite)
        published = True
    finally:
        if not published:
            outputs.discard()


def add_parser(sub) -> None:
    """`measures`' options (app/cli/main.py adds each command's sub-parser)."""
    meas = sub.add_parser("measures", help="symmetry measures and the HTML summary from a landmarks CSV")
    meas.add_argument("landmarks_csv", type=Path, help="NAME_landmarks.csv (frame, time_ms, p0_x ... p97_y)")
    meas.add_argument("--out", type=Path, default=None, help="output folder (default: beside the CSV)")
    meas.add_argument("--rest", default=None, metavar="START-END",
                      help="rest window instead of the detected one, on the player's clock, e.g. 0:00-0:03 or 1.5-4 (seconds)")
    meas.add_argument("--overwrite", action="store_true", help="replace existing measures and summary")
    meas.add_argument("--protocol", type=Path, default=None, metavar="FILE",
                      help="a guided exam's record (NAME_protocol.json): measures per task; default: the "
                           "NAME_protocol.json beside the CSV, when there is one")
    cli_options.subject_options(meas)
    cli_options.visit_date_option(meas)
    meas.set_defaults(run=measures_command)


def measures_command(args) -> int:
    from app.base import cancel

    previous = cancel.raise_on_signals()    # a signal discards the partial files (run's finally)
    try:
        subject = {k: v for k, v in (("patient", getattr(args, "patient", None)),
                                     ("visit", getattr(args, "visit", None)),
                                     ("visit_date", getattr(args, "visit_date", None))) if v}
        notes: list[str] = []
        finals = run(Path(args.landmarks_csv), args.out, args.rest, args.overwrite, subject or None,
                     getattr(args, "protocol", None), notes)
    except cancel.Interrupted as exc:
        print("cancelled: nothing was written", file=sys.stderr)
        return exc.exit_code
    except (MeasuresError, OutputError, ProtocolError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:      # plain words ("the disk is full"), never "[Errno 28]"; run() discarded its files
        from app.base.outputs import write_error_message

        print(f"error: cannot write the measures: {write_error_message(exc)}; nothing was written", file=sys.stderr)
        return 1
    finally:
        cancel.restore(previous)
    for note in notes:
        print(note)
    for p in finals.values():
        print(f"wrote {p}")
    return 0
