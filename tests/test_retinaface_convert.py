"""RetinaFace converter: strict loading of the published weights, ONNX export, parity with
PyTorch on real photographs, metadata/manifest, refusal to overwrite, CoreML checker."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="converter extras (torch) not installed")
onnx = pytest.importorskip("onnx", reason="converter extras (onnx) not installed")

from app.base.model_files import sha256_file  # noqa: E402
from app.convert.nets import retinaface as rf  # noqa: E402
from app.convert.retinaface import (INPUT_NAME, MODEL_NAME, OUTPUT_NAMES,  # noqa: E402
                                          convert_retinaface, to_input)
from app.engine.runtime import META_MODEL, META_SOURCE_SHA, META_UNTRAINED  # noqa: E402
from app.convert.common import ConvertError, run_coreml_check  # noqa: E402

CHECKPOINT_SHA = "2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220"


@pytest.fixture(scope="module")
def state(retinaface_pth):
    raw = torch.load(str(retinaface_pth), map_location="cpu", weights_only=True)
    return rf.clean_state_dict(raw)


def test_network_keys_and_shapes_match_checkpoint_strictly(state):
    model = rf.RetinaFaceMNet()
    assert rf.check_state_dict(model, state) == []
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected/mis-shaped key
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(426_608, rel=0.01)


def test_module_prefix_is_stripped(state):
    prefixed = {f"module.{k}": v for k, v in state.items()}
    cleaned = rf.clean_state_dict(prefixed)
    assert list(cleaned) == list(state)
    assert rf.clean_state_dict({"state_dict": prefixed}).keys() == state.keys()


def test_wrong_checkpoint_is_refused_and_nothing_written(tmp_path, state):
    broken = dict(state)
    broken.pop("LandmarkHead.2.conv1x1.bias")
    broken["ClassHead.0.conv1x1.weight"] = torch.zeros(6, 64, 1, 1)
    ck = tmp_path / "broken.pth"
    torch.save(broken, ck)
    out = tmp_path / "out" / "rf.onnx"
    with pytest.raises(ConvertError) as err:
        convert_retinaface(ck, out, coreml_check=False, log=lambda s: None)
    msg = str(err.value)
    assert "missing key" in msg and "LandmarkHead.2.conv1x1.bias" in msg
    assert "shape mismatch" in msg and "ClassHead.0.conv1x1.weight" in msg
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no partial file left


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConvertError, match="checkpoint not found"):
        convert_retinaface(tmp_path / "nope.pth", tmp_path / "rf.onnx", coreml_check=False, log=lambda s: None)
    with pytest.raises(ConvertError, match="checkpoint"):
        convert_retinaface(None, tmp_path / "rf.onnx", coreml_check=False, log=lambda s: None)


def test_exported_graph_contract(retinaface_model):
    model = onnx.load(str(retinaface_model))
    inputs = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    outputs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    assert inputs == {INPUT_NAME: [1, 3, 640, 640]}
    assert outputs == {"boxes": [1, 16800, 4], "scores": [1, 16800], "landmarks": [1, 16800, 10]}
    assert tuple(outputs) == OUTPUT_NAMES
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[META_MODEL] == MODEL_NAME
    assert meta[META_UNTRAINED] == "false"
    assert meta[META_SOURCE_SHA] == CHECKPOINT_SHA
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops and "Gather" not in ops and "Shape" not in ops
    # no machine-specific paths (exporter stack traces) left in the file
    assert b"/work/" not in Path(retinaface_model).read_bytes()


def test_manifest_records_the_converted_file(retinaface_model):
    manifest = json.loads((retinaface_model.parent / "manifest.json").read_text())
    entry = manifest["models"]["retinaface"]["converted"][retinaface_model.name]
    assert entry["sha256"] == sha256_file(retinaface_model)
    assert entry["source_sha256"] == CHECKPOINT_SHA
    assert entry["untrained"] is False
    diffs = entry["verification"]["max_abs_diff"]
    assert diffs["scores"] < 1e-4 and diffs["boxes"] < 1e-3 and diffs["landmarks"] < 1e-3


def test_refuses_to_overwrite(retinaface_model, retinaface_pth):
    before = sha256_file(retinaface_model)
    with pytest.raises(ConvertError, match="already exists"):
        convert_retinaface(retinaface_pth, retinaface_model, coreml_check=False, log=lambda s: None)
    assert sha256_file(retinaface_model) == before


@pytest.mark.parametrize("name", ["portrait_frontal.jpg", "two_faces.jpg"])
def test_onnx_matches_pytorch_on_real_photos(retinaface_model, state, media, name):
    import cv2

    from app.engine.faces import FaceDetector

    det = FaceDetector(retinaface_model, threads=2)
    img = cv2.imread(str(media(name)))
    x, scale = det.preprocess(img)
    x = x.copy()
    got = det.session.run(list(OUTPUT_NAMES), {det.input_name: x})
    with torch.no_grad():
        ref = [t.numpy() for t in rf.build(state)(torch.from_numpy(x))]
    for name_, r, g in zip(OUTPUT_NAMES, ref, got):
        tol = 1e-4 if name_ == "scores" else 1e-3
        assert np.max(np.abs(r - g)) < tol, name_
    # and the decoded faces agree to a hundredth of a pixel
    faces_onnx = det.postprocess(got[0][0], got[1][0], got[2][0], x.shape[2:], scale)
    faces_torch = det.postprocess(ref[0][0], ref[1][0], ref[2][0], x.shape[2:], scale)
    assert len(faces_onnx) == len(faces_torch) >= 1
    for a, b in zip(faces_onnx, faces_torch):
        np.testing.assert_allclose(a.box, b.box, atol=0.01)
        np.testing.assert_allclose(a.points, b.points, atol=0.01)


def test_to_input_is_mean_subtracted_bgr():
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 104, 117, 123
    x = to_input(img)
    assert x.shape == (1, 3, 2, 3) and x.dtype == np.float32 and not x.any()


def test_coreml_checker_single_partition(retinaface_model):
    """The static export should be one CoreML MLProgram partition with every node supported."""
    check = run_coreml_check(retinaface_model)
    print(check.summary())
    assert check.fully_supported, check.summary()


def test_random_weights_export_is_marked_untrained(tmp_path):
    from app.engine.faces import FaceDetector

    out = tmp_path / "dev" / "retinaface_dev.onnx"
    info = convert_retinaface(None, out, random_weights=True, seed=3, coreml_check=False, verify_inputs=1,
                              log=lambda s: None)
    assert out.is_file() and info["untrained"] is True and info["source_sha256"] == ""
    assert info["path"] == str(out) and info["sha256"] == sha256_file(out)
    det = FaceDetector(out, threads=1)
    assert det.untrained and "UNTRAINED" in det.backend.describe()
    det.detect(np.zeros((120, 160, 3), np.uint8))  # runs; random weights find nothing meaningful
    entry = json.loads((out.parent / "manifest.json").read_text())["models"]["retinaface"]
    assert entry["converted"][out.name]["untrained"] is True


def test_a_check_without_inputs_is_refused(tmp_path):
    with pytest.raises(ConvertError, match="at least one input"):
        convert_retinaface(None, tmp_path / "rf.onnx", random_weights=True, verify_inputs=0, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []
