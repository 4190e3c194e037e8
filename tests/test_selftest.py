"""`--self-test` from source: models, provider proof, H.264 via PyAV (OpenCV loaded), plots, window.

CoreML cannot run here: `--require-coreml` is tested with the provider facts injected (CoreML
listed by ONNX Runtime, but the profile shows the CPU ran the nodes).
"""
from __future__ import annotations

import shutil

import pytest

from app.selftest import run as selftest
from app.engine import backend_check, runtime


@pytest.fixture
def installed_models(tmp_path, monkeypatch, retinaface_model, star_dev_model):
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(retinaface_model, weights / retinaface_model.name)
    shutil.copy(star_dev_model, weights / star_dev_model.name)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("FACEMIRROR_CACHE_DIR", str(tmp_path / "cache"))
    return weights


def test_self_test_from_source_proves_cpu_backend_media_and_window(installed_models, qapp, capsys):
    assert selftest.run_self_test() == 0
    out = capsys.readouterr().out
    print(out)
    for name in ("retinaface_mobilenet025.onnx", "star_landmark_98.onnx"):
        line = next(x for x in out.splitlines() if x.startswith(f"provider proof: {name}: CPU"))
        assert "executed: CPU " in line and "nodes" in line
    assert _h264_line(out)
    assert "matplotlib" in out and "plot rendered" in out
    assert "Qt platform: offscreen" in out
    assert "videos queued from files opened by the system: 0" in out
    # Qt Multimedia: the FFmpeg backend and Qt's own FFmpeg were loaded; Linux has no permission
    # prompts (Qt says granted)
    assert "Qt Multimedia: backend and Qt's FFmpeg loaded" in out
    assert "permission camera: granted, microphone: granted" in out
    assert out.rstrip().endswith("self-test passed")


def test_require_coreml_fails_when_coreml_is_not_available(installed_models, capsys):
    assert selftest.run_self_test(require_coreml=True) == 1
    assert "FAIL: CoreMLExecutionProvider is not available" in capsys.readouterr().out


def test_require_coreml_fails_when_coreml_is_listed_but_the_cpu_ran_the_graph_injected(
        installed_models, monkeypatch, capsys):
    import onnxruntime as ort

    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [runtime.COREML, *real])
    # The app's sessions: CoreML "listed" but the factory only really has the CPU (what ORT does
    # when CoreML cannot take the model: it silently runs the nodes on the CPU).
    monkeypatch.setattr(runtime, "_default_factory", _cpu_only(runtime._default_factory))
    monkeypatch.setattr(backend_check, "_profiling_factory", lambda prefix: _cpu_only(_real_profiling(prefix)))
    assert selftest.run_self_test(require_coreml=True) == 1
    out = capsys.readouterr().out
    assert "CoreML ran no node (executed: CPU" in out
    assert "FAIL: --require-coreml: retinaface_mobilenet025.onnx: CoreML ran no node" in out


_real_profiling = backend_check._profiling_factory


def _cpu_only(factory):
    def make(path, providers, threads):
        return factory(path, [runtime.CPU], threads)
    return make


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {}, "offscreen"),                       # no display: offscreen
    ("linux", {"DISPLAY": ":0"}, None),               # a desktop: Qt's own choice
    ("linux", {"QT_QPA_PLATFORM": "xcb"}, "xcb"),     # an explicit choice wins
    ("darwin", {}, None),                             # macOS: always the native Cocoa platform
])
def test_qt_platform_choice_injected_platform(monkeypatch, platform, env, expected):
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(selftest.sys, "platform", platform)
    selftest._choose_qt_platform()
    import os

    assert os.environ.get("QT_QPA_PLATFORM") == expected


def test_on_macos_the_window_check_fails_without_cocoa_injected_platform(qapp, monkeypatch, tmp_path):
    """What `open FaceMirror.app --args --self-test` would report if the Cocoa plugin were missing."""
    monkeypatch.setattr(selftest.sys, "platform", "darwin")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)  # the running QApplication is offscreen
    with pytest.raises(selftest.SelfTestFailure, match="expected the Cocoa platform and macOS style, got offscreen"):
        selftest._check_window(tmp_path)


def _h264_line(out: str) -> bool:
    """The app's writer chose libx264 here (no VideoToolbox) and PyAV read every frame back (OpenCV loaded)."""
    return any(line.startswith("H.264 encode (libx264") and line.endswith(
        "and decode in one process: PyAV 12/12 frames") for line in out.splitlines())


def test_queue_probe_reads_the_container_with_pyav(tmp_path):
    """The window's queue probe (app/gui/jobs.py): frames, fps and duration of a clip written
    with known values, and Nones for what is not a video."""
    import av
    import numpy as np

    from app.gui.jobs import probe_video

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    frames, fps, duration = probe_video(path)
    assert frames == 30 and fps == pytest.approx(25.0) and duration == pytest.approx(1.2, abs=0.05)
    (tmp_path / "notes.mp4").write_text("not a video")
    assert probe_video(tmp_path / "notes.mp4") == (None, None, None)
    assert probe_video(tmp_path / "missing.mp4") == (None, None, None)


# ---- Qt Multimedia (the live exam's camera): the files loaded, per platform

MAC_APP = "/Applications/FaceMirror.app/Contents/Frameworks"
# What dyld lists in a frozen macOS app (paths as PyInstaller lays out PySide6 6.11.3's wheel),
# with PyAV's and OpenCV's FFmpeg loaded too (the same library names in other folders).
MAC_IMAGES = [
    f"{MAC_APP}/PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore",
    f"{MAC_APP}/PySide6/QtMultimedia.abi3.so",
    f"{MAC_APP}/PySide6/Qt/lib/QtMultimedia.framework/Versions/A/QtMultimedia",
    f"{MAC_APP}/av/__dot__dylibs/libavcodec.62.dylib",
    f"{MAC_APP}/cv2/__dot__dylibs/libavcodec.61.19.101.dylib",
    f"{MAC_APP}/PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.dylib",
    *(f"{MAC_APP}/PySide6/Qt/lib/lib{n}.dylib" for n in ("avformat.61", "avcodec.61", "swresample.5", "swscale.8", "avutil.59")),
]
MAC_PLUGIN_DIR = ["libffmpegmediaplugin.dylib", "libdarwinmediaplugin.dylib"]


def _mac_check(images, plugin_dir=MAC_PLUGIN_DIR):
    return selftest.multimedia_problems(images, selftest.MULTIMEDIA_EXPECTED["darwin"], list_dir=lambda d: plugin_dir)


def test_multimedia_check_passes_on_a_complete_mac_bundle_injected_platform():
    assert _mac_check(MAC_IMAGES) == []


def test_multimedia_check_fails_without_the_backend_or_a_plugin_injected_platform():
    no_backend = [p for p in MAC_IMAGES if "mediaplugin" not in p]
    assert any("no Qt multimedia backend was loaded" in p for p in _mac_check(no_backend))
    assert _mac_check(MAC_IMAGES, ["libffmpegmediaplugin.dylib"]) == [
        "Qt multimedia plugin libdarwinmediaplugin\\.dylib is missing from multimedia/"]
    assert _mac_check([p for p in MAC_IMAGES if "QtMultimedia.framework" not in p]) == [
        "Qt's multimedia library is not loaded"]


def test_multimedia_check_counts_only_qts_own_ffmpeg_injected_platform():
    """Qt's libavcodec missing while PyAV's and OpenCV's are loaded: still a failure."""
    images = [p for p in MAC_IMAGES if not p.endswith("Qt/lib/libavcodec.61.dylib")]
    assert _mac_check(images) == ["Qt's FFmpeg library libavcodec\\.\\d+\\.dylib was not loaded from Qt's lib folder"]


def test_multimedia_check_fails_in_this_process_when_the_plugin_is_not_loaded(qapp, monkeypatch):
    """The real check on Linux, with the loaded-library list stripped of the backend plugin."""
    real = selftest.loaded_images
    monkeypatch.setattr(selftest, "loaded_images", lambda: [p for p in real() if "mediaplugin" not in p])
    with pytest.raises(selftest.SelfTestFailure, match="no Qt multimedia backend was loaded"):
        selftest._check_multimedia()
    monkeypatch.setattr(selftest, "loaded_images", real)
    selftest._check_multimedia()  # and passes with what this process really loaded


@pytest.mark.parametrize("camera, microphone, frozen_mac, fails", [
    ("undetermined", "undetermined", True, False),   # a CI runner: nobody has been asked
    ("granted", "denied", True, True),               # a signed app refused the microphone
    ("denied", "granted", True, True),
    ("denied", "denied", False, False),              # from source: the terminal's answer, not the app's
    ("granted", "granted", True, False),
])
def test_permission_denied_fails_a_signed_mac_app_only_injected_platform(camera, microphone, frozen_mac, fails):
    problem = selftest.permission_problem(camera, microphone, frozen_mac)
    assert (problem is not None) == fails
    if fails:
        assert "denied" in problem and "NSCameraUsageDescription" in problem


def test_denied_camera_fails_the_self_test_of_a_frozen_mac_app_injected_platform(qapp, monkeypatch, tmp_path):
    from app.base import paths
    from app.gui import camera_source

    monkeypatch.setattr(selftest.sys, "platform", "darwin")
    monkeypatch.setattr(selftest, "MULTIMEDIA_EXPECTED", {})  # the Linux files are what is loaded here
    monkeypatch.setattr(paths, "bundle_dir", lambda: tmp_path)
    monkeypatch.setattr(camera_source, "camera_permission", lambda: "denied")
    with pytest.raises(selftest.SelfTestFailure, match="camera access is denied"):
        selftest._check_multimedia()
    monkeypatch.setattr(camera_source, "camera_permission", lambda: "undetermined")
    selftest._check_multimedia()
