"""`benchmark`: speed figures. The options live here so that `--help` lists the command everywhere;
the benchmarks themselves run from a source checkout (bench/), which the app bundle does not hold.
"""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
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
    bench.set_defaults(run=benchmark_command)


def benchmark_command(args) -> int:
    try:
        from bench.benchmark import benchmark_command as run_benchmark
    except ImportError:
        print("error: the benchmarks run from a source checkout (bench/); they are not part of the app.",
              file=sys.stderr)
        return 2
    return run_benchmark(args)
