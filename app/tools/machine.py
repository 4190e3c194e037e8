"""Facts about the machine for benchmark printouts (CPU model, cores, SIMD, clock)."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path


def cpu_info() -> dict:
    info = {"machine": platform.machine(), "system": platform.system(), "model": platform.processor() or "",
            "flags": set(), "mhz": None, "mhz_source": None}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text(errors="replace")
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            info["model"] = m.group(1).strip()
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        if m:
            info["flags"] = set(m.group(1).split())
        mhz = re.findall(r"^cpu MHz\s*:\s*([\d.]+)$", text, re.M)
        if mhz:
            info["mhz"] = max(float(v) for v in mhz)
            info["mhz_source"] = "/proc/cpuinfo 'cpu MHz'"
    elif platform.system() == "Darwin":
        try:
            info["model"] = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                           text=True, timeout=5).stdout.strip()
        except OSError:
            pass
    try:
        info["cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["cores"] = os.cpu_count() or 1
    return info


def simd_level(flags: set) -> tuple[str, int]:
    """Widest fp32 FMA instruction set and its FLOPs per cycle per core (2 FMA units assumed)."""
    if "avx512f" in flags:
        return "AVX-512", 64
    if "avx2" in flags and "fma" in flags:
        return "AVX2+FMA", 32
    if "avx" in flags:
        return "AVX", 16
    if flags:
        return "SSE", 8
    return "unknown", 0


def describe() -> str:
    c = cpu_info()
    isa, _ = simd_level(c["flags"])
    clock = f", {c['mhz']:.0f} MHz" if c["mhz"] else ""
    return f"{c['model'] or c['machine']} ({c['cores']} cores available, {isa}{clock})"
