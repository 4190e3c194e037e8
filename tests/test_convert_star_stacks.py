"""STAR early exit (issue 25): `convert star --stacks K` writes STAR cut after K of its 4 stacks,
for the live exam's panes. One 2-stack conversion (random weights, conftest's star_live_dev_conversion)
serves the whole module."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main as cli
from app.cli import model_commands

from app.base import model_files

torch = pytest.importorskip("torch", reason="converter extras (torch) not installed")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from app.convert import converter_for, fetch  # noqa: E402
from app.convert import star as cs  # noqa: E402
from app.engine.runtime import META_MODEL, META_STAR_STACKS, META_UNTRAINED  # noqa: E402
from app.convert.common import ConvertError  # noqa: E402
from app.convert.nets.star import random_star  # noqa: E402

STACKS = model_files.STAR_LIVE_STACKS
REPO_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@pytest.fixture(scope="module")
def live_model(star_live_dev_conversion) -> dict:
    """The 2-stack conversion (random weights, seed 0; conftest: made once per test run, also used
    by test_convert_star's checkpoint conversion)."""
    return star_live_dev_conversion


def _meta(path: Path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_the_cut_model_keeps_the_contract_and_says_what_it_is(live_model):
    out = live_model["out"]
    cs.check_contract(out)      # same input and outputs, static shapes, as full STAR
    meta = _meta(out)
    assert meta[META_MODEL] == f"{cs.MODEL_NAME}-stack{STACKS}"
    assert meta[META_STAR_STACKS] == str(STACKS)
    assert meta[META_UNTRAINED] == "true"
    assert live_model["info"]["stacks"] == STACKS
    assert any("early exit after stack 2 of 4" in line for line in live_model["log"])


def test_the_cut_model_gives_the_second_stacks_output(live_model):
    """Independent of the converter's own check: ONNX Runtime against forward_all(x)[1] on one input,
    and clearly not the full model's output (the cut really happened after stack 2)."""
    x = cs.realistic_input()
    lm, hm = _session(live_model["out"]).run(list(cs.OUTPUT_NAMES), {cs.INPUT_NAME: x})
    with torch.no_grad():
        stacks = random_star(0).forward_all(torch.from_numpy(x))
    ref, full = stacks[STACKS - 1], stacks[-1]
    hm_ref = ref["heatmaps"].numpy()
    scale = max(float(np.abs(hm_ref).max()), 1.0)
    assert np.abs(hm - hm_ref).max() / scale < cs.HEATMAP_RTOL
    well = hm_ref[0].sum(axis=(1, 2)) >= cs.MIN_HEAT_MASS      # well-posed soft-argmax channels only
    assert well.sum() > 10
    assert np.abs(lm[0][well] - ref["landmarks"].numpy()[0][well]).max() < cs.LANDMARK_TOLERANCE
    assert np.abs(hm - full["heatmaps"].numpy()).max() / scale > 100 * cs.HEATMAP_RTOL


def test_later_stacks_are_not_in_the_file(live_model):
    """About half of full STAR: the weights of stacks 3 and 4 (and of the last merge) are left out."""
    full = random_star(0).export_module()
    full_bytes = 4 * (sum(p.numel() for p in full.parameters()) + sum(b.numel() for b in full.buffers()))
    size = live_model["out"].stat().st_size
    assert 0.45 < size / full_bytes < 0.56, (size, full_bytes)
    assert 25e6 < size < 31e6


def test_recorded_as_the_live_model_beside_it(live_model):
    out = live_model["out"]
    data = json.loads((out.parent / model_files.MANIFEST_NAME).read_text())
    assert set(data["models"]) == {model_files.STAR_LIVE_KEY}      # never as full STAR
    entry = data["models"][model_files.STAR_LIVE_KEY]
    assert entry["file"] == model_files.STAR_LIVE_FILE
    assert entry["required"] is False
    assert entry["converted"][out.name]["stacks"] == STACKS
    assert entry["converted"][out.name]["model"] == f"{cs.MODEL_NAME}-stack{STACKS}"


def test_the_app_detector_runs_it(live_model):
    from app.engine.landmarks import StarLandmarkDetector

    det = StarLandmarkDetector(live_model["out"], threads=2, prefer=("CPUExecutionProvider",))
    image = np.full((480, 640, 3), 128, np.uint8)
    points = det.landmarks_for_box(image, (220, 140, 420, 380))
    assert points.shape == (98, 2) and np.isfinite(points).all()
    assert det.untrained


@pytest.mark.parametrize("stacks", [0, 5, -1, True, 2.0])
def test_a_stack_count_outside_1_to_4_is_refused_plainly(stacks, tmp_path):
    with pytest.raises(ConvertError, match="whole number from 1 to 4"):
        cs.convert_star(None, tmp_path / "x.onnx", random_weights=True, stacks=stacks, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_a_cut_model_never_takes_full_stars_file_name(tmp_path):
    with pytest.raises(ConvertError, match="recordings are analysed with"):
        cs.convert_star(None, tmp_path / model_files.STAR_FILE, random_weights=True, stacks=STACKS,
                        log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_manifest_key_and_model_name_by_stack_count():
    assert cs.manifest_key(model_files.STAR_STACKS) == model_files.STAR_KEY
    assert cs.model_name(model_files.STAR_STACKS) == cs.MODEL_NAME
    for k in (1, 2, 3):     # every cut model is the live panes' model; its record says how many stacks
        assert cs.manifest_key(k) == model_files.STAR_LIVE_KEY
        assert cs.model_name(k) == f"{cs.MODEL_NAME}-stack{k}"


def test_cli_default_out_with_stacks_is_the_live_file(monkeypatch):
    calls = []
    monkeypatch.setattr("app.convert.converter_for", lambda key: lambda *a, **kw: calls.append((a, kw)))
    assert cli.main(["convert", "star", "--random-weights", "--stacks", str(STACKS)]) == 0
    assert cli.main(["convert", "star", "--random-weights"]) == 0
    (live_args, live_kw), (full_args, full_kw) = calls
    assert live_args[1] == Path("weights") / model_files.STAR_LIVE_FILE and live_kw["stacks"] == STACKS
    assert full_args[1] == Path("weights") / model_files.STAR_FILE and full_kw["stacks"] is None
    assert model_commands.star_default_out(model_files.STAR_STACKS) == Path("weights") / model_files.STAR_FILE


def test_models_fetch_makes_the_live_model_from_stars_checkpoint():
    models = model_files.load_manifest()["models"]
    assert model_files.models_from_checkpoint(model_files.STAR_KEY) == [model_files.STAR_KEY,
                                                                         model_files.STAR_LIVE_KEY]
    assert model_files.models_from_checkpoint(model_files.RETINAFACE_KEY) == [model_files.RETINAFACE_KEY]
    # a destination manifest written before the live model existed still gets it
    old = {"models": {k: v for k, v in models.items() if k != model_files.STAR_LIVE_KEY}}
    assert model_files.STAR_LIVE_KEY in fetch.model_entries(old)
    live = converter_for(model_files.STAR_LIVE_KEY)
    assert live.func is cs.convert_star and live.keywords == {"stacks": STACKS}


def test_the_live_models_take_the_cut_model_and_the_recordings_full_star(live_model, star_dev_model, tmp_path,
                                                                         monkeypatch):
    """Models.load(live=True): the cut model where it is installed, else full STAR; Models.load(): full
    STAR always (recordings are analysed with it)."""
    from app.engine.model_set import Models

    weights = tmp_path / "weights"
    weights.mkdir()
    committed = REPO_WEIGHTS / model_files.RETINAFACE_FILE
    (weights / model_files.RETINAFACE_FILE).symlink_to(committed)
    (weights / model_files.STAR_FILE).symlink_to(star_dev_model)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(weights))
    full_only = Models.load(threads=1, live=True)
    assert not full_only.live_cut and full_only.landmarks.backend.model_name == "star-wflw-98"

    (weights / model_files.STAR_LIVE_FILE).symlink_to(live_model["out"])
    live = Models.load(threads=1, live=True)
    assert live.live_cut and live.landmarks.backend.model_name == f"star-wflw-98-stack{STACKS}"
    assert model_files.STAR_LIVE_KEY in live.report()          # its report names the model it ran
    recording = Models.load(threads=1)
    assert not recording.live_cut and recording.landmarks.backend.model_name == "star-wflw-98"
