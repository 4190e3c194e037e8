"""Prove which execution provider ran a model: run it once with ONNX Runtime's profiler on.

Listing CoreML among the available providers proves nothing: if it fails to compile a model, ONNX
Runtime quietly runs the nodes on the CPU. The profiler records one "Node" event per executed
kernel with the provider that ran it (a CoreML partition is one fused node), so counting the
distinct nodes per provider after a real run says what actually did the work. Used by
`main.py --self-test` (and `--require-coreml` on the macOS CI).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.base.wording import plural
from app.engine import runtime

KERNEL_SUFFIX = "_kernel_time"

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
                "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
                "tensor(int8)": np.int8, "tensor(bool)": np.bool_}


@dataclass
class ProviderProof:
    """What ran one model: the backend chosen and the nodes each provider executed."""
    model: str
    backend: runtime.Backend
    nodes: dict[str, int] = field(default_factory=dict)  # provider -> distinct nodes executed
    agreement: tuple[bool, str] | None = None  # outputs vs the CPU provider (when not on the CPU)

    def summary(self) -> str:
        counts = ", ".join(f"{runtime.short_name(p)} {plural(n, 'node')}" for p, n in sorted(self.nodes.items()))
        return f"{self.model}: {self.backend.label}; executed: {counts or 'no nodes recorded'}"


def count_nodes_by_provider(events: Iterable[Mapping]) -> dict[str, int]:
    """Distinct executed nodes per provider, from ONNX Runtime profile events (a JSON list)."""
    seen: dict[str, set[str]] = {}
    for ev in events:
        if ev.get("cat") != "Node":
            continue
        name = str(ev.get("name", ""))
        if not name.endswith(KERNEL_SUFFIX):  # fence/other per-node events are not executions
            continue
        provider = (ev.get("args") or {}).get("provider")
        if provider:
            seen.setdefault(str(provider), set()).add(name[: -len(KERNEL_SUFFIX)])
    return {p: len(names) for p, names in seen.items()}


def coreml_ran_graph(nodes: Mapping[str, int]) -> tuple[bool, str]:
    """True when CoreML executed the model and the CPU executed nothing of it.

    FaceMirror's converters make models that are one CoreML partition with every node supported,
    so any node on the CPU means CoreML did not take the whole graph (a fallback, or a converter
    regression that would make the Mac build slow).
    """
    coreml = nodes.get(runtime.COREML, 0)
    others = {p: n for p, n in nodes.items() if p != runtime.COREML and n}
    ran = ", ".join(f"{runtime.short_name(p)} {n}" for p, n in sorted(others.items()))
    if coreml == 0:
        return False, f"CoreML ran no node (executed: {ran or 'nothing recorded'})"
    if others:
        return False, f"CoreML ran {coreml} partition(s) but other providers ran nodes too ({ran})"
    return True, f"CoreML ran the whole graph ({plural(coreml, 'partition')})"


# How far an accelerated provider's outputs may be from the CPU provider's on the same input,
# as a fraction of the CPU output's range (max - min) per output: CoreML runs in float16 on the
# GPU/Neural Engine (about 3 significant digits), so 1e-2 of the range; for landmarks in a face
# box that range is the box, so points agree within 1 % of the face.
OUTPUT_RTOL = 1e-2


def outputs_agree(names: Iterable[str], reference: Iterable[np.ndarray], other: Iterable[np.ndarray],
                  rtol: float = OUTPUT_RTOL) -> tuple[bool, str]:
    """(ok, words): every output within rtol x its reference range of the reference (CPU)."""
    worst: list[str] = []
    ok = True
    for name, ref, out in zip(names, reference, other):
        ref = np.asarray(ref, np.float64)
        out = np.asarray(out, np.float64)
        if ref.shape != out.shape:
            return False, f"{name}: shape {out.shape} differs from the CPU's {ref.shape}"
        if not np.all(np.isfinite(out)):
            return False, f"{name}: non-finite values"
        scale = float(ref.max() - ref.min()) if ref.size else 0.0
        diff = float(np.max(np.abs(ref - out))) if ref.size else 0.0
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
        ok = ok and rel <= rtol
        worst.append(f"{name} {rel:.1e}")
    verdict = "agree with" if ok else "DIFFER from"
    return ok, f"outputs {verdict} the CPU provider (max |diff| / range: {', '.join(worst)}; limit {rtol:g})"


def running_in_vm(hv_vmm_present: str | None = None) -> bool:
    """True inside a virtual machine (macOS: sysctl kern.hv_vmm_present = 1). GitHub's macOS
    runners are VMs: no Neural Engine and no GPU for Core ML, which then runs on the CPU."""
    if hv_vmm_present is None:
        import subprocess
        import sys

        if sys.platform != "darwin":
            return False
        try:
            hv_vmm_present = subprocess.run(["sysctl", "-n", "kern.hv_vmm_present"], capture_output=True,
                                            text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return False
    return hv_vmm_present.strip() == "1"


def coreml_label(in_vm: bool) -> str:
    """What to call the CoreML run: on a VM it proves CoreML on the CPU compute units only."""
    return "CoreML (VM: CPU compute units)" if in_vm else "CoreML"


def sample_feeds(session) -> dict[str, np.ndarray]:
    """Inputs of the model's declared shapes (symbolic dimensions as 1), filled with noise."""
    rng = np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {}
    for inp in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        dtype = _NUMPY_TYPES.get(inp.type, np.float32)
        feeds[inp.name] = rng.random(shape).astype(dtype) if np.issubdtype(dtype, np.floating) \
            else np.zeros(shape, dtype)
    return feeds


def read_profile(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return data if isinstance(data, list) else list(data.get("traceEvents", []))


def _profiling_factory(prefix: str):
    def factory(model_path: str, providers: list, threads: int):
        import onnxruntime as ort

        so = runtime.cpu_session_options(threads)
        so.enable_profiling = True
        so.profile_file_prefix = prefix
        return ort.InferenceSession(model_path, sess_options=so, providers=providers)
    return factory


def prove_backend(model_path: str | os.PathLike, **session_kwargs) -> ProviderProof:
    """Create a session the way the app does (same provider choice), run it once, count nodes."""
    with tempfile.TemporaryDirectory(prefix="facemirror-profile-") as tmp:
        session, backend = runtime.create_session(model_path, session_factory=_profiling_factory(
            str(Path(tmp) / "profile")), **session_kwargs)
        feeds = sample_feeds(session)
        outputs = session.run(None, feeds)
        nodes = count_nodes_by_provider(read_profile(session.end_profiling()))
    agreement = None
    if backend.provider != runtime.CPU:
        import onnxruntime as ort

        cpu = ort.InferenceSession(str(model_path), sess_options=runtime.cpu_session_options(backend.threads),
                                   providers=[runtime.CPU])
        agreement = outputs_agree([o.name for o in cpu.get_outputs()], cpu.run(None, feeds), outputs)
    return ProviderProof(model=Path(model_path).name, backend=backend, nodes=nodes, agreement=agreement)
