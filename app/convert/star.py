"""Convert the STAR WFLW checkpoint (OpenFace 3.0's Landmark_98.pkl) to a CoreML-clean ONNX model.

Contract (docs: DESIGN.md, "Model contracts / STAR"):
    input  `input_image` float32 [1, 3, 256, 256]  (BGR, [-1, 1])
    output `landmarks`   float32 [1, 98, 2]         ([-1, 1], last stack, soft-argmax)
    output `heatmaps`    float32 [1, 98, 64, 64]    (the fused heatmaps the landmarks come from)
All shapes are static and every node is one ONNX Runtime's CoreML MLProgram EP supports, so the
checker reports one partition covering all nodes.

Steps: build the network (checkpoint, strict, or seeded random weights) -> export its
export-mode equivalent with the TorchScript-based exporter (dynamo=False: fast, and no onnxscript
needed) -> small graph clean-up (constants become initializers, Identity nodes go, Resize gets
an explicit empty roi) -> metadata -> verify ONNX Runtime against the checkpoint-faithful PyTorch
model -> optional CoreML check -> rename into place -> record in the manifest beside the output.
"""
from __future__ import annotations

import platform
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from app.convert.common import (META_MODEL, META_SOURCE, META_SOURCE_SHA, META_UNTRAINED,
                                     ConvertError, check_output_path, discard, finish_output,
                                     coreml_report, set_metadata, temp_output_path)

MODEL_NAME = "star-wflw-98"
MANIFEST_KEY = "star"
INPUT_NAME = "input_image"
OUTPUT_NAMES = ("landmarks", "heatmaps")
INPUT_SHAPE = (1, 3, 256, 256)
OUTPUT_SHAPES = {"landmarks": (1, 98, 2), "heatmaps": (1, 98, 64, 64)}
# Opset 17: every op of the graph is in ONNX Runtime's CoreML MLProgram list at this opset and
# ONNX Runtime's CPU EP runs it with its NCHWc optimisations.
OPSET = 17
LANDMARK_TOLERANCE = 1e-4  # max |diff| in [-1, 1] units
BN_MODE = "dwconv"


# ---------------------------------------------------------------------------------------------
# Inputs used for verification
# ---------------------------------------------------------------------------------------------
def random_inputs(n: int, seed: int = 1234) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, INPUT_SHAPE).astype(np.float32) for _ in range(n)]


def realistic_input() -> np.ndarray:
    """A smooth synthetic face crop (skin oval, brows, eyes, nose, mouth) in the model's range."""
    import cv2

    img = np.zeros((256, 256, 3), np.uint8)
    yy, xx = np.mgrid[0:256, 0:256]
    img[..., 0] = (60 + 0.3 * yy).astype(np.uint8)
    img[..., 1] = (70 + 0.2 * xx).astype(np.uint8)
    img[..., 2] = 90
    cv2.ellipse(img, (128, 136), (88, 112), 0, 0, 360, (120, 150, 200), -1, cv2.LINE_AA)
    for cx in (92, 164):
        cv2.ellipse(img, (cx, 100), (24, 6), 0, 180, 360, (40, 50, 70), 4, cv2.LINE_AA)
        cv2.ellipse(img, (cx, 120), (18, 9), 0, 0, 360, (230, 230, 230), -1, cv2.LINE_AA)
        cv2.circle(img, (cx, 120), 6, (40, 30, 20), -1, cv2.LINE_AA)
    cv2.line(img, (128, 120), (122, 168), (90, 115, 170), 3, cv2.LINE_AA)
    cv2.ellipse(img, (128, 200), (32, 10), 0, 0, 360, (80, 80, 170), -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (5, 5), 1.5)
    x = img.astype(np.float32) / 255.0 * 2.0 - 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


# ---------------------------------------------------------------------------------------------
# Export and graph clean-up
# ---------------------------------------------------------------------------------------------
def export_onnx(net, path: Path, *, opset: int = OPSET, bn_mode: str = BN_MODE) -> None:
    """Export net's export-mode equivalent to path (single file) and clean the graph."""
    import onnx
    import torch

    module = net.export_module(bn_mode=bn_mode).eval()
    dummy = torch.zeros(INPUT_SHAPE, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module, (dummy,), str(path), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                              do_constant_folding=True, export_params=True)
    model = onnx.load(str(path))
    clean_graph(model)
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def clean_graph(model) -> None:
    """In place: Constant nodes -> initializers, drop Identity nodes, give Resize an explicit roi.

    ONNX Runtime's CoreML checker counts Constant and Identity nodes and treats an empty optional
    input (Resize's roi) as a value of unknown shape; none of them is needed.
    """
    from onnx import numpy_helper

    g = model.graph
    outputs = {o.name for o in g.output}
    rename: dict[str, str] = {}
    keep = []
    for node in g.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = numpy_helper.to_array(node.attribute[0].t)
            g.initializer.append(numpy_helper.from_array(t, node.output[0]))
            continue
        if (node.op_type == "Identity" and node.output[0] not in outputs
                and node.input[0] not in outputs):
            rename[node.output[0]] = rename.get(node.input[0], node.input[0])
            continue
        keep.append(node)
    roi_name = None
    for node in keep:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
        if node.op_type == "Resize" and len(node.input) > 1 and node.input[1] == "":
            if roi_name is None:
                roi_name = "resize_roi_unused"
                g.initializer.append(numpy_helper.from_array(np.zeros((0,), np.float32), roi_name))
            node.input[1] = roi_name
    del g.node[:]
    g.node.extend(keep)
    # drop initializers nothing uses any more
    used = {i for n in g.node for i in n.input} | outputs
    unused = [init for init in g.initializer if init.name not in used]
    for init in unused:
        g.initializer.remove(init)
    del g.value_info[:]


def check_contract(path: Path) -> None:
    """Raise ConvertError unless the file has the contract's names and static shapes."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def shape(v):
        return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param or "?"
                     for d in v.type.tensor_type.shape.dim)

    inputs = {v.name: shape(v) for v in model.graph.input}
    outputs = {v.name: shape(v) for v in model.graph.output}
    if inputs != {INPUT_NAME: INPUT_SHAPE}:
        raise ConvertError(f"exported model has inputs {inputs}, expected {INPUT_NAME} {INPUT_SHAPE}")
    if outputs != OUTPUT_SHAPES:
        raise ConvertError(f"exported model has outputs {outputs}, expected {OUTPUT_SHAPES}")


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------
def _reference_outputs(net, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint-faithful PyTorch model's (landmarks, heatmaps) for one input."""
    import torch

    with torch.no_grad():
        lm, hm = net(torch.from_numpy(x))
    return lm.numpy(), hm.numpy()


def verify_onnx(net, path: Path, inputs: list[np.ndarray]) -> dict:
    """Compare ONNX Runtime (CPU) with PyTorch; return max abs differences."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    lm_diff = hm_diff = 0.0
    for x in inputs:
        lm_onnx, hm_onnx = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        lm_ref, hm_ref = _reference_outputs(net, x)
        if lm_onnx.shape != lm_ref.shape or hm_onnx.shape != hm_ref.shape:
            raise ConvertError(f"ONNX output shapes {lm_onnx.shape}, {hm_onnx.shape} differ from "
                               f"PyTorch {lm_ref.shape}, {hm_ref.shape}")
        lm_diff = max(lm_diff, float(np.max(np.abs(lm_onnx - lm_ref))))
        hm_diff = max(hm_diff, float(np.max(np.abs(hm_onnx - hm_ref))))
        if not (np.isfinite(lm_onnx).all() and np.isfinite(lm_ref).all()):
            raise ConvertError("non-finite landmarks during verification")
    return {"max_landmark_diff": lm_diff, "max_heatmap_diff": hm_diff, "inputs": len(inputs)}


# ---------------------------------------------------------------------------------------------
# The converter
# ---------------------------------------------------------------------------------------------
def build_network(checkpoint, random_weights: bool, seed: int):
    from app.convert.nets.star import CheckpointError, load_star_checkpoint, random_star

    if random_weights:
        return random_star(seed)
    try:
        return load_star_checkpoint(checkpoint)
    except CheckpointError as exc:
        raise ConvertError(str(exc)) from exc


def convert_star(checkpoint, out, *, random_weights: bool = False, seed: int = 0,
                 overwrite: bool = False, coreml_check: bool = True, verify_inputs: int = 4,
                 log: Callable[[str], None] = print) -> dict:
    """Convert a STAR WFLW checkpoint (or random weights) to ONNX at out; return the info recorded.

    Raises ConvertError (message meant for the user) on any problem; no partial file is left.
    """
    from app.model_files import record_converted, sha256_file

    if random_weights and checkpoint is not None:
        raise ConvertError("give a checkpoint or --random-weights, not both")
    if not random_weights and checkpoint is None:
        raise ConvertError("give a STAR checkpoint file (Landmark_98.pkl) or --random-weights")
    out = Path(out)
    check_output_path(out, overwrite)
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ConvertError(f"{checkpoint}: checkpoint file not found")

    try:
        import onnx
        import onnxruntime
        import torch
    except ImportError as exc:  # pragma: no cover - the CLI checks this first
        raise ConvertError(f"the converter needs torch and onnx ({exc})") from exc

    t0 = time.perf_counter()
    if random_weights:
        log(f"STAR: building the network with random weights (seed {seed}); the model will be marked UNTRAINED")
    else:
        log(f"STAR: loading checkpoint {checkpoint}")
    net = build_network(checkpoint, random_weights, seed)
    source_sha = sha256_file(checkpoint) if checkpoint is not None else None

    tmp = temp_output_path(out)
    try:
        log(f"STAR: exporting ONNX (opset {OPSET}, static 1x3x256x256) to a temporary file")
        export_onnx(net, tmp)
        check_contract(tmp)
        meta = {META_MODEL: MODEL_NAME, META_UNTRAINED: "true" if random_weights else "false"}
        if checkpoint is not None:
            meta[META_SOURCE] = checkpoint.name
            meta[META_SOURCE_SHA] = source_sha
        else:
            meta["facemirror.random_seed"] = str(seed)
        set_metadata(tmp, meta)

        inputs = random_inputs(max(0, int(verify_inputs)), seed=1234 + int(seed)) + [realistic_input()]
        log(f"STAR: verifying ONNX Runtime against PyTorch on {len(inputs)} input(s)")
        diffs = verify_onnx(net, tmp, inputs)
        log(f"STAR: max |landmark diff| {diffs['max_landmark_diff']:.2e} (limit {LANDMARK_TOLERANCE:.0e}), "
            f"max |heatmap diff| {diffs['max_heatmap_diff']:.2e}")
        if not diffs["max_landmark_diff"] <= LANDMARK_TOLERANCE:
            raise ConvertError(f"verification failed: ONNX landmarks differ from PyTorch by "
                               f"{diffs['max_landmark_diff']:.3g} (limit {LANDMARK_TOLERANCE:g}); "
                               f"no model written")

        check_info = None
        if coreml_check:
            log("STAR: running ONNX Runtime's CoreML usability checker")
            check_info, _ = coreml_report(tmp, "STAR", log)

        finish_output(tmp, out, overwrite)
    except BaseException:
        discard(tmp)
        raise

    info = {
        "model": MODEL_NAME,
        "untrained": bool(random_weights),
        "source_checkpoint": checkpoint.name if checkpoint is not None else None,
        "source_sha256": source_sha,
        "random_seed": seed if random_weights else None,
        "max_landmark_diff": diffs["max_landmark_diff"],
        "max_heatmap_diff": diffs["max_heatmap_diff"],
        "verify_inputs": diffs["inputs"],
        "coreml_mlprogram": check_info,
        "opset": OPSET,
        "bn_mode": BN_MODE,
        "size_bytes": out.stat().st_size,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }
    manifest = record_converted(out, MANIFEST_KEY, info)
    log(f"STAR: wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s; "
        f"recorded in {manifest}")
    return info
