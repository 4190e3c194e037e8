"""STAR network definition: checkpoint layout, strict loading, export-mode equivalence, mask."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="converter extras (torch) not installed")

from app.convert.nets import star  # noqa: E402
from app.convert.nets.star import (CheckpointError, boundary_mask, boundary_mask_export,  # noqa: E402
                             coord_channels, expected_state_dict_shapes, load_star_checkpoint,
                             parameter_count, random_star, soft_argmax)


@pytest.fixture(scope="module")
def net1():
    return random_star(1)


@pytest.fixture(scope="module")
def x1():
    g = torch.Generator().manual_seed(7)
    return torch.rand((1, 3, 256, 256), generator=g) * 2 - 1


@pytest.fixture(scope="module")
def out1(net1, x1):
    with torch.no_grad():
        return net1(x1)


# ---------------------------------------------------------------------------------------------
# Layout of the official checkpoint
# ---------------------------------------------------------------------------------------------
def test_parameter_count_about_17_2_million():
    n = parameter_count()
    assert 17.1e6 < n < 17.3e6, n


def test_state_dict_layout_matches_reference():
    shapes = expected_state_dict_shapes()
    expected = {
        "pre.0.conv.weight": (64, 6, 7, 7),            # 3 colour + x, y, r coordinate channels
        "pre.0.bn.num_batches_tracked": (),
        "pre.1.skip_layer.conv.weight": (128, 64, 1, 1),
        "pre.3.skip_layer.conv.weight": (128, 128, 1, 1),  # unused but stored
        "pre.4.conv2.conv.weight": (128, 128, 3, 3),
        "hgs.0.coordconv.conv.weight": (256, 259, 1, 1),   # first stack: no boundary channels
        "hgs.1.coordconv.conv.weight": (256, 261, 1, 1),
        "hgs.3.coordconv.conv.bias": (256,),
        "hgs.2.low2.low2.low2.low2.conv2.conv.weight": (128, 128, 3, 3),
        "hgs.2.low2.low2.low2.low3.bn1.running_var": (256,),
        "features.3.0.conv3.conv.weight": (256, 128, 1, 1),
        "features.3.1.bn.running_mean": (256,),
        "out_heatmaps.3.conv.weight": (98, 256, 1, 1),
        "out_edgemaps.3.conv.weight": (9, 256, 1, 1),
        "out_pointmaps.0.conv.bias": (98,),
        "merge_features.2.conv.weight": (256, 256, 1, 1),
        "merge_heatmaps.2.conv.weight": (256, 98, 1, 1),
        "merge_edgemaps.0.conv.weight": (256, 9, 1, 1),
        "merge_pointmaps.1.conv.weight": (256, 98, 1, 1),
        "e2h_transform.weight": (98, 9, 1, 1),
        "e2h_transform.bias": (98,),
    }
    for key, shape in expected.items():
        assert shapes.get(key) == shape, key
    absent = ["merge_features.3.conv.weight", "hgs.0.coordconv.bn.weight", "hgs.0.low2.coordconv.conv.weight",
              "hgs.0.low2.low2.low2.low2.low2.bn1.weight", "pre.2.weight", "heatmap_act.weight"]
    for key in absent:
        assert key not in shapes, key
    assert len(shapes) == 1450


def test_edge_to_point_buffers():
    sd = random_star(0).state_dict()
    w = sd["e2h_transform.weight"][:, :, 0, 0]
    b = sd["e2h_transform.bias"]
    assert w.sum().item() == 96  # every point 0..95 on exactly one edge
    assert b.nonzero().flatten().tolist() == [96, 97]  # pupils are on no edge
    assert w[0:33, 0].sum().item() == 33 and w[88:96, 8].sum().item() == 8


def test_coordinate_channels_orientation():
    c = coord_channels(64)
    assert c.shape == (1, 3, 64, 64)
    assert torch.allclose(c[0, 0, :, 5], torch.linspace(-1, 1, 64))
    assert torch.all(c[0, 0, 3, :] == c[0, 0, 3, 0])  # channel 0 grows along rows
    assert torch.all(c[0, 1, :, 3] == c[0, 1, 0, 3])  # channel 1 grows along columns
    assert c[0, 2].max().item() == pytest.approx(1.0) and c[0, 2, 0, 0].item() == pytest.approx(1.0)


def test_soft_argmax_grid_convention():
    h = torch.zeros(1, 2, 64, 64)
    h[0, 0, 10, 40] = 1.0   # row 10, column 40
    h[0, 1, 63, 0] = 2.0
    xy = soft_argmax(h)
    assert xy[0, 0].tolist() == pytest.approx([40 / 63 * 2 - 1, 10 / 63 * 2 - 1])
    assert xy[0, 1].tolist() == pytest.approx([-1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Random weights
# ---------------------------------------------------------------------------------------------
def test_random_star_is_deterministic_with_real_bn_statistics():
    a, b, c = random_star(3).state_dict(), random_star(3).state_dict(), random_star(4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["pre.1.conv1.conv.weight"], c["pre.1.conv1.conv.weight"])
    var, mean = a["hgs.0.up1.bn1.running_var"], a["hgs.0.up1.bn1.running_mean"]
    assert (var - 1).abs().max() > 0.1 and mean.abs().max() > 0.05
    assert a["hgs.0.up1.bn1.weight"].std() > 0.1


def test_forward_contract(out1):
    lm, hm = out1
    assert lm.shape == (1, 98, 2) and hm.shape == (1, 98, 64, 64)
    assert torch.isfinite(lm).all() and lm.abs().max() <= 1.0
    assert torch.allclose(lm, soft_argmax(hm))


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def test_checkpoint_round_trip_strict(tmp_path, net1, x1, out1):
    path = tmp_path / "WFLW_STARLoss_NME_4_02_FR_2_32_AUC_0_605.pkl"
    torch.save({"net": net1.state_dict(), "epoch": 7, "scheduler": {"milestones": {200: 1}}}, path)
    loaded = load_star_checkpoint(path)
    assert not loaded.training
    with torch.no_grad():
        lm, hm = loaded(x1)
    assert torch.equal(lm, out1[0]) and torch.equal(hm, out1[1])


def test_module_prefixed_checkpoint_loads(tmp_path, net1):
    path = tmp_path / "Landmark_98.pkl"
    torch.save({"net": {"module." + k: v for k, v in net1.state_dict().items()}}, path)
    loaded = load_star_checkpoint(path)
    sd = loaded.state_dict()
    assert torch.equal(sd["hgs.3.low3.conv3.conv.weight"], net1.state_dict()["hgs.3.low3.conv3.conv.weight"])


@pytest.mark.parametrize("damage", ["missing", "renamed", "shape"])
def test_mismatching_checkpoint_gives_one_clear_error(tmp_path, net1, damage):
    sd = dict(net1.state_dict())
    if damage == "missing":
        del sd["features.2.1.bn.running_var"]
        needle = "missing: features.2.1.bn.running_var"
    elif damage == "renamed":
        sd["hgs.1.coordconv.convolution.weight"] = sd.pop("hgs.1.coordconv.conv.weight")
        needle = "unexpected: hgs.1.coordconv.convolution.weight"
    else:
        sd["hgs.1.coordconv.conv.weight"] = torch.zeros(256, 259, 1, 1)
        needle = "shape of hgs.1.coordconv.conv.weight: checkpoint [256, 259, 1, 1], network [256, 261, 1, 1]"
    path = tmp_path / f"broken_{damage}.pkl"
    torch.save({"net": sd}, path)
    with pytest.raises(CheckpointError) as err:
        load_star_checkpoint(path)
    text = str(err.value)
    assert str(path) in text and needle in text


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"model": [1, 2, 3]}, path)
    with pytest.raises(CheckpointError, match="other.pth"):
        load_star_checkpoint(path)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="garbage.pkl"):
        load_star_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_star_checkpoint(tmp_path / "absent.pkl")


# ---------------------------------------------------------------------------------------------
# Export-mode equivalent and the boundary mask
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"bn_mode": "muladd", "fuse_heads": False, "fuse_merges": False}])
def test_export_module_matches_reference(net1, x1, out1, options):
    ex = net1.export_module(**options).eval()
    with torch.no_grad():
        lm, hm = ex(x1)
    assert (lm - out1[0]).abs().max().item() < 2e-5
    assert (hm - out1[1]).abs().max().item() < 2e-4


def _float32_around(value: float, ulps: int) -> np.ndarray:
    bits = np.array([value], np.float32).view(np.int32)[0]
    return np.arange(bits - ulps, bits + ulps + 1, dtype=np.int32).view(np.float32)


def crafted_heat_values() -> np.ndarray:
    t = np.float32(star.BOUNDARY_THRESHOLD)
    special = np.array([0.0, -0.0, -1.0, 1.0, 1.05, 2.0, 1e30, -1e30, np.inf, -np.inf,
                        1e-45, -1e-45, 1e-38, 0.04999, 0.05001, 0.05, 0.95, 0.999999],
                       np.float32)
    denormals = np.arange(0, 50, dtype=np.int32).view(np.float32)
    near = np.concatenate([_float32_around(float(t), 20000), _float32_around(1.0, 50),
                           denormals, -denormals])
    rng = np.random.default_rng(0)
    rand = rng.normal(0.05, 0.1, 20000).astype(np.float32)
    values = np.concatenate([special, near, rand])
    assert not np.isnan(values).any()  # NaN is the one input where the two differ (NaN vs 0)
    return values


def test_mask_expression_is_exact_in_torch():
    h = torch.from_numpy(crafted_heat_values())
    ref = boundary_mask(h)
    got = boundary_mask_export(h)
    assert torch.equal(ref, got)
    t = torch.tensor([star.BOUNDARY_THRESHOLD], dtype=torch.float32)
    assert boundary_mask(t).item() == 0.0  # exactly at the threshold: not above it
    assert boundary_mask(torch.nextafter(t, torch.ones(1))).item() == 1.0


def test_mask_expression_is_exact_in_onnxruntime():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    values = crafted_heat_values()
    nodes = [helper.make_node("Sub", ["h", "t"], ["d"]),
             helper.make_node("Clip", ["d", "lo", "hi"], ["c"]),
             helper.make_node("Ceil", ["c"], ["m"])]
    inits = [numpy_helper.from_array(np.array(star.BOUNDARY_THRESHOLD, np.float32), "t"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(1.0, np.float32), "hi")]
    graph = helper.make_graph(nodes, "mask",
                              [helper.make_tensor_value_info("h", TensorProto.FLOAT, [values.size])],
                              [helper.make_tensor_value_info("m", TensorProto.FLOAT, [values.size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"h": values})[0]
    ref = boundary_mask(torch.from_numpy(values)).numpy()
    assert np.array_equal(got, ref)


def test_compute_is_about_34_7_gflops():
    net = random_star(0)
    macs = [0]

    def hook(module, inputs, output):
        macs[0] += output.numel() * module.weight[0].numel()

    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, 3, 256, 256))
    assert 34.0e9 < 2 * macs[0] < 35.4e9, 2 * macs[0]


def test_checkpoint_without_batchnorm_counters_loads(tmp_path, net1):
    sd = {k: v for k, v in net1.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old_format.pkl"
    torch.save({"net": sd}, path)
    loaded = load_star_checkpoint(path)
    assert torch.equal(loaded.state_dict()["pre.0.bn.running_var"], sd["pre.0.bn.running_var"])
