"""The Linux onedir build from FaceMirror.spec, run as a user would: self-test, a batch run, measures.

Built as a release is (models verified against their pins) with development models: random-weights
STAR, and the real RetinaFace converted here, which must equal the committed file's sha256. About a
minute here. The frozen app's self-test proves the provider (nodes per provider), encodes H.264
through the app's writer and decodes it with PyAV with OpenCV loaded (the two bundled FFmpeg
copies), and renders a plot with matplotlib's cache in the user's cache folder; `process` writes
H.264 outputs; `measures` draws its summary; the bundle carries its licences.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests import videos
from tests.conftest import MEDIA, REPO, _need


def _load_spec_config():
    # By path: packaging/ is not a Python package (it would shadow the PyPI `packaging`).
    spec = importlib.util.spec_from_file_location("facemirror_spec_config_frozen", REPO / "packaging" / "spec_config.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


cfg = _load_spec_config()

@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory, retinaface_model, star_dev_model, retinaface_pth):
    pytest.importorskip("PyInstaller", reason="dev extras (pyinstaller) not installed")
    root = tmp_path_factory.mktemp("frozen")
    weights = root / "weights"
    weights.mkdir()
    shutil.copy(retinaface_model, weights / retinaface_model.name)
    shutil.copy(star_dev_model, weights / star_dev_model.name)
    # As the macOS test build: `convert star --out DEV/...` leaves DEV/manifest.json listing STAR
    # only; the bundle must carry the repository's manifest merged with it, never that one alone.
    shutil.copy(star_dev_model.parent / cfg.MANIFEST_NAME, weights / cfg.MANIFEST_NAME)
    assert list(json.loads((weights / cfg.MANIFEST_NAME).read_text())["models"]) == ["star"]
    # A release-style build: RetinaFace must come from the pinned checkpoint (the real one here).
    pin = {cfg.ENV_CHECKPOINT_SHA_PREFIX + "RETINAFACE": cfg.file_sha256(retinaface_pth)}
    proc = _build(root, weights, pin)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "bundle check passed" in proc.stdout
    app_dir = root / "dist" / "FaceMirror"
    exe = app_dir / "FaceMirror"
    assert exe.exists()
    return app_dir, exe


def _build(root, weights, extra_env, timeout=900):
    env = dict(os.environ, FACEMIRROR_SPEC_WEIGHTS_DIR=str(weights), FACEMIRROR_SPEC_REQUIRE_MODELS="1",
               FACEMIRROR_SPEC_ALLOW_UNTRAINED="1", **extra_env)
    env.pop("FACEMIRROR_WEIGHTS_DIR", None)
    return subprocess.run([sys.executable, "-m", "PyInstaller", "--clean", "--noconfirm", "--log-level", "WARN",
                           "--distpath", str(root / "dist"), "--workpath", str(root / "build"), "FaceMirror.spec"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _run(exe, *args, timeout=300, cache_dir=None, home=None):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("FACEMIRROR_WEIGHTS_DIR", None)
    if home is not None:
        # a user's bare environment: no privacy setting of the tests' own process and no CI variable
        # (ONNX Runtime writes no telemetry when it sees CI=true, which would hide a missing setting)
        env = {"HOME": str(home), "PATH": env.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "QT_QPA_PLATFORM": "offscreen"}
    env.pop("MPLCONFIGDIR", None)
    if cache_dir is not None:
        env["FACEMIRROR_CACHE_DIR"] = str(cache_dir)
    return subprocess.run([str(exe), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


def test_frozen_self_test(frozen_app, tmp_path):
    _, exe = frozen_app
    home = tmp_path / "home"
    home.mkdir()
    proc = _run(exe, "--self-test", cache_dir=tmp_path / "cache", home=home)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # privacy: the frozen app sets ORT_DISABLE_TELEMETRY before onnxruntime loads (no telemetry store)
    assert not (home / ".cache" / "Microsoft").exists()
    out = proc.stdout
    assert "frozen bundle" in out and "detector-only" not in out
    assert "STAR inference: 98 points" in out
    assert "UNTRAINED" in out  # development model is named as such
    for name in ("retinaface_mobilenet025.onnx", "star_landmark_98.onnx"):
        assert any(line.startswith(f"provider proof: {name}: CPU") and "executed: CPU " in line
                   for line in out.splitlines()), name
    # PyAV and OpenCV (with its own FFmpeg) in one frozen process: H.264 written and read by PyAV.
    assert _h264_line(out)
    # matplotlib's config and font cache in the user's cache folder, kept between starts.
    assert f"config and font cache in {tmp_path / 'cache' / 'matplotlib'}" in out
    assert list((tmp_path / "cache" / "matplotlib").glob("fontlist-*.json"))
    assert "self-test passed" in out


def test_frozen_require_coreml_fails_without_coreml(frozen_app, tmp_path):
    _, exe = frozen_app
    proc = _run(exe, "--self-test", "--require-coreml", cache_dir=tmp_path / "cache")
    assert proc.returncode == 1 and "FAIL: CoreMLExecutionProvider is not available" in proc.stdout


def test_frozen_batch_run(frozen_app, tmp_path):
    _, exe = frozen_app
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    _, frames = videos.transformed_frames(base, [(0, 1, 0, 0)] * 3, (120, 150))
    video = videos.write_video(tmp_path / "clip.mp4", frames)
    proc = _run(exe, "process", video, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clip_annotated.mp4", "clip_landmarks.csv", "clip_left_mirrored.mp4", "clip_report.json",
        "clip_right_mirrored.mp4"]
    # The app's own writer in the frozen app: H.264 (libx264 here), every frame, readable by PyAV.
    import av

    for name in ("clip_annotated.mp4", "clip_left_mirrored.mp4", "clip_right_mirrored.mp4"):
        with av.open(str(tmp_path / "out" / name)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264", name
            assert sum(1 for _ in container.decode(stream)) == 3, name


def test_frozen_measures_subcommand(frozen_app, tmp_path):
    """`measures` in the frozen app on a synthetic face's landmarks (a smile, a brow raise): the
    summary's matplotlib charts, with matplotlib's cache in the user's cache folder."""
    from tests.test_measures_output import check_offline_html, landmarks_csv

    _, exe = frozen_app
    csv_path = landmarks_csv(tmp_path)
    out = tmp_path / "out"
    proc = _run(exe, "measures", csv_path, "--out", out, cache_dir=tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["clip_measures.csv", "clip_measures.json", "clip_summary.html",
                                                     "clip_summary.pdf"]
    check_offline_html((out / "clip_summary.html").read_text(encoding="utf-8"))  # charts rendered (SVG)
    frozen = json.loads((out / "clip_measures.json").read_text(encoding="utf-8"))
    assert [seg["region"] for seg in frozen["segments"]] == ["mouth", "brow"]  # the smile, then the brow raise
    # The frozen app computes what the source computes: the function `measures` calls (no report
    # beside this CSV, no --rest, no protocol), asked for the JSON only (the summary's charts were
    # drawn above; the source need not draw them again to be compared).
    from app.measures import write_measures

    source_json = tmp_path / "source" / "clip_measures.json"
    source_json.parent.mkdir()
    write_measures(csv_path, {"measures_json": source_json})
    source = json.loads(source_json.read_text(encoding="utf-8"))
    assert frozen["segments"] == source["segments"] and frozen["measures"] == source["measures"]
    assert list((tmp_path / "cache" / "matplotlib").glob("fontlist-*.json"))


def test_frozen_bundle_contents_and_size(frozen_app):
    app_dir, _ = frozen_app
    files = [p for p in app_dir.rglob("*") if p.is_file() and not p.is_symlink()]  # links cost nothing
    rel = [str(p.relative_to(app_dir)) for p in files]
    assert not [r for r in rel if "/torch/" in f"/{r}" or r.startswith("torch")], "torch is in the bundle"
    assert not [r for r in rel if "cv2/qt" in r], "OpenCV's Qt plugins are in the bundle"
    assert not [r for r in rel if "/torch-" in f"/{r}" and ".dist-info" in r], "torch's metadata without torch"
    assert not [r for r in rel if r.endswith(".qm")], "Qt translations the app never loads"
    assert not [r for r in rel if "WebEngine" in r or "QuickControls" in r], "Qt modules the app does not use"
    assert any("libQt6Multimedia.so" in r for r in rel), "QtMultimedia (live camera) is missing"
    # One merged manifest: the repository's models plus the dev folder's STAR conversion record.
    manifest = json.loads(next(p for p in files if p.name == cfg.MANIFEST_NAME).read_text())
    assert {"star", "retinaface"} <= set(manifest["models"])
    assert manifest["models"]["star"]["converted"]["star_landmark_98.onnx"]["untrained"] is True
    assert any(r.endswith("weights/star_landmark_98.onnx") for r in rel)
    assert any(r.endswith("weights/retinaface_mobilenet025.onnx") for r in rel)
    assert cfg.check_bundle(app_dir) == []  # LICENSE, notices with the codec texts, icon, build info, packages
    notices = " ".join((cfg.bundle_data_roots(app_dir)[0] / cfg.NOTICES_NAME).read_text().split())
    for words in ("av 18.1.0", "matplotlib", "onnxruntime", "GNU GENERAL PUBLIC LICENSE Version 2, June 1991"):
        assert words in notices, words
    # "Copy diagnostic info" reads these versions with importlib.metadata in the frozen app.
    for dist in ("onnxruntime", "numpy", "av", "matplotlib"):
        assert any(r.split("/")[-2].startswith(f"{dist}-") and r.split("/")[-2].endswith(".dist-info")
                   for r in rel if "/" in r), dist
    # Size by part against the budget recorded in packaging/size_budget.json (fails > 10 % over).
    table, problem = cfg.size_report(app_dir, REPO / "packaging" / cfg.SIZE_BUDGET_FILE)
    print(f"\nfrozen bundle: {len(files)} files\n{table}")
    assert json.loads((REPO / "packaging" / cfg.SIZE_BUDGET_FILE).read_text())[cfg.size_platform()] is not None
    assert problem is None, problem


def test_build_without_star_fails_unless_detector_only(tmp_path, retinaface_model):
    """Stops before PyInstaller analyses anything: a few seconds."""
    pytest.importorskip("PyInstaller", reason="dev extras (pyinstaller) not installed")
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(retinaface_model, weights / retinaface_model.name)
    proc = _build(tmp_path, weights, {}, timeout=300)
    assert proc.returncode != 0
    assert "star_landmark_98.onnx is not in the models folder" in proc.stdout + proc.stderr
    assert cfg.ENV_DETECTOR_ONLY in proc.stdout + proc.stderr


def _h264_line(out: str) -> bool:
    """The app's writer chose libx264 here (no VideoToolbox) and PyAV read every frame back (OpenCV loaded)."""
    return any(line.startswith("H.264 encode (libx264") and line.endswith(
        "and decode in one process: PyAV 12/12 frames") for line in out.splitlines())
