"""`python main.py live --source FILE --out DIR [--seconds N] [--rest START-END] [--patient ID]
[--visit LABEL] [--overwrite]`: FILE played as the camera in real time, recorded as
DIR/NAME.mp4 and then processed into DIR like a dropped file. Ctrl-C stops the recording (it is
kept and processed); a second signal or a crash leaves NAME.recording.mp4, playable."""
from __future__ import annotations

import sys
import threading
from pathlib import Path


def live_command(args) -> int:
    from app import cancel, logs
    from app.engine.runtime import ModelFileError
    from app.live.session import process_recording, record
    from app.live.sources import FileSource
    from app.measures import MeasuresError, parse_time_range
    from app.model_set import Models
    from app.video.reader import VideoError

    if args.out is None:
        print("error: give --out DIR (the folder for the recording and its outputs), or --window", file=sys.stderr)
        return 2
    source_path = Path(args.source)
    logs.note_private(source_path)
    logs.note_private_words(args.patient, args.visit)
    try:
        rest = parse_time_range(args.rest) if args.rest else None
        source = FileSource(source_path, realtime=not args.fast, max_seconds=args.seconds)
        live_models = Models.load(live=True)     # the panes' (STAR cut after 2 stacks where converted)
        models = Models.load() if live_models.live_cut else live_models     # the recording's: full STAR
    except (MeasuresError, VideoError, ModelFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recording = out / f"{args.name or source_path.stem + '_live'}.mp4"
    if recording.exists() and not args.overwrite:
        print(f"error: {recording.name} already exists in {out}; nothing was recorded. Use --name or --overwrite.",
              file=sys.stderr)
        return 2
    if recording.exists():
        recording.unlink()
    stop = threading.Event()
    previous = cancel.raise_on_signals()
    try:
        print(f"live: playing {source_path.name} as the camera ({source.size[0]}x{source.size[1]}, "
              f"{source.fps:.0f} fps); Ctrl-C stops the recording")
        try:
            final, stats = record(source, live_models, recording, stop=stop)
        except cancel.Interrupted as exc:
            print("stopped: the recording so far is kept as "
                  f"{recording.with_name(recording.stem + '.recording.mp4').name}", file=sys.stderr)
            return exc.exit_code
        figures = stats.as_dict()
        print(f"recorded {stats.recorded_frames} frames to {final.name}: display {figures['display_fps']} fps, "
              f"pane latency p95 {figures['latency_p95_ms']} ms, landmarks {figures['landmark_fps']} fps")
        if stats.landmark_error:
            print(f"warning: the live landmarks failed ({stats.landmark_error}); the panes showed the last "
                  "midline found. The recording itself is complete and is processed now.", file=sys.stderr)
        result = process_recording(final, out, models, rest=rest, overwrite=args.overwrite, patient=args.patient,
                                   visit=args.visit)
    finally:
        cancel.restore(previous)
    if not result.ok:
        print(f"error: the recording was kept ({final}) but could not be processed: {result.error}", file=sys.stderr)
        return 1
    for p in result.outputs.values():
        print(f"wrote {p}")
    return 0
