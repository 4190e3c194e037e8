"""Model files in the bundle: where they come from, the one manifest bundled with them, STAR or
an explicit detector-only build, pinned release inputs, and build_info.json's facts.

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from app.engine.runtime import META_SOURCE_SHA, META_UNTRAINED
from app.base.model_files import MANIFEST_NAME, STAR_FILE, sha256_file

# Environment variables the spec reads for the models.
ENV_WEIGHTS_DIR = "FACEMIRROR_SPEC_WEIGHTS_DIR"        # take models from this folder instead of weights/
ENV_REQUIRE_MODELS = "FACEMIRROR_SPEC_REQUIRE_MODELS"  # 1: fail unless every required model is bundled
ENV_ALLOW_UNTRAINED = "FACEMIRROR_SPEC_ALLOW_UNTRAINED"  # 1: allow random-weight dev models in a release
ENV_DETECTOR_ONLY = "FACEMIRROR_SPEC_DETECTOR_ONLY"    # 1: build without STAR on purpose (said in the app)
ENV_CHECKPOINT_SHA_PREFIX = "FACEMIRROR_SPEC_CHECKPOINT_SHA256_"  # + STAR / RETINAFACE: pinned checkpoint

WEIGHTS_DEST = "weights"  # folder inside the bundle; app/base/paths.py looks in sys._MEIPASS/weights


def env_flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def weights_source_dir(repo: Path, env: Mapping[str, str]) -> Path:
    override = env.get(ENV_WEIGHTS_DIR, "").strip()
    return Path(override).expanduser().resolve() if override else Path(repo) / "weights"


def load_manifest(path: Path) -> dict:
    import json

    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def weights_datas(weights_dir: Path, repo_weights_dir: Path) -> list[tuple[str, str]]:
    """(source, 'weights') pairs: every *.onnx of weights_dir and the models' licence texts.

    The manifest is not among them: the spec writes the merged one (bundle_manifest) itself.
    """
    weights_dir, repo_weights_dir = Path(weights_dir), Path(repo_weights_dir)
    datas = [(str(p), WEIGHTS_DEST) for p in sorted(weights_dir.glob("*.onnx")) if p.is_file()]
    # The models' licence texts (e.g. weights/LICENSE-retinaface.txt) travel with the models.
    licences = {p.name: p for d in (repo_weights_dir, weights_dir) for p in sorted(d.glob("LICENSE*")) if p.is_file()}
    datas += [(str(p), WEIGHTS_DEST) for _, p in sorted(licences.items())]
    return datas


def merge_manifests(repo: Mapping, converted: Mapping | None) -> dict:
    """The one manifest a bundle carries: the repository's, with a model folder's entries over it.

    `convert star --out DIR/...` writes DIR/manifest.json listing only what it converted; bundling
    that file alone made the frozen app fail with "no model 'retinaface'". Every model and
    checkpoint of the repository's manifest stays; an entry of the converted folder's manifest
    replaces the repository's fields it sets (its `converted` records are merged, not replaced).
    """
    import copy

    merged = copy.deepcopy(dict(repo))
    if not converted:
        return merged
    models = merged.setdefault("models", {})
    for key, entry in converted.get("models", {}).items():
        base = models.get(key, {})
        new = {**base, **copy.deepcopy(entry)}
        new["converted"] = {**base.get("converted", {}), **entry.get("converted", {})}
        models[key] = new
    checkpoints = merged.setdefault("checkpoints", {})
    for key, ck in converted.get("checkpoints", {}).items():
        checkpoints[key] = {**checkpoints.get(key, {}), **ck}
    return merged


def bundle_manifest(weights_dir: Path, repo_weights_dir: Path) -> dict:
    """merge_manifests of the repository's weights/manifest.json and weights_dir's (if any)."""
    repo_file = Path(repo_weights_dir) / MANIFEST_NAME
    repo = load_manifest(repo_file) if repo_file.is_file() else {"models": {}, "checkpoints": {}}
    other = Path(weights_dir) / MANIFEST_NAME
    if other.is_file() and other.resolve() != repo_file.resolve():
        return merge_manifests(repo, load_manifest(other))
    return merge_manifests(repo, None)


def missing_required_models(datas: Sequence[tuple[str, str]], manifest: dict) -> list[tuple[str, str]]:
    """(file name, create command) of required manifest models that datas does not carry."""
    bundled = {Path(src).name for src, _ in datas}
    out = []
    for entry in manifest.get("models", {}).values():
        if entry.get("required", True) and entry["file"] not in bundled:
            out.append((entry["file"], entry.get("create", "")))
    return out


def model_is_untrained(path: Path) -> bool:
    """True for development models (metadata facemirror.untrained=true), read with ONNX Runtime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    return str(meta.get(META_UNTRAINED, "")).lower() == "true"


def star_rule(datas: Sequence[tuple[str, str]], env: Mapping[str, str]) -> tuple[bool, str | None]:
    """(detector_only, error). A build carries STAR unless the builder asked for detector-only."""
    has_star = any(Path(src).name == STAR_FILE for src, _ in datas)
    wants_detector_only = env_flag(env, ENV_DETECTOR_ONLY)
    if has_star:
        return False, None  # STAR present: a full build, whatever the flag says
    if wants_detector_only:
        return True, None
    return False, (f"{STAR_FILE} is not in the models folder, so the app would only have the face detector "
                   "(coarse 5-point midline). Put the STAR model in weights/ (`python main.py models fetch`), "
                   f"or set {ENV_DETECTOR_ONLY}=1 to build a detector-only app on purpose (it says so in "
                   "its status bar, diagnostic info and self-test).")


def model_key_by_file(manifest: Mapping) -> dict[str, str]:
    return {entry["file"]: key for key, entry in manifest.get("models", {}).items()}


def pinned_checkpoint_sha(key: str, manifest: Mapping, env: Mapping[str, str]) -> str | None:
    """The checkpoint sha256 a release must have been converted from: env first, then manifest."""
    value = env.get(ENV_CHECKPOINT_SHA_PREFIX + key.upper(), "").strip().lower()
    if value:
        return value
    ck = manifest.get("checkpoints", {}).get(key, {}) or {}
    return (ck.get("sha256") or "").strip().lower() or None


def check_pinned_models(model_paths: Sequence[Path], manifest: Mapping, env: Mapping[str, str],
                        read_meta: Callable[[Path], Mapping[str, str]],
                        sha_of: Callable[[Path], str]) -> tuple[list[str], list[str]]:
    """(errors, notes) for a release: every bundled model verified against a pinned sha256.

    A model whose manifest entry has a `sha256` (a committed ONNX file) must be exactly that file.
    Any other model must say (metadata facemirror.source_sha256) that it was converted from the
    checkpoint whose sha256 is pinned (FACEMIRROR_SPEC_CHECKPOINT_SHA256_<KEY> or the manifest).
    Untrained development models are only accepted with FACEMIRROR_SPEC_ALLOW_UNTRAINED (test builds).
    """
    keys = model_key_by_file(manifest)
    errors, notes = [], []
    for path in model_paths:
        path = Path(path)
        key = keys.get(path.name)
        if key is None:
            errors.append(f"{path.name}: not listed in weights/manifest.json")
            continue
        meta = read_meta(path)
        if str(meta.get(META_UNTRAINED, "")).lower() == "true":
            if env_flag(env, ENV_ALLOW_UNTRAINED):
                notes.append(f"{path.name}: untrained development model accepted ({ENV_ALLOW_UNTRAINED}=1)")
            else:
                errors.append(f"{path.name}: untrained development model (random weights); set "
                              f"{ENV_ALLOW_UNTRAINED}=1 for a test build")
            continue
        file_sha = (manifest["models"][key].get("sha256") or "").lower()
        if file_sha:
            actual = sha_of(path)
            if actual != file_sha:
                errors.append(f"{path.name}: sha256 {actual} is not the manifest's {file_sha}")
            else:
                notes.append(f"{path.name}: sha256 matches the manifest")
            continue
        # The live model is made from STAR's checkpoint: the pin is the checkpoint's, not the model's.
        ck_key = manifest["models"][key].get("source_checkpoint") or key
        pinned = pinned_checkpoint_sha(ck_key, manifest, env)
        source = str(meta.get(META_SOURCE_SHA, "")).lower()
        if not pinned:
            errors.append(f"{path.name}: no pinned checkpoint sha256; a release must name the checkpoint it ships "
                          f"(set {ENV_CHECKPOINT_SHA_PREFIX}{ck_key.upper()} or checkpoints.{ck_key}.sha256 in the "
                          "manifest)")
        elif source != pinned:
            errors.append(f"{path.name}: converted from a checkpoint with sha256 {source or 'unknown'}, "
                          f"not the pinned {pinned}")
        else:
            notes.append(f"{path.name}: converted from the pinned checkpoint {pinned[:12]}...")
    return errors, notes


def model_metadata(path: Path) -> dict[str, str]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(sess.get_modelmeta().custom_metadata_map)


def file_sha256(path: Path) -> str:
    return sha256_file(path)


def build_info(version: str, detector_only: bool, model_files: Sequence[str]) -> dict:
    """What the app learns about its build (read by app/base/build_info.py)."""
    return {"version": version, "detector_only": detector_only, "models": sorted(model_files)}
