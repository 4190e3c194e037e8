"""`python main.py process INPUT... [--out DIR] [--midline ...] [--overwrite] [--no-annotated]`.

Files or folders (videos found inside); a progress line per file; a summary table at the end.
Exit code 0 when every file succeeded, 1 otherwise (each failure named), 2 when nothing could
start (no face detector model, bad arguments).
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from app.outputs import find_videos


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
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


def process_command(args, out=sys.stdout, err=sys.stderr) -> int:
    from app.engine.runtime import ModelFileError
    from app.pipeline import Models, Pipeline, Settings

    try:
        models = Models.load()
    except ModelFileError as exc:
        print(f"error: {exc}", file=err)
        return 2
    print(f"backend: {models.describe()}", file=out)
    if models.landmarks is None:
        print("WARNING: no STAR model installed; the midline comes from the face detector's 5 points "
              "and is coarse. Install the STAR model for clinical use (python main.py doctor says how).",
              file=err)
    elif models.landmarks.untrained:
        print("WARNING: the STAR model is an UNTRAINED development model: landmarks and midline are "
              "meaningless.", file=err)

    # Warnings that hold for every file are said once above, not on every row.
    batch_warnings = set()
    if models.landmarks is None:
        batch_warnings.add(Pipeline.COARSE_WARNING)
    elif models.landmarks.untrained:
        batch_warnings.add(Pipeline.UNTRAINED_WARNING)

    videos, refused = find_videos([Path(p) for p in args.inputs])
    settings = Settings(midline=args.midline, annotated=not args.no_annotated, overwrite=args.overwrite,
                        audio=not getattr(args, "no_audio", False))
    pipeline = Pipeline(models, settings)
    cancel = threading.Event()

    def on_sigint(signum, frame):  # first Ctrl-C cancels cleanly (no partial files)
        cancel.set()
    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None

    rows = [(str(p), "failed", reason, 0, 0.0) for p, reason in refused]
    try:
        for i, video in enumerate(videos, 1):
            if cancel.is_set():
                rows.append((str(video), "cancelled", "not started", 0, 0.0))
                continue
            out_dir = Path(args.out) if args.out else video.parent
            print(f"[{i}/{len(videos)}] {video} -> {out_dir}", file=out)
            bar = _Bar(out)
            t0 = time.perf_counter()
            result = pipeline.process(video, out_dir, on_progress=bar, cancel=cancel)
            bar.done()
            if result.ok:
                own = [w for w in result.warnings if w not in batch_warnings]
                rows.append((str(video), "done", "; ".join(own), result.frames, result.fps))
                for w in own:
                    print(f"  warning: {w}", file=out)
            else:
                status = "cancelled" if result.cancelled else "failed"
                rows.append((str(video), status, result.error or "", result.frames, 0.0))
                print(f"  {status}: {result.error}", file=err)
            print(f"  {time.perf_counter() - t0:.1f} s", file=out)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    print("", file=out)
    width = max([len(Path(r[0]).name) for r in rows] + [4])
    print(f"{'file':{width}s}  {'status':9s} {'frames':>6s} {'fps':>5s}  note", file=out)
    for name, status, note, frames, fps in rows:
        print(f"{Path(name).name:{width}s}  {status:9s} {frames:6d} {fps:5.1f}  {note}", file=out)
    failures = [r for r in rows if r[1] != "done"]
    if not rows:
        print("no videos given", file=err)
        return 1
    print(f"{len(rows) - len(failures)} of {len(rows)} succeeded", file=out)
    return 0 if not failures else 1
