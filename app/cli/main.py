"""Command line: `python main.py` opens the window, subcommands do headless work.

Subcommand implementations are imported lazily so that `--version` and `doctor` stay fast and
work without the optional converter extras (torch, onnx).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import APP_NAME, __version__

from app.base import model_files


def _subject_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patient", default=None, metavar="ID",
                        help="patient ID for the report and the summary (use a study code, not a name)")
    parser.add_argument("--visit", default=None, metavar="LABEL", help="visit label or date, e.g. V2 or 2026-12-03")


def visit_date(text: str) -> str:
    """--visit-date: an ISO date (or date and time), kept as given; argparse's one-line error otherwise."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-03-15") from None
    if when.year < 1990:
        raise argparse.ArgumentTypeError(f"{text!r} is before 1990; write the visit's date as YYYY-MM-DD")
    return text.strip()


def _visit_date_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--visit-date", type=visit_date, default=None, metavar="YYYY-MM-DD",
                        help="the visit's date, for recordings that carry no date of their own (`compare` orders "
                             "visits by it; a date in the recording itself still wins)")


def _folder_subject_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject-from-folders", action="store_true",
                        help="videos laid out as PATIENT/VISIT/recording.mp4: take the patient ID and the visit "
                             "label from the two folder names (--patient / --visit still win)")


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py", description=f"{APP_NAME}: mirror the two halves of a face in video.")
    p.add_argument("--version", action="store_true", help="print versions and exit")
    p.add_argument("--self-test", action="store_true",
                   help="load the models, run one detection and one STAR inference, open the window offscreen, exit")
    p.add_argument("--require-coreml", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--device-report", nargs="?", const="", default=None, type=str, metavar="FILE",
                   help="with --self-test, on macOS 14.4+ with CoreML: write which compute device (Neural Engine, "
                        "GPU, CPU) Core ML plans for each operation as JSON (default FILE: device-report.json in "
                        "the log folder); fails if the STAR graph is planned wholly on the CPU on real hardware; "
                        "elsewhere exits 2")
    sub = p.add_subparsers(dest="command")

    sub.add_parser("doctor", help="versions, ONNX Runtime providers, model files present or missing")
    from app.followup.commands import add_parsers as add_followup_parsers
    add_followup_parsers(sub)                        # agreement, compare (app/followup)

    conv = sub.add_parser("convert", help="convert a published checkpoint to ONNX")
    conv_sub = conv.add_subparsers(dest="model", required=True)
    for name, default_out in (("star", f"weights/{model_files.STAR_FILE}"),
                              ("retinaface", f"weights/{model_files.RETINAFACE_FILE}")):
        c = conv_sub.add_parser(name, help=f"convert the {name} checkpoint")
        c.add_argument("checkpoint", nargs="?", type=Path, help="checkpoint file (.pkl / .pth)")
        if name == "star":      # the default depends on --stacks (_star_default_out)
            c.add_argument("--out", type=Path, default=None,
                           help=f"output ONNX file (default {default_out}; with --stacks K below "
                                f"{model_files.STAR_STACKS}: weights/{model_files.STAR_LIVE_FILE})")
        else:
            c.add_argument("--out", type=Path, default=Path(default_out), help=f"output ONNX file (default {default_out})")
        c.add_argument("--random-weights", action="store_true",
                       help="export the architecture with random weights (development and tests; marked untrained)")
        c.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
        c.add_argument("--overwrite", action="store_true", help="replace an existing output file")
        c.add_argument("--skip-coreml-check", action="store_true", help="do not run ONNX Runtime's CoreML checker")
        c.add_argument("--verify-inputs", type=int, default=None, metavar="N",
                       help="how many generated inputs the ONNX-vs-PyTorch check uses (STAR: uniform noise, "
                            "default 4, besides the synthetic face and the photos' faces; RetinaFace: "
                            "synthetic faces, default 3); each costs one PyTorch run")
        if name == "star":
            c.add_argument("--verify-photo", type=Path, action="append", default=None, metavar="PHOTO",
                           help="a photograph with a face; its face crops join the ONNX-vs-PyTorch check "
                                "(repeatable; default: the development photos in ../shared/media when present)")
            c.add_argument("--stacks", type=int, default=None, metavar="K",
                           help=f"early exit: run only the first K of STAR's {model_files.STAR_STACKS} hourglass "
                                f"stacks (each is trained to give landmarks; about K/{model_files.STAR_STACKS} of the "
                                f"compute). The live exam's panes use K={model_files.STAR_LIVE_STACKS}; recordings "
                                "always use full STAR. Default: all stacks")

    models = sub.add_parser("models", help="official model files")
    models_sub = models.add_subparsers(dest="action", required=True)
    fetch = models_sub.add_parser("fetch", help="download the official checkpoints and convert them")
    fetch.add_argument("--base-url", default=None, help="where the checkpoints are served (default: OpenFace 3.0's Hugging Face repository)")
    fetch.add_argument("--dest", type=Path, default=None, help="weights folder (default: the repository's weights/)")
    fetch.add_argument("--no-convert", action="store_true", help="download only")
    fetch.add_argument("--overwrite", action="store_true", help="replace existing converted models")
    fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")

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
    _subject_options(proc)
    _visit_date_option(proc)
    _folder_subject_option(proc)
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

    meas = sub.add_parser("measures", help="symmetry measures and the HTML summary from a landmarks CSV")
    meas.add_argument("landmarks_csv", type=Path, help="NAME_landmarks.csv (frame, time_ms, p0_x ... p97_y)")
    meas.add_argument("--out", type=Path, default=None, help="output folder (default: beside the CSV)")
    meas.add_argument("--rest", default=None, metavar="START-END",
                      help="rest window instead of the detected one, on the player's clock, e.g. 0:00-0:03 or 1.5-4 (seconds)")
    meas.add_argument("--overwrite", action="store_true", help="replace existing measures and summary")
    meas.add_argument("--protocol", type=Path, default=None, metavar="FILE",
                      help="a guided exam's record (NAME_protocol.json): measures per task; default: the "
                           "NAME_protocol.json beside the CSV, when there is one")
    _subject_options(meas)
    _visit_date_option(meas)

    study = sub.add_parser("study", help="one table (CSV) of every processed video under output folders, for R or pandas")
    study.add_argument("folders", nargs="+", metavar="OUT_DIR", help="folders holding NAME_report.json files (searched recursively)")
    study.add_argument("--out", type=Path, required=True, help="the table to write, e.g. study.csv")
    study.add_argument("--overwrite", action="store_true", help="replace an existing table")

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
    _subject_options(live)

    bench = sub.add_parser("benchmark", help="print speed figures")
    bench_sub = bench.add_subparsers(dest="what", required=True)
    bstar = bench_sub.add_parser("star", help="STAR latency: ONNX Runtime vs PyTorch eager, same weights")
    bstar.add_argument("--model", type=Path, default=None, help="STAR ONNX model (default: a random-weights export made for the run)")
    bstar.add_argument("--checkpoint", type=Path, default=None, help="checkpoint for the PyTorch side (default: the same random weights)")
    bstar.add_argument("--iterations", type=int, default=10)
    bstar.add_argument("--warmup", type=int, default=3)
    bstar.add_argument("--no-torch", action="store_true", help="skip the PyTorch eager measurement")
    bstar.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the app's, one per core)")
    bstar.add_argument("--no-ceiling", action="store_true",
                       help="skip timing STAR's largest convolution alone (needs the onnx package)")
    bpipe = bench_sub.add_parser("pipeline", help="end-to-end frames/s, per-stage times and peak memory on a video")
    bpipe.add_argument("video", type=Path, help="input video (make one with: benchmark make-video)")
    bpipe.add_argument("--frames", type=int, default=None, help="process only the first N frames")
    bpipe.add_argument("--star", type=Path, default=None,
                       help="landmark model with STAR's input/output contract (default: the installed STAR)")
    bpipe.add_argument("--no-star", action="store_true", help="5-point mode: no landmark model")
    bpipe.add_argument("--faces", type=Path, default=None, help="face detector model (default: the installed one)")
    bpipe.add_argument("--out", type=Path, default=None, help="keep the outputs in this folder (default: a temporary folder, removed)")
    bpipe.add_argument("--star-iterations", type=int, default=20,
                       help="runs of STAR alone for the reference time (half before, half after the run)")
    bpipe.add_argument("--threads", type=int, default=None, help="intra-op threads per model (default: one per core)")
    bpipe.add_argument("--no-annotated", action="store_true", help="do not write the annotated video")
    bvid = bench_sub.add_parser("make-video", help="write a synthetic test video (a portrait photograph moving like a head)")
    bvid.add_argument("out", type=Path, help="output .mp4 (write it outside the repository, e.g. /tmp)")
    bvid.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    bvid.add_argument("--seconds", type=float, default=10.0)
    bvid.add_argument("--fps", type=float, default=30.0)
    bvid.add_argument("--image", type=Path, default=None, help="source photograph (default: ../shared/media/portrait_frontal.jpg)")
    blive = bench_sub.add_parser("live", help="live mode: display fps, pane latency, landmark fps, dropped frames")
    blive.add_argument("--source", type=Path, default=None,
                       help="video played as the camera (default: a 1280x720 30 fps synthetic portrait clip)")
    blive.add_argument("--seconds", type=float, default=10.0,
                       help="run length; the source is looped (e.g. 600 for the memory-over-10-minutes figure)")
    blive.add_argument("--star", type=Path, default=None,
                       help="STAR model for the landmarks, cut or full (default: the installed live models: STAR "
                            "cut after 2 stacks, else full STAR, else 5-point)")
    blive.add_argument("--pane-width", type=int, default=None, metavar="PIXELS",
                       help="width the panes are drawn at (default 640, a third of a 1920-pixel screen; 0: the "
                            "camera's full size)")
    blive.add_argument("--json", action="store_true", help="one JSON line with the figures")
    bsoak = bench_sub.add_parser("soak", help="endurance: the real window for a clinic's length of time under an X server "
                                              "(live exam 30 min, main window over 200 clips): exit code, memory slope, "
                                              "threads, file descriptors, fatal errors")
    bsoak.add_argument("which", nargs="?", choices=("live", "main", "both"), default="both")
    bsoak.add_argument("--minutes", type=float, default=30.0, help="live: minutes Record is pressed in (default 30)")
    bsoak.add_argument("--record-every", type=float, default=60.0, metavar="S", help="live: seconds between Records")
    bsoak.add_argument("--record-seconds", type=float, default=5.0, metavar="S", help="live: length of each recording")
    bsoak.add_argument("--clips", type=int, default=200, help="main: short clips processed, 20 per folder (default 200)")
    bsoak.add_argument("--main-minutes", type=float, default=None, metavar="M",
                       help="main: stop after M minutes even if clips are left (the file being processed is cancelled)")
    bsoak.add_argument("--image", type=Path, default=None, help="face photograph for the media (default: "
                                                               "../shared/media/portrait_frontal.jpg, else a drawn face)")
    bsoak.add_argument("--display", default=None, help="X display number for our own Xvfb (default: DISPLAY, else a free one)")
    bsoak.add_argument("--interval", type=float, default=2.0, help="seconds between samples of the process")
    bsoak.add_argument("--keep", type=Path, default=None, help="work folder kept afterwards (media, outputs, logs)")
    bsoak.add_argument("--screenshot", action="store_true", help="with --keep: a screenshot of the screen mid-run")
    bsoak.add_argument("--json", action="store_true", help="one JSON object with the figures")
    bclu = bench_sub.add_parser("cluster", help="videos/hour through `process --ray` with 1 and 2 local Ray workers, "
                                                "and Ray's overhead per video (needs the cluster extra)")
    bclu.add_argument("--videos", type=int, default=4, help="videos per worker count (default 4)")
    bclu.add_argument("--seconds", type=float, default=10.0, help="length of the synthetic video (default 10)")
    bclu.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    bclu.add_argument("--image", type=Path, default=None, help="source photograph (default: ../shared/media/portrait_frontal.jpg)")
    return p


def _print_version() -> None:
    import platform

    print(f"{APP_NAME} {__version__}")
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for mod in ("onnxruntime", "numpy", "cv2", "PySide6"):
        try:
            m = __import__(mod)
            print(f"{mod} {getattr(m, '__version__', '?')}")
        except Exception:  # noqa: BLE001
            print(f"{mod} not installed")


def _window_files(parser: argparse.ArgumentParser, argv: list[str]) -> list[Path] | None:
    """`main.py VIDEO_OR_FOLDER...`: the paths to open the window with (as dropping them on the
    window or the Dock icon does), or None when argv is a command, an option, or nothing."""
    commands = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    if not argv or argv[0].startswith("-") or argv[0] in commands:
        return None
    paths = [Path(a) for a in argv]
    if not Path(argv[0]).exists() and Path(argv[0]).suffix == "":
        return None       # neither a file nor a file name: argparse names the unknown command
    return paths


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    files = _window_files(parser, argv)
    if files is not None:
        from app.base import logs
        logs.setup()
        missing = [str(p) for p in files if not p.exists()]
        if missing:
            print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
            return 2
        from app.gui.launch import launch_gui
        return launch_gui(files=files)
    if argv[:1] == ["process"]:
        from app.batch.scale.shards import join_option_value
        argv = join_option_value(argv)        # --shard -1/3 reaches our own check
    args = parser.parse_args(argv)
    from app.base import logs
    logs.setup()
    if args.version:
        _print_version()
        return 0
    if args.device_report is not None and not args.self_test:
        print("error: --device-report is part of the self-test: use --self-test --device-report [FILE]",
              file=sys.stderr)
        return 2
    if args.self_test:
        from app.selftest.run import default_device_report_path, run_self_test
        report = None if args.device_report is None else (
            Path(args.device_report) if args.device_report else default_device_report_path())
        return run_self_test(require_coreml=args.require_coreml, device_report=report)
    if args.command is None:
        from app.gui.launch import launch_gui
        return launch_gui()
    if args.command == "doctor":
        from app.cli.doctor import run_doctor
        return run_doctor()
    if args.command in ("agreement", "compare"):
        from app.followup import commands
        return commands.agreement_command(args) if args.command == "agreement" else commands.compare_command(args)
    if args.command == "convert":
        return _convert(args)
    if args.command == "models":
        from app.convert.fetch import fetch_command
        return fetch_command(args)
    if args.command == "process":
        if args.ray is not None or args.ray_cpus is not None or args.ray_retries is not None:
            return _process_on_ray(args)
        from app.batch.process import process_command
        return process_command(args)
    if args.command == "measures":
        from app.measures.command import measures_command
        return measures_command(args)
    if args.command == "live":
        if args.window:
            return _live_window(args)
        from app.live.command import live_command
        return live_command(args)
    if args.command == "study":
        from app.followup.study_table import study_command
        return study_command(args)
    if args.command == "benchmark":
        try:
            from bench.benchmark import benchmark_command
        except ImportError:
            print("error: the benchmarks run from a source checkout (bench/); they are not part of the app.",
                  file=sys.stderr)
            return 2
        return benchmark_command(args)
    return 2


def _live_window(args) -> int:
    from app.live.sources import FileSource
    from app.video.reader import VideoError

    try:
        FileSource(args.source)             # a file that will not play is said here, not in the window
    except (VideoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from app.gui.launch import launch_gui
    return launch_gui(live_source=args.source)


def _process_on_ray(args) -> int:
    if args.ray is None:
        print("error: --ray-cpus and --ray-retries go with --ray", file=sys.stderr)
        return 2
    try:
        from app.cluster.ray_runner import ray_process_command
    except ImportError:     # the app bundle leaves the Ray runner out (packaging/spec_config.py)
        print("error: --ray runs from a Python install of FaceMirror with the cluster extra "
              "(pip install 'facemirror[cluster]'), not from the app bundle", file=sys.stderr)
        return 2
    return ray_process_command(args)


def star_default_out(stacks: int | None) -> Path:
    """`convert star`'s output without --out: a cut model goes to the live model's file, so that
    nobody overwrites full STAR (which recordings are analysed with) by adding --stacks."""
    cut = stacks is not None and stacks < model_files.STAR_STACKS
    return Path("weights") / (model_files.STAR_LIVE_FILE if cut else model_files.STAR_FILE)


def _convert(args) -> int:
    from app.convert.common import ConvertError

    if not args.random_weights and args.checkpoint is None:
        print("error: give a checkpoint file or --random-weights", file=sys.stderr)
        return 2
    from app.convert import EXTRAS_HINT, converter_for, extras_available

    if not extras_available():
        print(f"error: {EXTRAS_HINT}", file=sys.stderr)
        return 2
    extra = {"verify_photos": args.verify_photo} if getattr(args, "verify_photo", None) else {}
    if args.verify_inputs is not None:
        extra["verify_inputs"] = args.verify_inputs
    out = args.out
    if args.model == "star":
        extra["stacks"] = args.stacks
        out = out or star_default_out(args.stacks)
    try:
        converter_for(args.model)(args.checkpoint, out, random_weights=args.random_weights, seed=args.seed,
                                  overwrite=args.overwrite, coreml_check=not args.skip_coreml_check, **extra)
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
