"""Command line: `python main.py` opens the window, subcommands do headless work.

Subcommand implementations are imported lazily so that `--version` and `doctor` stay fast and
work without the optional converter extras (torch, onnx).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import APP_NAME, __version__


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
    _add_commands(sub)
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


def _add_commands(sub) -> None:
    """Each command's module adds its own sub-parser and names its run function (`args.run`); the
    order here is the order `--help` lists them in. They import nothing heavy at the top: the
    converters, Ray, the window and the benchmarks are imported only when their command runs."""
    from app.batch import process
    from app.cli import benchmark, doctor, model_commands
    from app.followup import commands as followup
    from app.followup import study_table
    from app.live import command as live
    from app.measures import command as measures

    for module in (doctor, followup, model_commands, process, measures, study_table, live, benchmark):
        module.add_parser(sub)
    # Ray (app.cluster) and the window (app.gui) sit above batch and live: the CLI routes to them.
    sub.choices["process"].set_defaults(run=_process)
    sub.choices["live"].set_defaults(run=_live)


def _open_window_with(files: list[Path]) -> int:
    from app.base import logs

    logs.setup()
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    from app.gui.launch import launch_gui
    return launch_gui(files=files)


def _self_test(args) -> int:
    from app.selftest.run import default_device_report_path, run_self_test

    report = None if args.device_report is None else (
        Path(args.device_report) if args.device_report else default_device_report_path())
    return run_self_test(require_coreml=args.require_coreml, device_report=report)


def _without_command(args) -> int | None:
    """`--version`, `--self-test` or nothing (the window); None for a command."""
    if args.version:
        _print_version()
        return 0
    if args.device_report is not None and not args.self_test:
        print("error: --device-report is part of the self-test: use --self-test --device-report [FILE]",
              file=sys.stderr)
        return 2
    if args.self_test:
        return _self_test(args)
    if args.command is None:
        from app.gui.launch import launch_gui
        return launch_gui()
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    files = _window_files(parser, argv)
    if files is not None:
        return _open_window_with(files)
    if argv[:1] == ["process"]:
        from app.batch.scale.shards import join_option_value
        argv = join_option_value(argv)        # --shard -1/3 reaches our own check
    args = parser.parse_args(argv)
    from app.base import logs
    logs.setup()
    code = _without_command(args)
    return args.run(args) if code is None else code


def _live(args) -> int:
    if not args.window:
        from app.live.command import live_command
        return live_command(args)
    from app.live.sources import FileSource
    from app.video.reader import VideoError

    try:
        FileSource(args.source)             # a file that will not play is said here, not in the window
    except (VideoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from app.gui.launch import launch_gui
    return launch_gui(live_source=args.source)


def _process(args) -> int:
    if args.ray is None:
        if args.ray_cpus is not None or args.ray_retries is not None:
            print("error: --ray-cpus and --ray-retries go with --ray", file=sys.stderr)
            return 2
        from app.batch.process import process_command
        return process_command(args)
    try:
        from app.cluster.ray_runner import ray_process_command
    except ImportError:     # the app bundle leaves the Ray runner out (packaging/spec_config.py)
        print("error: --ray runs from a Python install of FaceMirror with the cluster extra "
              "(pip install 'facemirror[cluster]'), not from the app bundle", file=sys.stderr)
        return 2
    return ray_process_command(args)
