"""The one place that creates ONNX Runtime sessions and chooses the backend.

Preference: CoreML -> CUDA -> CPU, among the providers this onnxruntime build actually has.
CoreML runs as an MLProgram on all compute units with static input shapes; its compiled model
cache lives in the user's cache folder (the app bundle is signed and read-only), in a sub-folder
per (model sha256, ONNX Runtime version): ONNX Runtime cannot tell whether a cached compiled model
still matches the file at a path (it keys the cache by the model's path unless the model carries
COREML_CACHE_KEY metadata), so a new model or an ONNX Runtime upgrade must never find an old entry.
A provider that fails to initialise, or a cache folder that cannot be written, is skipped and the
reason kept, so the status bar and the report can say why the app runs on the CPU.

`available_providers` and `session_factory` are injectable so that the selection logic can be
tested on machines without CoreML or CUDA.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from app.base.wording import plural
from app.base import paths
from app.base.model_files import sha256_file

COREML = "CoreMLExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCE = (COREML, CUDA, CPU)

# Metadata keys written by FaceMirror's converters (app.convert.common); duplicated here as
# plain strings because the runtime must not import the converters' module tree.
# Metadata keys our converters write into every model (one home; app/convert imports them).
META_UNTRAINED = "facemirror.untrained"
META_MODEL = "facemirror.model"
META_SOURCE = "facemirror.source_checkpoint"
META_SOURCE_SHA = "facemirror.source_sha256"
# STAR models: how many of the 4 hourglass stacks the file runs (an early-exit model has fewer)
META_STAR_STACKS = "facemirror.star_stacks"
# ONNX Runtime's own key for the CoreML compiled-model cache (coreml_execution_provider.cc reads it
# from the model's metadata_props): with it, the compiled model is stored under
# ModelCacheDirectory/<key>/ instead of a hash of the model's *path*, so moving or translocating
# the app finds the compilation again. ORT ignores (logs an error for) a key that is not 1-64
# ASCII letters and digits.
META_COREML_CACHE_KEY = "COREML_CACHE_KEY"
COREML_CACHE_KEY_MAX = 64


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
    fallback_note: str = ""  # short reason a better provider was not used, for the status bar

    def describe(self) -> str:
        text = self.label
        if self.fallback_note:
            text += f" ({self.fallback_note})"
        if self.untrained:
            text += " - UNTRAINED development model"
        return text

    def as_dict(self) -> dict:
        return {"provider": self.provider, "label": self.label, "threads": self.threads,
                "fallback_reasons": list(self.fallback_reasons), "untrained": self.untrained,
                "model": self.model_name, "provider_options": dict(self.provider_options),
                "fallback_note": self.fallback_note}


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


_sha_memo: dict[tuple[str, int, int], str] = {}


def model_sha256(path: Path) -> str:
    """sha256 of a model file, hashed once per process for an unchanged (size, mtime) file."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_memo:
        _sha_memo[key] = sha256_file(path)
    return _sha_memo[key]


def onnxruntime_version() -> str:
    import onnxruntime as ort

    return str(ort.__version__)


def coreml_cache_key(model_sha256_hex: str, ort_version: str) -> str:
    """Name of the cache sub-folder: what the compiled model depends on, and nothing else."""
    safe_version = "".join(c if c.isalnum() or c in ".-_" else "_" for c in ort_version)
    return f"{model_sha256_hex}-ort{safe_version}"


def coreml_metadata_cache_key(model_content_sha256: str, ort_version: str) -> str:
    """The COREML_CACHE_KEY value: sha256 over (the model's content sha256, the ONNX Runtime
    version) as 64 lowercase hex digits, what ORT accepts. The content sha256 is that of the model
    without this key (app.convert.common.model_content_sha256), so a model never keys itself."""
    import hashlib

    return hashlib.sha256(f"{model_content_sha256}:onnxruntime-{ort_version}".encode()).hexdigest()


def valid_coreml_cache_key(key: str) -> bool:
    """ORT's rule: 1 to 64 characters, every one an ASCII letter or digit."""
    return 0 < len(key) <= COREML_CACHE_KEY_MAX and key.isascii() and key.isalnum()


_CACHE_KEY_RE = re.compile(r"^[0-9a-f]{64}-ort(?P<ort>[A-Za-z0-9._-]+)$")
# A compiled model not used for this long is removed (it is rebuilt in seconds if needed again).
COREML_CACHE_MAX_AGE_S = 60 * 24 * 3600


def prune_coreml_cache(root: Path, ort_version: str, keep: str = "", now: float | None = None) -> list[str]:
    """Remove cache sub-folders no session can use any more: those of another ONNX Runtime
    version (an upgrade never reads them) and those unused for COREML_CACHE_MAX_AGE_S. Only
    folders named like coreml_cache_key's are touched; `keep` is never removed. Returns the
    names removed; a folder that cannot be removed is left for the next start."""
    import shutil
    import time

    current = coreml_cache_key("0" * 64, ort_version).split("-ort", 1)[1]
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(Path(root).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _CACHE_KEY_RE.match(entry.name)
        if not m or entry.name == keep or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            stale = m.group("ort") != current or now - entry.stat().st_mtime > COREML_CACHE_MAX_AGE_S
            if stale:
                shutil.rmtree(entry)
                removed.append(entry.name)
        except OSError:
            continue
    return removed


class CacheFolderError(OSError):
    """The CoreML cache folder cannot be created or written."""


def prepare_cache_folder(folder: Path) -> Path:
    """Create the folder and prove it is writable (an existing read-only folder passes mkdir)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CacheFolderError(f"the CoreML model cache folder {folder} is not writable "
                               f"({exc.strerror or exc})") from exc
    return folder


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
    return f"CPU, {plural(threads, 'thread')}"


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
                   cache_dir: Path | None = None,
                   ort_version: str | None = None):
    """Create an inference session on the best provider that initialises.

    cache_dir is the CoreML cache root; the session gets its (model sha256, ORT version)
    sub-folder. Returns (session, Backend). Raises ModelFileError for a missing or corrupt model.
    """
    path = check_model_file(model_path, create_command)
    threads = threads or default_threads()
    if available_providers is None:
        import onnxruntime as ort
        available_providers = ort.get_available_providers()
    factory = session_factory or _default_factory

    reasons: list[str] = []
    note = ""
    for provider in provider_plan(available_providers, prefer):
        try:
            providers, options = _providers_for(provider, path, cache_dir, ort_version)
        except CacheFolderError as exc:
            reasons.append(f"{COREML} not used: {exc}")
            note = note or "CoreML off: its model cache folder is unusable"
            continue
        try:
            session = factory(str(path), providers, threads)
        except Exception as exc:  # noqa: BLE001 - any init failure means: try the next one
            if provider == CPU:
                hint = f" Recreate it with: {create_command}" if create_command else ""
                raise ModelFileError(f"cannot load model {path}: {exc}.{hint}") from exc
            reasons.append(f"{provider} failed to initialise: {exc}")
            note = note or f"{short_name(provider)} failed to start"
            continue
        return session, _backend_of(session, provider, options, threads, reasons, note)
    raise AssertionError("unreachable: CPU is always in the plan")


def _providers_for(provider: str, path: Path, cache_dir: Path | None,
                   ort_version: str | None) -> tuple[list, dict]:
    """(the providers list for ORT, the chosen provider's options); CPU always last as the fallback.
    Raises CacheFolderError when CoreML's cache folder is unusable."""
    if provider == COREML:
        options = coreml_options(_coreml_cache_for(path, cache_dir, ort_version))
        return [(COREML, options), CPU], options
    if provider == CUDA:
        options = {"device_id": "0"}
        return [(CUDA, options), CPU], options
    return [CPU], {}


def _backend_of(session, provider: str, options: dict, threads: int, reasons: list[str], note: str) -> Backend:
    """The Backend a created session actually runs on."""
    # ORT may silently drop a provider it could not register; trust the session's own list.
    get_providers = getattr(session, "get_providers", None)
    active = list(get_providers()) if get_providers is not None else [provider]
    if provider != CPU and active and active[0] != provider:
        reasons.append(f"{provider} was not registered by ONNX Runtime (active: {', '.join(active)})")
        note = note or f"{short_name(provider)} not registered"
        provider, options = CPU, {}
    meta = _read_metadata(session)
    return Backend(provider=provider, label=provider_label(provider, threads), threads=threads,
                   fallback_reasons=reasons, untrained=meta.get(META_UNTRAINED, "").lower() == "true",
                   model_name=meta.get(META_MODEL, ""), provider_options=options,
                   fallback_note=note if provider == CPU else "")


def short_name(provider: str) -> str:
    """A provider as people name it: "CoreML" for CoreMLExecutionProvider."""
    return provider.replace("ExecutionProvider", "")


def _coreml_cache_for(path: Path, cache_root: Path | None, ort_version: str | None) -> Path:
    """The (model sha256, ORT version) sub-folder of the CoreML cache, created and writable."""
    try:
        digest = model_sha256(path)
    except OSError as exc:
        raise CacheFolderError(f"cannot hash {path} for the CoreML cache key ({exc})") from exc
    version = ort_version or onnxruntime_version()
    key = coreml_cache_key(digest, version)
    root = cache_root or coreml_cache_dir()
    folder = prepare_cache_folder(root / key)
    try:
        os.utime(folder)  # its age is the time since last use (what pruning reads)
    except OSError:
        pass
    prune_coreml_cache(root, version, keep=key)
    return folder
