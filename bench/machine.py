"""Facts about the machine for benchmark printouts: CPU model, cores, SIMD width, clock, the
theoretical fp32 peak, the load other processes put on the CPUs during a measurement, and the
process's resident memory.

Clock. /proc/cpuinfo's "cpu MHz" is often the nominal (base) clock, and in a VM it is whatever the
hypervisor reports, while the cores may boost well above it. `measure_clock()` therefore measures
the clock directly where it can: on x86-64 Linux it runs a chain of dependent integer adds
(`add rax, rdx`, one cycle latency on every x86-64 core of the last 15 years; a register operand,
so no immediate folding) as a few bytes of machine code in an executable anonymous mapping,
called through ctypes (no compiler needed, and ctypes releases the GIL, so one call per core
runs truly in parallel: the clock it reports is the all-cores-busy clock, the one that matters
for a multi-threaded convolution). Cycles per second = adds / seconds; the best of several
short runs is kept (preemption only makes a run slower). Where that is not possible (other
architectures, macOS, a kernel that forbids writable+executable mappings) the nominal clock
from /proc/cpuinfo, /sys cpufreq or sysctl is used and labelled as such.

`measure_fma_peak()` runs the same way a loop of 12 independent 256-bit FMA chains (nothing but
`vfmadd231ps`) on every core at once: the fp32 peak measured directly. It cross-checks
clock x FLOP/cycle and shows when two vCPUs share one physical core's FMA pipes (SMT).

Peak fp32 FLOP/s = cores x clock x FLOP/cycle/core, with FLOP/cycle/core from the widest FMA
instruction set and the core's FMA pipes (`simd_level`): 2 FMA pipes x 8 fp32 lanes x 2 FLOP =
32 for AVX2+FMA on Haswell and later and on Zen 2-4 (Zen 1 splits 256-bit operations into two
128-bit halves: 16); 64 for AVX-512 with two 512-bit pipes (Zen 4 executes AVX-512 on 256-bit
pipes: 32).
"""
from __future__ import annotations

import ctypes
import mmap
import os
import platform
import re
import struct
import subprocess
import threading
import time
from pathlib import Path


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

_ADDS_PER_LOOP = 200


def _add_chain_code() -> bytes:
    """x86-64 SysV: u64 f(u64 n) runs n x 200 dependent `add rax, rdx` (rdx = 1), returns rax."""
    code = bytearray(b"\x31\xc0")                 # xor eax, eax
    code += b"\xba\x01\x00\x00\x00"               # mov edx, 1
    top = len(code)
    code += b"\x48\x01\xd0" * _ADDS_PER_LOOP      # add rax, rdx   (each waits for the previous)
    code += b"\x48\xff\xcf"                       # dec rdi        (independent, runs alongside)
    code += b"\x0f\x85" + struct.pack("<i", top - (len(code) + 6))   # jnz top
    code += b"\xc3"                               # ret
    return bytes(code)


def _vfmadd231ps_ymm(dst: int, src1: int, src2: int) -> bytes:
    """VEX encoding of `vfmadd231ps ymm_dst, ymm_src1, ymm_src2` (dst += src1 * src2)."""
    b1 = ((0 if dst >= 8 else 1) << 7) | (1 << 6) | ((0 if src2 >= 8 else 1) << 5) | 0b00010  # 0F38
    b2 = ((~src1 & 0xF) << 3) | (1 << 2) | 0b01                                               # L=256, 66
    return bytes([0xC4, b1, b2, 0xB8, 0xC0 | ((dst & 7) << 3) | (src2 & 7)])


_FMA_CHAINS = 12   # independent accumulators: > FMA latency (4-5 cycles) x 2 pipes


def _fma_code() -> bytes:
    """x86-64 SysV: void f(u64 n) runs n x 12 independent 8-lane fp32 FMAs (ymm0-11 += ymm12*ymm13)."""
    code = bytearray(b"\xc5\xfc\x77")           # vzeroall (all ymm are caller-saved)
    top = len(code)
    for i in range(_FMA_CHAINS):
        code += _vfmadd231ps_ymm(i, 12, 13)
    code += b"\x48\xff\xcf"                       # dec rdi
    code += b"\x0f\x85" + struct.pack("<i", top - (len(code) + 6))   # jnz top
    code += b"\xc5\xf8\x77\xc3"                   # vzeroupper; ret
    return bytes(code)


class _Jit:
    """A few bytes of machine code in an executable anonymous mapping, callable as u64 f(u64)."""

    def __init__(self, code: bytes):
        self._map = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._map.write(code)
        self._buf = ctypes.c_char.from_buffer(self._map)
        self.fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(ctypes.addressof(self._buf))

    def rate(self, loops: int, work_per_loop: float) -> float:
        """Work units per second for one call of `loops` iterations."""
        t0 = time.perf_counter()
        self.fn(loops)
        dt = time.perf_counter() - t0
        return loops * work_per_loop / dt if dt > 0 else 0.0


def _jit_supported() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64") and platform.system() == "Linux"


def _best_rate_all_threads(jit: _Jit, threads: int, loops: int, work: float, runs: int) -> list[float]:
    """Best rate per thread with `threads` calls running at once (ctypes releases the GIL)."""
    best = [0.0] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def run(i: int) -> None:
        try:
            for _ in range(runs):
                barrier.wait()
                best[i] = max(best[i], jit.rate(loops, work))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()

    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return best


_PROBE_ERRORS = (OSError, ValueError, RuntimeError, threading.BrokenBarrierError, AttributeError)


def measure_clock(threads: int | None = None, runs: int = 15, seconds_per_run: float = 0.004) -> dict:
    """Clock in GHz with all `threads` cores busy, and where the figure comes from.

    Returns {"ghz", "source", "measured": bool, "per_thread_ghz": [...], "nominal_ghz"}.
    """
    info = cpu_info()
    nominal = info["mhz"] / 1000.0 if info.get("mhz") else None
    threads = threads or info["cores"]
    out = {"ghz": nominal, "source": info.get("mhz_source") or "unknown", "measured": False,
           "per_thread_ghz": [], "nominal_ghz": nominal}
    if info.get("max_mhz"):   # the highest boost clock: a peak computed with it is not too low
        out.update(ghz=info["max_mhz"] / 1000.0,
                   source="/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (maximum boost clock)")
    if not _jit_supported():
        return out
    try:
        jit = _Jit(_add_chain_code())
        if jit.fn(3) != 3 * _ADDS_PER_LOOP:
            raise RuntimeError("add-chain probe returned a wrong count")
        loops = max(100, int(seconds_per_run * (nominal or 3.0) * 1e9 / _ADDS_PER_LOOP))
        jit.rate(loops, _ADDS_PER_LOOP)
        best = _best_rate_all_threads(jit, threads, loops, _ADDS_PER_LOOP, runs)
    except _PROBE_ERRORS as exc:
        out["source"] += f"; measurement not possible here ({type(exc).__name__})"
        return out
    ghz = [b / 1e9 for b in best]
    out.update(ghz=min(ghz), measured=True, per_thread_ghz=ghz,
               source=(f"measured: dependent-add chain (1 add/cycle), {threads} thread(s) at once, "
                       f"best of {runs} runs; /proc/cpuinfo 'cpu MHz' says "
                       + (f"{nominal * 1000:.0f} MHz" if nominal else "nothing")))
    return out


def measure_fma_peak(threads: int | None = None, runs: int = 15, seconds_per_run: float = 0.004) -> dict | None:
    """Measured fp32 FMA throughput (GFLOP/s) of `threads` cores at once: 12 independent chains
    of 256-bit `vfmadd231ps` per core, nothing else. Confirms FLOP/cycle x clock (and shows when
    two vCPUs share one physical core's FMA pipes). None without AVX2+FMA or where the probe
    cannot run."""
    info = cpu_info()
    if not _jit_supported() or not {"avx2", "fma"} <= info["flags"]:
        return None
    threads = threads or info["cores"]
    flops = _FMA_CHAINS * 8 * 2
    try:
        jit = _Jit(_fma_code())
        loops = max(100, int(seconds_per_run * 100e9 / flops))
        jit.rate(loops, flops)
        best = _best_rate_all_threads(jit, threads, loops, flops, runs)
    except _PROBE_ERRORS:
        return None
    return {"gflops": sum(best) / 1e9, "per_thread_gflops": [b / 1e9 for b in best], "threads": threads}


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
    return pages * mmap.PAGESIZE


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
