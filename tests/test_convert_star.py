"""STAR converter: ONNX contract, parity with PyTorch, CoreML cleanliness, safe file handling."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="converter extras (torch) not installed")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from app.model_files import manifest_path  # noqa: E402
from app.convert.nets.star import random_star  # noqa: E402
from app.convert import star as cs  # noqa: E402
from app.convert.common import (META_MODEL, META_SOURCE, META_SOURCE_SHA,  # noqa: E402
                                     META_UNTRAINED, ConvertError)

REPO = Path(__file__).resolve().parent.parent


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _project_manifest_state():
    p = manifest_path()
    return _sha(p) if p.exists() else None


def _meta(path: Path) -> dict:
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------
# The development model (session fixture from conftest: random weights, seed 0)
# ---------------------------------------------------------------------------------------------
def test_export_contract_and_metadata(star_dev_model):
    model = onnx.load(str(star_dev_model))
    def dims(v):
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]

    assert [(i.name, dims(i)) for i in model.graph.input] == [("input_image", [1, 3, 256, 256])]
    assert [(o.name, dims(o)) for o in model.graph.output] == [("landmarks", [1, 98, 2]),
                                                                 ("heatmaps", [1, 98, 64, 64])]
    for v in list(model.graph.input) + list(model.graph.output):
        assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    meta = _meta(star_dev_model)
    assert meta[META_MODEL] == "star-wflw-98"
    assert meta[META_UNTRAINED] == "true"
    assert META_SOURCE not in meta
    assert 45e6 < star_dev_model.stat().st_size < 60e6


def test_graph_is_static_and_free_of_coreml_blockers(star_dev_model):
    model = onnx.load(str(star_dev_model))
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"BatchNormalization", "Greater", "Shape", "Gather", "Expand", "Constant",
                      "ConstantOfShape", "Identity", "Where", "Cast", "Equal"}, ops
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    inits = {i.name for i in inferred.graph.initializer}
    values = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for node in inferred.graph.node:
        for name in node.input:
            assert name, f"{node.op_type} {node.name} has an empty optional input"
        for name in node.output:
            shape = values[name].type.tensor_type.shape
            assert all(d.HasField("dim_value") for d in shape.dim), (node.op_type, name)
    assert all(n.input[1] in inits for n in inferred.graph.node if n.op_type == "Resize")


def test_onnx_matches_pytorch(star_dev_model):
    net = random_star(0)
    sess = _session(star_dev_model)
    rng = np.random.default_rng(42)
    inputs = [rng.uniform(-1, 1, (1, 3, 256, 256)).astype(np.float32), cs.realistic_input()]
    for x in inputs:
        lm, hm = sess.run(["landmarks", "heatmaps"], {"input_image": x})
        with torch.no_grad():
            lm_ref, hm_ref = net(torch.from_numpy(x))
        assert np.abs(lm - lm_ref.numpy()).max() <= 1e-4
        assert np.abs(hm - hm_ref.numpy()).max() <= 1e-3
        assert np.abs(lm).max() <= 1.0


def test_manifest_beside_output_records_sha(star_dev_model):
    manifest = star_dev_model.parent / "manifest.json"
    data = json.loads(manifest.read_text())
    entry = data["models"]["star"]["converted"][star_dev_model.name]
    assert entry["sha256"] == _sha(star_dev_model)
    assert entry["untrained"] is True
    assert entry["max_landmark_diff"] <= 1e-4
    assert entry["opset"] == cs.OPSET
    assert entry["torch"] == torch.__version__ and entry["onnx"] == onnx.__version__
    assert manifest.resolve() != manifest_path().resolve()


# ---------------------------------------------------------------------------------------------
# From a checkpoint, over an existing file, with the CoreML checker
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint_conversion(tmp_path_factory):
    """Convert a 'module.'-prefixed checkpoint of random_star(0) over an existing file, with checks."""
    d = tmp_path_factory.mktemp("star_ckpt")
    ckpt = d / "Landmark_98.pkl"
    torch.save({"net": {"module." + k: v for k, v in random_star(0).state_dict().items()}}, ckpt)
    out = d / "out" / "star.onnx"
    out.parent.mkdir()
    out.write_bytes(b"old model")
    before = _project_manifest_state()
    lines: list[str] = []
    info = cs.convert_star(ckpt, out, overwrite=True, coreml_check=True, verify_inputs=0, log=lines.append)
    return {"ckpt": ckpt, "out": out, "info": info, "log": lines, "manifest_before": before}


def test_coreml_checker_one_partition_all_nodes(checkpoint_conversion):
    check = checkpoint_conversion["info"]["coreml_mlprogram"]
    assert check["partitions"] == 1
    assert check["supported_nodes"] == check["total_nodes"] > 400
    assert check["unsupported_ops"] == []
    assert any(line.startswith("CoreML MLProgram: 1 partition(s)") for line in checkpoint_conversion["log"])


def test_checkpoint_conversion_metadata_and_overwrite(checkpoint_conversion, star_dev_model):
    out, ckpt = checkpoint_conversion["out"], checkpoint_conversion["ckpt"]
    assert out.stat().st_size > 1000  # replaced the old file
    meta = _meta(out)
    assert meta[META_UNTRAINED] == "false"
    assert meta[META_SOURCE] == "Landmark_98.pkl"
    assert meta[META_SOURCE_SHA] == _sha(ckpt)
    info = checkpoint_conversion["info"]
    assert info["untrained"] is False and info["source_sha256"] == _sha(ckpt)
    assert info["max_landmark_diff"] <= 1e-4
    # same weights as the development model, so the same outputs
    x = cs.realistic_input()
    a = _session(out).run(["landmarks"], {"input_image": x})[0]
    b = _session(star_dev_model).run(["landmarks"], {"input_image": x})[0]
    assert np.abs(a - b).max() < 1e-5
    assert not list(out.parent.glob(".*partial*"))
    assert _project_manifest_state() == checkpoint_conversion["manifest_before"]


# ---------------------------------------------------------------------------------------------
# Refusals and failures leave nothing behind
# ---------------------------------------------------------------------------------------------
def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / "star.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(ConvertError, match="already exists"):
        cs.convert_star(None, out, random_weights=True, log=lambda s: None)
    assert out.read_bytes() == b"keep me"
    assert not (tmp_path / "manifest.json").exists()


def test_bad_checkpoint_is_a_convert_error(tmp_path):
    ckpt = tmp_path / "Landmark_98.pkl"
    torch.save({"net": {"pre.0.conv.weight": torch.zeros(64, 6, 7, 7)}}, ckpt)
    out = tmp_path / "star.onnx"
    with pytest.raises(ConvertError) as err:
        cs.convert_star(ckpt, out, log=lambda s: None)
    assert "Landmark_98.pkl" in str(err.value) and "missing" in str(err.value)
    assert list(tmp_path.iterdir()) == [ckpt]
    with pytest.raises(ConvertError, match="not both"):
        cs.convert_star(ckpt, out, random_weights=True, log=lambda s: None)
    with pytest.raises(ConvertError, match="not found"):
        cs.convert_star(tmp_path / "absent.pkl", out, log=lambda s: None)


def test_failed_verification_leaves_no_file(tmp_path, monkeypatch):
    real = cs._reference_outputs

    def off_by_a_bit(net, x):
        lm, hm = real(net, x)
        return lm + 1e-3, hm

    monkeypatch.setattr(cs, "_reference_outputs", off_by_a_bit)
    out = tmp_path / "sub" / "star.onnx"
    before = _project_manifest_state()
    with pytest.raises(ConvertError, match="verification failed"):
        cs.convert_star(None, out, random_weights=True, coreml_check=False, verify_inputs=0,
                        log=lambda s: None)
    assert list(out.parent.iterdir()) == []
    assert _project_manifest_state() == before


# ---------------------------------------------------------------------------------------------
# Command line, end to end
# ---------------------------------------------------------------------------------------------
def test_cli_convert_then_refuse(tmp_path):
    out = tmp_path / "cli" / "star.onnx"
    cmd = [sys.executable, "main.py", "convert", "star", "--random-weights", "--out", str(out),
           "--skip-coreml-check"]
    before = _project_manifest_state()
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert out.is_file() and "UNTRAINED" in first.stdout
    data = json.loads((out.parent / "manifest.json").read_text())
    assert data["models"]["star"]["converted"]["star.onnx"]["sha256"] == _sha(out)
    sha = _sha(out)

    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode != 0
    assert "already exists" in second.stderr and "--overwrite" in second.stderr
    assert _sha(out) == sha
    assert _project_manifest_state() == before
