"""The benchmark commands run and print their figures; peak-memory accounting works.

Fast: a tiny stand-in landmark model (STAR's input/output contract, constant output), a few
iterations and a few small frames. Figures are printed, never asserted as timing targets.
"""
from __future__ import annotations

import io
import re
import tempfile

import numpy as np
import pytest

from app.cli import main as cli
from bench import benchmark, machine
from bench.media import make_video
from tests.onnx_stubs import constant_landmarks_model


def _face_like_points() -> np.ndarray:
    """98 points spread like a face over the middle of the crop ([-1, 1] model coordinates)."""
    rng = np.random.default_rng(0)
    return rng.uniform(-0.55, 0.55, size=(98, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def conv_star(tmp_path_factory):
    """STAR's input/output contract with one real convolution (3 -> 32 channels, 3x3, 0.11 GFLOP),
    so that the GFLOP/s and %-of-peak figures are printed."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((32, 3, 3, 3)) * 0.1).astype(np.float32), "w"),
             numpy_helper.from_array(_face_like_points().reshape(1, 98, 2), "lm"),
             numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    nodes = [helper.make_node("Conv", ["input_image", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["lm", "z"], ["landmarks"])]
    graph = helper.make_graph(nodes, "conv_star",
                              [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, 3, 256, 256])],
                              [helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, 98, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("conv") / "conv_star.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def stub_star(tmp_path_factory):
    pytest.importorskip("onnx")
    path = tmp_path_factory.mktemp("stub") / "stub_star.onnx"
    constant_landmarks_model(path, _face_like_points(), untrained=True)
    return path


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    from tests.conftest import MEDIA, _need
    image = _need(MEDIA / "portrait_frontal.jpg")
    out = tmp_path_factory.mktemp("video") / "bench_small.mp4"
    make_video(out, size=(320, 240), seconds=1.0, fps=12.0, image=image)
    return out


# ---- benchmark star -----------------------------------------------------------------------------

@pytest.fixture
def small_ceiling(monkeypatch):
    """`benchmark star` measures the fp32 ceiling on 3072x3072 matrices (a dozen 58-GFLOP multiplies,
    about 10 s here per run); these tests check what is printed and recorded, so the same kernels
    run on 512x512 matrices (test_gemm_ceiling_is_measured_and_plausible checks the measurement)."""
    gemm, child, ort_matmul = machine.measure_gemm_peak, machine.measure_gemm_peak_child, machine.measure_ort_matmul_peak
    monkeypatch.setattr(machine, "measure_gemm_peak", lambda n=512, runs=2: gemm(n, runs))
    monkeypatch.setattr(machine, "measure_gemm_peak_child", lambda n=512, runs=2: child(n, runs))
    monkeypatch.setattr(machine, "measure_ort_matmul_peak", lambda threads, n=512, runs=2: ort_matmul(threads, n, runs))


def test_benchmark_star_prints_gflops_and_fraction_of_peak(conv_star, capsys, small_ceiling):
    rc = cli.main(["benchmark", "star", "--model", str(conv_star), "--iterations", "3", "--warmup", "1",
                   "--no-torch", "--no-ceiling"])
    out = capsys.readouterr().out
    print(out)
    assert rc == 0
    assert re.search(r"^fp32 peak \(measured ceiling\): \d+ GFLOP/s - (numpy SGEMM|ONNX Runtime MatMul)", out, re.M)
    assert "work:     0.11 GFLOP per face, counted from the model graph" in out
    assert re.search(r"ONNX Runtime:\s+\d+\.\d ms per face \(best \d+\.\d\)\s+\d+\.\d GFLOP/s = \d+ % of peak", out)
    assert "session:  graph_optimization_level=ORT_ENABLE_ALL" in out
    assert "load:" in out


def test_benchmark_star_result_fields(conv_star, capsys, small_ceiling):
    res = benchmark.benchmark_star(conv_star, None, iterations=2, warmup=1, with_torch=False, ceiling=True)
    capsys.readouterr()
    assert res["gflop_per_run"] == pytest.approx(2 * 32 * 27 * 256 * 256 / 1e9)
    assert res["ort_ms"] > 0 and res["ort_gflops_per_s"] > 0
    p = res["peak"]
    assert p["flop_per_cycle"] in (8, 16, 32, 64) or p["flop_per_cycle"] == 0
    if p["peak_gflops"]:
        assert res["fraction_of_peak"] == pytest.approx(res["ort_gflops_per_s"] / p["peak_gflops"])
    if res.get("conv_ceiling"):          # needs the onnx package (dev extras)
        assert res["conv_ceiling"]["gflops_median"] > 0


def test_benchmark_star_with_a_stand_in_without_arithmetic_prints_no_gflops(stub_star, capsys, small_ceiling):
    res = benchmark.benchmark_star(stub_star, None, iterations=2, warmup=0, with_torch=False, ceiling=False)
    out = capsys.readouterr().out
    assert "no GFLOP/s figure" in out and "fraction_of_peak" not in res


def test_star_flop_count_matches_the_documented_figure(star_dev_model):
    gflop, source = benchmark.model_gflops(star_dev_model)
    assert "counted" in source
    assert gflop == pytest.approx(benchmark.STAR_GFLOPS_PER_FACE, rel=0.01)


def test_gemm_ceiling_is_measured_and_plausible():
    gemm = machine.measure_gemm_peak(n=512, runs=2)
    # 2 x 512^3 FLOP in best_s seconds, and within what any CPU of this decade can do
    assert gemm["gflops"] == pytest.approx(2 * 512 ** 3 / gemm["best_s"] / 1e9)
    assert 0.5 < gemm["gflops"] < 20000.0
    assert "SGEMM" in gemm["source"]


def test_ceiling_is_the_fastest_measured_kernel():
    k = {"numpy": {"gflops": 150.0, "source": "numpy SGEMM"},
         "onnxruntime": {"gflops": 310.0, "source": "ONNX Runtime MatMul"},
         "numpy-child": {"gflops": 290.0, "source": "numpy SGEMM in a child"},
         "missing": None}
    c = machine.fp32_ceiling(k)
    assert c["gflops"] == 310.0 and c["kernel"] == "onnxruntime" and c["source"] == "ONNX Runtime MatMul"
    assert c["kernels"] == {"numpy": 150.0, "onnxruntime": 310.0, "numpy-child": 290.0}
    k["numpy-child"]["gflops"] = 400.0     # the AVX-512 BLAS in the child (OPENBLAS_CORETYPE unset) wins
    assert machine.fp32_ceiling(k)["kernel"] == "numpy-child"
    assert machine.fp32_ceiling({"a": None, "b": None})["gflops"] is None


def test_machine_peak_uses_the_larger_of_the_injected_kernels():
    measure = {"numpy": lambda: {"gflops": 120.0, "source": "numpy SGEMM 3072, AVX2 kernel"},
               "onnxruntime": lambda: {"gflops": 355.0, "source": "ONNX Runtime MatMul 3072"}}
    p = benchmark.machine_peak(2, measure)
    assert p["peak_gflops"] == 355.0 and p["peak_source"] == "ONNX Runtime MatMul 3072"
    buf = io.StringIO()
    benchmark._print_peak(p, buf)
    out = buf.getvalue()
    assert "fp32 peak (measured ceiling): 355 GFLOP/s - ONNX Runtime MatMul 3072" in out
    assert "fastest of: numpy 120, onnxruntime 355 GFLOP/s" in out


def test_only_a_set_openblas_coretype_adds_the_child_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(machine, "measure_gemm_peak", lambda: calls.append("numpy") or None)
    monkeypatch.setattr(machine, "measure_gemm_peak_child", lambda: calls.append("child") or None)
    monkeypatch.setattr(machine, "measure_ort_matmul_peak", lambda cores: calls.append("ort") or None)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    machine.measure_fp32_ceiling(2)
    assert sorted(calls) == ["numpy", "ort"]
    calls.clear()
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    machine.measure_fp32_ceiling(2)
    assert sorted(calls) == ["child", "numpy", "ort"]


def test_child_gemm_runs_without_openblas_coretype(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    r = machine.measure_gemm_peak_child(n=256, runs=1)
    assert r is not None and r["coretype"] is None and r["gflops"] > 0
    assert "OPENBLAS_CORETYPE unset" in r["source"]


def test_ort_matmul_ceiling_is_measured():
    pytest.importorskip("onnx")
    r = machine.measure_ort_matmul_peak(1, n=256, runs=2)
    assert r["gflops"] == pytest.approx(2 * 256 ** 3 / r["best_s"] / 1e9)
    assert "ONNX Runtime MatMul" in r["source"]


def test_nominal_clock_says_where_it_comes_from():
    clock = machine.nominal_clock({"mhz": 2445.0, "mhz_source": "/proc/cpuinfo"})
    assert clock["ghz"] == pytest.approx(2.445) and clock["source"] == "/proc/cpuinfo"
    clock = machine.nominal_clock({"mhz": 2445.0, "mhz_source": "/proc/cpuinfo", "max_mhz": 3500.0})
    assert clock["ghz"] == pytest.approx(3.5) and "boost" in clock["source"]


def test_simd_levels():
    assert machine.simd_level({"avx2", "fma", "avx"}) == ("AVX2+FMA", 32)
    assert machine.simd_level({"avx512f", "avx2", "fma"})[1] == 64
    assert machine.simd_level({"avx512f", "avx2", "fma"}, "AuthenticAMD", 25)[1] == 32   # Zen 4
    assert machine.simd_level({"avx2", "fma"}, "AuthenticAMD", 23)[1] == 16              # Zen 1
    assert machine.simd_level({"avx2", "fma", "clwb", "rdpid"}, "AuthenticAMD", 23)[1] == 32  # Zen 2
    assert machine.simd_level(set()) == ("unknown", 0)


# ---- benchmark pipeline -------------------------------------------------------------------------

def test_benchmark_pipeline_prints_fps_stages_ratio_and_memory(stub_star, small_video, retinaface_model,
                                                               capsys, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))   # the benchmark's temporary output folder
    rc = cli.main(["benchmark", "pipeline", str(small_video), "--frames", "8", "--star", str(stub_star),
                   "--faces", str(retinaface_model), "--star-iterations", "3"])
    out = capsys.readouterr().out
    print(out)
    assert rc == 0
    assert re.search(r"end to end: \d+\.\d\d frames/s", out)
    assert "8 frames processed" in out
    assert re.search(r"ratio e2e_fps / \(1/STAR inference time in the run\): \d+\.\d+", out)
    assert re.search(r"ratio e2e_fps / \(1/STAR alone\):\s+\d+\.\d+", out)
    for stage in ("decode", "face detection", "tracking", "STAR preprocessing", "STAR inference", "midline",
                  "mirroring", "annotation", "encode (3 videos)", "inference waits for frames",
                  "post waits for results"):
        assert re.search(rf"^{re.escape(stage)}\s", out, re.M), stage
    assert re.search(r"peak resident memory: \d+ MB sampled during the run .*ru_maxrss\) \d+ MB", out)
    assert list(scratch.iterdir()) == []          # outputs of the run were removed


def test_benchmark_pipeline_keeps_outputs_with_out_and_5_point_path(small_video, retinaface_model, tmp_path, capsys):
    res = benchmark.benchmark_pipeline(small_video, frames=5, no_star=True, faces=retinaface_model,
                                       out_dir=tmp_path / "kept")
    out = capsys.readouterr().out
    assert res["frames"] == 5 and res["e2e_fps"] > 0
    assert res["star_alone_ms"] is None and "ratio_vs_star_alone" not in res
    assert "5-point" in out
    names = {p.name for p in (tmp_path / "kept").iterdir()}
    from app.base.outputs import SUFFIX
    every = {f"bench_small{s}" for s in SUFFIX.values()}
    measures = {"bench_small_measures.csv", "bench_small_measures.json", "bench_small_summary.html", "bench_small_summary.pdf"}
    assert names in (every, every - measures)    # 5 frames may be too short to find a rest position


def test_make_video_command(tmp_path, capsys):
    from tests.conftest import MEDIA, _need
    image = _need(MEDIA / "portrait_frontal.jpg")
    out = tmp_path / "v.mp4"
    rc = cli.main(["benchmark", "make-video", str(out), "--size", "160x120", "--seconds", "0.5", "--fps", "10",
                   "--image", str(image)])
    assert rc == 0
    from app.video.reader import VideoReader
    with VideoReader(out) as r:
        assert r.frame_size == (160, 120)
        assert sum(1 for _ in r) == 5


# ---- memory accounting --------------------------------------------------------------------------

@pytest.mark.skipif(machine.rss_bytes() is None, reason="needs /proc/self/statm")
def test_rss_sampler_sees_a_temporary_allocation():
    size = 160 * 1024 * 1024
    with machine.RssSampler(interval=0.01) as s:
        block = np.ones(size, np.uint8)            # touched: resident
        import time
        time.sleep(0.1)
        del block
    assert s.start is not None and s.peak is not None
    assert s.peak - s.start >= 0.8 * size
    assert len(s.samples) >= 3
    assert machine.peak_rss_bytes() >= s.peak * 0.95   # ru_maxrss is the process-lifetime maximum


def test_rss_matches_proc_status():
    rss = machine.rss_bytes()
    if rss is None:
        pytest.skip("needs /proc/self/statm")
    status = open("/proc/self/status").read()
    vmrss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    assert abs(rss - vmrss_kb * 1024) < 32 * 1024 * 1024


def test_load_meter_reports_other_processes():
    with machine.LoadMeter() as lm:
        sum(range(200000))
    assert lm.wall_s > 0
    assert "other processes" in lm.describe() or "unknown" in lm.describe()


def test_rss_sampler_keeps_a_bounded_number_of_samples(monkeypatch):
    if machine.rss_bytes() is None:
        pytest.skip("needs /proc/self/statm")
    monkeypatch.setattr(machine.RssSampler, "MAX_SAMPLES", 16)
    import time
    with machine.RssSampler(interval=0.001) as s:
        time.sleep(0.3)
    assert 2 <= len(s.samples) <= 16
    assert [t for t, _ in s.samples] == sorted(t for t, _ in s.samples)
    assert s.peak >= max(v for _, v in s.samples)
