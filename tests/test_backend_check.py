"""Which provider ran a model: node counting on injected profiles (CoreML cannot run here) and
for real on the CPU provider."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.engine import backend_check, runtime


def _node(name: str, provider: str, op: str = "Conv", suffix: str = "_kernel_time") -> dict:
    return {"cat": "Node", "pid": 1, "tid": 1, "dur": 10, "ts": 5, "ph": "X", "name": name + suffix,
            "args": {"provider": provider, "op_name": op}}


def _session_event(name: str) -> dict:
    return {"cat": "Session", "pid": 1, "tid": 1, "dur": 100, "ts": 0, "ph": "X", "name": name, "args": {}}


COREML_FUSED = "CoreMLExecutionProvider_CoreML_13278016841384437262_0_0"


def test_counts_distinct_nodes_per_provider_injected_coreml_profile():
    events = [
        _session_event("model_loading_uri"), _session_event("session_initialization"),
        # Two runs: the same fused CoreML node twice is one node.
        _node(COREML_FUSED, runtime.COREML, "CoreML_13278016841384437262_0"),
        _node(COREML_FUSED, runtime.COREML, "CoreML_13278016841384437262_0"),
        _node("Resize_3", runtime.CPU, "Resize"),
        _node("Resize_3", runtime.CPU, "Resize", suffix="_fence_before"),  # not an execution
        _node("Softmax_9", runtime.CPU, "Softmax"),
        {"cat": "Node", "name": "odd_kernel_time", "args": {}},  # no provider: ignored
    ]
    assert backend_check.count_nodes_by_provider(events) == {runtime.COREML: 1, runtime.CPU: 2}
    assert backend_check.count_nodes_by_provider([]) == {}


def test_require_coreml_rule_injected_counts():
    ok, why = backend_check.coreml_ran_graph({runtime.COREML: 1})
    assert ok and "whole graph" in why
    ok, why = backend_check.coreml_ran_graph({runtime.COREML: 1, runtime.CPU: 3})
    assert not ok and "CPU 3" in why
    ok, why = backend_check.coreml_ran_graph({runtime.CPU: 250})  # CoreML listed but silently not used
    assert not ok and "CoreML ran no node" in why and "CPU 250" in why
    ok, why = backend_check.coreml_ran_graph({})
    assert not ok and "nothing recorded" in why


def test_read_profile_accepts_list_and_trace_object(tmp_path):
    events = [_node("a", runtime.CPU)]
    (tmp_path / "l.json").write_text(json.dumps(events))
    (tmp_path / "o.json").write_text(json.dumps({"traceEvents": events}))
    assert backend_check.read_profile(tmp_path / "l.json") == events
    assert backend_check.read_profile(tmp_path / "o.json") == events


def _small_model(path, n_convs: int = 3):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, prev = [], [], "x"
    rng = np.random.default_rng(1)
    for i in range(n_convs):
        w = numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        prev = f"r{i}"
    nodes.append(helper.make_node("Sigmoid", [prev], ["y"], name="out"))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 16, 16])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_prove_backend_for_real_on_cpu(tmp_path):
    model = _small_model(tmp_path / "m.onnx")
    proof = backend_check.prove_backend(model, threads=1, available_providers=[runtime.CPU])
    assert proof.backend.provider == runtime.CPU
    # ORT_ENABLE_ALL fuses Conv+Relu: what ran is what the profiler saw, at least one CPU kernel,
    # and never more than the graph's 7 nodes.
    assert set(proof.nodes) == {runtime.CPU}
    assert 1 <= proof.nodes[runtime.CPU] <= 7
    assert "CPU" in proof.summary() and "m.onnx" in proof.summary()
    ok, why = backend_check.coreml_ran_graph(proof.nodes)
    assert not ok and "CoreML ran no node" in why
    assert not list(tmp_path.glob("*.json"))  # the profile went to a temporary folder


def test_sample_feeds_use_declared_shapes_and_types(tmp_path):
    import onnxruntime as ort

    model = _small_model(tmp_path / "m.onnx", n_convs=1)
    sess = ort.InferenceSession(str(model), providers=[runtime.CPU])
    feeds = backend_check.sample_feeds(sess)
    assert feeds["x"].shape == (1, 4, 16, 16) and feeds["x"].dtype == np.float32


def test_outputs_agree_within_the_stated_fraction_of_each_outputs_range():
    from app.engine import backend_check as bc

    ref = [np.linspace(0, 100, 50, dtype=np.float32).reshape(1, 50), np.zeros((1, 3), np.float32)]
    close = [ref[0] + 0.9, ref[1]]  # 0.9 of a range of 100: 9e-3 < 1e-2
    ok, words = bc.outputs_agree(["landmarks", "scores"], ref, close)
    assert ok and "agree with the CPU provider" in words and "landmarks 9.0e-03" in words
    far = [ref[0] + 1.5, ref[1]]  # 1.5 % of the range: beyond the limit
    ok, words = bc.outputs_agree(["landmarks", "scores"], ref, far)
    assert not ok and "DIFFER" in words and "landmarks 1.5e-02" in words
    assert not bc.outputs_agree(["x"], [ref[0]], [ref[0][:, :10]])[0]  # shape
    assert not bc.outputs_agree(["x"], [ref[0]], [ref[0] * np.nan])[0]  # NaN
    assert not bc.outputs_agree(["s"], [ref[1]], [ref[1] + 1e-3])[0]  # constant reference, any difference


def test_coreml_on_a_vm_is_labelled_cpu_compute_units_injected_platform_facts():
    """GitHub's macOS runners are VMs (kern.hv_vmm_present = 1): CoreML there runs on the CPU."""
    from app.engine import backend_check as bc

    assert bc.running_in_vm("1\n") and not bc.running_in_vm("0\n")
    assert bc.coreml_label(True) == "CoreML (VM: CPU compute units)"
    assert bc.coreml_label(False) == "CoreML"


def test_prove_backend_on_the_cpu_has_no_comparison(tmp_path):
    """On the CPU provider there is nothing to compare with: no agreement line (see outputs_agree)."""
    from app.engine import backend_check as bc
    from app.engine import runtime

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    proof = bc.prove_backend(path, available_providers=["CPUExecutionProvider"])
    assert proof.backend.provider == runtime.CPU and proof.agreement is None  # nothing to compare
