"""`python main.py process INPUT... [--out DIR] [--midline ...] [--overwrite] [--no-annotated]`.

Files or folders (videos found inside; FaceMirror's own outputs skipped); a progress line per
file; a summary table at the end (file as much of its path as tells it apart, status, verdict,
frames, fps, note). Inputs whose outputs would collide are refused before anything starts; with
--out, videos found in a folder keep that folder under it (app.outputs.out_dir_for). Ctrl-C,
SIGTERM and SIGHUP cancel cleanly (nothing partial is left). Partial files of killed runs are
removed from each output folder before it is written to, and the run says so.

Exit code 0 when every file succeeded, 1 otherwise (each failure named), 2 when nothing could
start (no face detector model, bad arguments), 128 + the signal's number when a signal cancelled
the run (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), as schedulers read it.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

from app import cancel as cancel_signals
from app.verdict import GOOD
from app.outputs import (
    clean_stale_files,
    distinct_labels,
    expand_inputs,
    find_collisions,
    out_dir_for,
)



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
    the cancel event (app.cancel.requested, which main.py may have armed at start-up already)."""
    previous = cancel_signals.install()
    try:
        yield cancel_signals.requested
    finally:
        cancel_signals.restore(previous)
        cancel_signals.clear()      # the batch is over; an in-process caller may run another


def process_command(args, out=sys.stdout, err=sys.stderr) -> int:
    with cancel_on_signals() as requested:
        code = _process(args, requested, out, err)
        return cancel_signals.exit_code() if requested.is_set() else code


def _plan(args, out, err) -> tuple[list[tuple[Path, Path]], list[tuple]]:
    """Inputs to process with their output folders, and rows for those refused before anything starts."""
    found, refused, skipped = expand_inputs([Path(p) for p in args.inputs])
    if skipped:
        print(f"skipped {len(skipped)} FaceMirror output file{'s' if len(skipped) != 1 else ''} "
              "(outputs are never processed again)", file=out)
    out_root = Path(args.out) if args.out else None
    jobs = [(inp.path, out_dir_for(inp, out_root)) for inp in found]
    collisions = find_collisions(jobs)
    rows = [(p, "failed", reason, 0, 0.0, None) for p, reason in refused]
    for video, reason in collisions.items():
        print(f"not processed: {video}: {reason}", file=err)
        rows.append((video, "failed", f"not processed: {reason}", 0, 0.0, None))
    return [j for j in jobs if j[0] not in collisions], rows


def _load_models(err):
    from app.engine.runtime import ModelFileError
    from app.pipeline import Models

    try:
        return Models.load()
    except ModelFileError as exc:
        print(f"error: {exc}", file=err)
        return None


def _warn_models(models, out, err) -> set:
    """Say once the warnings that hold for every file; returns them (not repeated on each row)."""
    from app import notices

    print(f"backend: {models.describe()}", file=out)
    codes = notices.for_models(models)
    for code in codes:
        print(f"WARNING: {notices.TEXT[code]}. {notices.ADVICE[code]}", file=err)
    return {notices.TEXT[code] for code in codes}


def _process(args, cancel: threading.Event, out, err) -> int:
    if cancel.is_set():
        print("cancelled before processing started; nothing was written", file=err)
        return 1
    rest = _rest_window(args, err)
    if rest is False:
        return 2
    models = _load_models(err)
    if models is None:
        return 2
    if cancel.is_set():
        print("cancelled before processing started; nothing was written", file=err)
        return 1
    batch_warnings = _warn_models(models, out, err)
    jobs, rows = _plan(args, out, err)

    from app.pipeline import Pipeline, Settings

    from app import logs
    patient, visit = getattr(args, "patient", None), getattr(args, "visit", None)
    logs.note_private_words(patient, visit)
    settings = Settings(midline=args.midline, annotated=not args.no_annotated, overwrite=args.overwrite,
                        audio=not getattr(args, "no_audio", False), rest=rest, patient=patient, visit=visit)
    pipeline = Pipeline(models, settings)
    cleaned: set[Path] = set()
    labels = distinct_labels([v for v, _ in jobs])
    for i, (video, out_dir) in enumerate(jobs, 1):
        if cancel.is_set():
            rows.append((video, "cancelled", "not started", 0, 0.0, None))
            continue
        if out_dir not in cleaned:      # partial files of killed runs, before writing there
            cleaned.add(out_dir)
            note = clean_stale_files(out_dir).message()
            if note:
                print(note, file=out)
        print(f"[{i}/{len(jobs)}] {labels[video]} -> {out_dir}", file=out)
        rows.append(_run_one(pipeline, video, out_dir, cancel, batch_warnings, out, err))
    if not rows:
        print("no videos given", file=err)
        return 1
    return _summary(rows, out)


def _rest_window(args, err):
    """--rest START-END as seconds (validated like `measures --rest`); None: not given; False: invalid
    (said on err). A window outside a video is that video's warning ("no symmetry measures: ...")."""
    text = getattr(args, "rest", None)
    if not text:
        return None
    from app.measures import MeasuresError, parse_time_range

    try:
        return parse_time_range(text)
    except MeasuresError as exc:
        print(f"error: --rest: {exc}", file=err)
        return False


def _run_one(pipeline, video: Path, out_dir: Path, cancel, batch_warnings: set, out, err) -> tuple:
    bar = _Bar(out)
    t0 = time.perf_counter()
    result = pipeline.process(video, out_dir, on_progress=bar, cancel=cancel)
    bar.done()
    verdict_info = (result.report.get("verdict") or {}) if result.ok else {}
    verdict = verdict_info.get("level")
    if result.ok:
        own = [w for w in result.warnings if w not in batch_warnings]
        for w in own:
            print(f"  warning: {w}", file=out)
        reasons = list(verdict_info.get("reasons") or [])
        own = [w for w in own if w not in reasons]      # the summary row says each fact once
        if reasons:
            print(f"  verdict: {verdict}: " + "; ".join(reasons), file=out)
        row = (video, "done", "; ".join(reasons + own), result.frames, result.fps, verdict)
    else:
        status = "cancelled" if result.cancelled else "failed"
        error = result.error or ""
        if result.outputs_exist:
            error += " Use --overwrite to replace them or --out to write elsewhere."
        print(f"  {status}: {error}", file=err)
        row = (video, status, error, result.frames, 0.0, None)
    print(f"  {time.perf_counter() - t0:.1f} s", file=out)
    return row


def _summary(rows: list[tuple], out) -> int:
    """One line per input; the file column shows as much of the path as tells the inputs apart."""
    labels = distinct_labels([r[0] for r in rows])
    width = max([len(labels[r[0]]) for r in rows] + [4])
    vwidth = max([len(str(r[5] or "-")) for r in rows] + [7])
    print(file=out)
    print(f"{'file':{width}s}  {'status':9s} {'verdict':{vwidth}s} {'frames':>6s} {'fps':>5s}  note", file=out)
    for path, status, note, frames, fps, verdict in rows:
        print(f"{labels[path]:{width}s}  {status:9s} {verdict or '-':{vwidth}s} {frames:6d} {fps:5.1f}  {note}",
              file=out)
    failures = [r for r in rows if r[1] != "done"]
    not_good = sum(1 for r in rows if r[1] == "done" and r[5] not in (None, GOOD))
    flagged = f" ({not_good} not rated good: read the verdict before use)" if not_good else ""
    named = ""
    if failures:
        shown = [labels[r[0]] for r in failures[:10]]
        named = f"; not done: {', '.join(shown)}" + (f" and {len(failures) - 10} more" if len(failures) > 10 else "")
    print(f"{len(rows) - len(failures)} of {len(rows)} succeeded{flagged}{named}", file=out)
    return 0 if not failures else 1
