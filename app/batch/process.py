"""`python main.py process INPUT... [--out DIR] [--midline ...] [--overwrite] [--no-annotated]`.

Files or folders (videos found inside; FaceMirror's own outputs skipped); a progress line per
file; a summary table at the end (file as much of its path as tells it apart, status, verdict,
frames, fps, note). Inputs whose outputs would collide are refused before anything starts; with
--out, videos found in a folder keep that folder under it (app.base.outputs.out_dir_for). Ctrl-C,
SIGTERM and SIGHUP cancel cleanly (nothing partial is left). Partial files of killed runs are
removed from each output folder before it is written to, and the run says so.

Studies at scale (docs/CLUSTER.md): `--shard I/N` takes only this shard's inputs
(app/batch/scale/shards.py); `--resume` skips inputs whose output set is finished and current
(app/batch/scale/resume.py) and replaces outdated sets. The Ray runner (app/cluster) uses the same
planning (`prepare`), per-file lines (`report_outcome`) and summary (`summarize`). The plain run
goes through its inputs with app.batch.job_queue's JobQueue, as the window does.

Exit code 0 when every file succeeded (or was already done), 1 otherwise (each failure named), 2
when nothing could start (no face detector model, bad arguments), 128 + the signal's number when a
signal cancelled the run (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), as schedulers read it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from app.base import cancel as cancel_signals
from app.base import cli_options
from app.base import notices
from app.base.wording import plural
from app.batch.job_queue.summary import BatchSummary, FileRow
from app.batch.job_queue.jobs import Job, Status
from app.batch.job_queue.queue import JobQueue
from app.batch.job_queue.runner import CLI_EXISTS_HINT, QueueRunner, ending_of, outcome_of
from app.base.outputs import (
    Input,
    clean_stale_files,
    distinct_labels,
    expand_inputs,
    find_collisions,
    out_dir_for,
)
from app.batch.scale import resume as resume_check
from app.batch.scale.shards import Shard, ShardError, given_key, input_key, parse_shard, select

if TYPE_CHECKING:   # the pipeline and the models load lazily (start-up stays fast, a signal is seen at once)
    from app.engine.model_set import Models
    from app.pipeline.run import Settings

# the row statuses of a run (str enum members: they print and compare as their words)
DONE, SKIPPED, FAILED, CANCELLED = Status.DONE, Status.SKIPPED, Status.FAILED, Status.CANCELLED


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class _Bar:
    def __init__(self, out, width: int = 30):
        self.out, self.width = out, width
        self.tty = hasattr(out, "isatty") and out.isatty()
        self._last_pct = -10

    def __call__(self, p) -> None:
        total = p.frames_total or 0
        frac = min(1.0, p.frames_done / total) if total else 0.0
        pct = int(frac * 100)
        if not self.tty:  # logs: a line every 10 %
            if pct >= self._last_pct + 10:
                self._last_pct = pct - pct % 10
                self.out.write(f"  {pct:3d} %  {p.frames_done}/{total or '?'} frames  {p.fps:5.1f} fps  "
                               f"ETA {_fmt_time(p.eta_s)}\n")
                self.out.flush()
            return
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.out.write(f"\r  [{bar}] {pct:3d} %  {p.frames_done}/{total or '?'}  {p.fps:5.1f} fps  "
                       f"ETA {_fmt_time(p.eta_s)} ")
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\n")


@contextlib.contextmanager
def cancel_on_signals():
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP all cancel the same way: the running file stops within a
    frame or two and leaves nothing, the rest is marked cancelled, the summary is printed. Yields
    the cancel event (app.base.cancel.requested, which main.py may have armed at start-up already)."""
    previous = cancel_signals.install()
    try:
        yield cancel_signals.requested
    finally:
        cancel_signals.restore(previous)
        cancel_signals.clear()      # the batch is over; an in-process caller may run another


def add_parser(sub) -> None:
    """`process`'s options (app/cli/main.py adds each command's sub-parser; `--ray` is routed there)."""
    from app.engine.midline import DEFAULT_METHOD, MIDLINE_METHODS

    proc = sub.add_parser("process", help="process videos headless (files or folders)")
    proc.add_argument("inputs", nargs="+", help="video files or folders containing videos")
    proc.add_argument("--out", type=Path, default=None, help="output folder (default: beside each input)")
    proc.add_argument("--midline", choices=list(MIDLINE_METHODS), default=DEFAULT_METHOD,
                      help="midline definition (STAR only: without STAR the eye-centre bisector is used and a "
                           f"non-default choice is reported as not honoured; default {DEFAULT_METHOD})")
    proc.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    proc.add_argument("--no-annotated", action="store_true", help="do not write NAME_annotated.mp4")
    proc.add_argument("--rest", default=None, metavar="START-END",
                      help="rest window for the symmetry measures on the player's clock, e.g. 0:00-0:03 (default: the quietest stretch)")
    proc.add_argument("--protocol", type=Path, default=None, metavar="FILE",
                      help="a guided exam's record (NAME_protocol.json): measures per task; default: the "
                           "NAME_protocol.json beside each recording, when there is one")
    cli_options.subject_options(proc)
    cli_options.visit_date_option(proc)
    cli_options.folder_subject_option(proc)
    proc.add_argument("--no-audio", action="store_true",
                      help="leave the input's audio out of the output videos (default: copied unchanged)")
    proc.add_argument("--shard", default=None, metavar="I/N",
                      help="process only shard I of N (0 <= I < N; a stable split by the inputs' relative paths), "
                           "e.g. --shard $SLURM_ARRAY_TASK_ID/100")
    proc.add_argument("--resume", action="store_true",
                      help="skip inputs whose outputs are finished (same input sha256, app version, models and "
                           "settings); redo and replace any other earlier outputs")
    proc.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                      help="one Ray task per video: without ADDRESS (or `local`) a local Ray on this machine, else "
                           "the cluster at ADDRESS (host:port of `ray start --head`, or auto); put it after the "
                           "inputs; needs the cluster extra")
    proc.add_argument("--ray-cpus", type=int, default=None, metavar="N",
                      help="CPUs per Ray task, and ONNX Runtime threads in it (default 1)")
    proc.add_argument("--ray-retries", type=int, default=None, metavar="N",
                      help="times Ray runs a video again when its worker dies (default 3)")
    proc.set_defaults(run=process_command)


def process_command(args, out=sys.stdout, err=sys.stderr) -> int:
    with cancel_on_signals() as requested:
        code = _process(args, requested, out, err)
        return cancel_signals.exit_code() if requested.is_set() else code


class PlannedInput(NamedTuple):
    """An input to process and the folder its outputs go to (a pair, so it unpacks as one)."""
    video: Path
    out_dir: Path


@dataclass
class Plan:
    """What a `process` run will do, the same for a plain run and a Ray run."""
    models: Models
    settings: Settings
    run_notices: list[str]               # app.base.notices codes said once for the run, not on every row
    jobs: list[PlannedInput]             # this shard's, in input order
    rows: list[FileRow]                  # summary rows of inputs refused before anything starts
    labels: dict[Path, str]
    expected: resume_check.Expected | None   # --resume: what a finished set must have been made with


def plan_jobs(args, out, err, shard: Shard | None = None) -> tuple[list[PlannedInput], list[FileRow]]:
    """Inputs to process with their output folders, and rows for those refused before anything
    starts; with a shard, only its own of both (collisions are found over ALL inputs first, so
    every task of an array job refuses the same ones and no two tasks write the same outputs)."""
    found, refused, skipped = expand_inputs([Path(p) for p in args.inputs])
    if skipped:
        print(f"skipped {plural(len(skipped), 'FaceMirror output file')} (outputs are never processed again)", file=out)
    out_root = Path(args.out) if args.out else None
    jobs = [PlannedInput(inp.path, out_dir_for(inp, out_root)) for inp in found]
    collisions = find_collisions(jobs)
    inputs: dict[Path, Input] = {inp.path: inp for inp in found}

    def key(path: Path) -> str:
        inp = inputs.get(Path(path))
        return input_key(inp) if inp is not None else given_key(path)

    rows = [FileRow(p, FAILED, reason) for p, reason in select(refused, shard, lambda r: key(r[0]))]
    for video, reason in select(list(collisions.items()), shard, lambda c: key(c[0])):
        print(f"not processed: {video}: {reason}", file=err)
        rows.append(FileRow(video, FAILED, f"not processed: {reason}"))
    total = len(jobs)
    jobs = select([j for j in jobs if j.video not in collisions], shard, lambda j: key(j.video))
    if shard is not None:
        print(f"shard {shard}: {len(jobs)} of {plural(total, 'input')}", file=out)
    return jobs, rows


def _load_models(err, threads: int | None = None):
    from app.engine.runtime import ModelFileError
    from app.engine.model_set import Models

    try:
        return Models.load(threads=threads)
    except ModelFileError as exc:
        print(f"error: {exc}", file=err)
        return None


def _warn_models(models, out, err) -> list[str]:
    """Say once the warnings that hold for every file; returns their codes (not repeated on each row)."""
    print(f"backend: {models.describe()}", file=out)
    codes = notices.for_models(models)
    for code in codes:
        print(f"WARNING: {notices.TEXT[code]}. {notices.ADVICE[code]}", file=err)
    return codes


class _BadOption(Exception):
    """An option's value that stops the run before anything starts (exit code 2); the text says why."""


def _checked_options(args) -> tuple[Shard | None, tuple[float, float] | None]:
    """--shard and --rest parsed, and --protocol's record read (a bad record stops the run before
    anything is written); raises _BadOption with the words to print."""
    from app.measures.io import MeasuresError
    from app.measures.protocol import ProtocolError, read_record
    from app.measures.segments import parse_time_range

    shard_text, rest_text, protocol = (getattr(args, name, None) for name in ("shard", "rest", "protocol"))
    try:
        # "" too: an unset variable is an error, not "all"
        shard = parse_shard(shard_text) if shard_text is not None else None
    except ShardError as exc:
        raise _BadOption(str(exc)) from exc
    try:
        rest = parse_time_range(rest_text) if rest_text else None
    except MeasuresError as exc:
        raise _BadOption(f"--rest: {exc}") from exc
    try:
        if protocol is not None:
            read_record(Path(protocol))
    except ProtocolError as exc:
        raise _BadOption(f"--protocol: {exc}") from exc
    return shard, rest


def cancelled_before_start(cancel: threading.Event, err) -> bool:
    """A signal came before anything was written: said on err (a plain run and a Ray run alike)."""
    if cancel.is_set():
        print("cancelled before processing started; nothing was written", file=err)
    return cancel.is_set()


def prepare(args, cancel: threading.Event, out, err, threads: int | None = None) -> Plan | int:
    """Validate the options, load the models, plan the jobs. Returns the Plan, or the exit code when
    nothing can start (said on err)."""
    if cancelled_before_start(cancel, err):
        return 1
    try:
        shard, rest = _checked_options(args)
    except _BadOption as exc:
        print(f"error: {exc}", file=err)
        return 2
    models = _load_models(err, threads)
    if models is None:
        return 2
    if cancelled_before_start(cancel, err):
        return 1
    run_notices = _warn_models(models, out, err)
    jobs, rows = plan_jobs(args, out, err, shard)
    settings = _settings(args, rest)
    expected = resume_check.Expected.of(models, settings.as_dict()) if getattr(args, "resume", False) else None
    return Plan(models=models, settings=settings, run_notices=run_notices, jobs=jobs, rows=rows,
                labels=distinct_labels([v for v, _ in jobs]), expected=expected)


def _settings(args, rest: tuple[float, float] | None) -> Settings:
    """The pipeline's settings from the options (the patient's and visit's words kept out of the log)."""
    from app.pipeline.run import Settings

    from app.base import logs
    patient, visit = getattr(args, "patient", None), getattr(args, "visit", None)
    logs.note_private_words(patient, visit)
    return Settings(midline=args.midline, annotated=not args.no_annotated, overwrite=args.overwrite,
                    audio=not getattr(args, "no_audio", False), rest=rest, patient=patient, visit=visit,
                    visit_date=getattr(args, "visit_date", None), protocol=getattr(args, "protocol", None),
                    subject_from_folders=bool(getattr(args, "subject_from_folders", False)))


def _process(args, cancel: threading.Event, out, err) -> int:
    plan = prepare(args, cancel, out, err)
    if isinstance(plan, int):
        return plan

    from app.pipeline.run import Pipeline

    pipeline = Pipeline(plan.models, plan.settings)
    # --resume replaces an outdated set (other version, models, settings or input) as a whole
    replacing = Pipeline(plan.models, dataclasses.replace(plan.settings, overwrite=True))
    queue = JobQueue()
    for video, out_dir in plan.jobs:
        queue.add(video, out_dir)
    queue.start()
    runner = QueueRunner(queue, CLI_EXISTS_HINT)
    rows = list(plan.rows)
    cleaned: set[Path] = set()
    while (job := runner.next_request(cancel)) is not None:
        row = _run_job(job, queue.row_of(job.id) + 1, plan, (pipeline, replacing), cancel, cleaned, out, err)
        queue.finish(job.id, row.status, message=row.note)
        rows.append(row)
    rows += [FileRow(job.path, CANCELLED, "not started") for job in queue.waiting()]   # a signal stopped the run
    queue.end()
    if not rows:
        return nothing_to_do(args, out, err)
    return summarize(rows, out)


def _run_job(job: Job, number: int, plan: Plan, pipelines: tuple, cancel: threading.Event, cleaned: set[Path],
             out, err) -> FileRow:
    """One input: its folder cleaned of killed runs' partial files, --resume's decision, then the run."""
    video, out_dir = job.path, job.out_dir
    assert out_dir is not None                  # fixed by the plan
    if out_dir not in cleaned:      # partial files of killed runs, before writing there (and before
        cleaned.add(out_dir)        # --resume looks: a publish cut short is finished or undone first)
        note = clean_stale_files(out_dir).message()
        if note:
            print(note, file=out)
    print(f"[{number}/{len(plan.jobs)}] {plan.labels[video]} -> {out_dir}", file=out)
    use, replacing = pipelines
    stale = False                   # the earlier set there was made from another recording
    if plan.expected is not None:
        decision = resume_check.check(video, out_dir, plan.expected)
        if decision.done:
            print(f"  already done: {decision.reason}", file=out)
            return skipped_row(video, decision.report)
        if decision.blocked:
            print(f"  failed: {decision.reason}", file=err)
            return FileRow(video, FAILED, decision.reason)
        if decision.outputs_exist:
            print(f"  redoing: {decision.reason}; the earlier outputs are replaced", file=out)
            use, stale = replacing, decision.other_input
    row = _run_one(use, video, out_dir, cancel, out, err)
    if stale and row.status == FAILED:
        return withdraw_stale(row, out_dir, err)
    return row


def withdraw_stale(row: FileRow, out_dir: Path, err) -> FileRow:
    """A --resume redo of a changed input failed: the set still there describes the other
    recording, so it is withdrawn (app.batch.scale.resume.withdraw) and the row says so."""
    note = resume_check.withdraw(row.path, out_dir)
    if not note:
        return row
    print(f"  {note}", file=err)
    return dataclasses.replace(row, note=f"{row.note}; {note}")


def nothing_to_do(args, out, err) -> int:
    """No row at all: an error for a plain run; for a shard of an array job, whose inputs all hashed
    to other shards, success (the scheduler must not count it as failed)."""
    if getattr(args, "shard", None) is not None:
        print("no inputs in this shard; nothing to do", file=out)
        return 0
    print("no videos given", file=err)
    return 1


def skipped_row(video: Path, report: dict) -> FileRow:
    """Summary row of an input whose finished set was kept (--resume): its verdict and frames."""
    frames = resume_check.report_section(report, "frames").get("processed")
    fps = resume_check.report_section(report, "timings").get("fps")
    return FileRow(Path(video), SKIPPED, "already done", int(frames or 0), float(fps or 0.0),
                   resume_check.report_section(report, "verdict").get("level"))


def report_outcome(video: Path, outcome: dict, out, err) -> FileRow:
    """Print one finished file's warnings, verdict or error; return its summary row. The run's
    notices (said once at the start) are left out by app.base.notices, which knows their words."""
    ending = ending_of(outcome, CLI_EXISTS_HINT)
    if ending.status != DONE:
        print(f"  {ending.status.value}: {ending.error}", file=err)
        return FileRow(Path(video), ending.status, ending.error, ending.frames)
    for w in ending.warnings:
        print(f"  warning: {w}", file=out)
    if outcome.get("protocol_record"):
        print(f"  measured per task with the protocol record {outcome['protocol_record']}", file=out)
    if ending.reasons:
        print(f"  verdict: {ending.verdict_level}: " + "; ".join(ending.reasons), file=out)
    return FileRow(Path(video), DONE, ending.note, ending.frames, ending.fps, ending.verdict_level)


def _run_one(pipeline, video: Path, out_dir: Path, cancel, out, err) -> FileRow:
    bar = _Bar(out)
    t0 = time.perf_counter()
    result = pipeline.process(video, out_dir, on_progress=bar, cancel=cancel)
    bar.done()
    row = report_outcome(video, outcome_of(result), out, err)
    print(f"  {time.perf_counter() - t0:.1f} s", file=out)
    return row


def summarize(rows: list[FileRow], out) -> int:
    """One line per input; the file column shows as much of the path as tells the inputs apart; then
    the batch's summary line (app.batch.job_queue.summary). Returns the exit code: 0 when every input
    succeeded (or was already done), else 1."""
    labels = distinct_labels([r.path for r in rows])
    width = max([len(labels[r.path]) for r in rows] + [4])
    vwidth = max([len(str(r.verdict or "-")) for r in rows] + [7])
    print(file=out)
    print(f"{'file':{width}s}  {'status':9s} {'verdict':{vwidth}s} {'frames':>6s} {'fps':>5s}  note", file=out)
    for r in rows:
        print(f"{labels[r.path]:{width}s}  {r.status.value:9s} {r.verdict or '-':{vwidth}s} {r.frames:6d} "
              f"{r.fps:5.1f}  {r.note}", file=out)
    summary = BatchSummary.of_rows(rows, labels)
    print(summary.terminal_text(), file=out)
    return 0 if summary.succeeded == summary.total else 1
