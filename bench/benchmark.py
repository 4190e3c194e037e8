"""Speed benchmarks (docs/performance.md has the figures and the commands).

`python main.py benchmark star`: STAR latency on ONNX Runtime (the app's own session settings)
and PyTorch eager on the same weights, in the same run, with the achieved GFLOP/s and its
fraction of the machine's measured fp32 ceiling (the fastest of large fp32 matrix multiplies in
ONNX Runtime and numpy's BLAS, see bench.machine). Figures are medians after warm-up on a fixed random 256x256 input: speed
does not depend on the weight values or the picture. The two engines run in alternating blocks
(the first run of each block is discarded, so one engine's spinning threads do not slow the
other), so background load hits both alike; the load other processes put on the CPUs during the
measurement is printed with the figures.

`python main.py benchmark pipeline VIDEO`: the whole pipeline (decode, detection, tracking, STAR,
midline, mirroring, annotation, encoding of three videos) on a video, end-to-end frames/s, a
per-stage table, peak resident memory, and the ratio of end-to-end frames/s to 1 / (STAR
inference time), STAR being timed alone in the same run on a crop from the video and inside
the pipeline. Outputs go to a temporary folder that is removed afterwards (or to --out).

`python main.py benchmark make-video OUT`: a synthetic test video (a portrait photograph moving
like a head: rotation, shift, scale) of any size and length, for the pipeline benchmark and the
memory check.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import machine

STAR_GFLOPS_PER_FACE = 34.7  # 2 x multiply-adds of STAR's 255 convolutions at 256x256 (34.71 counted from the ONNX graph)
PEAK_TARGET = 0.70           # issue target: ONNX Runtime at >= 70 % of the fp32 peak
PIPELINE_TARGET = 0.90       # issue target: end-to-end fps >= 0.9 x (1 / STAR inference time)
MB = 1024 * 1024


def _median_ms(fn, iterations: int, warmup: int) -> tuple[float, list[float]]:
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, iterations)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), times


def _interleaved_ms(fns: dict, iterations: int, warmup: int, block: int = 3) -> dict[str, list[float]]:
    """Run each function in alternating blocks of `block` runs; the first run of every block is
    discarded (the other engine's thread pool may still be spinning down). `iterations` samples
    are kept per function."""
    for fn in fns.values():
        for _ in range(max(0, warmup)):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    keep = max(1, block - 1)
    while min(len(v) for v in times.values()) < max(1, iterations):
        for name, fn in fns.items():
            for i in range(keep + 1 if len(fns) > 1 else keep):
                t0 = time.perf_counter()
                fn()
                dt = (time.perf_counter() - t0) * 1000.0
                if (len(fns) == 1 or i > 0) and len(times[name]) < iterations:
                    times[name].append(dt)
    return times


def model_gflops(path: Path) -> tuple[float, str]:
    """FLOPs per run of an ONNX model (2 x multiply-adds of Conv, MatMul and Gemm; element-wise
    ops are ignored: under 0.3 % for STAR), counted from the graph with ONNX shape inference.
    Falls back to STAR's figure when the onnx package is not installed."""
    try:
        import onnx
        from onnx import numpy_helper, shape_inference
    except ImportError:
        return STAR_GFLOPS_PER_FACE, "STAR's figure (install the onnx package to count it from the model)"
    model = shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {i.name: list(i.dims) for i in g.initializer}
    for node in g.node:   # constants written as nodes
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    inits[node.output[0]] = list(numpy_helper.to_array(a.t).shape)
    shape = lambda name: inits.get(name) or shapes.get(name)  # noqa: E731
    total = 0.0
    for node in g.node:
        if node.op_type == "Conv":
            w, y = shape(node.input[1]), shape(node.output[0])
            if w and y and all(y):
                total += 2.0 * float(np.prod(y)) * float(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a, y = shape(node.input[0]), shape(node.output[0])
            if a and y and all(y) and all(a):
                k = a[-1] if not (node.op_type == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute)) else a[-2]
                total += 2.0 * float(np.prod(y)) * k
    return total / 1e9, "counted from the model graph (Conv, MatMul, Gemm)"


def machine_peak(threads: int, measure: dict | None = None) -> dict:
    """The measured fp32 ceiling (the fastest large fp32 matrix multiply on all cores, see
    bench.machine.measure_fp32_ceiling) and the nominal peak beside it."""
    info = machine.cpu_info()
    isa, per_cycle = machine.simd_level(info["flags"], info.get("vendor", ""), info.get("family"))
    clock = machine.nominal_clock(info)
    ceiling = machine.measure_fp32_ceiling(info["cores"], measure)
    return {"model": info["model"] or info["machine"], "cores_available": info["cores"], "cores_used": threads,
            "isa": isa, "flop_per_cycle": per_cycle, "clock_ghz": clock["ghz"], "clock_source": clock["source"],
            "nominal_peak_gflops": machine.peak_gflops(info["cores"], clock["ghz"], per_cycle),
            "peak_gflops": ceiling["gflops"], "peak_source": ceiling["source"], "peak_kernels": ceiling["kernels"]}


def _print_peak(p: dict, out) -> None:
    print(f"machine:  {p['model']}, {p['cores_available']} cores available, {p['isa']} "
          f"({p['flop_per_cycle']} fp32 FLOP/cycle/core)", file=out)
    if p["peak_gflops"]:
        print(f"fp32 peak (measured ceiling): {p['peak_gflops']:.0f} GFLOP/s - {p['peak_source']}", file=out)
        if len(p["peak_kernels"]) > 1:
            print("          fastest of: " + ", ".join(f"{k} {v:.0f}" for k, v in p["peak_kernels"].items())
                  + " GFLOP/s", file=out)
    else:
        print("fp32 peak (measured ceiling): not measured", file=out)
    if p["nominal_peak_gflops"]:
        print(f"nominal:  {p['cores_available']} cores x {p['clock_ghz']:.2f} GHz x {p['flop_per_cycle']} FLOP/cycle "
              f"= {p['nominal_peak_gflops']:.0f} GFLOP/s ({p['clock_source']}; not measured)", file=out)

def _conv_ceiling(threads: int, iterations: int = 20) -> dict | None:
    """ONNX Runtime on STAR's most expensive layer alone (3x3 conv, 128->128 channels at 64x64,
    31 % of STAR's FLOPs): what MLAS reaches here without the rest of the network."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    from app.engine import runtime
    import onnxruntime as ort

    cin = cout = 128
    k, hw = 3, 64
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * 0.05).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(cout, np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, hw, hw])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), sess_options=runtime.cpu_session_options(threads),
                                providers=["CPUExecutionProvider"])
    x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
    med, times = _median_ms(lambda: sess.run(None, {"x": x}), iterations, 5)
    flops = 2 * cin * cout * k * k * hw * hw
    return {"gflops_median": flops / med / 1e6, "gflops_best": flops / min(times) / 1e6, "ms": med}


def benchmark_star(model: Path | None, checkpoint: Path | None, iterations: int, warmup: int,
                   with_torch: bool, out=None, threads: int | None = None, ceiling: bool = True) -> dict:
    from app.engine import runtime
    from app.engine.landmarks import StarLandmarkDetector

    out = out or sys.stdout
    tmpdir = None
    torch_model = None
    try:
        if model is None:
            try:
                import torch  # noqa: F401
            except ImportError:
                raise SystemExit("benchmark star needs --model PATH, or the converter extras to make a "
                                 "random-weights model: .venv/bin/pip install -e '.[convert]'") from None
            from app.convert.star import convert_star
            from app.convert.nets.star import random_star

            tmpdir = tempfile.TemporaryDirectory(prefix="facemirror-bench-")
            model = Path(tmpdir.name) / "star_random.onnx"
            print("exporting a random-weights STAR model for the run ...", file=out)
            convert_star(None, model, random_weights=True, seed=0, coreml_check=False, verify_inputs=1,
                         log=lambda *_: None)
            if with_torch:
                torch_model = random_star(0)
        elif with_torch and checkpoint is not None:
            from app.convert.nets.star import load_star_checkpoint
            torch_model = load_star_checkpoint(checkpoint)

        det = StarLandmarkDetector(model, threads=threads)
        n_threads = det.backend.threads
        peak = machine_peak(n_threads)
        rng = np.random.default_rng(0)
        det._input[...] = rng.uniform(-1, 1, size=det._input.shape).astype(np.float32)
        fns = {"ort": det.infer}
        if torch_model is not None:
            import torch

            torch.set_num_threads(n_threads)
            torch_model.eval()
            x = torch.from_numpy(det._input.copy())

            def run_torch():
                with torch.inference_mode():
                    torch_model(x)
            fns["torch"] = run_torch
        with machine.LoadMeter() as load:
            times = _interleaved_ms(fns, iterations, warmup)
        ort_ms = statistics.median(times["ort"])
        work, work_source = model_gflops(model)
        meaningful = work >= 0.05    # a stand-in model with next to no arithmetic: no GFLOP/s
        gflops = work / (ort_ms / 1000.0) if meaningful else 0.0
        result = {"model": str(model), "backend": det.backend.describe(), "ort_ms": ort_ms,
                  "ort_ms_best": min(times["ort"]), "ort_gflops_per_s": gflops, "threads": n_threads,
                  "machine": machine.describe(), "peak": peak, "session": runtime.cpu_session_config(n_threads),
                  "other_load_cores": load.other_cores, "gflop_per_run": work, "gflop_source": work_source}
        if peak["peak_gflops"] and meaningful:
            result["fraction_of_peak"] = gflops / peak["peak_gflops"]
        if "torch" in times:
            result["torch_ms"] = statistics.median(times["torch"])
            result["torch_ms_best"] = min(times["torch"])
            result["ratio"] = result["torch_ms"] / ort_ms
        if ceiling:
            result["conv_ceiling"] = _conv_ceiling(n_threads)

        _print_peak(peak, out)
        print(f"model:    {model}", file=out)
        print(f"backend:  {result['backend']}", file=out)
        print("session:  " + ", ".join(f"{k}={v}" for k, v in result["session"].items()), file=out)
        print(f"runs:     median of {iterations} after {warmup} warm-up, batch 1, 256x256"
              + (", ONNX Runtime and PyTorch in alternating blocks" if "torch" in times else ""), file=out)
        print(f"load:     {load.describe()}", file=out)
        print(f"work:     {work:.2f} GFLOP per face, {work_source}", file=out)
        line = f"ONNX Runtime:   {ort_ms:8.1f} ms per face (best {result['ort_ms_best']:.1f})"
        if meaningful:
            line += f"  {gflops:6.1f} GFLOP/s"
        else:
            line += "  (the model does next to no arithmetic: no GFLOP/s figure)"
        if "fraction_of_peak" in result:
            frac = result["fraction_of_peak"]
            line += f" = {100 * frac:.0f} % of peak"
            line += f" (target >= {100 * PEAK_TARGET:.0f} %: {'met' if frac >= PEAK_TARGET else 'NOT met'})"
        print(line, file=out)
        if result.get("fraction_of_peak", 0.0) > 1.0:
            print("          the achieved rate exceeds the measured ceiling: the matrix-multiply kernels ran "
                  "slower than STAR (e.g. other load during their runs)", file=out)
        if "torch_ms" in result:
            tg = work / (result["torch_ms"] / 1000.0)
            print(f"PyTorch eager:  {result['torch_ms']:8.1f} ms per face (best {result['torch_ms_best']:.1f})  "
                  f"{tg:6.1f} GFLOP/s", file=out)
            verdict = "ONNX Runtime faster" if result["ratio"] >= 1.0 else "ONNX Runtime SLOWER than PyTorch"
            print(f"ratio PyTorch / ONNX Runtime: {result['ratio']:.2f}x ({verdict})", file=out)
        elif with_torch:
            print("PyTorch eager: skipped (give --checkpoint with --model, or omit --model to use random weights)",
                  file=out)
        c = result.get("conv_ceiling")
        if c:
            frac = f" = {100 * c['gflops_median'] / peak['peak_gflops']:.0f} % of peak" if peak["peak_gflops"] else ""
            print(f"ceiling:  ONNX Runtime on STAR's largest layer alone (3x3 conv 128->128 at 64x64): "
                  f"{c['gflops_median']:.0f} GFLOP/s{frac}", file=out)
        return result
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()


# ---- pipeline ---------------------------------------------------------------------------------

_STAGE_NAMES = {"decode": "decode", "read_blocked": "reader waits for room",
                "detect": "face detection", "track": "tracking", "star_pre": "STAR preprocessing",
                "star_infer": "STAR inference", "midline": "midline + quality", "csv": "CSV row",
                "wait_input": "inference waits for frames", "infer_blocked": "inference waits for post",
                "mirror": "mirroring", "annotate": "annotation", "encode": "encode (3 videos)",
                "preview": "previews", "wait_output": "post waits for results"}


def _load_pipeline_models(star: Path | None, no_star: bool, faces: Path | None, threads: int | None):
    from app.base import model_files
    from app.engine.faces import CREATE_COMMAND as FACES_CMD, FaceDetector
    from app.engine.landmarks import StarLandmarkDetector
    from app.engine.model_set import Models

    files = {}
    rf = faces or model_files.find_model(model_files.RETINAFACE_KEY)
    if rf is None:
        raise SystemExit(f"no face detector model installed; give --faces PATH or create it: {FACES_CMD}")
    files[model_files.RETINAFACE_KEY] = Path(rf)
    detector = FaceDetector(rf, threads=threads)
    landmarks = None
    if not no_star:
        sp = star or model_files.find_model(model_files.STAR_KEY)
        if sp is None:
            raise SystemExit("no STAR model installed; give --star PATH (any model with STAR's input/output "
                             "contract) or --no-star for the 5-point mode")
        landmarks = StarLandmarkDetector(sp, threads=threads)
        files[model_files.STAR_KEY] = Path(sp)
    return Models(faces=detector, landmarks=landmarks, files=files)


def _star_alone_ms(models, video: Path, iterations: int) -> list[float]:
    """STAR inference alone (nothing else running in this process) on a crop from the video's
    first frame with a face: the reference for the pipeline's target. Returns the run times."""
    from app.video.reader import VideoReader

    star = models.landmarks
    if star is None:
        return []
    box = None
    with VideoReader(video) as reader:
        for i, vf in enumerate(reader):
            frame = vf.image
            faces = models.faces.detect(frame)
            if faces:
                box = faces[0].box
                break
            if i >= 30:
                break
    if box is None:
        h, w = frame.shape[:2]
        box = (w * 0.3, h * 0.2, w * 0.7, h * 0.8)
    star.preprocess(frame, box)
    _, times = _median_ms(star.infer, iterations, 2)
    return times


def benchmark_pipeline(video: Path, frames: int | None = None, star: Path | None = None, no_star: bool = False,
                       faces: Path | None = None, out_dir: Path | None = None, star_iterations: int = 20,
                       threads: int | None = None, annotated: bool = True, out=None) -> dict:
    from app.pipeline.stages.channel import STAGE_THREAD
    from app.pipeline.run import Pipeline, Settings
    from app.pipeline.stages.channel import WAIT_STAGES
    from app.video.reader import VideoReader

    out = out or sys.stdout
    video = Path(video)
    if not video.is_file():
        raise SystemExit(f"video not found: {video}")
    models = _load_pipeline_models(star, no_star, faces, threads)
    with VideoReader(video) as r:
        info = {"size": r.frame_size, "fps": r.fps, "frames": r.frame_count_estimate}
    # STAR alone before and after the run (the median of both halves resists load drifting)
    half = max(1, star_iterations // 2)
    star_alone_times = _star_alone_ms(models, video, half)

    tmp = None
    if out_dir is None:
        tmp = tempfile.mkdtemp(prefix="facemirror-bench-pipeline-")
        target = Path(tmp)
    else:
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
    settings = Settings(annotated=annotated, overwrite=True, max_frames=frames)
    try:
        rss_before = machine.rss_bytes()
        with machine.LoadMeter() as load, machine.RssSampler(0.05) as rss:
            result = Pipeline(models, settings).process(video, target)
        maxrss = machine.peak_rss_bytes()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if not result.ok:
        raise SystemExit(f"the pipeline failed: {result.error}")
    if star_alone_times:
        star_alone_times += _star_alone_ms(models, video, star_iterations - half)
    star_alone = statistics.median(star_alone_times) if star_alone_times else None

    timings = result.report["timings"]
    per_frame = timings["mean_ms_per_frame_by_stage"]
    calls = timings["calls_by_stage"]
    n = result.frames
    e2e_ms = 1000.0 * timings["total_s"] / n
    star_calls = calls.get("star_infer", 0)
    star_pipe = per_frame.get("star_infer", 0.0) * n / star_calls if star_calls else None
    tracking = result.report["tracking"]
    det_runs = calls.get("detect", 0)
    res = {"video": str(video), "size": info["size"], "frames": n, "e2e_fps": result.fps, "e2e_ms": e2e_ms,
           "stage_ms_per_frame": per_frame, "calls": calls, "star_alone_ms": star_alone,
           "star_in_pipeline_ms": star_pipe, "detector_runs": det_runs, "tracking": tracking,
           "rss_peak_sampled": rss.peak, "rss_start": rss.start, "rss_before_models": rss_before,
           "ru_maxrss": maxrss, "other_load_cores": load.other_cores, "backend": models.describe(),
           "landmarks": "5-point" if models.landmarks is None else str(models.files.get("star"))}
    if star_alone:
        res["ratio_vs_star_alone"] = result.fps * star_alone / 1000.0
    if star_pipe:
        res["ratio_vs_star_in_pipeline"] = result.fps * star_pipe / 1000.0

    w, h = info["size"]
    print(f"machine:  {machine.describe()}", file=out)
    print(f"video:    {video} ({w}x{h}, {info['fps']:.2f} fps, {n} frames processed)", file=out)
    print(f"models:   {models.describe()}; landmarks: {res['landmarks']}", file=out)
    print(f"outputs:  left/right mirrored{' + annotated' if annotated else ''} videos, CSV, report "
          f"({'kept in ' + str(target) if tmp is None else 'temporary folder, removed'})", file=out)
    print(f"load:     {load.describe()}", file=out)
    print(f"end to end: {result.fps:.2f} frames/s ({e2e_ms:.1f} ms per frame, {timings['total_s']:.1f} s)",
          file=out)
    if star_alone:
        print(f"STAR inference alone:      {star_alone:7.1f} ms -> 1/STAR = {1000 / star_alone:.2f} frames/s "
              f"(median of {len(star_alone_times)}, same session, "
              "half before and half after the run)", file=out)
    if star_pipe:
        print(f"STAR inference in the run: {star_pipe:7.1f} ms per call ({star_calls} calls) -> "
              f"1/STAR = {1000 / star_pipe:.2f} frames/s", file=out)
    if star_pipe:
        r = res["ratio_vs_star_in_pipeline"]
        print(f"ratio e2e_fps / (1/STAR inference time in the run): {r:.3f} "
              f"(target >= {PIPELINE_TARGET}: {'met' if r >= PIPELINE_TARGET else 'NOT met'})", file=out)
    if star_alone:
        r = res["ratio_vs_star_alone"]
        print(f"ratio e2e_fps / (1/STAR alone):                     {r:.3f} "
              f"(how much of STAR-only throughput the whole pipeline keeps)", file=out)
    often = models.landmarks is not None and det_runs > n / 10 + 2
    print(f"face detector ran on {det_runs} of {n} frames"
          + (" (more often than the scheduled every 10th frame: the tracker found the landmarks "
             "implausible; expected with an untrained or stand-in model)" if often else ""), file=out)
    print("", file=out)
    print(f"{'stage':28s} {'thread':10s} {'ms/frame':>9s} {'calls':>6s} {'ms/call':>8s}", file=out)
    threads_busy: dict[str, float] = {}
    threads_wait: dict[str, float] = {}
    for stage in sorted(per_frame, key=lambda k: (list(STAGE_THREAD).index(k) if k in STAGE_THREAD else 99)):
        ms = per_frame[stage]
        c = calls.get(stage, 0)
        th = STAGE_THREAD.get(stage, "?")
        (threads_wait if stage in WAIT_STAGES else threads_busy)[th] = \
            (threads_wait if stage in WAIT_STAGES else threads_busy).get(th, 0.0) + ms
        per_call = ms * n / c if c else 0.0
        print(f"{_STAGE_NAMES.get(stage, stage):28s} {th:10s} {ms:9.2f} {c:6d} {per_call:8.2f}", file=out)
    print("", file=out)
    for th in ("reader", "inference", "post"):
        busy, wait = threads_busy.get(th, 0.0), threads_wait.get(th, 0.0)
        print(f"{th:10s} thread: busy {busy:7.1f} ms/frame, waiting {wait:7.1f} ms/frame "
              f"(of {e2e_ms:.1f} ms per frame)", file=out)
    non_star = sum(v for k, v in threads_busy.items() if k != "inference") + \
        sum(per_frame.get(k, 0.0) for k in ("detect", "track", "star_pre", "midline", "csv"))
    res["non_star_busy_ms_per_frame"] = non_star
    print(f"work besides STAR inference: {non_star:.1f} ms per frame (wall time in those stages, summed "
          "over threads; includes time a stage waited for a core)", file=out)
    cpu = timings.get("thread_cpu_s", {})
    if cpu and load.own_cores is not None:
        own_ms = load.own_cores * e2e_ms
        named = {k: 1000.0 * v / n for k, v in cpu.items()}
        rest = own_ms - sum(named.values())
        res["cpu_ms_per_frame"] = dict(named, other_threads=rest, process=own_ms)
        print(f"CPU time per frame: process {own_ms:.0f} ms ({load.own_cores:.2f} of {machine.cpu_info()['cores']} "
              "cores busy on average): " + ", ".join(f"{k} thread {v:.0f}" for k, v in named.items())
              + f", other threads {rest:.0f} (ONNX Runtime workers, OpenCV and FFmpeg pools)", file=out)
    print("", file=out)
    print(f"peak resident memory: {_mb(rss.peak)} sampled during the run (start {_mb(rss.start)}); "
          f"process peak (ru_maxrss) {_mb(maxrss)}", file=out)
    trend = _rss_trend(rss.samples)
    if trend:
        res["rss_trend"] = trend
        print("resident memory during the run: " + ", ".join(f"{p} % {_mb(v)}" for p, v in trend), file=out)
    return res


def _rss_trend(samples: list, points=(10, 25, 50, 75, 90)) -> list[tuple[int, int]]:
    """RSS at given percentages of the run's duration (flat after the start = no growth)."""
    if len(samples) < 5:
        return []
    t0, t1 = samples[0][0], samples[-1][0]
    out = []
    for p in points:
        t = t0 + (t1 - t0) * p / 100.0
        nearest = min(samples, key=lambda s: abs(s[0] - t))
        out.append((p, nearest[1]))
    return out


def _mb(v) -> str:
    return "n/a" if v is None else f"{v / MB:.0f} MB"


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"size must look like 1280x720, got {text!r}") from None
    return w, h


def benchmark_command(args) -> int:
    if args.what == "star":
        benchmark_star(args.model, args.checkpoint, args.iterations, args.warmup, not args.no_torch,
                       threads=args.threads, ceiling=not args.no_ceiling)
        return 0
    if args.what == "pipeline":
        benchmark_pipeline(args.video, frames=args.frames, star=args.star, no_star=args.no_star, faces=args.faces,
                           out_dir=args.out, star_iterations=args.star_iterations, threads=args.threads,
                           annotated=not args.no_annotated)
        return 0
    if args.what == "make-video":
        from bench.media import make_video

        make_video(args.out, _parse_size(args.size), args.seconds, args.fps, args.image)
        return 0
    if args.what == "live":
        from bench.live import benchmark_live
        return benchmark_live(args.source, args.seconds, as_json=args.json, star=args.star, pane_width=args.pane_width)
    if args.what == "cluster":
        from bench.cluster import benchmark_cluster
        return benchmark_cluster(args.videos, args.seconds, _parse_size(args.size), image=args.image)
    if args.what == "soak":
        from bench.soak import soak_command
        return soak_command(args)
    return 2
