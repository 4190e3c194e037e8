"""Checkpoints that cannot be converted are explained in plain words by both converters' loaders:
not a checkpoint, a checkpoint of another network, a truncated or empty file, a checkpoint with
Python objects that safe loading refuses. The loader's internals never reach the user, and
nothing advises turning safe loading off."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="converter extras (torch) not installed")

from app.convert.common import ConvertError, explain_unreadable_checkpoint  # noqa: E402
from app.convert.nets import retinaface as rf  # noqa: E402
from app.convert.nets.star import CheckpointError, StarWFLW, load_star_checkpoint  # noqa: E402
from app.convert.retinaface import build_model  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Words of torch's, pickle's and the zip reader's own messages that must not reach the user.
INTERNALS = ("weights_only", "Unpickl", "unpickl", "pickle protocol", "PytorchStreamReader", "central directory",
             "miniz", "enforce fail", "inline_container", "Traceback", "GLOBAL", "KeyError")


def _star_error(path: Path) -> str:
    with pytest.raises(CheckpointError) as err:
        load_star_checkpoint(path)
    return str(err.value)


def _retinaface_error(path: Path) -> str:
    with pytest.raises(ConvertError) as err:
        build_model(path, random_weights=False, seed=0)
    return str(err.value)


LOADERS = {"star": _star_error, "retinaface": _retinaface_error}


def _plain(msg: str, path: Path) -> str:
    assert str(path) in msg, msg
    assert not [w for w in INTERNALS if w in msg], msg
    return msg


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("checkpoints")
    out = {}
    small = {"a.weight": torch.zeros(3, 3), "b.weight": torch.ones(50_000)}
    torch.save({"net": small}, d / "good_archive.pth")
    data = (d / "good_archive.pth").read_bytes()
    (d / "truncated.pth").write_bytes(data[: len(data) // 2])
    out["truncated"] = d / "truncated.pth"
    torch.save({"net": small}, d / "legacy.pth", _use_new_zipfile_serialization=False)
    legacy = (d / "legacy.pth").read_bytes()
    (d / "legacy_truncated.pth").write_bytes(legacy[: len(legacy) // 2])
    out["legacy_truncated"] = d / "legacy_truncated.pth"
    (d / "empty.pkl").write_bytes(b"")
    out["empty"] = d / "empty.pkl"
    (d / "notes.pkl").write_text("Landmark model, see the release page for the real file\n")
    out["text"] = d / "notes.pkl"
    (d / "page.pth").write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n")
    out["html"] = d / "page.pth"
    (d / "noise.pth").write_bytes(bytes(range(256)) * 8)
    out["binary"] = d / "noise.pth"
    torch.save({"net": small, "args": argparse.Namespace(lr=0.1)}, d / "objects.pth")
    out["objects"] = d / "objects.pth"
    return out


@pytest.mark.parametrize("loader", LOADERS)
def test_truncated_checkpoints(files, loader):
    for key in ("truncated", "legacy_truncated"):
        msg = _plain(LOADERS[loader](files[key]), files[key])
        assert "incomplete" in msg and "cut short" in msg and "again" in msg


@pytest.mark.parametrize("loader", LOADERS)
def test_files_that_are_not_checkpoints(files, loader):
    assert "is empty (0 bytes)" in _plain(LOADERS[loader](files["empty"]), files["empty"])
    msg = _plain(LOADERS[loader](files["text"]), files["text"])
    assert "text file, not a PyTorch checkpoint" in msg and "Landmark model" in msg
    assert "web page (HTML)" in _plain(LOADERS[loader](files["html"]), files["html"])
    assert "is not a PyTorch checkpoint" in _plain(LOADERS[loader](files["binary"]), files["binary"])


@pytest.mark.parametrize("loader", LOADERS)
def test_checkpoint_with_python_objects_is_refused_without_advising_unsafe_loading(files, loader):
    msg = _plain(LOADERS[loader](files["objects"]), files["objects"])
    assert "argparse.Namespace" in msg and "safe mode" in msg
    assert "weights_only" not in msg and "False" not in msg


def test_star_loader_names_a_retinaface_checkpoint_and_its_first_keys(tmp_path):
    path = tmp_path / "Alignment_RetinaFace.pth"
    torch.save({"module." + k: v for k, v in rf.RetinaFaceMNet().state_dict().items()}, path)
    msg = _plain(_star_error(path), path)
    assert "checkpoint of another network" in msg
    assert "missing: pre.0.conv.weight" in msg
    assert "unexpected: body.stage1.0.0.weight" in msg
    assert "convert retinaface" in msg


def test_retinaface_loader_names_a_star_checkpoint_and_its_first_keys(tmp_path):
    path = tmp_path / "Landmark_98.pkl"
    with torch.device("meta"):
        keys = list(StarWFLW().state_dict())[:40]
    torch.save({"net": {k: torch.zeros(1) for k in keys}}, path)
    msg = _plain(_retinaface_error(path), path)
    assert "checkpoint of another network" in msg
    assert "missing key(s), first: body.stage1.0.0.weight" in msg
    assert f"unexpected key(s), first: {keys[0]}" in msg
    assert "convert star" in msg


def test_other_content_in_a_dict_is_named(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"model": [1, 2, 3], "epoch": 4}, path)
    msg = _plain(_star_error(path), path)
    assert "not a STAR checkpoint" in msg and "model, epoch" in msg
    torch.save([1, 2, 3], path)
    assert "holds a list" in _plain(_retinaface_error(path), path)


def test_missing_file(tmp_path):
    assert "not found" in _star_error(tmp_path / "absent.pkl")
    with pytest.raises(ConvertError, match="not found"):
        from app.convert.common import load_checkpoint_safely
        load_checkpoint_safely(tmp_path / "absent.pth")


def test_explanation_decided_from_the_bytes_not_the_exception(files):
    # The same exception text for every file: the explanation still follows the content.
    exc = RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")
    assert "incomplete" in explain_unreadable_checkpoint(files["truncated"], exc)
    assert "text file" in explain_unreadable_checkpoint(files["text"], exc)
    assert "empty" in explain_unreadable_checkpoint(files["empty"], exc)


def test_cli_prints_one_plain_error(files):
    proc = subprocess.run([sys.executable, "main.py", "convert", "star", str(files["truncated"]), "--out",
                           str(files["truncated"].parent / "out.onnx"), "--skip-coreml-check"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "incomplete" in proc.stderr
    assert not [w for w in INTERNALS if w in proc.stderr + proc.stdout], proc.stderr
    assert not (files["truncated"].parent / "out.onnx").exists()
