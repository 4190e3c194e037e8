"""Tiny ONNX models with STAR's I/O contract, built in tests (no trained weights needed)."""
from __future__ import annotations

import numpy as np


def constant_landmarks_model(path, landmarks: np.ndarray, *, output_names=("landmarks", "heatmaps"),
                             untrained=False) -> None:
    """A model with input `input_image` [1,3,256,256] whose `landmarks` output is a constant.

    The constant is added to 0 * mean(input) so the graph really consumes the input.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    lm = np.asarray(landmarks, np.float32).reshape(1, 98, 2)
    nodes = [
        helper.make_node("ReduceMean", ["input_image"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["const_lm", "z"], [output_names[0]]),
    ]
    inits = [numpy_helper.from_array(lm, "const_lm"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outputs = [helper.make_tensor_value_info(output_names[0], TensorProto.FLOAT, [1, 98, 2])]
    if "heatmaps" in output_names:
        nodes.append(helper.make_node("ConstantOfShape", ["hm_shape"], ["heatmaps"],
                                      value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])))
        inits.append(numpy_helper.from_array(np.array([1, 98, 64, 64], np.int64), "hm_shape"))
        outputs.append(helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 98, 64, 64]))
    graph = helper.make_graph(nodes, "stub_star",
                              [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, 3, 256, 256])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if untrained:
        p = model.metadata_props.add()
        p.key, p.value = "facemirror.untrained", "true"
    onnx.save(model, str(path))

