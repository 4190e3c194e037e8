"""`main.py --self-test`: prove an installation (source or frozen bundle) works, then exit.

Loads the installed models, runs one face detection and one STAR inference on a generated
frame, proves which execution provider ran each model (ONNX Runtime's profiler: nodes per
provider), encodes H.264 and decodes it with PyAV (OpenCV loaded), renders a plot, creates the main
window, proves the live camera's Qt Multimedia (below) and exits 0; any failure prints the reason
and exits 1.

Qt Multimedia (the live exam): QMediaDevices and a QMediaCaptureSession with a QVideoSink are
created, which loads Qt's media backend; the check then reads which libraries the process has
loaded and fails unless the platform's backend plugin and Qt's own FFmpeg libraries (not PyAV's
or OpenCV's copies) came from the Qt tree, and the other expected plugins sit beside it
(MULTIMEDIA_EXPECTED, per platform; the bundle check reads the same table). The camera and
microphone permissions are printed; "denied" fails a frozen macOS app (every such app is signed:
Qt answers "denied" when Info.plist lacks the usage strings), while "undetermined" (a CI runner,
nobody asked yet) passes.

The window uses the platform Qt would use for a user: Cocoa on macOS (so `open FaceMirror.app
--args --self-test` loads the Cocoa platform and macOS style plugins), offscreen only where there
is no display or QT_QPA_PLATFORM says so. With `--require-coreml` the test fails unless CoreML
executed every model's whole graph. Used by CI on the frozen Linux build and the macOS workflow.

With `--device-report [FILE]` (macOS 14.4+ with CoreML) it also asks Core ML which compute device it
plans for each operation of each model (`app.engine.device_report`), writes the counts per
operation type and device as JSON to FILE (default: `device-report.json` in the log folder) and
fails when the STAR graph is planned wholly on CPU compute units on real hardware. Where no device
report can be made (Linux, Windows, macOS before 14.4, no CoreML) it says so and exits 2 without
running the rest of the self-test.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class SelfTestFailure(RuntimeError):
    pass


def _frame():
    """A 480x640 frame with a face-like pattern (the content does not matter for a self-test)."""
    import cv2
    import numpy as np

    img = np.full((480, 640, 3), 90, np.uint8)
    cv2.ellipse(img, (320, 240), (110, 150), 0, 0, 360, (150, 170, 210), -1)
    for x in (280, 360):
        cv2.circle(img, (x, 200), 12, (40, 40, 40), -1)
    cv2.ellipse(img, (320, 310), (45, 15), 0, 0, 180, (60, 60, 140), 4)
    return img


def _check_models(require_coreml: bool):
    import numpy as np
    import onnxruntime as ort

    from app.engine import runtime
    from app.engine.model_set import Models

    providers = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}: {', '.join(providers)}")
    if require_coreml and runtime.COREML not in providers:
        raise SelfTestFailure("CoreMLExecutionProvider is not available in this build")
    t = time.perf_counter()
    models = Models.load()
    print(f"models loaded in {time.perf_counter() - t:.2f} s: "
          + ", ".join(f"{k}={v}" for k, v in models.files.items()))
    frame = _frame()
    t = time.perf_counter()
    faces = models.faces.detect(frame)
    print(f"face detection: {len(faces)} face(s) in {1000 * (time.perf_counter() - t):.0f} ms "
          f"({models.faces.backend.describe()})")
    if models.landmarks is None:
        print("STAR model: not installed (5-point mode)")
    else:
        t = time.perf_counter()
        pts = models.landmarks.landmarks_for_box(frame, (210, 90, 430, 390))
        if pts.shape != (98, 2) or not np.all(np.isfinite(pts)):
            raise SelfTestFailure(f"STAR returned {pts.shape} / non-finite landmarks")
        print(f"STAR inference: 98 points in {1000 * (time.perf_counter() - t):.0f} ms "
              f"({models.landmarks.backend.describe()})")
    return models


def _check_providers(models, require_coreml: bool) -> None:
    """Run each model once with the profiler on; say how many nodes each provider executed."""
    from app.engine import backend_check

    failures = []
    in_vm = backend_check.running_in_vm()
    for path in models.files.values():
        proof = backend_check.prove_backend(path)
        print(f"provider proof: {proof.summary()}")
        for reason in proof.backend.fallback_reasons:
            print(f"  fallback: {reason}")
        if proof.agreement is not None:
            ok, why = proof.agreement
            print(f"  {why}")
            if not ok:
                failures.append(f"{proof.model}: {why}")
        if require_coreml:
            ok, why = backend_check.coreml_ran_graph(proof.nodes)
            print(f"  {backend_check.coreml_label(in_vm)}: {why}")
            if not ok:
                failures.append(f"{proof.model}: {why}")
    if failures:
        raise SelfTestFailure(("--require-coreml: " if require_coreml else "provider outputs: ") + "; ".join(failures))


def _check_media(folder: Path) -> None:
    from app.selftest import media as selftest_media

    for line in selftest_media.check_video(folder) + selftest_media.check_plots(folder):
        print(line)


def _choose_qt_platform() -> None:
    """Offscreen only where no display can exist; macOS always gets its native platform."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("darwin", "win32"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _check_window(folder: Path) -> None:
    _choose_qt_platform()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow

    from app.gui import file_open

    app = QApplication.instance() or QApplication([sys.argv[0]])
    file_open.install(app)  # before the event loop runs: files dropped on the icon at launch
    platform, style = app.platformName(), app.style().name()
    print(f"Qt platform: {platform}, style: {style}")
    if sys.platform == "darwin" and not os.environ.get("QT_QPA_PLATFORM") and (platform, style.lower()) != ("cocoa", "macos"):
        raise SelfTestFailure(f"expected the Cocoa platform and macOS style, got {platform}/{style} "
                              "(missing Qt plugins in the bundle?)")
    # A throwaway settings file: the self-test must not change the user's preferences.
    settings = QSettings(str(folder / "selftest.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.show()
    _process_events_for(app, OPEN_EVENT_WAIT_S)
    print(f"window: '{window.windowTitle()}' created ({window.width()}x{window.height()})")
    # `open -a FaceMirror.app FOLDER --args --self-test` (CI): the folder arrives as a file-open
    # event (Info.plist document types), and the window queues the videos inside it.
    print(f"videos queued from files opened by the system: {window.model.rowCount()}")
    window.close()
    app.processEvents()


# ---- Qt Multimedia: the live exam's camera and microphone

@dataclass(frozen=True)
class MultimediaFiles:
    """What Qt Multimedia needs on one platform. Names are file names (regular expressions):
    `backend` is the plugin Qt loads by default, `plugins` every plugin of plugins/multimedia that
    must be there (the backend among them), `libraries` Qt's own FFmpeg, which the backend links
    and which lives in Qt's lib folder (PyAV and OpenCV carry FFmpeg libraries of the same names
    elsewhere), `qt_library` Qt's QtMultimedia library."""

    backend: str
    plugins: tuple[str, ...]
    libraries: tuple[str, ...]
    qt_library: str


_FFMPEG_LIBS = ("avcodec", "avformat", "avutil", "swresample", "swscale")

# Per platform (sys.platform), read from PySide6 6.11.3's wheels: macOS has an AVFoundation
# backend beside the FFmpeg one (QT_MEDIA_BACKEND=darwin selects it), Linux only FFmpeg. The bundle
# check (packaging/spec_bundle.py) requires the same files in a frozen app.
MULTIMEDIA_EXPECTED = {
    "darwin": MultimediaFiles(
        backend=r"libffmpegmediaplugin\.dylib",
        plugins=(r"libffmpegmediaplugin\.dylib", r"libdarwinmediaplugin\.dylib"),
        libraries=tuple(rf"lib{n}\.\d+\.dylib" for n in _FFMPEG_LIBS),
        qt_library=r"QtMultimedia\.framework/"),
    "linux": MultimediaFiles(
        backend=r"libffmpegmediaplugin\.so",
        plugins=(r"libffmpegmediaplugin\.so",),
        libraries=tuple(rf"lib{n}\.so\.\d+" for n in _FFMPEG_LIBS),
        qt_library=r"libQt6Multimedia\.so\.6"),
}


def loaded_images() -> list[str]:
    """Real paths of the shared libraries this process has loaded (Linux: /proc/self/maps; macOS:
    dyld's image list, which may name a library by the top-level link PyInstaller makes to it, so
    links are resolved). Empty where neither exists."""
    if sys.platform == "darwin":
        import ctypes

        dyld = ctypes.CDLL(None)
        dyld._dyld_get_image_name.restype = ctypes.c_char_p
        dyld._dyld_get_image_name.argtypes = [ctypes.c_uint32]
        names = (os.fsdecode(dyld._dyld_get_image_name(i) or b"") for i in range(dyld._dyld_image_count()))
        return [os.path.realpath(n) for n in names if n]
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    return sorted({line.split(None, 5)[5].strip() for line in maps.read_text().splitlines()
                   if len(line.split(None, 5)) == 6 and line.split(None, 5)[5].startswith("/")})


def _qt_lib_dir(image: str) -> str:
    """Qt's lib folder from the path of its QtMultimedia library (a framework on macOS)."""
    parts = Path(image).parts
    for i, part in enumerate(parts):
        if part.endswith(".framework"):
            return str(Path(*parts[:i]))
    return str(Path(image).parent)


def multimedia_problems(images: list[str], expected: MultimediaFiles, list_dir=os.listdir) -> list[str]:
    """What is wrong with Qt Multimedia in a process that has created a capture session, from the
    libraries it loaded: the backend plugin, the other plugins beside it, Qt's FFmpeg from Qt's own
    lib folder (an FFmpeg of the same name loaded from PyAV's or OpenCV's folder does not count)."""
    import re

    def named(pattern: str) -> list[str]:
        return [p for p in images if re.fullmatch(pattern, Path(p).name)]

    qt = [p for p in images if re.search(expected.qt_library, p)]
    if not qt:
        return ["Qt's multimedia library is not loaded"]
    lib_dir = _qt_lib_dir(qt[0])
    backend = named(expected.backend)
    if not backend:
        return [f"no Qt multimedia backend was loaded (plugins/multimedia/{expected.backend} missing or "
                "not loadable): the live exam would have no camera"]
    plugin_dir = str(Path(backend[0]).parent)
    try:
        present = list_dir(plugin_dir)
    except OSError:
        present = []
    problems = [f"Qt multimedia plugin {pattern} is missing from {Path(plugin_dir).name}/"
                for pattern in expected.plugins if not any(re.fullmatch(pattern, f) for f in present)]
    for pattern in expected.libraries:
        if not [p for p in named(pattern) if str(Path(p).parent) == lib_dir]:
            problems.append(f"Qt's FFmpeg library {pattern} was not loaded from Qt's lib folder")
    return problems


def permission_problem(camera: str, microphone: str, frozen_mac: bool) -> str | None:
    """A problem when a signed (frozen macOS) app may not use the camera or microphone. macOS says
    "denied" when the user refused, when Info.plist lacks the usage string, or (hardened runtime)
    when the entitlement is missing; "undetermined" (nobody asked yet, a CI runner) is fine. From
    source the answer is the terminal's, not the app's: never a failure."""
    denied = [name for name, status in (("camera", camera), ("microphone", microphone)) if status == "denied"]
    if not denied or not frozen_mac:
        return None
    return (f"{' and '.join(denied)} access is denied for this app: check System Settings > Privacy & "
            "Security, and that the build carries NSCameraUsageDescription/NSMicrophoneUsageDescription "
            "and the camera/audio-input entitlements")


def _check_multimedia() -> None:
    """QMediaDevices, a capture session with a video sink, the backend and Qt's FFmpeg, permissions."""
    from PySide6.QtMultimedia import QMediaCaptureSession, QMediaDevices, QMediaFormat, QVideoSink

    from app.base import paths
    from app.gui import camera_source

    devices = QMediaDevices()
    session = QMediaCaptureSession()
    sink = QVideoSink()
    session.setVideoSink(sink)
    if session.videoSink() is not sink:
        raise SelfTestFailure("QMediaCaptureSession did not take the QVideoSink")
    cameras, microphones = len(devices.videoInputs()), len(devices.audioInputs())
    formats = len(QMediaFormat().supportedFileFormats(QMediaFormat.ConversionMode.Decode))
    expected = MULTIMEDIA_EXPECTED.get(sys.platform)
    if expected is None:
        print(f"Qt Multimedia: no expected plugin set for {sys.platform}; files not checked")
    else:
        problems = multimedia_problems(loaded_images(), expected)
        if problems:
            raise SelfTestFailure("Qt Multimedia: " + "; ".join(problems))
    if not formats:
        raise SelfTestFailure("Qt Multimedia: the backend knows no media format (backend not working)")
    camera, microphone = camera_source.camera_permission(), camera_source.microphone_permission()
    print(f"Qt Multimedia: backend and Qt's FFmpeg loaded, {formats} formats; {cameras} camera(s), "
          f"{microphones} microphone(s); permission camera: {camera}, microphone: {microphone}")
    problem = permission_problem(camera, microphone, frozen_mac=sys.platform == "darwin" and paths.bundle_dir() is not None)
    if problem:
        raise SelfTestFailure(problem)
    del session, sink, devices


OPEN_EVENT_WAIT_S = 1.0


def _process_events_for(app, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


DEVICE_REPORT_NAME = "device-report.json"


def default_device_report_path() -> Path:
    from app.base import paths

    return paths.user_log_dir() / DEVICE_REPORT_NAME


def write_device_report(model_files: dict, out: Path, facts, ort_version: str, capture=None) -> bool:
    """Capture, parse and judge each model's Core ML compute plan; write the JSON; True if it passed.

    model_files: model key -> path (the STAR model, key model_files.STAR_KEY, must not run wholly
    on CPU compute units on real hardware). capture(path) -> log text is injectable for tests."""
    import json

    from app import __version__

    from app.base import model_files as mf
    from app.engine import device_report

    capture = capture or device_report.capture_compute_plan
    plans = {}
    names = {}
    for key, path in model_files.items():
        name = Path(path).name
        names[key] = name
        plans[name] = device_report.parse_compute_plan_log(capture(path))
    required = [names[mf.STAR_KEY]] if mf.STAR_KEY in names else []
    passed, doc = device_report.build_report(plans, facts, ort_version, required, app_version=__version__)
    for name, entry in doc["models"].items():
        print(f"device report: {name}: {entry['verdict']}")
    if not required:
        print("device report: no STAR model installed; nothing to require of the landmark graph")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"device report written to {out}")
    return passed


def run_self_test(require_coreml: bool = False, device_report: Path | None = None, facts=None) -> int:
    from app import __version__, APP_NAME
    from app.base import build_info, paths

    note = build_info.build_note()
    print(f"{APP_NAME} {__version__} self-test ({'frozen bundle' if paths.bundle_dir() else 'source'})"
          + (f" - {note}" if note else ""))
    if device_report is not None:
        from app.engine import device_report as dr, runtime

        facts = facts or dr.PlatformFacts.detect()
        ort_version = runtime.onnxruntime_version()
        ok, why = dr.report_support(facts, ort_version)
        if not ok:
            print(f"device report not made: {why}")
            return dr.EXIT_UNSUPPORTED
    try:
        models = _check_models(require_coreml)
        _check_providers(models, require_coreml)
        if device_report is not None:
            if not write_device_report(dict(models.files), device_report, facts, ort_version):
                raise SelfTestFailure(f"--device-report: Core ML's compute plan fails (details in {device_report})")
        with tempfile.TemporaryDirectory(prefix="facemirror-selftest-") as tmp:
            _check_media(Path(tmp))
            _check_window(Path(tmp))
            _check_multimedia()
        print(f"backend: {models.describe()}")
        print("self-test passed")
        return 0
    except Exception as exc:  # noqa: BLE001 - the point is to report, not to crash
        print(f"FAIL: {type(exc).__name__}: {exc}" if not isinstance(exc, SelfTestFailure) else f"FAIL: {exc}")
        return 1
