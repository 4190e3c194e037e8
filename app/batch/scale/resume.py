"""`process --resume`: is an input's output set already finished, so a resumed study skips it?

Finished means, all read from the NAME_report.json in the output folder (the last file of a set to
be written, published together with the others, app/base/outputs.py):

1. it is a FaceMirror report of the same app version;
2. made with the same model files (every model's sha256, and no model more or less: installing
   STAR since makes a 5-point result outdated);
3. with the same settings that shape the outputs (midline, annotated video, audio, rest window,
   redetection interval, frame limit, patient and visit, the protocol record given; not --overwrite or
   preview settings);
4. every output it lists is in the folder (non-empty), so a set whose file was deleted is redone;
5. from an input with the same size and the same sha256 as the file given now.

The cheap facts are checked first; the input's sha256 (correctness: a file with the same name but
other content must be redone, and size + modification time cannot prove sameness) is computed only
when everything else says "finished": about 1 GB/s here (a 30 MB clinic recording: 0.03 s), so a
finished file is skipped in well under a second on local disks. A different size rejects without
reading the file.

Anything else is redone, and with --resume an outdated set is replaced as a whole by the new one
(app/base/outputs publish: the earlier files are moved aside and removed only once the new set is in
place). The caller must clean the folder's leftovers (app.base.outputs.clean_stale_files) BEFORE
asking, so that a publish interrupted by a kill is finished or rolled back first.

One case is neither: a publish journal naming this NAME's files that the cleanup could not settle,
because its run is alive or ran on another computer (a process id means nothing elsewhere; a SLURM
task resubmitted to another node meets this). Redoing then could later be undone half-way by that
journal's rollback, so the input is "blocked": reported as failed with what to do, nothing touched.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app import APP_NAME, __version__
from app.base.wording import plural
from app.base.model_files import sha256_file
from app.base.outputs import read_json_object, SUFFIX, all_output_paths, parse_temp_name

# Settings (app.pipeline.run.Settings fields) whose value changes what is written.
OUTPUT_SETTINGS = ("midline", "annotated", "audio", "rest", "redetect_every", "max_frames", "patient", "visit",
                   "visit_date", "subject_from_folders", "protocol")   # protocol: the record given (its name)


@dataclass(frozen=True)
class Expected:
    """What a finished set must have been made with: this app version, these models, these settings."""
    models: Mapping[str, str]                 # model key -> sha256
    settings: Mapping[str, object]            # app.pipeline.run.Settings.as_dict()
    version: str = __version__

    @classmethod
    def of(cls, models, settings: Mapping[str, object]) -> "Expected":
        """From a loaded app.engine.model_set.Models (its files' sha256, hashed once per Models)."""
        return cls(models={key: models.sha256(path) for key, path in models.files.items()}, settings=dict(settings))


@dataclass
class Decision:
    done: bool
    reason: str                                  # why it is redone, or "finished" facts
    outputs_exist: bool = False                  # earlier outputs of NAME are in the folder (replace them)
    report: dict = field(default_factory=dict)   # the finished set's report (verdict, frames for the summary)
    blocked: bool = False                        # neither skip nor redo: `reason` says what to do
    other_input: bool = False                    # the earlier set was made from another recording


def _jsonish(value):
    """Settings as they come back from JSON (tuples are lists)."""
    return json.loads(json.dumps(value))


def report_section(report: dict, key: str) -> dict:
    """One part of a report read back from disk; {} when it is missing or not an object."""
    value = report.get(key)
    return value if isinstance(value, dict) else {}


def _report_models(report: dict) -> dict[str, object]:
    models = report_section(report, "models")
    return {k: v["sha256"] for k, v in models.items() if isinstance(v, dict) and "sha256" in v}


def pending_journal(out_dir: Path, names: set[str]) -> Path | None:
    """A publish journal in `out_dir` whose plan names one of `names` (the caller has already
    settled those of dead runs on this computer), else None."""
    try:
        entries = os.listdir(out_dir)
    except OSError:
        return None
    for entry in entries:
        parsed = parse_temp_name(entry)
        if parsed is None or parsed[0] != "journal":
            continue
        data = read_json_object(out_dir / entry)        # any JSON object
        plan = data.get("plan") if data else None
        if not isinstance(plan, list) or any(isinstance(step, dict) and step.get("final") in names for step in plan):
            return out_dir / entry                  # unreadable counts as naming them: never guess
    return None


def check(video: Path, out_dir: Path, expected: Expected) -> Decision:
    """Is the output set of `video` in `out_dir` finished (see the module's rules)?"""
    video, out_dir = Path(video), Path(out_dir)
    finals = all_output_paths(video.stem, out_dir)
    journal = pending_journal(out_dir, {p.name for p in finals.values()})
    if journal is not None:
        return _blocked_by_journal(journal, out_dir)
    exist = any(os.path.lexists(p) for p in finals.values())
    if not exist:
        return Decision(False, "not processed yet")
    report = read_json_object(finals["report"])
    if report is None:
        return _redo("no readable report beside the earlier outputs")
    reason = _made_otherwise(report, expected) or _missing_output(report, finals)
    if reason:
        return _redo(reason)
    return _same_input(video, report_section(report, "input")) or Decision(
        True, "finished earlier with the same input, app version, models and settings",
        outputs_exist=True, report=report)


def _redo(reason: str) -> Decision:
    """Earlier outputs are there but not this run's result: process again (replacing them)."""
    return Decision(False, reason, outputs_exist=True)


def _blocked_by_journal(journal: Path, out_dir: Path) -> Decision:
    _, pid, host = parse_temp_name(journal.name) or ("", 0, "?")
    return Decision(False, f"a publish of its outputs by another run (process {pid}, "
                           f"computer tag {host}) is in progress or was cut short in "
                           f"{out_dir}; run --resume again on that computer, or when no run is writing there "
                           f"remove {journal.name}", outputs_exist=True, blocked=True)


def _made_otherwise(report: dict, expected: Expected) -> str | None:
    """Why the report was not made by this app, version, models and settings (None: it was)."""
    app = report_section(report, "app")
    if app.get("name") != APP_NAME:
        return "the report is not a FaceMirror report"
    if app.get("version") != expected.version:
        return f"made by version {app.get('version')}, this is {expected.version}"
    if _report_models(report) != dict(expected.models):
        return "made with other model files"
    settings = report_section(report, "settings")
    changed = [k for k in OUTPUT_SETTINGS if _jsonish(settings.get(k)) != _jsonish(expected.settings.get(k))]
    if changed:
        return f"made with other settings ({', '.join(changed)})"
    return None


def _missing_output(report: dict, finals: dict[str, Path]) -> str | None:
    """Why the outputs the report lists are not all there, non-empty (None: they are)."""
    listed = report_section(report, "outputs")
    if "report" not in listed or any(k not in SUFFIX for k in listed):
        return "the report does not list its outputs"
    for kind in listed:
        path = finals[kind]
        try:
            ok = path.is_file() and path.stat().st_size > 0
        except OSError:
            ok = False
        if not ok:
            return f"{path.name} is missing"
    return None


def _same_input(video: Path, facts: dict) -> Decision | None:
    """None when `video` is the input the report describes (size, then sha256), else why not."""
    try:
        if facts.get("bytes") != video.stat().st_size:
            return Decision(False, "made from another input (other size)", outputs_exist=True, other_input=True)
        if not facts.get("sha256"):
            return _redo("the report has no input sha256")
        if sha256_file(video) != facts["sha256"]:
            return Decision(False, "made from another input (other sha256)", outputs_exist=True, other_input=True)
    except OSError as exc:
        return _redo(f"cannot read the input: {exc.strerror or exc}")
    return None


def withdraw(video: Path, out_dir: Path) -> str:
    """Remove the output set of `video` in `out_dir` that was made from another recording, once
    its redo failed: left in place it would be listed (by `study`, `compare`, a later --resume's
    "redo") as this input's result, with the other recording's sha256 and measures. The report
    goes first, so that a run killed half-way leaves outputs without a report, which `study` names
    as a problem, never a set that looks finished. Returns what was done, for the user ("" when
    nothing was there)."""
    finals = all_output_paths(Path(video).stem, Path(out_dir))
    order = ["report"] + [k for k in finals if k != "report"]
    removed, stuck = [], []
    for kind in order:
        path = finals[kind]
        try:
            path.unlink()
            removed.append(path.name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            stuck.append(f"{path.name} ({exc.strerror or exc})")
    if not removed and not stuck:
        return ""
    text = (f"withdrew the earlier outputs of {Path(video).name} in {out_dir} "
            f"({plural(len(removed), 'file')}): they were made from another recording and its redo failed")
    if stuck:
        text += f"; could not remove {', '.join(stuck)}: delete them by hand"
    return text
