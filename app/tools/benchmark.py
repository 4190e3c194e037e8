"""`python main.py benchmark star`: STAR latency on ONNX Runtime (the app's session settings)
and PyTorch eager on the same weights, in the same run, with the ratio.

Figures are medians of repeated runs after warm-up, on a fixed random 256x256 face crop: speed
does not depend on the weight values or the picture.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STAR_GFLOPS_PER_FACE = 34.7  # multiply-adds x 2 of the WFLW STAR net at 256x256 (see README)


def _median_ms(fn, iterations: int, warmup: int) -> tuple[float, list[float]]:
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, iterations)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), times


def benchmark_star(model: Path | None, checkpoint: Path | None, iterations: int, warmup: int,
                   with_torch: bool, out=sys.stdout) -> dict:
    from app.engine.landmarks import StarLandmarkDetector
    from app.tools import machine

    tmpdir = None
    torch_model = None
    if model is None:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise SystemExit("benchmark star needs --model PATH, or the converter extras to make a "
                             "random-weights model: .venv/bin/pip install -e '.[convert]'")
        from app.tools.convert_star import convert_star
        from app.models.star import random_star

        tmpdir = tempfile.TemporaryDirectory(prefix="facemirror-bench-")
        model = Path(tmpdir.name) / "star_random.onnx"
        print("exporting a random-weights STAR model for the run ...", file=out)
        convert_star(None, model, random_weights=True, seed=0, coreml_check=False, verify_inputs=1,
                     log=lambda *_: None)
        if with_torch:
            torch_model = random_star(0)
    elif with_torch and checkpoint is not None:
        from app.models.star import load_star_checkpoint
        torch_model = load_star_checkpoint(checkpoint)

    det = StarLandmarkDetector(model)
    rng = np.random.default_rng(0)
    det._input[...] = rng.uniform(-1, 1, size=det._input.shape).astype(np.float32)
    ort_ms, _ = _median_ms(det.infer, iterations, warmup)
    result = {"model": str(model), "backend": det.backend.describe(), "ort_ms": ort_ms,
              "machine": machine.describe(), "threads": det.backend.threads}

    if torch_model is not None:
        import torch

        torch.set_num_threads(det.backend.threads)
        x = torch.from_numpy(det._input.copy())

        def run_torch():
            with torch.inference_mode():
                torch_model(x)
        torch_ms, _ = _median_ms(run_torch, iterations, warmup)
        result["torch_ms"] = torch_ms
        result["ratio"] = torch_ms / ort_ms

    gflops = STAR_GFLOPS_PER_FACE / (ort_ms / 1000.0)
    result["ort_gflops_per_s"] = gflops
    print(f"machine:  {result['machine']}", file=out)
    print(f"model:    {model}", file=out)
    print(f"backend:  {result['backend']}", file=out)
    print(f"runs:     median of {iterations} after {warmup} warm-up, batch 1, 256x256", file=out)
    print(f"ONNX Runtime:   {ort_ms:8.1f} ms per face  ({gflops:.0f} GFLOP/s at {STAR_GFLOPS_PER_FACE} GFLOPs/face)",
          file=out)
    if "torch_ms" in result:
        print(f"PyTorch eager:  {result['torch_ms']:8.1f} ms per face", file=out)
        print(f"ratio PyTorch / ONNX Runtime: {result['ratio']:.2f}x", file=out)
    elif with_torch:
        print("PyTorch eager: skipped (give --checkpoint with --model, or omit --model to use random weights)",
              file=out)
    if tmpdir is not None:
        tmpdir.cleanup()
    return result


def benchmark_command(args) -> int:
    if args.what == "star":
        benchmark_star(args.model, args.checkpoint, args.iterations, args.warmup, not args.no_torch)
        return 0
    return 2
