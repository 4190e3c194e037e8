"""Convert the STAR WFLW checkpoint (OpenFace 3.0's Landmark_98.pkl) to a CoreML-clean ONNX model.

Contract (docs/ARCHITECTURE.md, "Model contracts"):
    input  `input_image` float32 [1, 3, 256, 256]  (BGR, [-1, 1])
    output `landmarks`   float32 [1, 98, 2]         ([-1, 1], last stack run, soft-argmax)
    output `heatmaps`    float32 [1, 98, 64, 64]    (the fused heatmaps the landmarks come from)
`stacks=k` (k < 4) writes the early-exit model: the same contract from stack k-1 (STAR trains
each stack with its own landmark loss), about k/4 of the hourglass compute; it is recorded in the
manifest under the live model's key, and only the live exam's panes use it (see manifest_key).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from app.base import model_files
from app.engine.runtime import META_MODEL, META_SOURCE, META_SOURCE_SHA, META_STAR_STACKS, META_UNTRAINED
from app.convert.common import (ConvertError, check_output_path, discard, drop_unused_initializers,
    finish_output, coreml_report, set_metadata, temp_output_path)

MODEL_NAME = "star-wflw-98"
INPUT_NAME = "input_image"
OUTPUT_NAMES = ("landmarks", "heatmaps")
INPUT_SHAPE = (1, 3, 256, 256)
OUTPUT_SHAPES = {"landmarks": (1, 98, 2), "heatmaps": (1, 98, 64, 64)}
# Opset 17: every op of the graph is in ONNX Runtime's CoreML MLProgram list at this opset and
# ONNX Runtime's CPU EP runs it with its NCHWc optimisations.
OPSET = 17
BN_MODE = "dwconv"

# Verification (see verify_onnx). Measured here (random weights): ONNX Runtime vs PyTorch differ by
# about 1e-5 of a channel's peak and 1-2e-6 in landmarks; scaling one convolution's weight by 1.01
# moves the heatmaps by 1.4e-3 to 9e-2 of a channel's peak and the landmarks by 4.5e-4 to 2.7e-2
# (21 convolutions tried, from the stem to the heads; the last heatmap head, whose scale instance
# normalisation cancels, and the never-applied skip convolutions change nothing).
LANDMARK_TOLERANCE = 1e-4  # max |diff| in [-1, 1] units, on well-posed channels only
HEATMAP_RTOL = 1e-3        # max |diff| of a channel, relative to that channel's scale
# A channel's heat mass is the soft-argmax normaliser: the sum of its fused heatmap over the 64x64
# grid. The heat factor is instance-normalised (a channel the network predicts sums to 64 or more
# before the point/edge gates), so a mass below 1 means the gates are nearly closed: the point is
# absent for this input. There ONNX Runtime's sigmoid, accurate to about 1e-7 absolute, not
# relative, moves the landmark by roughly 2e-6 / mass (measured): at mass 0.02 that is already the
# whole 1e-4 limit. Such landmarks are rounding noise in any runtime and are not compared; their
# channel's heatmap is compared at the scale of the input's strongest channel, and never at less
# than HEAT_UNIT, the unit of the instance-normalised heat (a near-empty channel's own peak says
# nothing about the rounding it carries).
MIN_HEAT_MASS = 1.0
HEAT_UNIT = 1.0
MAX_FACE_CROPS = 4         # real face crops used for verification, at most


# ---------------------------------------------------------------------------------------------
# Inputs used for verification
# ---------------------------------------------------------------------------------------------
def random_inputs(n: int, seed: int = 1234) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, INPUT_SHAPE).astype(np.float32) for _ in range(n)]


def realistic_input() -> np.ndarray:
    """A smooth synthetic face crop (skin oval, brows, eyes, nose, mouth) in the model's range."""
    import cv2

    img: np.ndarray = np.zeros((256, 256, 3), np.uint8)
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


def default_verification_photos() -> list[Path]:
    """Development photos beside the repository (../shared/media) when present, else none."""
    from app.base import paths

    media = paths.repo_root().parent / "shared" / "media"
    if not media.is_dir():
        return []
    return sorted(p for p in media.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def face_crops(photos: list[Path], limit: int = MAX_FACE_CROPS, log: Callable[[str], None] = print,
               points_out: dict | None = None) -> list[tuple[str, np.ndarray]]:
    """STAR inputs cut from real photos exactly as the app cuts them: the installed RetinaFace
    finds the faces, the app's crop (app.engine.landmarks.crop_matrix) maps each box to 256x256.
    Photos that cannot be read or have no face are skipped; no detector model means no crops."""
    import cv2

    from app.base import model_files
    from app.engine import runtime
    from app.engine.faces import FaceDetector
    from app.engine.landmarks import INPUT_SIZE as STAR_SIZE, crop_matrix

    if not photos or limit <= 0:
        return []
    model = model_files.find_model(model_files.RETINAFACE_KEY)
    if model is None:
        log("STAR: no face detector model, so no real face crops for the verification")
        return []
    detector = FaceDetector(model, threads=2, prefer=(runtime.CPU,))
    crops: list[tuple[str, np.ndarray]] = []
    for photo in photos:
        image = cv2.imread(str(photo))
        if image is None:
            log(f"STAR: {photo} is not a readable image; not used for the verification")
            continue
        faces = detector.detect(image)
        if not faces:
            log(f"STAR: no face found in {photo}; not used for the verification")
        for k, face in enumerate(faces[:2]):
            crop = cv2.warpAffine(image, crop_matrix(face.box)[:2], (STAR_SIZE, STAR_SIZE),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            x = crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
            label = f"face {k + 1} of {photo.name}"
            crops.append((label, np.ascontiguousarray(x, dtype=np.float32)))
            if points_out is not None:      # the detector's 5 points in crop pixels, for the model check
                m = crop_matrix(face.box)[:2]
                points_out[label] = np.asarray(face.points, np.float64) @ m[:, :2].T + m[:, 2]
            if len(crops) >= limit:
                return crops
    return crops


SYNTHETIC_FACE = "synthetic face"
# realistic_input()'s anatomy in crop pixels, in the detector's 5-point order: pupils, nose tip
# (the end of the nose line), mouth corners (the mouth ellipse's ends)
SYNTHETIC_FACE_POINTS = np.array([[92, 120], [164, 120], [122, 168], [96, 200], [160, 200]], np.float64)


def verification_inputs(n_noise: int, seed: int, photos: list[Path] | None,
                        log: Callable[[str], None] = print, points_out: dict | None = None
                        ) -> list[tuple[str, np.ndarray]]:
    """(label, input) pairs: uniform noise, the synthetic face, real face crops (when photos).
    ``points_out`` receives label -> the face's 5 reference points in crop pixels."""
    inputs = [(f"noise {i + 1}", x) for i, x in enumerate(random_inputs(max(0, int(n_noise)), seed=seed))]
    inputs.append((SYNTHETIC_FACE, realistic_input()))
    if points_out is not None:
        points_out[SYNTHETIC_FACE] = SYNTHETIC_FACE_POINTS
    inputs += face_crops(list(photos or []), log=log, points_out=points_out)
    return inputs


def model_check(comparison: Comparison, references: dict, log: Callable[[str], None] = print,
                live: bool = False) -> dict:
    """Does the converted model behave like a trained STAR? Its pupils, nose tip and mouth corners
    against the face's 5 points (app/engine/model_check.py, the same test the pipeline runs on
    every video). Decided on the real photos when there are any, else on the synthetic face (a
    drawing, so only a loud hint). The conversion stays faithful either way; this only says loudly
    when the weights are not those of a trained model.

    live: an early-exit model (fewer stacks). The check still applies: its stack is trained with a
    landmark loss of its own, so trained weights place these five points near the detector's (the
    limit is loose: it separates trained from untrained weights, not good from very good). Only
    the consequence named differs: the live panes, not processed videos, use that model."""
    from app.engine.landmarks import model_to_crop
    from app.engine.model_check import MAX_ERROR_IPD, point_error

    errors = {}
    for label, ref in references.items():
        lm = comparison.onnx_landmarks.get(label)
        if lm is not None:
            e = point_error(model_to_crop(lm), ref)
            if e is not None:
                errors[label] = round(e, 4)
    photos = [e for k, e in errors.items() if k != SYNTHETIC_FACE]
    basis = photos or ([errors[SYNTHETIC_FACE]] if SYNTHETIC_FACE in errors else [])
    median = float(np.median(basis)) if basis else None
    ok = None if median is None else bool(median <= MAX_ERROR_IPD)
    figures = ", ".join(f"{k} {v:.2f}" for k, v in errors.items())
    log(f"STAR: model check (landmarks vs the face's 5 points, in pupil distances; trained <= {MAX_ERROR_IPD}): "
        + (figures or "no face to check"))
    if ok is False and median is not None:     # ok is False only when median was measured
        log("STAR: WARNING: THESE WEIGHTS DO NOT BEHAVE LIKE A TRAINED STAR MODEL: its landmarks do not match "
            "the faces (median error {:.2f} pupil distances). The conversion is faithful, but {}.".format(
                median, "the live exam's panes will show wrong landmarks" if live else
                "every video processed with this model will be rated not usable"))
    return {"errors_ipd": errors, "median_error_ipd": median, "ok": ok,
            "basis": "photos" if photos else "synthetic face"}


# ---------------------------------------------------------------------------------------------
# Export and graph clean-up
# ---------------------------------------------------------------------------------------------
def export_onnx(net, path: Path, *, opset: int = OPSET, bn_mode: str = BN_MODE, stacks: int | None = None) -> None:
    """Export net's export-mode equivalent (its first `stacks` stacks; default all) to path (single
    file) and clean the graph."""
    import onnx
    import torch

    module = net.export_module(bn_mode=bn_mode, stacks=stacks).eval()
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
    g = model.graph
    outputs = {o.name for o in g.output}
    keep, rename = _fold_constants_and_identities(g, outputs)
    _rewire(g, keep, rename)
    del g.node[:]
    g.node.extend(keep)
    drop_unused_initializers(g)
    del g.value_info[:]


def _rewire(g, keep: list, rename: dict[str, str]) -> None:
    """Inputs that read a dropped Identity read its source; an empty Resize roi reads one shared
    empty initializer."""
    from onnx import numpy_helper

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


def _fold_constants_and_identities(g, outputs: set[str]) -> tuple[list, dict[str, str]]:
    """(the nodes kept, {an Identity's output: the name it stands for}); Constant nodes become
    initializers. Identities that touch a graph output stay (the output name must survive)."""
    from onnx import numpy_helper

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
    return keep, rename


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
def _reference_outputs(net, x: np.ndarray, stacks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint-faithful PyTorch model's (landmarks, heatmaps) for one input, after its
    first `stacks` stacks (default all): forward_all(x)[stacks - 1]."""
    import torch

    with torch.no_grad():
        lm, hm = net(torch.from_numpy(x), stacks)
    return lm.numpy(), hm.numpy()


@dataclass
class Comparison:
    """ONNX Runtime against PyTorch over the verification inputs (worst cases and counts)."""
    inputs: int = 0
    channels: int = 0                  # channel-input pairs seen
    landmarks_compared: int = 0        # of those, well-posed (heat mass >= MIN_HEAT_MASS)
    max_landmark_diff: float = 0.0     # over compared landmarks
    max_landmark_diff_ill_posed: float = 0.0   # reported, never a reason to refuse
    max_heatmap_rel_diff: float = 0.0  # max |diff| / channel scale
    max_heatmap_diff: float = 0.0      # absolute, for the record
    worst_landmark: str = ""
    worst_heatmap: str = ""
    onnx_landmarks: dict = field(default_factory=dict)   # label -> (98, 2) in [-1, 1], for the model check

    def add(self, label: str, lm_onnx, hm_onnx, lm_ref, hm_ref) -> None:
        lm_onnx, hm_onnx, lm_ref, hm_ref = (np.asarray(a, np.float64)[0] for a in (lm_onnx, hm_onnx, lm_ref, hm_ref))
        mass = hm_ref.sum(axis=(1, 2))
        peak = np.abs(hm_ref).max(axis=(1, 2))
        well = mass >= MIN_HEAT_MASS
        strongest = max(float(peak.max()) if peak.size else 0.0, HEAT_UNIT)
        scale = np.maximum(np.where(well, peak, strongest), np.finfo(np.float32).tiny)
        hm_diff = np.abs(hm_onnx - hm_ref).max(axis=(1, 2))
        rel = hm_diff / scale
        lm_diff = np.abs(lm_onnx - lm_ref).max(axis=1)
        self.inputs += 1
        self.channels += len(mass)
        self.landmarks_compared += int(well.sum())
        self.max_heatmap_diff = max(self.max_heatmap_diff, float(hm_diff.max()))
        c = int(np.argmax(rel))
        if rel[c] > self.max_heatmap_rel_diff or not self.worst_heatmap:
            self.max_heatmap_rel_diff = float(rel[c])
            self.worst_heatmap = f"channel {c} on {label}"
        if well.any():
            c = int(np.flatnonzero(well)[np.argmax(lm_diff[well])])
            if lm_diff[c] > self.max_landmark_diff or not self.worst_landmark:
                self.max_landmark_diff = float(lm_diff[c])
                self.worst_landmark = f"point {c} on {label}"
        if (~well).any():
            self.max_landmark_diff_ill_posed = max(self.max_landmark_diff_ill_posed, float(lm_diff[~well].max()))

    def problems(self) -> list[str]:
        """Reasons to refuse the export (empty: it matches PyTorch). No well-posed landmark at all
        is not one: it says something about the inputs, not about the export (see warnings)."""
        out = []
        if self.landmarks_compared and not self.max_landmark_diff <= LANDMARK_TOLERANCE:
            out.append(f"ONNX landmarks differ from PyTorch by {self.max_landmark_diff:.3g} "
                       f"(limit {LANDMARK_TOLERANCE:g}; worst: {self.worst_landmark})")
        if not self.max_heatmap_rel_diff <= HEATMAP_RTOL:
            out.append(f"ONNX heatmaps differ from PyTorch by {self.max_heatmap_rel_diff:.3g} of the channel's scale "
                       f"(limit {HEATMAP_RTOL:g}; worst: {self.worst_heatmap})")
        return out

    def warnings(self) -> list[str]:
        if self.landmarks_compared:
            return []
        return [f"no landmark could be compared: every heatmap channel had a heat mass below {MIN_HEAT_MASS:g} on "
                f"every check input, so only the heatmaps were compared. For a complete check convert again with "
                f"--verify-photo PHOTO (a photograph with a face)."]

    def summary(self) -> str:
        return (f"landmarks compared on {self.landmarks_compared} of {self.channels} channel-inputs (heat mass >= "
                f"{MIN_HEAT_MASS:g}): max |diff| {self.max_landmark_diff:.2e} (limit {LANDMARK_TOLERANCE:.0e}); "
                f"heatmaps: max |diff| {self.max_heatmap_rel_diff:.2e} of the channel's scale "
                f"(limit {HEATMAP_RTOL:.0e})")

    def as_dict(self) -> dict:
        return {"verify_inputs": self.inputs, "landmarks_compared": self.landmarks_compared,
                "landmark_channels": self.channels, "min_heat_mass": MIN_HEAT_MASS,
                "max_landmark_diff": self.max_landmark_diff,
                "max_landmark_diff_ill_posed": self.max_landmark_diff_ill_posed,
                "max_heatmap_rel_diff": self.max_heatmap_rel_diff, "max_heatmap_diff": self.max_heatmap_diff,
                "landmark_tolerance": LANDMARK_TOLERANCE, "heatmap_rtol": HEATMAP_RTOL}


def verify_onnx(net, path: Path, inputs: list[tuple[str, np.ndarray]], stacks: int | None = None) -> Comparison:
    """Compare ONNX Runtime (CPU) with the checkpoint-faithful PyTorch model (its first `stacks`
    stacks; default all) on every input.

    Heatmaps: each channel's max |diff| relative to the channel's scale (its peak; for a channel
    whose heat mass is below MIN_HEAT_MASS, the input's strongest peak). Landmarks: max |diff|
    only on channels with heat mass >= MIN_HEAT_MASS (well-posed soft-argmax); how many were
    compared is counted. Deciding which channels are well-posed uses PyTorch's outputs only, so
    a broken export cannot excuse itself.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    result = Comparison()
    for label, x in inputs:
        lm_onnx, hm_onnx = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        lm_ref, hm_ref = _reference_outputs(net, x, stacks)
        if lm_onnx.shape != lm_ref.shape or hm_onnx.shape != hm_ref.shape:
            raise ConvertError(f"ONNX output shapes {lm_onnx.shape}, {hm_onnx.shape} differ from "
                               f"PyTorch {lm_ref.shape}, {hm_ref.shape}")
        if not (np.isfinite(lm_onnx).all() and np.isfinite(lm_ref).all()):
            raise ConvertError(f"non-finite landmarks during verification ({label})")
        result.add(label, lm_onnx, hm_onnx, lm_ref, hm_ref)
        result.onnx_landmarks[label] = np.asarray(lm_onnx, np.float64)[0]
    return result


# ---------------------------------------------------------------------------------------------
# The converter
# ---------------------------------------------------------------------------------------------
def stack_count(stacks: int | None) -> int:
    """How many stacks to convert: all of them for None; ConvertError unless 1..STAR_STACKS."""
    try:
        return model_files.star_stack_count(stacks)
    except ValueError as exc:
        raise ConvertError(str(exc)) from None


def model_name(stacks: int) -> str:
    """The metadata's model name: "star-wflw-98" for full STAR, "star-wflw-98-stack2" when cut."""
    return MODEL_NAME if stacks == model_files.STAR_STACKS else f"{MODEL_NAME}-stack{stacks}"


def manifest_key(stacks: int) -> str:
    """Full STAR is recorded as the STAR model; every cut model as the live panes' model.

    The key names the model's role, and a cut model has one role only: the live exam's panes
    (recordings are always analysed with full STAR). The project makes the live model with
    STAR_LIVE_STACKS stacks; other counts still convert, for experiments, and their record says
    how many stacks they run ("stacks"), so nothing pretends they are the 2-stack model.
    """
    return model_files.STAR_KEY if stacks == model_files.STAR_STACKS else model_files.STAR_LIVE_KEY


def check_cut_target(out: Path, stacks: int) -> None:
    """A cut model must not take full STAR's file name: the pipeline would analyse recordings with it."""
    if stacks < model_files.STAR_STACKS and out.name == model_files.STAR_FILE:
        raise ConvertError(f"{out.name} is the name of the full STAR model, which recordings are analysed with; "
                           f"write the {stacks}-stack model under another name (the live panes look for "
                           f"{model_files.STAR_LIVE_FILE})")


def star_metadata(name: str, stacks: int, checkpoint: Path | None, source_sha: str | None,
                  random_weights: bool, seed: int) -> dict[str, str]:
    meta = {META_MODEL: name, META_STAR_STACKS: str(stacks),
            META_UNTRAINED: "true" if random_weights else "false"}
    if checkpoint is not None:
        meta[META_SOURCE] = checkpoint.name
        meta[META_SOURCE_SHA] = source_sha or ""
    else:
        meta["facemirror.random_seed"] = str(seed)
    return meta


def build_network(checkpoint, random_weights: bool, seed: int):
    from app.convert.nets.star import CheckpointError, load_star_checkpoint, random_star

    if random_weights:
        return random_star(seed)
    try:
        return load_star_checkpoint(checkpoint)
    except CheckpointError as exc:
        raise ConvertError(str(exc)) from exc


def _checked_source(checkpoint, random_weights: bool) -> Path | None:
    """The checkpoint as a Path (None with random weights); exactly one of them must be given."""
    if random_weights and checkpoint is not None:
        raise ConvertError("give a checkpoint or --random-weights, not both")
    if not random_weights and checkpoint is None:
        raise ConvertError("give a STAR checkpoint file (Landmark_98.pkl) or --random-weights")
    if checkpoint is None:
        return None
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ConvertError(f"{checkpoint}: checkpoint file not found")
    return checkpoint


def _log_early_exit(stacks: int, name: str, log: Callable[[str], None]) -> None:
    log(f"STAR: early exit after stack {stacks} of {model_files.STAR_STACKS} ({name}): later stacks are left "
        f"out; recorded as the live panes' model '{model_files.STAR_LIVE_KEY}'"
        + ("" if stacks == model_files.STAR_LIVE_STACKS else
           f" (an experiment: the project's live model has {model_files.STAR_LIVE_STACKS} stacks)"))


def _verify_export(net, tmp: Path, stacks: int, seed: int, verify_inputs: int, verify_photos: list[Path] | None,
                   log: Callable[[str], None]) -> tuple[dict, object]:
    """Compare ONNX Runtime with PyTorch on the verification inputs; raise ConvertError when they
    disagree. Returns (the differences, the trained-model check) for the manifest."""
    photos = default_verification_photos() if verify_photos is None else list(verify_photos)
    references: dict = {}
    inputs = verification_inputs(verify_inputs, 1234 + int(seed), photos, log, points_out=references)
    log(f"STAR: verifying ONNX Runtime against PyTorch on {len(inputs)} input(s): "
        + ", ".join(label for label, _ in inputs))
    comparison = verify_onnx(net, tmp, inputs, stacks)
    log(f"STAR: {comparison.summary()}")
    for warning in comparison.warnings():
        log(f"STAR: warning: {warning}")
    problems = comparison.problems()
    if problems:
        raise ConvertError("verification failed: " + "; ".join(problems) + "; no model written")
    diffs = comparison.as_dict()
    trained_check = model_check(comparison, references, log, live=stacks < model_files.STAR_STACKS)
    return diffs, trained_check


def convert_star(checkpoint, out, *, random_weights: bool = False, seed: int = 0,
                 overwrite: bool = False, coreml_check: bool = True, verify_inputs: int = 4,
                 verify_photos: list[Path] | None = None, log: Callable[[str], None] = print,
                 stacks: int | None = None) -> dict:
    """Convert a STAR WFLW checkpoint (or random weights) to ONNX at out; return the info recorded.

    stacks: run only the first `stacks` of STAR's 4 hourglass stacks (the live panes' early-exit
    model, recorded under model_files.STAR_LIVE_KEY); None converts full STAR.

    verify_inputs: how many uniform-noise inputs the verification uses besides the synthetic face.
    verify_photos: photos whose faces (found by the installed RetinaFace) are verification inputs
    too, at most MAX_FACE_CROPS crops; None means the development photos in ../shared/media when
    that folder exists.

    Raises ConvertError (message meant for the user) on any problem; no partial file is left.
    """
    from app.base.model_files import record_converted, sha256_file

    if verify_inputs < 0:
        raise ConvertError(f"the number of noise inputs cannot be negative, got {verify_inputs}")
    stacks = stack_count(stacks)
    name = model_name(stacks)
    checkpoint = _checked_source(checkpoint, random_weights)
    out = Path(out)
    check_cut_target(out, stacks)
    check_output_path(out, overwrite)

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
    if stacks < model_files.STAR_STACKS:
        _log_early_exit(stacks, name, log)

    tmp = temp_output_path(out)
    try:
        log(f"STAR: exporting ONNX (opset {OPSET}, static 1x3x256x256) to a temporary file")
        export_onnx(net, tmp, stacks=stacks)
        check_contract(tmp)
        set_metadata(tmp, star_metadata(name, stacks, checkpoint, source_sha, random_weights, seed))
        diffs, trained_check = _verify_export(net, tmp, stacks, seed, verify_inputs, verify_photos, log)
        check_info = None
        if coreml_check:
            log("STAR: running ONNX Runtime's CoreML usability checker")
            check_info, _ = coreml_report(tmp, "STAR", log)
        finish_output(tmp, out, overwrite)
    except BaseException:
        discard(tmp)
        raise

    info = {
        "model": name,
        "stacks": stacks,
        "untrained": bool(random_weights),
        "source_checkpoint": checkpoint.name if checkpoint is not None else None,
        "source_sha256": source_sha,
        "random_seed": seed if random_weights else None,
        **diffs,
        "model_check": trained_check,
        "coreml_mlprogram": check_info,
        "opset": OPSET,
        "bn_mode": BN_MODE,
        "size_bytes": out.stat().st_size,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }
    manifest = record_converted(out, manifest_key(stacks), info)
    log(f"STAR: wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s; "
        f"recorded in {manifest}")
    return info
