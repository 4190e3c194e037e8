"""`python main.py live --source FILE --out DIR [--seconds N] [--rest START-END] [--patient ID]
[--visit LABEL] [--overwrite]`: FILE played as the camera in real time, recorded as
DIR/NAME.mp4 and then processed into DIR like a dropped file.

Signals (Ctrl-C, SIGTERM, SIGHUP) only request a stop (app.base.cancel's event: never an exception in
the middle of an import or a write), and the command ends with 130 / 143 / 129 and one line:
while recording, the recording so far is kept as NAME.recording.mp4 (playable, not processed);
while processing, the complete recording is kept and the pipeline leaves no output. A kept
NAME.recording.mp4 (an interrupted exam) is never written over: a rerun records under the next
free name and says so. A full disk while recording is one sentence; the part recorded is kept.

``--guided [--protocol standard|FILE.json]``: the guided exam (app.live.guided) runs on the frames'
times, its prompts printed with their times, and the recording ends with the protocol. The record
(NAME_protocol.json, app.measures.protocol) is written beside the finished recording, and only
then: an interrupted recording keeps no record, and a record that cannot be written is said and
nothing is processed. The pipeline finds the record beside the recording by its name."""
from __future__ import annotations

import glob
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple

from app.base import cli_options
from app.measures.protocol import ProtocolError, load_protocol, record_path_for, write_record


def _signal_name() -> str:
    from app.base import cancel

    try:
        return signal.Signals(cancel.received).name if cancel.received is not None else "a signal"
    except ValueError:
        return f"signal {cancel.received}"


def add_parser(sub) -> None:
    """`live`'s options (app/cli/main.py adds each command's sub-parser; `--window` is routed there)."""
    live = sub.add_parser("live", help="live exam from a file played as the camera: mirrored panes, a recording, "
                                       "then the usual outputs")
    live.add_argument("--source", type=Path, required=True, help="video file played as the camera in real time")
    live.add_argument("--out", type=Path, default=None, help="folder for the recording and its outputs (required "
                                                           "without --window)")
    live.add_argument("--window", action="store_true",
                      help="open the window's live exam with SOURCE played as the camera (a demonstration or "
                           "training without a camera: Freeze, Capture rest and Record work as with a camera; "
                           "the recording goes to the live window's folder and is processed in the main window)")
    live.add_argument("--name", default=None, help="recording name (default: SOURCE_live)")
    live.add_argument("--seconds", type=float, default=None, help="stop recording after this many seconds")
    live.add_argument("--fast", action="store_true", help="take frames as fast as they come (not real time)")
    live.add_argument("--rest", default=None, metavar="START-END", help="rest window of the recording, e.g. 0:00-0:02")
    live.add_argument("--overwrite", action="store_true", help="replace an earlier recording and outputs")
    live.add_argument("--guided", action="store_true",
                      help="run the guided exam (prompts printed with their times) while recording; writes "
                           "NAME_protocol.json beside the recording and processes with it (docs/GUIDED_EXAM.md)")
    live.add_argument("--protocol", default=None, metavar="standard|FILE.json",
                      help="the guided exam's protocol: the built-in 'standard' (default) or a JSON file (with --guided)")
    cli_options.subject_options(live)
    live.set_defaults(run=live_command)


def live_command(args) -> int:
    from app.base import cancel

    if args.out is None:
        print("error: give --out DIR (the folder for the recording and its outputs), or --window", file=sys.stderr)
        return 2
    # from here a signal only sets cancel.requested, which the recording and the pipeline watch
    previous = cancel.install()
    try:
        return _live(args)
    finally:
        cancel.restore(previous)
        cancel.clear()          # the command is over; an in-process caller may run another


def _recording_path(out: Path, stem: str) -> tuple[Path, str]:
    """The recording's name and a note for the terminal ("" when it is the plain NAME.mp4). An
    interrupted recording's NAME.recording.mp4 is kept as it is: the new one takes the next free
    name (one with no recording, kept part or outputs of that name)."""
    from app.live.recorder import fresh_recording_path, partial_path

    wanted = out / f"{stem}.mp4"
    kept = partial_path(wanted)
    if not kept.exists():
        return wanted, ""
    # NAME_2's outputs would make the pipeline refuse after the exam: any file NAME_2_* is in the way
    fresh = fresh_recording_path(out, stem, taken=lambda p: bool(glob.glob(glob.escape(str(p.with_suffix(""))) + "_*")))
    return fresh, (f"note: {kept.name} (an earlier, interrupted recording) is kept as it is; this recording "
                   f"is {fresh.name}")


def _say(cues) -> None:
    for cue in cues:
        print(f"prompt {cue.line()}", flush=True)


def _publish_record(recording: Path, exam) -> None:
    """NAME_protocol.json beside the finished recording: the guided exam's record, written whole;
    else (no guided exam, or no task held to its end) none: an earlier one of that name (only there
    with --overwrite, which replaced its recording) would contradict the new recording."""
    path = record_path_for(recording)
    record = exam.record() if exam is not None else None
    if record is not None:
        write_record(path, record)
        print(f"wrote {path.name}: {len(record.tasks)} tasks "
              f"({', '.join(t.task for t in record.tasks)})", flush=True)
    else:
        path.unlink(missing_ok=True)
        if exam is not None:
            print("warning: no task was held to its end: no protocol record; the recording is processed "
                  "without one", file=sys.stderr)


class _Opened(NamedTuple):
    source: Any             # app.live.sources.FileSource
    live_models: object     # the panes' (STAR cut after 2 stacks where converted)
    models: object          # the recording's: full STAR
    rest: tuple[float, float] | None
    protocol: object        # app.measures.protocol.Protocol, None without --guided


def _open(args, source_path: Path) -> _Opened | int:
    """The source, the models, --rest and the protocol; an exit code when one cannot be had."""
    from app.engine.model_set import Models
    from app.engine.runtime import ModelFileError
    from app.live.sources import FileSource
    from app.measures.io import MeasuresError
    from app.measures.segments import parse_time_range
    from app.video.reader import VideoError

    guided = getattr(args, "guided", False)
    if getattr(args, "protocol", None) is not None and not guided:
        print("error: --protocol goes with --guided (the guided exam's protocol)", file=sys.stderr)
        return 2
    try:
        rest = parse_time_range(args.rest) if args.rest else None
        protocol = load_protocol(args.protocol or "standard") if guided else None
        source = FileSource(source_path, realtime=not args.fast, max_seconds=args.seconds)
        live_models = Models.load(live=True)
        models = Models.load() if live_models.live_cut else live_models
    except (MeasuresError, ProtocolError, VideoError, ModelFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _Opened(source, live_models, models, rest, protocol)


def _place(args, source_path: Path) -> Path | int:
    """The recording's path in --out (made), or an exit code when it is in the way."""
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot make the folder {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    recording, note = _recording_path(out, args.name or source_path.stem + "_live")
    if note:
        print(note, file=sys.stderr)
        return recording
    # a NAME_protocol.json with no recording (written by hand, or left from a deleted one) would be
    # taken for this recording's: in the way like the recording itself
    for taken in (recording, record_path_for(recording)):
        if taken.exists() and not args.overwrite:
            print(f"error: {taken.name} already exists in {out}; nothing was recorded. Use --name or "
                  "--overwrite.", file=sys.stderr)
            return 2
    return recording


class _Prompts:
    """The session's pane callback: says when the first frame is in, and runs the guided exam (if
    any) on the recorded frames' times, printing its prompts; ``over`` is set when it ends."""

    def __init__(self, protocol) -> None:
        from app.live.guided import GuidedExam

        self.exam = GuidedExam(protocol) if protocol is not None else None
        self.over = threading.Event()     # the protocol ran to its end: the recording ends with it
        self.first = False
        self.last_t = 0.0

    def __call__(self, camera, left, right, t: float) -> None:
        self.last_t = t
        if not self.first:      # once: the exam runs (a signal from now on keeps a recording)
            self.first = True
            print("recording: the first frame is in", flush=True)
            if self.exam is not None:
                print(f"guided exam: protocol {self.exam.protocol.name!r}, {self.exam.steps} tasks, about "
                      f"{self.exam.protocol.duration_s:.0f} s (times on the recording's clock)", flush=True)
                _say(self.exam.start(t))
        if self.exam is not None:
            _say(self.exam.tick(t))      # the frame t is recorded: the times are the file's
            if self.exam.done:
                self.over.set()

    def end_early(self) -> None:
        """The source ended before the protocol did: said, and the exam stopped there."""
        if self.exam is None or self.exam.done:
            return
        _say(self.exam.stop(self.last_t))
        print(f"warning: the source ended at {self.last_t:.1f} s, before the protocol did: "
              f"{len(self.exam.takes)} of {self.exam.steps} tasks were held to their end", file=sys.stderr)


def _live(args) -> int:
    from app.base import cancel, logs

    source_path = Path(args.source)
    logs.note_private(source_path)
    logs.note_private_words(args.patient, args.visit)
    opened = _open(args, source_path)
    if isinstance(opened, int):
        return opened
    if cancel.requested.is_set():
        print(f"stopped by {_signal_name()} before recording: nothing was recorded", file=sys.stderr)
        return cancel.exit_code()
    recording = _place(args, source_path)
    if isinstance(recording, int):
        return recording
    source = opened.source
    print(f"live: playing {source_path.name} as the camera ({source.size[0]}x{source.size[1]}, "
          f"{source.fps:.0f} fps); Ctrl-C stops and keeps the recording so far", flush=True)
    prompts = _Prompts(opened.protocol)
    recorded = _record(args, opened, recording, prompts)
    if isinstance(recorded, int):
        return recorded
    final = recorded
    try:
        _publish_record(final, prompts.exam)
    except OSError as exc:
        print(f"error: the recording is kept ({final}) but its protocol record could not be written "
              f"({exc.strerror or exc}); nothing was processed. Free some space and write it by hand "
              "(docs/GUIDED_EXAM.md), then process the recording.", file=sys.stderr)
        return 1
    return _process(args, opened, final)


def _record(args, opened: _Opened, recording: Path, prompts: _Prompts) -> Path | int:
    """The exam recorded (app.live.session.record) and its figures printed: the finished
    recording, or an exit code (a failed write, a signal)."""
    from app.base import cancel
    from app.live.recorder import RecordingFailed
    from app.live.session import record

    try:
        final, stats = record(opened.source, opened.live_models, recording, abort=cancel.requested,
                              on_panes=prompts, replace=args.overwrite, stop=prompts.over)
    except RecordingFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:                       # the recording could not be opened
        print(f"error: cannot record into {recording.parent}: {exc.strerror or exc}; nothing was recorded",
              file=sys.stderr)
        return 2
    if stats.interrupted:
        return _interrupted(final, stats)
    prompts.end_early()
    _print_figures(final, stats)
    return final


def _interrupted(final: Path, stats) -> int:
    from app.base import cancel

    timing = stats.timing
    if stats.recorded_frames == 0:
        final.unlink(missing_ok=True)        # this run's own empty file: nothing to keep
        print(f"stopped by {_signal_name()} before the first frame: nothing was recorded", file=sys.stderr)
    else:
        print(f"stopped by {_signal_name()}: the recording so far ({stats.recorded_frames} frames, "
              f"{timing.recorded_s if timing else 0:.1f} s) is kept as {final} (playable; not processed)",
              file=sys.stderr)
    return cancel.exit_code()


def _print_figures(final: Path, stats) -> None:
    figures = stats.as_dict()
    print(f"recorded {stats.recorded_frames} frames ({figures.get('recorded_s', 0):.1f} s) to {final.name}: "
          f"display {figures['display_fps']} fps, pane latency p95 {figures['latency_p95_ms']} ms, "
          f"landmarks {figures['landmark_fps']} fps")
    if stats.timing is not None and stats.timing.frames_were_lost:
        print(f"warning: {stats.timing.sentence()}", file=sys.stderr)
    if stats.landmark_error:
        print(f"warning: the live landmarks failed ({stats.landmark_error}); the panes showed the last "
              "midline found. The recording itself is complete and is processed now.", file=sys.stderr)


def _process(args, opened: _Opened, final: Path) -> int:
    from app.base import cancel
    from app.live.session import process_recording

    print(f"processing {final.name}...", flush=True)
    result = process_recording(final, final.parent, opened.models, rest=opened.rest, overwrite=args.overwrite,
                               patient=args.patient, visit=args.visit, cancel=cancel.requested)
    if result.cancelled:
        print(f"stopped by {_signal_name()} while processing: the recording is kept, complete, as {final}; "
              "no outputs were written", file=sys.stderr)
        return cancel.exit_code()
    if not result.ok:
        print(f"error: the recording was kept ({final}) but could not be processed: {result.error}", file=sys.stderr)
        return 1
    for p in result.outputs.values():
        print(f"wrote {p}")
    return 0
