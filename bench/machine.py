"""Facts about the machine for benchmark printouts: CPU model, cores, SIMD width, clock, the
theoretical fp32 peak, the load other processes put on the CPUs during a measurement, and the
process's resident memory.

Peak. /proc/cpuinfo's "cpu MHz" is often the nominal (base) clock, and in a VM it is whatever the
hypervisor reports, while the cores may boost well above it, so a peak computed from it can be
too low (STAR then appears to run at over 100 % of "peak"). `measure_fp32_ceiling()` therefore
measures the ceiling directly, as the fastest of several large fp32 matrix multiplies on all
cores, the most FMA-dense work any library does: ONNX Runtime's MLAS MatMul (the engine STAR runs
on, with the kernel MLAS picks for this CPU), numpy's BLAS in this process, and numpy's BLAS in a
child process with OPENBLAS_CORETYPE unset (where it is set, e.g. to Haswell, OpenBLAS runs its
AVX2 kernel on an AVX-512 machine, and an in-process SGEMM alone would be a ceiling below what
STAR reaches). The nominal figure (cores x clock x FLOP/cycle) is printed beside it, labelled as
such.

Nominal fp32 FLOP/s = cores x clock x FLOP/cycle/core, with FLOP/cycle/core from the widest FMA
instruction set and the core's FMA pipes (`simd_level`): 2 FMA pipes x 8 fp32 lanes x 2 FLOP =
32 for AVX2+FMA on Haswell and later and on Zen 2-4 (Zen 1 splits 256-bit operations into two
128-bit halves: 16); 64 for AVX-512 with two 512-bit pipes (Zen 4 executes AVX-512 on 256-bit
pipes: 32).
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def cpu_info() -> dict:
    info = {"machine": platform.machine(), "system": platform.system(), "model": platform.processor() or "",
            "flags": set(), "mhz": None, "mhz_source": None, "vendor": "", "family": None, "model_id": None}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text(errors="replace")
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            info["model"] = m.group(1).strip()
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        if m:
            info["flags"] = set(m.group(1).split())
        m = re.search(r"^vendor_id\s*:\s*(.+)$", text, re.M)
        if m:
            info["vendor"] = m.group(1).strip()
        m = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.M)
        if m:
            info["family"] = int(m.group(1))
        m = re.search(r"^model\s*:\s*(\d+)$", text, re.M)
        if m:
            info["model_id"] = int(m.group(1))
        mhz = re.findall(r"^cpu MHz\s*:\s*([\d.]+)$", text, re.M)
        if mhz:
            info["mhz"] = max(float(v) for v in mhz)
            info["mhz_source"] = "/proc/cpuinfo 'cpu MHz' (nominal or last sampled clock)"
        sysfs = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        if sysfs.exists():
            try:
                info["max_mhz"] = int(sysfs.read_text().strip()) / 1000.0
            except (OSError, ValueError):
                pass
    elif platform.system() == "Darwin":
        for key, field in (("machdep.cpu.brand_string", "model"), ("hw.cpufrequency", "hz")):
            try:
                out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5).stdout.strip()
            except OSError:
                continue
            if field == "model":
                info["model"] = out
            elif out.isdigit():
                info["mhz"] = int(out) / 1e6
                info["mhz_source"] = "sysctl hw.cpufrequency (nominal)"
    try:
        info["cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["cores"] = os.cpu_count() or 1
    return info


def simd_level(flags: set, vendor: str = "", family: int | None = None) -> tuple[str, int]:
    """Widest fp32 FMA instruction set and its FLOPs per cycle per core (2 FMA pipes)."""
    amd = vendor == "AuthenticAMD"
    if "avx512f" in flags:
        if amd and family == 25:           # Zen 4: AVX-512 on 256-bit pipes
            return "AVX-512 (256-bit pipes)", 32
        return "AVX-512", 64
    if "avx2" in flags and "fma" in flags:
        if amd and family == 23 and "rdpid" not in flags and "clwb" not in flags:
            return "AVX2+FMA (128-bit pipes, Zen 1)", 16   # Zen 1/+ split 256-bit ops
        return "AVX2+FMA", 32
    if "avx" in flags:
        return "AVX", 16
    if flags:
        return "SSE", 8
    return "unknown", 0


# ---- measured clock ---------------------------------------------------------------------------

def nominal_clock(info: dict | None = None) -> dict:
    """The clock the operating system reports, and where it comes from (not measured)."""
    info = info or cpu_info()
    nominal = info["mhz"] / 1000.0 if info.get("mhz") else None
    out = {"ghz": nominal, "source": info.get("mhz_source") or "unknown", "nominal_ghz": nominal}
    if info.get("max_mhz"):   # the highest boost clock: a peak computed with it is not too low
        out.update(ghz=info["max_mhz"] / 1000.0,
                   source="/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (maximum boost clock)")
    return out


def measure_gemm_peak(n: int = 3072, runs: int = 5) -> dict:
    """fp32 matrix-multiply throughput of numpy's BLAS on all cores (GFLOP/s, best of `runs`).

    A large square SGEMM is the most FMA-dense work a library does (OpenBLAS reaches ~90 % of
    the hardware peak): a measured ceiling for what a convolution network can reach here, with
    no hand-made machine code. Preemption only makes a run slower, so the best run counts.
    """
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)            # warm-up: thread pool start, page faults
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return {"gflops": 2.0 * n ** 3 / best / 1e9, "n": n, "runs": runs, "best_s": best,
            "source": f"numpy SGEMM {n}x{n}x{n}, all cores, best of {runs}"}


BLAS_CORETYPE_VARIABLE = "OPENBLAS_CORETYPE"   # pins OpenBLAS to one kernel (e.g. Haswell = AVX2)
_REPO_ROOT = Path(__file__).resolve().parents[1]


def measure_gemm_peak_child(n: int = 3072, runs: int = 5, timeout: float = 600.0) -> dict | None:
    """`measure_gemm_peak` in a child process with OPENBLAS_CORETYPE unset, so OpenBLAS picks the
    widest kernel for this CPU; None when the child fails."""
    env = {k: v for k, v in os.environ.items() if k != BLAS_CORETYPE_VARIABLE}
    code = ("import json, os, sys; sys.path.insert(0, sys.argv[1]); from bench.machine import measure_gemm_peak; "
            "r = measure_gemm_peak(int(sys.argv[2]), int(sys.argv[3])); "
            f"r['coretype'] = os.environ.get({BLAS_CORETYPE_VARIABLE!r}); print(json.dumps(r))")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(_REPO_ROOT), str(n), str(runs)], env=env,
                              capture_output=True, text=True, timeout=timeout)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    result["source"] = f"numpy SGEMM {n}x{n}x{n} in a child process with {BLAS_CORETYPE_VARIABLE} unset, " \
                       f"all cores, best of {runs}"
    return result


def measure_ort_matmul_peak(threads: int, n: int = 3072, runs: int = 5) -> dict | None:
    """fp32 MatMul throughput of ONNX Runtime's CPU provider (MLAS, the kernel it picks for this
    CPU) on `threads` threads, GFLOP/s best of `runs`; the model is built in memory with
    onnx.helper. None when the onnx package is not installed."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    b = numpy_helper.from_array(rng.random((n, n), dtype=np.float32), "b")
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    graph = helper.make_graph([node], "matmul", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    sess = ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    a = rng.random((n, n), dtype=np.float32)
    sess.run(None, {"a": a})            # warm-up
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {"a": a})
        best = min(best, time.perf_counter() - t)
    return {"gflops": 2.0 * n ** 3 / best / 1e9, "n": n, "runs": runs, "best_s": best,
            "source": f"ONNX Runtime MatMul {n}x{n}x{n}, {threads} threads, best of {runs}"}


def fp32_ceiling(kernels: dict[str, dict | None]) -> dict:
    """The ceiling from measured kernels: the fastest one counts (each is a lower bound of what
    the machine can do). `kernels` maps a name to a measurement ({"gflops", "source", ...}) or
    None (not measured). {"gflops": None} when nothing was measured."""
    measured = {k: v for k, v in kernels.items() if v and v.get("gflops")}
    if not measured:
        return {"gflops": None, "source": "not measured", "kernel": None, "kernels": {}}
    name = max(measured, key=lambda k: measured[k]["gflops"])
    return {"gflops": measured[name]["gflops"], "source": measured[name]["source"], "kernel": name,
            "kernels": {k: v["gflops"] for k, v in measured.items()}}


def measure_fp32_ceiling(cores: int, measure: dict | None = None) -> dict:
    """Measure the kernels (by default ONNX Runtime MatMul, numpy SGEMM here and, where
    OPENBLAS_CORETYPE is set, in a child process without it) and return `fp32_ceiling` of them.
    `measure` maps a name to a function returning a measurement or None (tests inject it)."""
    if measure is None:
        measure = {"onnxruntime": lambda: measure_ort_matmul_peak(cores), "numpy": measure_gemm_peak}
        if os.environ.get(BLAS_CORETYPE_VARIABLE):
            measure["numpy-child"] = measure_gemm_peak_child
    return fp32_ceiling({name: fn() for name, fn in measure.items()})


def peak_gflops(cores: int, ghz: float | None, flops_per_cycle: int) -> float | None:
    if not ghz or not flops_per_cycle:
        return None
    return cores * ghz * flops_per_cycle


def describe() -> str:
    c = cpu_info()
    isa, _ = simd_level(c["flags"], c.get("vendor", ""), c.get("family"))
    clock = f", {c['mhz']:.0f} MHz nominal" if c["mhz"] else ""
    return f"{c['model'] or c['machine']} ({c['cores']} cores available, {isa}{clock})"


# ---- load of other processes --------------------------------------------------------------------

def _proc_stat_busy() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    steal = fields[7] if len(fields) > 7 else 0
    total = sum(fields[:8])
    return (total - idle - steal) / hz, total / hz


def _own_cpu_seconds() -> float:
    return time.process_time()   # user + system CPU of all this process's threads, high resolution


class LoadMeter:
    """CPU used by OTHER processes while a block runs, in cores (0 = we had the machine alone).

        with LoadMeter() as lm: ...
        lm.other_cores, lm.own_cores, lm.wall_s

    Machine-wide busy time from /proc/stat minus this process's CPU time; None where /proc/stat
    does not exist. Also notes the 1-minute load average at the start.
    """

    def __enter__(self):
        self._t0 = time.perf_counter()
        self._stat0 = _proc_stat_busy()
        self._own0 = _own_cpu_seconds()
        try:
            self.loadavg_1min = os.getloadavg()[0]
        except (OSError, AttributeError):
            self.loadavg_1min = None
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self._t0
        own = _own_cpu_seconds() - self._own0
        self.own_cores = own / self.wall_s if self.wall_s > 0 else 0.0
        stat1 = _proc_stat_busy()
        if self._stat0 is None or stat1 is None or self.wall_s <= 0:
            self.other_cores = None
        else:
            busy = stat1[0] - self._stat0[0]
            self.other_cores = max(0.0, (busy - own) / self.wall_s)
        return False

    def describe(self) -> str:
        if self.other_cores is None:
            return "load of other processes: unknown"
        la = f", load average {self.loadavg_1min:.2f} at start" if self.loadavg_1min is not None else ""
        return (f"other processes used {self.other_cores:.2f} cores during the measurement "
                f"(this process {self.own_cores:.2f}{la})")


# ---- memory --------------------------------------------------------------------------------------

def rss_bytes() -> int | None:
    """Current resident set size of this process (Linux /proc/self/statm), else None."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (getrusage ru_maxrss)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024   # bytes on macOS, KiB on Linux


class RssSampler:
    """Samples the resident set size in a background thread (every `interval` s) while active.

        with RssSampler(0.05) as s: ...
        s.peak, s.start (bytes; None where /proc/self/statm is missing), s.samples [(time, bytes)]

    Unlike ru_maxrss (a process-lifetime maximum that includes everything before the block), the
    sampler's peak belongs to the block alone; short spikes between samples can be missed.
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.start = None
        self.peak = None
        self._stop = threading.Event()
        self._thread = None
        self._n = 0
        self._stride = 1

    MAX_SAMPLES = 2000   # kept samples; beyond this every other one is dropped (memory stays bounded)

    def _sample(self) -> None:
        v = rss_bytes()
        if v is None:
            return
        self.peak = v if self.peak is None else max(self.peak, v)
        self._n += 1
        if self._n % self._stride == 0:
            self.samples.append((time.perf_counter(), v))
            if len(self.samples) >= self.MAX_SAMPLES:
                del self.samples[1::2]
                self._stride *= 2

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self.start = rss_bytes()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        return False
