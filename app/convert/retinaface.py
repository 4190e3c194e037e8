"""RetinaFace MobileNet-0.25 checkpoint (mobilenet0.25_Final.pth) -> ONNX.

The ONNX contract (read by app.engine.faces.FaceDetector):
  input  `input_image` float32 [1, 3, S, S]: BGR pixels minus (104, 117, 123), S = 640 by default.
  output `boxes`       float32 [1, P, 4]:  raw box regressions (dx, dy, dw, dh) per prior.
  output `scores`      float32 [1, P]:     face probability per prior (softmax already applied).
  output `landmarks`   float32 [1, P, 10]: raw regressions of the 5 points (x, y pairs) per prior.
P = 2 * sum((S / s) ** 2 for s in (8, 16, 32)) = 16800 for S = 640. Decoding with the priors
(min_sizes [[16, 32], [64, 128], [256, 512]], steps [8, 16, 32], variances [0.1, 0.2]) happens
in numpy in the detector; the priors depend only on S, so they are computed once.

Why a fixed square input rather than dynamic height/width:
  * the app's CoreML session requires static input shapes (runtime.coreml_options); with a
    fixed size every shape in the graph is static and the whole graph can be one CoreML
    partition, instead of falling back to the CPU;
  * the priors and the pre-allocated input buffer are computed once;
  * latency is the same for every video.
The detector letterboxes each frame (longest side scaled to S, the rest padded with the mean
colour, i.e. zeros after mean subtraction - what the network saw around padded training crops)
and maps the detections back. The cost is wasted computation on padding for wide frames (a
16:9 frame fills 56 % of the square); at 640 a detection still takes about 16 ms on two CPU
cores.

Export details: torch.onnx (dynamo exporter), opset 18; BatchNorm is folded into the
convolutions and the face probability is taken with Slice (not Gather). The nearest-neighbour
upsampling in the feature pyramid is rewritten after export as Resize(x, empty roi constant,
constant scales [1, 1, 2, 2]) instead of Resize(x, '', '', sizes): the same operation, but with
every input a constant, which is the form ONNX Runtime's CoreML Resize builder and its
usability checker accept. ONNX Runtime's checker then reports one CoreML MLProgram partition
with all 128 nodes supported.
"""
from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from app.base.model_files import RETINAFACE_KEY, record_converted, sha256_file
from app.engine.runtime import META_MODEL, META_SOURCE, META_SOURCE_SHA, META_UNTRAINED
from app.convert.common import (ConvertError, check_output_path, coreml_report, discard, drop_unused_initializers,
    finish_output, load_checkpoint_safely, set_metadata, temp_output_path)

MODEL_NAME = "retinaface-mnet025"
INPUT_NAME = "input_image"
OUTPUT_NAMES = ("boxes", "scores", "landmarks")
DEFAULT_INPUT_SIZE = 640
OPSET = 18
META_INPUT_SIZE = "facemirror.retinaface.input_size"
META_OUTPUTS = "facemirror.retinaface.outputs"

# Parity between PyTorch and ONNX Runtime (fp32, same weights). Measured differences on the
# real weights are around 1e-5 (regressions) and 1e-6 (probabilities); these bounds leave a
# margin for other CPUs' kernels while still catching any real export error.
TOL_REGRESSION = 1e-3
TOL_SCORE = 1e-4


NO_CHECKPOINT = "give the RetinaFace checkpoint (mobilenet0.25_Final.pth) or use --random-weights"


def _existing_checkpoint(checkpoint: str | Path | None) -> Path:
    """The checkpoint's path; ConvertError when none was given or it is not a file."""
    if checkpoint is None:
        raise ConvertError(NO_CHECKPOINT)
    path = Path(checkpoint)
    if not path.is_file():
        raise ConvertError(f"checkpoint not found: {path}")
    return path


def _load_checkpoint(checkpoint: Path):
    """Safe loading; an unreadable file is explained in plain words (ConvertError)."""
    return load_checkpoint_safely(checkpoint)


# Key prefixes of the STAR landmark network, to name it when its checkpoint is given here.
_STAR_PREFIXES = ("pre.", "hgs.", "features.", "out_heatmaps.", "merge_")


def _other_network_hint(state) -> str:
    keys = [str(k) for k in state]
    if keys and sum(k.startswith(_STAR_PREFIXES) for k in keys) > len(keys) // 2:
        return ". This is a STAR landmark checkpoint; convert it with: python main.py convert star FILE"
    return ""


def build_model(checkpoint: Path | None, random_weights: bool, seed: int):
    """The network with the checkpoint loaded strictly (or seeded random weights)."""
    from app.convert.nets import retinaface as rf

    if random_weights:
        return rf.build(None, seed=seed)
    if checkpoint is None:
        raise ConvertError(NO_CHECKPOINT)
    raw = _load_checkpoint(checkpoint)
    try:
        state = rf.clean_state_dict(raw)
    except TypeError:
        raise ConvertError(f"{checkpoint} is not a RetinaFace checkpoint: it holds a {type(raw).__name__}, "
                           f"not the network's weights (a state_dict)") from None
    model = rf.RetinaFaceMNet()
    problems = rf.check_state_dict(model, state)
    if problems:
        raise ConvertError(f"{checkpoint} is a checkpoint of another network: it does not match RetinaFace "
                           f"MobileNet-0.25: " + "; ".join(problems) + _other_network_hint(state))
    model.load_state_dict(state, strict=True)
    return model.eval()


def verification_images(size: int, count: int = 3, seed: int = 1234) -> list[np.ndarray]:
    """Deterministic image-like BGR uint8 inputs (size x size) for the parity check.

    Not random noise: smooth shading, a skin-coloured ellipse with darker eyes, brows and mouth
    (so that some priors score high and the decoded outputs are exercised), a padded band like
    the detector's letterbox, and mild sensor noise.
    """
    import cv2

    rng = np.random.default_rng(seed)
    images = []
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for k in range(count):
        base = np.stack([60 + 80 * xx, 80 + 60 * yy, 100 + 50 * (1 - xx)], axis=-1)
        img: np.ndarray = base.astype(np.float32)
        cx, cy = size * (0.35 + 0.3 * rng.random()), size * (0.35 + 0.2 * rng.random())
        fw = size * (0.12 + 0.15 * k)
        fh = fw * 1.3
        skin = (110 + 30 * rng.random(), 140 + 20 * rng.random(), 190 + 30 * rng.random())
        cv2.ellipse(img, (int(cx), int(cy)), (int(fw / 2), int(fh / 2)), 0, 0, 360, skin, -1)
        for side in (-1, 1):
            ex, ey = int(cx + side * fw * 0.2), int(cy - fh * 0.1)
            cv2.ellipse(img, (ex, ey), (max(1, int(fw * 0.08)), max(1, int(fw * 0.04))), 0, 0, 360, (40, 40, 50), -1)
            cv2.line(img, (ex - int(fw * 0.1), ey - int(fh * 0.09)), (ex + int(fw * 0.1), ey - int(fh * 0.1)),
                     (50, 60, 80), max(1, int(fw * 0.03)))
        cv2.ellipse(img, (int(cx), int(cy + fh * 0.25)), (max(1, int(fw * 0.18)), max(1, int(fw * 0.05))),
                    0, 0, 360, (70, 70, 150), -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.5)
        img += rng.normal(0, 4, img.shape).astype(np.float32)
        if k == count - 1:  # letterbox-style padding: the mean colour below the content
            img[int(size * 0.6):] = (104, 117, 123)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images


def to_input(image_bgr: np.ndarray) -> np.ndarray:
    """HWC uint8 BGR -> [1, 3, H, W] float32 minus the training mean."""
    from app.convert.nets.retinaface import MEAN_BGR

    x = image_bgr.astype(np.float32) - np.asarray(MEAN_BGR, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _export(model, size: int, path: Path) -> None:
    import torch

    dummy = torch.from_numpy(to_input(verification_images(size, 1)[0]))
    sink = io.StringIO()
    onnx_logger = logging.getLogger("torch.onnx")
    old_level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_NAME],
                              output_names=list(OUTPUT_NAMES), opset_version=OPSET, dynamo=True,
                              external_data=False, verbose=False)
    except Exception as exc:  # noqa: BLE001
        raise ConvertError(f"ONNX export failed: {exc}\n{sink.getvalue()[-2000:]}") from exc
    finally:
        onnx_logger.setLevel(old_level)


def tidy_graph(path: Path) -> int:
    """Post-export clean-up, in place.

    * Resize(x, '', '', sizes) becomes Resize(x, empty_roi, scales) with constant inputs (only
      for whole-number scale factors, always the case for an input that is a multiple of 32).
    * The exporter's per-node metadata (Python stack traces with this machine's file paths,
      FX node text) and doc strings are dropped: they make the file larger and the output
      depend on where the converter ran.
    Returns how many Resize nodes were rewritten. The parity check that follows compares the
    result with PyTorch.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    model.graph.doc_string = ""
    shapes = _static_shapes(model)
    consts = _constant_values(model)

    roi_name = "facemirror_resize_roi"
    rewritten = 0
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        inputs = list(node.input) + [""] * (4 - len(node.input))
        x, roi, _, sizes = inputs[:4]
        factors = _whole_scale_factors(shapes.get(x), consts.get(sizes) if sizes else None)
        if factors is None:
            continue
        scale_name = f"facemirror_resize_scales_{rewritten}"
        model.graph.initializer.append(numpy_helper.from_array(factors.astype(np.float32), scale_name))
        del node.input[:]
        node.input.extend([x, roi if roi else roi_name, scale_name])
        rewritten += 1
    if rewritten:
        model.graph.initializer.append(numpy_helper.from_array(np.zeros((0,), np.float32), roi_name))
        _drop_dead_constants(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return rewritten


def _static_shapes(model) -> dict[str, list[int | None]]:
    """Every value's inferred shape (None for a dimension that is not a fixed number)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def _constant_values(model) -> dict[str, np.ndarray]:
    """The values of the initializers and of the Constant nodes' outputs, by name."""
    from onnx import numpy_helper

    consts = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    consts[node.output[0]] = numpy_helper.to_array(attr.t)
    return consts


def _whole_scale_factors(in_shape: list[int | None] | None, out_sizes: np.ndarray | None) -> np.ndarray | None:
    """Resize's per-axis scale factors when the sizes are constant, the input shape is known and
    every factor is a whole number; else None (that Resize is left as it is)."""
    if out_sizes is None or not in_shape or None in in_shape:
        return None
    factors = out_sizes.astype(np.int64) / np.asarray(in_shape, np.float64)
    if not np.all(factors == np.round(factors)):
        return None
    return factors


def _drop_dead_constants(model) -> None:
    """Drop Constant nodes and initializers that fed only the removed `sizes` inputs."""
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    dead = [n for n in model.graph.node if n.op_type == "Constant" and n.output[0] not in used]
    for n in dead:
        model.graph.node.remove(n)
    drop_unused_initializers(model.graph)


def verify(model, onnx_path: Path, size: int, inputs: int = 3) -> dict:
    """Run PyTorch and ONNX Runtime (CPU) on the same inputs; raise ConvertError on mismatch."""
    import torch

    from app.engine import runtime

    session, _ = runtime.create_session(onnx_path, prefer=(runtime.CPU,))
    names = [o.name for o in session.get_outputs()]
    if tuple(names) != OUTPUT_NAMES:
        raise ConvertError(f"exported outputs are {names}, expected {list(OUTPUT_NAMES)}")
    worst = {name: 0.0 for name in OUTPUT_NAMES}
    top_scores = []
    for img in verification_images(size, inputs):
        x = to_input(img)
        with torch.no_grad():
            ref = [t.numpy() for t in model(torch.from_numpy(x))]
        got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        for name, r, g in zip(OUTPUT_NAMES, ref, got):
            if r.shape != g.shape:
                raise ConvertError(f"output {name}: ONNX shape {g.shape} != PyTorch shape {r.shape}")
            worst[name] = max(worst[name], float(np.max(np.abs(r - g))))
        top_scores.append(float(ref[1].max()))
    limits = {"boxes": TOL_REGRESSION, "scores": TOL_SCORE, "landmarks": TOL_REGRESSION}
    bad = [f"{n}: max |diff| {worst[n]:.3g} > {limits[n]:g}" for n in OUTPUT_NAMES if worst[n] > limits[n]]
    if bad:
        raise ConvertError("ONNX output differs from PyTorch: " + "; ".join(bad))
    return {"inputs": inputs, "max_abs_diff": worst, "top_score_per_input": top_scores}


def convert_retinaface(checkpoint: str | Path | None, out: str | Path, *, random_weights: bool = False,
                       seed: int = 0, overwrite: bool = False, coreml_check: bool = True,
                       log: Callable[[str], None] = print, input_size: int = DEFAULT_INPUT_SIZE,
                       verify_inputs: int = 3) -> dict:
    """Convert mobilenet0.25_Final.pth (or random weights) to ONNX at `out`.

    Refuses to overwrite unless asked; writes to a temporary name and renames only after the
    ONNX output matched PyTorch; records the file's sha256 in the manifest beside it.
    Returns a dict with what was done (path, sha256, parity figures, CoreML checker result).
    """
    out = Path(out)
    if input_size <= 0 or input_size % 32:
        raise ConvertError(f"input size must be a positive multiple of 32, got {input_size}")
    if verify_inputs < 1:
        raise ConvertError(f"the ONNX-vs-PyTorch check needs at least one input, got {verify_inputs}")
    ckpt = None if random_weights else _existing_checkpoint(checkpoint)
    check_output_path(out, overwrite)

    t0 = time.perf_counter()
    if ckpt is None:
        source_name, source_sha = f"random weights (seed {seed})", ""
        log(f"RetinaFace: random weights, seed {seed} (the exported model is marked UNTRAINED)")
    else:
        source_name, source_sha = ckpt.name, sha256_file(ckpt)
        log(f"RetinaFace: loading {ckpt} (sha256 {source_sha[:12]}...)")
    model = build_model(ckpt, random_weights, seed)

    tmp = temp_output_path(out)
    try:
        log(f"exporting to ONNX (opset {OPSET}, input [1, 3, {input_size}, {input_size}])")
        _export(model, input_size, tmp)
        rewritten = tidy_graph(tmp)
        meta = {
            META_MODEL: MODEL_NAME,
            META_UNTRAINED: "true" if random_weights else "false",
            META_SOURCE: source_name,
            META_SOURCE_SHA: source_sha,
            META_INPUT_SIZE: f"{input_size}x{input_size}",
            META_OUTPUTS: "boxes=raw loc [1,P,4]; scores=face probability [1,P]; landmarks=raw [1,P,10]; "
                          "priors min_sizes 16,32/64,128/256,512 steps 8,16,32 variances 0.1,0.2; "
                          "input BGR minus 104,117,123",
        }
        # No COREML_CACHE_KEY: the key names the ONNX Runtime version, and the committed detector must
        # come out of this converter bit for bit (its sha256 is pinned); its CoreML compile is small.
        set_metadata(tmp, meta, cache_key=False)
        parity = verify(model, tmp, input_size, verify_inputs)
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in parity["max_abs_diff"].items())
        log(f"ONNX Runtime matches PyTorch on {parity['inputs']} inputs (max |diff|: {diffs})")
        coreml, coreml_summary = coreml_report(tmp, "RetinaFace", log) if coreml_check else (None, None)
        finish_output(tmp, out, overwrite)
    except BaseException:
        discard(tmp)
        raise

    info = {
        "model": MODEL_NAME,
        "untrained": bool(random_weights),
        "source_checkpoint": source_name,
        "source_sha256": source_sha,
        "input_size": [input_size, input_size],
        "input": INPUT_NAME,
        "outputs": list(OUTPUT_NAMES),
        "opset": OPSET,
        "resize_rewritten": rewritten,
        "verification": parity,
        "coreml": coreml,
    }
    manifest = record_converted(out, RETINAFACE_KEY, info)
    sha = sha256_file(out)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha[:12]}...) in "
        f"{time.perf_counter() - t0:.1f} s; recorded in {manifest}")
    return {**info, "path": str(out), "sha256": sha, "manifest": str(manifest),
            "coreml_summary": coreml_summary}
