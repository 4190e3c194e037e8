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

from app.base import model_files  # noqa: E402
from app.base.model_files import manifest_path  # noqa: E402
from app.convert.nets.star import random_star  # noqa: E402
from app.convert import star as cs  # noqa: E402
from app.engine.runtime import META_MODEL, META_SOURCE, META_SOURCE_SHA, META_UNTRAINED  # noqa: E402
from app.convert.common import ConvertError  # noqa: E402

from tests.conftest import MEDIA, REPO, VERIFY_PHOTO  # noqa: E402


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
# The CoreML checker, on the development model's conversion (conftest: `convert star` run once)
# ---------------------------------------------------------------------------------------------
def test_coreml_checker_one_partition_all_nodes(star_dev_conversion, star_dev_model):
    entry = json.loads((star_dev_model.parent / "manifest.json").read_text())["models"]["star"]["converted"]
    check = entry[star_dev_model.name]["coreml_mlprogram"]
    assert check["partitions"] == 1
    assert check["supported_nodes"] == check["total_nodes"] > 400
    assert check["unsupported_ops"] == []
    assert any(line.startswith("CoreML MLProgram: 1 partition(s)") for line in star_dev_conversion["stdout"].splitlines())


# ---------------------------------------------------------------------------------------------
# From a checkpoint, over an existing file
# ---------------------------------------------------------------------------------------------
# Channels whose point gate is closed (sigmoid(-15) = 3e-7): their heat mass is 1e-4..2e-2, and ONNX
# Runtime's sigmoid (accurate to ~1e-7 absolute) moves their landmarks by up to 0.4 here.
NEAR_EMPTY = list(range(0, 98, 7))
# The checkpoint is converted cut after the live model's stacks (`--stacks 2`, as `models fetch`
# makes the live model from STAR's checkpoint): the checkpoint is read, checked and recorded the
# same way for any stack count, and the converted stacks' export and verification are the same
# code, at half the cost of full STAR.
CUT = model_files.STAR_LIVE_STACKS


@pytest.fixture(scope="module")
def checkpoint_conversion(tmp_path_factory):
    """A 'module.'-prefixed checkpoint of random_star(0) (all four stacks: the checkpoint is strict)
    with the point gate of the last converted stack closed on the NEAR_EMPTY channels, converted
    (CUT stacks) over an existing file (overwrite=True): one conversion for the checkpoint path and
    for the ill-posed landmarks."""
    net = random_star(0)
    sd = net.state_dict()
    sd[f"out_pointmaps.{CUT - 1}.conv.bias"][NEAR_EMPTY] = -15.0
    d = tmp_path_factory.mktemp("star_ckpt")
    ckpt = d / "Landmark_98.pkl"
    torch.save({"net": {"module." + k: v for k, v in sd.items()}}, ckpt)
    out = d / "out" / "star_live.onnx"
    out.parent.mkdir()
    out.write_bytes(b"old model")
    before = _project_manifest_state()
    lines: list[str] = []
    info = cs.convert_star(ckpt, out, overwrite=True, coreml_check=False, verify_inputs=1, verify_photos=[],
                           log=lines.append, stacks=CUT)
    return {"ckpt": ckpt, "out": out, "info": info, "log": lines, "manifest_before": before}


def test_checkpoint_conversion_metadata_and_overwrite(checkpoint_conversion, star_live_dev_conversion):
    out, ckpt = checkpoint_conversion["out"], checkpoint_conversion["ckpt"]
    assert out.stat().st_size > 1000  # replaced the old file
    meta = _meta(out)
    assert meta[META_UNTRAINED] == "false"
    assert meta[META_SOURCE] == "Landmark_98.pkl"
    assert meta[META_SOURCE_SHA] == _sha(ckpt)
    info = checkpoint_conversion["info"]
    assert info["untrained"] is False and info["source_sha256"] == _sha(ckpt) and info["stacks"] == CUT
    assert info["max_landmark_diff"] <= 1e-4
    # the development live model's weights (random_star(0) cut after CUT stacks, made with random
    # weights) but for the NEAR_EMPTY channels' gate bias, so the same outputs on every other channel
    # (each landmark comes from its own channel), and not on those
    x = cs.realistic_input()
    a = _session(out).run(["landmarks"], {"input_image": x})[0][0]
    b = _session(star_live_dev_conversion["out"]).run(["landmarks"], {"input_image": x})[0][0]
    others = [c for c in range(98) if c not in NEAR_EMPTY]
    assert np.abs(a - b)[others].max() < 1e-5
    assert np.abs(a - b)[NEAR_EMPTY].max(axis=1).min() > 1e-3
    assert not list(out.parent.glob(".*partial*"))
    assert _project_manifest_state() == checkpoint_conversion["manifest_before"]


def test_checkpoint_with_near_empty_channels_converts(checkpoint_conversion):
    out, ckpt, info = checkpoint_conversion["out"], checkpoint_conversion["ckpt"], checkpoint_conversion["info"]
    assert out.is_file() and info["untrained"] is False
    n_inputs = 2  # one noise input and the synthetic face
    assert info["verify_inputs"] == n_inputs and info["landmark_channels"] == 98 * n_inputs
    assert info["landmarks_compared"] == (98 - len(NEAR_EMPTY)) * n_inputs
    assert info["max_landmark_diff"] <= cs.LANDMARK_TOLERANCE
    assert any(f"landmarks compared on {info['landmarks_compared']} of {98 * n_inputs}" in line
               for line in checkpoint_conversion["log"])
    print("ill-posed landmark diff (not compared):", info["max_landmark_diff_ill_posed"])
    # The written model is the faithful one: its well-posed landmarks match PyTorch.
    x = cs.realistic_input()
    lm = _session(out).run(["landmarks"], {"input_image": x})[0][0]
    loaded = cs.build_network(ckpt, False, 0)
    with torch.no_grad():
        ref, hm = (t.numpy()[0] for t in loaded(torch.from_numpy(x), CUT))
    well = hm.sum(axis=(1, 2)) >= cs.MIN_HEAT_MASS
    assert not well[NEAR_EMPTY].any() and well.sum() == 98 - len(NEAR_EMPTY)
    assert np.abs(lm - ref)[well].max() <= cs.LANDMARK_TOLERANCE


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


# The export refused is the live model's (STAR cut after CUT stacks, half of full STAR's cost): the
# verification is the same code for any stack count, and it passes on the unchanged network's cut
# export (test_convert_star_stacks). PERTURBED_CONV: the weakest effect of a 1 % weight change
# among the 43 convolutions of the first two stacks measured (PyTorch against PyTorch, the noise
# input and the synthetic face): heatmaps 1.34e-3 of the channel's scale, landmarks 4.4e-4, the
# nearest of all to both limits (1e-3, 1e-4); if this one is refused, the stronger ones are too.
# (The last stack's heatmap head, whose scale instance normalisation cancels, changes nothing; on
# full STAR the weakest was hgs.2.up1.conv3.conv: heatmaps 1.4e-3, landmarks 4.5e-4.)
PERTURBED_CONV = "hgs.0.low2.low2.low2.up1.conv2.conv"


def test_export_of_a_network_one_percent_off_is_refused(tmp_path, monkeypatch):
    """The ONNX file is exported from a copy with one convolution's weight scaled by 1.01 and
    verified against the unchanged PyTorch network: refused, and nothing is left behind."""
    import copy

    real_export = cs.export_onnx
    perturbed = []

    def export_perturbed(net, path, **kw):
        other = copy.deepcopy(net)
        conv = dict(other.named_modules())[PERTURBED_CONV]
        with torch.no_grad():
            conv.weight.mul_(1.01)
        perturbed.append(PERTURBED_CONV)
        real_export(other, path, **kw)

    monkeypatch.setattr(cs, "export_onnx", export_perturbed)
    out = tmp_path / "sub" / "star_live.onnx"
    before = _project_manifest_state()
    lines: list[str] = []
    with pytest.raises(ConvertError, match="verification failed") as err:
        cs.convert_star(None, out, random_weights=True, coreml_check=False, verify_inputs=1, verify_photos=[],
                        log=lines.append, stacks=CUT)
    assert perturbed == [PERTURBED_CONV]
    assert "ONNX landmarks differ from PyTorch" in str(err.value) and "no model written" in str(err.value)
    assert any("landmarks compared on 196 of 196" in line for line in lines), lines
    assert list(out.parent.iterdir()) == []
    assert _project_manifest_state() == before


# ---------------------------------------------------------------------------------------------
# The comparison rules on made-up outputs (no conversion)
# ---------------------------------------------------------------------------------------------
def _outputs(masses, peak_at=(10, 20)):
    """Reference (landmarks, heatmaps) for 3 channels with the given heat masses (one hot pixel each)."""
    hm = np.zeros((1, 3, 64, 64), np.float32)
    for c, m in enumerate(masses):
        hm[0, c, peak_at[0], peak_at[1]] = m
    lm = np.zeros((1, 3, 2), np.float32)
    return lm, hm


def test_comparison_skips_ill_posed_landmarks_and_counts_them():
    lm_ref, hm_ref = _outputs([50.0, 0.01, 3.0])
    lm, hm = lm_ref.copy(), hm_ref.copy()
    lm[0, 1] += 0.3                              # the near-empty channel's landmark jumps: not compared
    hm[0, 1, 10, 20] += 5e-4                     # and its heat differs by 5 % of its own peak
    c = cs.Comparison()
    c.add("x", lm, hm, lm_ref, hm_ref)
    assert (c.landmarks_compared, c.channels) == (2, 3)
    assert c.problems() == [] and c.max_landmark_diff_ill_posed == pytest.approx(0.3)
    lm[0, 2] += 2e-4                             # a well-posed landmark off by 2e-4: refused
    c = cs.Comparison()
    c.add("x", lm, hm, lm_ref, hm_ref)
    assert len(c.problems()) == 1 and "point 2 on x" in c.problems()[0]


def test_comparison_heatmaps_relative_to_each_channel():
    lm_ref, hm_ref = _outputs([50.0, 2.0, 0.01])
    hm = hm_ref.copy()
    hm[0, 0, 10, 20] += 0.04                     # 8e-4 of a 50 peak: fine
    hm[0, 2, 10, 20] += 0.04                     # ill-posed channel: compared at the strongest peak (50)
    c = cs.Comparison()
    c.add("x", lm_ref, hm, lm_ref, hm_ref)
    assert c.problems() == []
    hm[0, 1, 10, 20] += 0.004                    # 2e-3 of the 2.0 channel's own peak: refused
    c = cs.Comparison()
    c.add("x", lm_ref, hm, lm_ref, hm_ref)
    assert ["heatmaps differ" in p and "channel 1 on x" in p for p in c.problems()] == [True]


def test_no_well_posed_channel_warns_and_does_not_refuse():
    lm_ref, hm_ref = _outputs([1e-3, 1e-4, 0.0])
    c = cs.Comparison()
    c.add("x", lm_ref + 0.5, hm_ref, lm_ref, hm_ref)
    assert c.landmarks_compared == 0 and c.problems() == []
    assert "--verify-photo" in c.warnings()[0]


def test_real_face_crops_are_centred_faces(media, tmp_path):
    """Crops cut by the converter from a photo contain the face, centred, as the app cuts them."""
    from app.engine.faces import FaceDetector
    from app.base.model_files import RETINAFACE_KEY, find_model

    photo = media("portrait_frontal.jpg")
    if find_model(RETINAFACE_KEY) is None:
        pytest.skip("no face detector model installed")
    crops = cs.face_crops([photo], log=lambda s: None)
    assert [label for label, _ in crops] == ["face 1 of portrait_frontal.jpg"]
    x = crops[0][1]
    assert x.shape == (1, 3, 256, 256) and x.dtype == np.float32 and -1.0 <= x.min() < x.max() <= 1.0
    crop = ((x[0].transpose(1, 2, 0) + 1.0) * 127.5).round().astype(np.uint8)
    faces = FaceDetector(find_model(RETINAFACE_KEY)).detect(crop)
    assert faces and np.abs(faces[0].center - 127.5).max() < 40
    import cv2

    cv2.imwrite(str(tmp_path / "wall.png"), np.full((300, 400, 3), 180, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert cs.face_crops([tmp_path / "wall.png", tmp_path / "broken.jpg"], log=lambda s: None) == []


# ---------------------------------------------------------------------------------------------
# Command line, end to end
# ---------------------------------------------------------------------------------------------
def test_cli_convert_then_refuse(star_dev_conversion, tmp_path):
    """`convert star --random-weights --overwrite` (conftest: the development model, made once) wrote
    the model and its manifest; the same command without --overwrite refuses and keeps the file."""
    first, out = star_dev_conversion, star_dev_conversion["out"]
    assert first["returncode"] == 0, first["stdout"] + first["stderr"]
    assert out.is_file() and "UNTRAINED" in first["stdout"]
    data = json.loads((out.parent / "manifest.json").read_text())
    assert data["models"]["star"]["converted"]["star_landmark_98.onnx"]["sha256"] == _sha(out)
    assert first["manifest_after"] == first["manifest_before"]      # the project's manifest untouched
    # --verify-photo: the photo's face joined the noise and the synthetic face in the comparison
    verifying = next(line for line in first["stdout"].splitlines() if line.startswith("STAR: verifying"))
    if (MEDIA / VERIFY_PHOTO).exists():
        assert verifying.endswith(f"on 3 input(s): noise 1, synthetic face, face 1 of {VERIFY_PHOTO}"), verifying

    mine = tmp_path / "cli" / out.name          # a copy: the shared model is never at stake here
    mine.parent.mkdir()
    mine.write_bytes(out.read_bytes())
    sha = _sha(mine)
    before = _project_manifest_state()
    cmd = [sys.executable, "main.py", "convert", "star", "--random-weights", "--out", str(mine)]
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode != 0
    assert "already exists" in second.stderr and "--overwrite" in second.stderr
    assert _sha(mine) == sha
    assert _project_manifest_state() == before


def test_negative_noise_input_count_is_refused(tmp_path):
    with pytest.raises(ConvertError, match="cannot be negative"):
        cs.convert_star(None, tmp_path / "star.onnx", random_weights=True, verify_inputs=-1, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []
