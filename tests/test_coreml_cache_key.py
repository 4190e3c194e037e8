"""COREML_CACHE_KEY: ONNX Runtime names a model's CoreML compile cache by it instead of by the
model's path, so the compiled model survives the app being moved. Converted models carry it;
it is the model's content sha256 combined with the ONNX Runtime version."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine import runtime

onnx = pytest.importorskip("onnx", reason="converter extras (onnx) not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from app.convert import common  # noqa: E402


def _tiny_model(weight: float = 0.5):
    w = numpy_helper.from_array(np.full((1, 1, 1, 1), weight, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _meta(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def test_cache_key_changes_with_the_onnx_runtime_version_and_the_model():
    m = _tiny_model()
    k132 = common.stamp_coreml_cache_key(m, "1.32.0")
    assert _meta(m)[runtime.META_COREML_CACHE_KEY] == k132
    assert common.stamp_coreml_cache_key(m, "1.32.0") == k132       # the key is not its own input
    k133 = common.stamp_coreml_cache_key(m, "1.33.0")
    assert k133 != k132 and _meta(m)[runtime.META_COREML_CACHE_KEY] == k133
    assert [p.key for p in m.metadata_props].count(runtime.META_COREML_CACHE_KEY) == 1
    assert common.stamp_coreml_cache_key(_tiny_model(0.51), "1.32.0") != k132  # other weights, other key


def test_cache_key_is_what_onnx_runtime_accepts():
    key = runtime.coreml_metadata_cache_key("0" * 64, "1.32.0")
    assert runtime.valid_coreml_cache_key(key) and len(key) == 64
    # ORT's own rule (coreml_execution_provider.cc): alphanumeric, at most 64 characters.
    assert not runtime.valid_coreml_cache_key("illegalhash__123")
    assert not runtime.valid_coreml_cache_key("a" * 65)
    assert not runtime.valid_coreml_cache_key("")
    assert not runtime.valid_coreml_cache_key("clé")


def test_set_metadata_writes_the_cache_key_over_the_final_content(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(_tiny_model(), str(path))
    common.set_metadata(path, {"facemirror.model": "tiny"}, ort_version="1.32.0")
    first = onnx.load(str(path))
    key = _meta(first)[runtime.META_COREML_CACHE_KEY]
    assert key == runtime.coreml_metadata_cache_key(common.model_content_sha256(first), "1.32.0")
    common.set_metadata(path, {"facemirror.model": "tiny-2"}, ort_version="1.32.0")
    assert _meta(onnx.load(str(path)))[runtime.META_COREML_CACHE_KEY] != key  # other metadata, other content


def test_converted_star_model_carries_coreml_cache_key(star_dev_model):
    import onnxruntime as ort

    model = onnx.load(str(star_dev_model))
    key = _meta(model)[runtime.META_COREML_CACHE_KEY]
    assert runtime.valid_coreml_cache_key(key)
    assert key == runtime.coreml_metadata_cache_key(common.model_content_sha256(model), ort.__version__)
    # ONNX Runtime itself reads it from the file (the CoreML provider looks it up the same way).
    session = ort.InferenceSession(str(star_dev_model), providers=[runtime.CPU])
    assert session.get_modelmeta().custom_metadata_map[runtime.META_COREML_CACHE_KEY] == key
