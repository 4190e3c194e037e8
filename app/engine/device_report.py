"""Which compute device Core ML plans for each operation: `main.py --self-test --device-report`.

`--require-coreml` proves that the CoreML execution provider ran a model's graph, not which
device ran it: Core ML may still put every operation on the CPU (always so on a virtual Mac,
which has no Neural Engine and no GPU for Core ML). ONNX Runtime's CoreML provider option
`ProfileComputePlan=1` (MLProgram models; Core ML's MLComputePlan, macOS 14.4+) logs, when the
compiled model is loaded, one line per MLProgram operation with its preferred compute device
(`<MLNeuralEngineComputeDevice: 0x...>`, `<MLGPUComputeDevice: ...>`, `<MLCPUComputeDevice: ...>`)
and its estimated cost, through NSLog, i.e. on the process's stderr. This module:

* says whether a device report can be made here (`report_support`, from injectable
  `PlatformFacts`: macOS 14.4+, CoreML available, ONNX Runtime >= 1.32);
* captures that log for one model (`capture_compute_plan`, a fresh compile in a temporary
  cache folder so that Core ML plans again; only on a Mac);
* parses it (`parse_compute_plan_log`: tolerant of NSLog's date/process prefix, of opset-qualified
  operator names such as `ios17.conv`, and of the wording around the device; `const` operations
  carry no work and are not counted) and counts operations per type and device
  (`count_by_op_type`);
* decides (`judge_model`): the STAR graph must be planned at least partly on the Neural Engine or
  the GPU on real hardware; on a virtual machine CPU compute units are expected and reported, not
  failed; a log with no operation in it fails (nothing was proved).

Qt-free and torch-free; everything but `capture_compute_plan` and `PlatformFacts.detect` is pure
and tested with constructed logs and injected platform facts.
"""
from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.engine import runtime

NEURAL_ENGINE = "NeuralEngine"
GPU = "GPU"
CPU = "CPU"
DEVICES = (NEURAL_ENGINE, GPU, CPU)

MIN_MACOS = (14, 4)            # MLComputePlan
MIN_ORT = (1, 32)              # the ONNX Runtime the app pins (ProfileComputePlan itself is older)
PROFILE_OPTION = "ProfileComputePlan"

# Exit code when no device report can be made on this machine (the CLI's "nothing could start").
EXIT_UNSUPPORTED = 2

_DEVICE_RE = re.compile(r"ML(NeuralEngine|GPU|CPU)ComputeDevice")
# "Operation: ios17.conv, Device Usage: <MLNeuralEngineComputeDevice: 0x...>, Estimated Cost: 0.01"
# (ONNX Runtime's wording) or "operation ios17.conv, device <...>" (other MLComputePlan dumps).
_OP_RE = re.compile(r"\b[Oo]peration:?\s+(?P<op>[A-Za-z0-9_.]+)")
_COST_RE = re.compile(r"[Ee]stimated [Cc]ost:?\s*(?P<cost>[0-9.eE+-]+)")


@dataclass(frozen=True)
class PlatformFacts:
    """What decides whether a device report is possible and how to read it. Injected in tests."""
    system: str                               # platform.system(): "Darwin", "Linux", ...
    machine: str                              # "arm64", "x86_64"
    is_vm: bool                               # macOS: sysctl kern.hv_vmm_present
    coreml_available: bool                    # CoreMLExecutionProvider in this onnxruntime build
    macos_version: tuple[int, ...] | None     # (14, 4, 1); None off macOS

    @classmethod
    def detect(cls) -> "PlatformFacts":
        from app.engine import backend_check

        providers: list[str] = []
        try:
            import onnxruntime as ort

            providers = list(ort.get_available_providers())
        except Exception:  # noqa: BLE001 - no runtime: no CoreML
            pass
        mac = platform.mac_ver()[0] if sys.platform == "darwin" else ""
        return cls(system=platform.system(), machine=platform.machine(),
                   is_vm=backend_check.running_in_vm(), coreml_available=runtime.COREML in providers,
                   macos_version=parse_version(mac) if mac else None)

    def describe(self) -> str:
        where = f"macOS {'.'.join(map(str, self.macos_version))}" if self.macos_version else self.system
        return f"{where} {self.machine}{' (virtual machine)' if self.is_vm else ''}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["macos_version"] = ".".join(map(str, self.macos_version)) if self.macos_version else None
        return d


def parse_version(text: str) -> tuple[int, ...]:
    """'14.4.1' -> (14, 4, 1); '1.32.0.dev20260101' -> (1, 32, 0); '' -> ()."""
    parts: list[int] = []
    for piece in str(text).split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts)


def report_support(facts: PlatformFacts, ort_version: str) -> tuple[bool, str]:
    """(possible, why not): a device report needs macOS 14.4+, CoreML and ONNX Runtime 1.32+."""
    need = (f"device reports need macOS {'.'.join(map(str, MIN_MACOS))} or later with CoreML "
            f"(ONNX Runtime {'.'.join(map(str, MIN_ORT))}+, option {PROFILE_OPTION})")
    if facts.system != "Darwin" or facts.macos_version is None:
        return False, f"{need}; this is {facts.describe()}"
    if facts.macos_version < MIN_MACOS:
        return False, f"{need}; this is {facts.describe()}"
    if not facts.coreml_available:
        return False, f"{need}; this onnxruntime build has no CoreMLExecutionProvider"
    if parse_version(ort_version) < MIN_ORT:
        return False, f"{need}; this is ONNX Runtime {ort_version}"
    return True, ""


@dataclass(frozen=True)
class PlannedOp:
    op_type: str       # MIL operator without its opset prefix: "conv", "add", ...
    device: str        # NeuralEngine / GPU / CPU
    cost: float | None = None


def base_op_type(name: str) -> str:
    """'ios17.conv' -> 'conv'."""
    return name.rsplit(".", 1)[-1]


def parse_compute_plan_log(text: str) -> list[PlannedOp]:
    """The operations of every compute-plan line in text (other log lines are ignored)."""
    ops: list[PlannedOp] = []
    for line in text.splitlines():
        dev = _DEVICE_RE.search(line)
        op = _OP_RE.search(line)
        if not dev or not op:
            continue
        op_type = base_op_type(op.group("op"))
        if op_type == "const":
            continue
        cost_m = _COST_RE.search(line)
        try:
            cost = float(cost_m.group("cost")) if cost_m else None
        except ValueError:
            cost = None
        ops.append(PlannedOp(op_type=op_type, device=dev.group(1), cost=cost))
    return ops


def count_by_op_type(ops: Iterable[PlannedOp]) -> dict[str, dict[str, int]]:
    """{op type: {NeuralEngine: n, GPU: n, CPU: n}}, op types sorted."""
    counts: dict[str, dict[str, int]] = {}
    for op in ops:
        counts.setdefault(op.op_type, dict.fromkeys(DEVICES, 0))[op.device] += 1
    return dict(sorted(counts.items()))


def totals(by_type: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(DEVICES, 0)
    for per_device in by_type.values():
        for device, n in per_device.items():
            out[device] = out.get(device, 0) + n
    return out


@dataclass
class ModelDeviceReport:
    model: str
    required: bool                     # the STAR graph: must not be wholly on CPU compute units
    by_op_type: dict[str, dict[str, int]] = field(default_factory=dict)
    ok: bool = True
    verdict: str = ""

    def as_dict(self) -> dict:
        return {"model": self.model, "required_off_cpu": self.required, "ok": self.ok, "verdict": self.verdict,
                "operations": totals(self.by_op_type), "by_op_type": self.by_op_type}


def judge_model(model: str, ops: list[PlannedOp], facts: PlatformFacts, required: bool) -> ModelDeviceReport:
    """Count a model's planned operations and decide whether the plan is acceptable here."""
    by_type = count_by_op_type(ops)
    t = totals(by_type)
    n = sum(t.values())
    spread = ", ".join(f"{d} {t[d]}" for d in DEVICES)
    if n == 0:
        return ModelDeviceReport(model, required, by_type, False,
                                 "no compute plan was logged (ProfileComputePlan gave no operation): nothing proved")
    accelerated = t[NEURAL_ENGINE] + t[GPU]
    if accelerated == 0:
        if facts.is_vm:
            return ModelDeviceReport(model, required, by_type, True,
                                     f"{n} operations, all on CPU compute units, as expected on a virtual "
                                     f"machine (no Neural Engine or GPU for Core ML): {spread}")
        if required:
            return ModelDeviceReport(model, required, by_type, False,
                                     f"Core ML plans all {n} operations on CPU compute units on real hardware "
                                     f"({facts.describe()}): no Neural Engine or GPU ({spread})")
        return ModelDeviceReport(model, required, by_type, True, f"{n} operations, all on the CPU ({spread})")
    share = 100.0 * accelerated / n
    return ModelDeviceReport(model, required, by_type, True,
                             f"{n} operations, {share:.0f} % on the Neural Engine or the GPU ({spread})")


def build_report(models: Mapping[str, list[PlannedOp]], facts: PlatformFacts, ort_version: str,
                 required_models: Iterable[str], app_version: str = "") -> tuple[bool, dict]:
    """(passed, the JSON document) for the models' parsed plans."""
    required = set(required_models)
    judged = [judge_model(name, ops, facts, name in required) for name, ops in models.items()]
    passed = bool(judged) and all(m.ok for m in judged)
    doc = {"facemirror_version": app_version, "onnxruntime": ort_version, "platform": facts.as_dict(),
           "option": f"{PROFILE_OPTION}=1", "passed": passed,
           "models": {m.model: m.as_dict() for m in judged}}
    return passed, doc


class _StderrCapture:
    """Redirect file descriptor 2 (where NSLog writes) into a temporary file."""

    def __enter__(self) -> "_StderrCapture":
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile(mode="w+b")
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def text(self) -> str:
        self._file.seek(0)
        return self._file.read().decode("utf-8", "replace")

    def __exit__(self, *exc) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)


def capture_compute_plan(model_path: str | os.PathLike, settle_s: float = 10.0) -> str:
    """Load the model with CoreML and ProfileComputePlan=1, run it once, return what was logged.

    Core ML computes the plan asynchronously after loading the compiled model, so the log is read
    until it stops growing (at most settle_s seconds). A temporary model cache folder makes Core ML
    compile (and plan) afresh instead of loading an earlier compilation. Only meaningful on a Mac.
    """
    import onnxruntime as ort

    from app.engine import backend_check

    with tempfile.TemporaryDirectory(prefix="facemirror-computeplan-") as cache:
        options = dict(runtime.coreml_options(Path(cache)))
        options[PROFILE_OPTION] = "1"
        so = runtime.cpu_session_options(runtime.default_threads())
        with _StderrCapture() as cap:
            session = ort.InferenceSession(str(model_path), sess_options=so,
                                           providers=[(runtime.COREML, options), runtime.CPU])
            session.run(None, backend_check.sample_feeds(session))
            deadline = time.monotonic() + settle_s
            seen = -1
            while time.monotonic() < deadline:
                time.sleep(0.5)
                n = len(parse_compute_plan_log(cap.text()))
                if n and n == seen:
                    break
                seen = n
            text = cap.text()
        del session
    return text
