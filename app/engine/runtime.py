"""The one place that creates ONNX Runtime sessions and chooses the backend.

Preference: CoreML -> CUDA -> CPU, among the providers this onnxruntime build actually has.
CoreML runs as an MLProgram on all compute units with static input shapes; its compiled model
cache lives in the user's cache folder (the app bundle is signed and read-only). A provider that
fails to initialise is skipped and the reason kept, so the status bar and the report can say why
the app runs on the CPU.

`available_providers` and `session_factory` are injectable so that the selection logic can be
tested on machines without CoreML or CUDA.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from app import paths

COREML = "CoreMLExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCE = (COREML, CUDA, CPU)

# Metadata keys written by FaceMirror's converters (app.convert.common); duplicated here as
# plain strings because the runtime must not import the converters' module tree.
META_UNTRAINED = "facemirror.untrained"
META_MODEL = "facemirror.model"


class ModelFileError(RuntimeError):
    """A model file is missing or unreadable. The message names the path and the fix."""


@dataclass
class Backend:
    """What runs a model, in words fit for a status bar and a report."""
    provider: str
    label: str
    threads: int
    fallback_reasons: list[str] = field(default_factory=list)
    untrained: bool = False
    model_name: str = ""
    provider_options: dict = field(default_factory=dict)

    def describe(self) -> str:
        text = self.label
        if self.untrained:
            text += " - UNTRAINED development model"
        return text

    def as_dict(self) -> dict:
        return {"provider": self.provider, "label": self.label, "threads": self.threads,
                "fallback_reasons": list(self.fallback_reasons), "untrained": self.untrained,
                "model": self.model_name, "provider_options": dict(self.provider_options)}


def default_threads() -> int:
    env = os.environ.get("FACEMIRROR_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def coreml_cache_dir() -> Path:
    return paths.user_cache_dir() / "coreml"


def coreml_options(cache_dir: Path | None = None) -> dict[str, str]:
    cache = cache_dir or coreml_cache_dir()
    return {
        "ModelFormat": "MLProgram",
        "MLComputeUnits": "ALL",
        "RequireStaticInputShapes": "1",
        "ModelCacheDirectory": str(cache),
    }


def provider_label(provider: str, threads: int) -> str:
    if provider == COREML:
        return "CoreML (MLProgram, all units)"
    if provider == CUDA:
        return "CUDA (GPU 0)"
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"


def provider_plan(available: Sequence[str], prefer: Sequence[str] | None = None) -> list[str]:
    """Providers to try, best first, restricted to what is available. CPU is always last."""
    order = list(prefer) if prefer else list(PREFERENCE)
    plan = [p for p in order if p in available and p != CPU]
    plan.append(CPU)
    return plan


# ONNX Runtime session settings, with what each gave on the 2-core AVX2 test machine
# (docs/performance.md has the measurements and commands). Only settings that measurably help
# are set; the rest stay at ONNX Runtime's defaults.
#   graph_optimization_level ALL: enables the NCHWc layout transformer (blocked convolutions)
#       on top of EXTENDED's fusions: STAR 218 ms vs 244 ms with EXTENDED (-11 %).
#   intra_op_num_threads = cores: STAR 218 ms with 2 threads vs 411 ms with 1.
#   sequential execution, inter_op 1: STAR is a chain; a parallel executor only adds threads.
#   session.intra_op.allow_spinning = 0: idle intra-op threads sleep instead of spin-waiting, so
#       they leave the cores to the pipeline's other threads (decode, mirror, encode) and to the
#       other intra-op thread when one is preempted: pipeline 4.15 vs 3.83 frames/s on a 720p
#       video (+8 %); STAR alone 220 vs 219 ms (no measurable cost), 2 % less CPU time.
# Tried and not kept (no measurable gain): enable_mem_pattern off (216 vs 218 ms), I/O binding
# with preallocated outputs (219 vs 219 ms), denormals-as-zero, dynamic_block_base 4, and saving
# the optimised model (session creation 0.13-0.2 s -> 0.04 s, once per run: not worth a cache of
# hardware-specific files; it would have to live in the user cache dir, never in the bundle).
SPIN_CONFIG_KEY = "session.intra_op.allow_spinning"


def cpu_session_config(threads: int) -> dict[str, object]:
    """The settings `cpu_session_options` applies, by name, for reports and benchmark printouts."""
    return {"graph_optimization_level": "ORT_ENABLE_ALL", "intra_op_num_threads": threads,
            "inter_op_num_threads": 1, "execution_mode": "ORT_SEQUENTIAL", SPIN_CONFIG_KEY: "0"}


def cpu_session_options(threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry(SPIN_CONFIG_KEY, "0")
    so.log_severity_level = 3  # warnings from providers are noise for a clinician
    return so


_session_options = cpu_session_options


def _default_factory(model_path: str, providers: list, threads: int):
    import onnxruntime as ort

    return ort.InferenceSession(model_path, sess_options=_session_options(threads), providers=providers)


def _read_metadata(session) -> dict[str, str]:
    try:
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception:  # noqa: BLE001 - metadata is informative only
        return {}


def check_model_file(model_path: str | os.PathLike, create_command: str = "") -> Path:
    """Raise ModelFileError with the path and the command that creates it if unusable."""
    p = Path(model_path)
    hint = f" Create it with: {create_command}" if create_command else ""
    if not p.exists():
        raise ModelFileError(f"model file not found: {p}.{hint}")
    if not p.is_file() or p.stat().st_size == 0:
        raise ModelFileError(f"model file is empty or not a file: {p}.{hint}")
    return p


def create_session(model_path: str | os.PathLike, *, threads: int | None = None,
                   prefer: Sequence[str] | None = None,
                   available_providers: Sequence[str] | None = None,
                   session_factory: Callable | None = None,
                   create_command: str = "",
                   cache_dir: Path | None = None):
    """Create an inference session on the best provider that initialises.

    Returns (session, Backend). Raises ModelFileError for a missing or corrupt model.
    """
    path = check_model_file(model_path, create_command)
    threads = threads or default_threads()
    if available_providers is None:
        import onnxruntime as ort
        available_providers = ort.get_available_providers()
    factory = session_factory or _default_factory

    reasons: list[str] = []
    for provider in provider_plan(available_providers, prefer):
        options: dict = {}
        if provider == COREML:
            options = coreml_options(cache_dir)
            Path(options["ModelCacheDirectory"]).mkdir(parents=True, exist_ok=True)
            providers = [(COREML, options), CPU]
        elif provider == CUDA:
            options = {"device_id": "0"}
            providers = [(CUDA, options), CPU]
        else:
            providers = [CPU]
        try:
            session = factory(str(path), providers, threads)
        except Exception as exc:  # noqa: BLE001 - any init failure means: try the next one
            if provider == CPU:
                hint = f" Recreate it with: {create_command}" if create_command else ""
                raise ModelFileError(f"cannot load model {path}: {exc}.{hint}") from exc
            reasons.append(f"{provider} failed to initialise: {exc}")
            continue
        # ORT may silently drop a provider it could not register; trust the session's own list.
        get_providers = getattr(session, "get_providers", None)
        active = list(get_providers()) if get_providers is not None else [provider]
        if provider != CPU and active and active[0] != provider:
            reasons.append(f"{provider} was not registered by ONNX Runtime (active: {', '.join(active)})")
            provider, options = CPU, {}
        meta = _read_metadata(session)
        backend = Backend(provider=provider, label=provider_label(provider, threads), threads=threads,
                          fallback_reasons=reasons, untrained=meta.get(META_UNTRAINED, "").lower() == "true",
                          model_name=meta.get(META_MODEL, ""), provider_options=options)
        return session, backend
    raise AssertionError("unreachable: CPU is always in the plan")
