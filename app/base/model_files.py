"""The model files the app expects, read from weights/manifest.json.

The manifest is the single list of model files: their names, where they come from, the command
that creates them and, once known, their sha256. Converters record the sha256 of what they write
into the manifest that sits beside their output.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.base import paths

MANIFEST_NAME = "manifest.json"

STAR_KEY = "star"
RETINAFACE_KEY = "retinaface"
# STAR cut after its second of four hourglass stacks (each stack is trained with its own landmark
# loss): about half the compute, for the live exam's panes only; recordings always get full STAR
STAR_LIVE_KEY = "star_live"
STAR_STACKS = 4         # STAR WFLW's hourglass stacks: the full model, as the checkpoint has them
STAR_LIVE_STACKS = 2

# The model files' names and the commands that create them, for code that names them without
# reading the manifest (messages, command-line defaults, the bundle spec); tests check that
# weights/manifest.json says the same.
STAR_FILE = "star_landmark_98.onnx"
RETINAFACE_FILE = "retinaface_mobilenet025.onnx"
STAR_LIVE_FILE = "star_landmark_98_live.onnx"
STAR_CREATE_COMMAND = f"python main.py convert star weights/Landmark_98.pkl --out weights/{STAR_FILE}"
STAR_LIVE_CREATE_COMMAND = (f"python main.py convert star weights/Landmark_98.pkl --stacks {STAR_LIVE_STACKS} "
                            f"--out weights/{STAR_LIVE_FILE}")
RETINAFACE_CREATE_COMMAND = ("python main.py convert retinaface weights/Alignment_RetinaFace.pth "
                             f"--out weights/{RETINAFACE_FILE}")

# What an absent optional model (manifest "required": false) means: said as information, never
# as a problem (processing files does not need it).
ABSENT_OPTIONAL = {STAR_LIVE_KEY: "the live exam's panes use full STAR, which is slower"}

# The report's `models.landmark_model`: which landmarks a run used (data in saved reports, which
# the verdict re-reads: keep these values; front ends call the second "5-point mode").
LANDMARKS_STAR = "STAR 98-point"
LANDMARKS_5POINT = "5-point fallback"

# Where the official checkpoints are published (OpenFace 3.0's Hugging Face repository).
WEIGHTS_REPO = "nutPace/openface_weights"
WEIGHTS_REPO_URL = f"https://huggingface.co/{WEIGHTS_REPO}"
WEIGHTS_DOWNLOAD_URL = f"{WEIGHTS_REPO_URL}/resolve/main"


@dataclass(frozen=True)
class ModelFile:
    key: str
    filename: str
    description: str
    create_command: str
    required: bool


def star_stack_count(stacks: int | None, total: int = STAR_STACKS) -> int:
    """How many of STAR's hourglass stacks to run or convert: all of them for None; ValueError
    unless a whole number from 1 to ``total`` (here, without torch, for the converter's message)."""
    if stacks is None:
        return total
    if isinstance(stacks, bool) or not isinstance(stacks, int) or not 1 <= stacks <= total:
        raise ValueError(f"the number of stacks must be a whole number from 1 to {total} (STAR has {total} "
                         f"hourglass stacks), not {stacks!r}")
    return stacks


def manifest_path() -> Path:
    return paths.repo_weights_dir() / MANIFEST_NAME


def load_manifest(path: Path | None = None) -> dict:
    path = path or manifest_path()
    if not path.exists():
        return {"models": {}, "checkpoints": {}}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def expected_models(manifest: dict | None = None) -> list[ModelFile]:
    manifest = manifest if manifest is not None else load_manifest()
    out = []
    for key, entry in manifest.get("models", {}).items():
        out.append(ModelFile(key=key, filename=entry["file"], description=entry.get("description", ""),
                             create_command=entry.get("create", ""), required=bool(entry.get("required", True))))
    return out


def models_from_checkpoint(checkpoint_key: str, models: dict | None = None) -> list[str]:
    """Keys of the models made from one checkpoint, in manifest order: STAR's makes full STAR and
    the live model. models: a manifest's "models" (default the project's)."""
    models = models if models is not None else load_manifest().get("models", {})
    return [key for key, entry in models.items() if entry.get("source_checkpoint", key) == checkpoint_key]


def models_sharing_checkpoint(key: str) -> list[str]:
    """The other models made from the checkpoint model `key` is made from (for STAR: the live model)."""
    models = load_manifest().get("models", {})
    checkpoint = models.get(key, {}).get("source_checkpoint", key)
    return [k for k in models_from_checkpoint(checkpoint, models) if k != key]


def model_entry(key: str) -> ModelFile:
    for m in expected_models():
        if m.key == key:
            return m
    raise KeyError(f"no model '{key}' in {manifest_path()}")


def find_model(key: str) -> Path | None:
    """First existing file for a model key in the weights search folders, else None."""
    entry = model_entry(key)
    for d in paths.weights_search_dirs():
        candidate = d / entry.filename
        if candidate.is_file():
            return candidate
    return None


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the manifest is an ordinary project file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def record_converted(model_path: Path, key: str, info: dict) -> Path:
    """Record a converted model's sha256 (and conversion facts) in the manifest beside it.

    Writing to weights/ updates the project's manifest; converting into any other folder writes
    (or updates) a manifest.json in that folder, so test conversions never touch the project's.
    """
    target = model_path.parent / MANIFEST_NAME
    data = load_manifest(target)
    if target != manifest_path() and not data.get("models"):
        # A fresh folder: start from the project's list so the entry carries its description.
        base = load_manifest()
        data = {"models": {}, "checkpoints": base.get("checkpoints", {})}
    models = data.setdefault("models", {})
    entry = models.setdefault(key, dict(load_manifest().get("models", {}).get(key, {})))
    entry["file"] = entry.get("file") or model_path.name
    converted = entry.setdefault("converted", {})
    converted[model_path.name] = {"sha256": sha256_file(model_path), **info}
    write_json_atomic(target, data)
    return target


def record_checkpoint_sha(key: str, sha: str, manifest: Path | None = None) -> None:
    target = manifest or manifest_path()
    data = load_manifest(target)
    ck = data.setdefault("checkpoints", {}).setdefault(key, {})
    if not ck.get("sha256"):
        ck["sha256"] = sha
        write_json_atomic(target, data)
