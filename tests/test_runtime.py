"""Backend selection, tested with the provider list injected (CoreML and CUDA cannot run here)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from app.engine import runtime


class FakeSession:
    def __init__(self, providers, meta=None):
        self._providers = [p[0] if isinstance(p, tuple) else p for p in providers]
        self._meta = meta or {}

    def get_providers(self):
        return self._providers

    def get_modelmeta(self):
        return type("Meta", (), {"custom_metadata_map": self._meta})()


class Recorder:
    """Session factory that records what it was asked and fails for chosen providers."""

    def __init__(self, fail=(), meta=None, drop=()):
        self.calls = []
        self.fail = set(fail)
        self.meta = meta
        self.drop = set(drop)

    def __call__(self, path, providers, threads):
        self.calls.append((path, providers, threads))
        first = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
        if first in self.fail:
            raise RuntimeError(f"{first} init exploded")
        active = [p for p in providers if (p[0] if isinstance(p, tuple) else p) not in self.drop]
        return FakeSession(active, self.meta)


@pytest.fixture
def model_file(tmp_path) -> Path:
    p = tmp_path / "m.onnx"
    p.write_bytes(b"not empty")
    return p


def test_coreml_listed_is_chosen_with_mlprogram_all_units_static_and_user_cache(model_file, tmp_path):
    rec = Recorder()
    cache = tmp_path / "cache" / "coreml"
    _, backend = runtime.create_session(model_file, threads=2, session_factory=rec, cache_dir=cache,
                                        available_providers=["CoreMLExecutionProvider", "CPUExecutionProvider"])
    assert backend.provider == runtime.COREML
    assert backend.label == "CoreML (MLProgram, all units)"
    providers = rec.calls[0][1]
    name, opts = providers[0]
    assert name == runtime.COREML
    assert opts["ModelFormat"] == "MLProgram"
    assert opts["MLComputeUnits"] == "ALL"
    assert opts["RequireStaticInputShapes"] == "1"
    # The cache folder is a sub-folder keyed by the model's sha256 and the ONNX Runtime version.
    sub = Path(opts["ModelCacheDirectory"])
    assert sub.parent == cache and sub.is_dir()
    assert sub.name == runtime.coreml_cache_key(runtime.model_sha256(model_file), runtime.onnxruntime_version())
    assert providers[-1] == runtime.CPU  # CPU stays as the fallback for nodes CoreML leaves
    assert backend.fallback_reasons == []


def test_coreml_cache_defaults_to_user_cache_dir_not_bundle(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEMIRROR_CACHE_DIR", str(tmp_path / "userCache"))
    opts = runtime.coreml_options()
    assert opts["ModelCacheDirectory"] == str(tmp_path / "userCache" / "coreml")


def _coreml_fallback(model_file, rec: Recorder, threads: int):
    """A session where CoreML is offered first and does not work: the backend, which must be CPU."""
    _, backend = runtime.create_session(model_file, threads=threads, session_factory=rec,
                                        available_providers=[runtime.COREML, runtime.CPU])
    assert backend.provider == runtime.CPU
    return backend


def test_coreml_init_failure_falls_back_to_cpu_with_reason(model_file):
    rec = Recorder(fail={runtime.COREML})
    backend = _coreml_fallback(model_file, rec, threads=2)
    assert backend.label == "CPU, 2 threads"
    assert len(backend.fallback_reasons) == 1
    assert "CoreML" in backend.fallback_reasons[0] and "exploded" in backend.fallback_reasons[0]
    assert [c[1][0] if isinstance(c[1][0], str) else c[1][0][0] for c in rec.calls] == [runtime.COREML, runtime.CPU]


def test_coreml_silently_dropped_by_ort_is_reported(model_file):
    backend = _coreml_fallback(model_file, Recorder(drop={runtime.COREML}), threads=1)
    assert backend.label == "CPU, 1 thread"
    assert "not registered" in backend.fallback_reasons[0]


def test_cpu_only(model_file):
    rec = Recorder()
    _, backend = runtime.create_session(model_file, threads=2, session_factory=rec,
                                        available_providers=[runtime.CPU])
    assert backend.provider == runtime.CPU
    assert rec.calls[0][1] == [runtime.CPU]


def test_preference_order_coreml_then_cuda_then_cpu():
    assert runtime.provider_plan([runtime.CPU, runtime.CUDA, runtime.COREML]) == [runtime.COREML, runtime.CUDA, runtime.CPU]
    assert runtime.provider_plan([runtime.CUDA, runtime.CPU]) == [runtime.CUDA, runtime.CPU]
    # Providers we do not know (e.g. Azure) are never picked.
    assert runtime.provider_plan(["AzureExecutionProvider", runtime.CPU]) == [runtime.CPU]


def test_cuda_failure_then_cpu(model_file):
    rec = Recorder(fail={runtime.CUDA})
    _, backend = runtime.create_session(model_file, threads=2, session_factory=rec,
                                        available_providers=[runtime.CUDA, runtime.CPU])
    assert backend.provider == runtime.CPU
    assert "CUDA" in backend.fallback_reasons[0]


def test_untrained_metadata_is_reported(model_file):
    rec = Recorder(meta={"facemirror.untrained": "true", "facemirror.model": "star-wflw-98"})
    _, backend = runtime.create_session(model_file, threads=2, session_factory=rec,
                                        available_providers=[runtime.CPU])
    assert backend.untrained
    assert "UNTRAINED" in backend.describe()
    assert backend.model_name == "star-wflw-98"


def _refusal_names_path_and_command(model: Path) -> None:
    with pytest.raises(runtime.ModelFileError) as exc:
        runtime.create_session(model, create_command="python main.py convert star X")
    assert str(model) in str(exc.value)
    assert "python main.py convert star X" in str(exc.value)


def test_missing_model_names_path_and_command(tmp_path):
    _refusal_names_path_and_command(tmp_path / "nope.onnx")


def test_corrupt_model_names_path_and_command_with_real_onnxruntime(tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x00garbage" * 100)
    _refusal_names_path_and_command(bad)


def test_empty_model_file(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(runtime.ModelFileError, match="empty"):
        runtime.create_session(empty)


# ---- CoreML cache key (provider facts injected: CoreML cannot run here)

def _coreml_cache_used(model_file, cache, ort_version="1.32.0") -> Path:
    rec = Recorder()
    runtime.create_session(model_file, threads=1, session_factory=rec, cache_dir=cache, ort_version=ort_version,
                           available_providers=[runtime.COREML, runtime.CPU])
    return Path(rec.calls[0][1][0][1]["ModelCacheDirectory"])


def test_coreml_cache_changed_model_at_same_path_never_reuses_the_old_entry_injected_providers(tmp_path):
    model = tmp_path / "weights" / "star_landmark_98.onnx"
    model.parent.mkdir()
    cache = tmp_path / "cache"
    model.write_bytes(b"model version 1")
    first = _coreml_cache_used(model, cache)
    (first / "compiled.mlmodelc").mkdir()  # what CoreML would leave behind
    assert _coreml_cache_used(model, cache) == first  # same bytes: the compiled model is reused
    # An update replaces the file at the same path (same size, even the same mtime).
    st = model.stat()
    model.write_bytes(b"model version 2")
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    runtime._sha_memo.clear()  # a new process (an app update restarts the app)
    second = _coreml_cache_used(model, cache)
    assert second != first and second.parent == cache
    assert not (second / "compiled.mlmodelc").exists()
    assert hashlib.sha256(b"model version 2").hexdigest() in second.name


def test_coreml_cache_changed_model_within_one_process_is_rehashed(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"A" * 100)
    first = _coreml_cache_used(model, tmp_path / "cache")
    model.write_bytes(b"B" * 101)
    assert _coreml_cache_used(model, tmp_path / "cache") != first


def test_coreml_cache_onnxruntime_upgrade_gets_a_new_entry_injected_providers(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"same model")
    old = _coreml_cache_used(model, tmp_path / "cache", "1.32.0")
    new = _coreml_cache_used(model, tmp_path / "cache", "1.33.1")
    assert old != new and old.name.endswith("-ort1.32.0") and new.name.endswith("-ort1.33.1")


def test_unusable_coreml_cache_folder_falls_back_to_cpu_with_reason_for_status_bar(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    blocker = tmp_path / "cache"
    blocker.write_bytes(b"a file where the cache folder should be")  # mkdir fails, even as root
    rec = Recorder()
    _, backend = runtime.create_session(model, threads=2, session_factory=rec, cache_dir=blocker,
                                        available_providers=[runtime.COREML, runtime.CPU])
    assert backend.provider == runtime.CPU
    assert [c[1] for c in rec.calls] == [[runtime.CPU]]  # CoreML was never started without a cache
    assert "not writable" in backend.fallback_reasons[0] and str(blocker) in backend.fallback_reasons[0]
    assert backend.describe() == "CPU, 2 threads (CoreML off: its model cache folder is unusable)"
    assert backend.as_dict()["fallback_note"] == backend.fallback_note


def test_prepare_cache_folder_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    target = tmp_path / "c"

    def no_write(self, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", no_write)  # injected: tests may run as root
    with pytest.raises(runtime.CacheFolderError, match="Permission denied"):
        runtime.prepare_cache_folder(target)


def test_coreml_init_failure_is_named_in_describe(model_file, tmp_path):
    rec = Recorder(fail={runtime.COREML})
    _, backend = runtime.create_session(model_file, threads=1, session_factory=rec, cache_dir=tmp_path / "c",
                                        available_providers=[runtime.COREML, runtime.CPU])
    assert backend.describe() == "CPU, 1 thread (CoreML failed to start)"


def test_coreml_cache_pruning_removes_other_ort_versions_and_unused_entries_only(tmp_path):
    import time

    from app.engine import runtime

    now = time.time()
    current = runtime.coreml_cache_key("a" * 64, "1.32.0")
    recent_other_model = runtime.coreml_cache_key("b" * 64, "1.32.0")
    old_unused = runtime.coreml_cache_key("c" * 64, "1.32.0")
    old_ort = runtime.coreml_cache_key("d" * 64, "1.31.1")
    for name in (current, recent_other_model, old_unused, old_ort, "not-ours"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.mlmodelc").write_bytes(b"x")
    old = now - runtime.COREML_CACHE_MAX_AGE_S - 3600
    os.utime(tmp_path / old_unused, (old, old))
    os.utime(tmp_path / current, (old, old))  # in use right now: kept whatever its age
    removed = runtime.prune_coreml_cache(tmp_path, "1.32.0", keep=current, now=now)
    assert sorted(removed) == sorted([old_unused, old_ort])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([current, recent_other_model, "not-ours"])
    assert runtime.prune_coreml_cache(tmp_path / "missing", "1.32.0") == []
