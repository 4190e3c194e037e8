"""Shared test fixtures.

Real data lives in ../shared (beside the repository); tests that need it skip cleanly when it is
absent. Development models (random weights) are exported once per test session.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import app  # noqa: F401  first: sets ORT_DISABLE_TELEMETRY before any test imports onnxruntime

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One OpenMP/OpenBLAS thread per test process (and the subprocesses it starts: they inherit it).
# `make test` runs two workers on two cores, so a second PyTorch thread finds no free core and its
# OpenMP threads spin-wait for each other: measured on the 2-core machine under load, full STAR's
# PyTorch forward took 4.9-5.7 CPU s with 2 threads against 0.6-0.8 s with 1, and the converter
# modules (test_convert_star, _stacks, test_star_model, test_retinaface_convert) 188 CPU s against
# 85 s. The app's ONNX Runtime sessions set their own thread count (app.engine.runtime); the results
# are the same with any thread count (PyTorch's reductions differ by rounding only).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Likewise one ONNX Runtime intra-op thread for the app's sessions (app.engine.runtime.default_threads;
# tests that pass threads= keep theirs, and the frozen self-test runs in a bare environment with the
# default): with both cores busy a second thread only waits for one, RetinaFace on a 640x360 frame
# took 34 CPU ms with 2 threads against 30 with 1 (measured interleaved under load). No test compares
# figures with a run made at another thread count (no stored outputs; truth is built independently).
os.environ.setdefault("FACEMIRROR_THREADS", "1")
# The app's log file goes to a throw-away folder, never the tester's own log folder.
os.environ.setdefault("FACEMIRROR_LOG_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                         f"facemirror-test-logs-{os.getpid()}"))
# The window's session journal (app.base.session_journal) likewise, never the tester's own state folder.
os.environ.setdefault("FACEMIRROR_STATE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           f"facemirror-test-state-{os.getpid()}"))

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"
SHARED_WEIGHTS = SHARED / "weights"
RETINAFACE_PTH = SHARED_WEIGHTS / "retinaface_mobilenet0.25.pth"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the repository in CI and dev machines)")
    return path


@pytest.fixture
def media():
    """Return a function giving a path under ../shared/media, skipping when it is absent."""
    return lambda name: _need(MEDIA / name)


@pytest.fixture(scope="session")
def retinaface_pth() -> Path:
    return _need(RETINAFACE_PTH)


def _torch_or_skip():
    return pytest.importorskip("torch", reason="converter extras (torch) not installed")


def run_root(tmp_path_factory) -> Path:
    """The folder of this whole test run: the base temporary folder, or with pytest-xdist (make test
    runs two workers) the folder holding every worker's own base folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory, name: str, make) -> Path:
    """A folder that make(folder) fills once per test run, whichever worker asks first: the others
    wait on a lock and then read the same files (a conversion costs 10-40 s; two workers must not
    both pay it). The folder is published by renaming only after make() returned, so nobody ever
    sees a half-made one; a make() that raises leaves nothing and the next one to ask tries again."""
    import fcntl
    import shutil

    root = run_root(tmp_path_factory)
    folder = root / f"once-{name}"
    with open(root / f"once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes, even on an error
        if not folder.is_dir():
            work = root / f"once-{name}.making"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            make(work)
            work.rename(folder)
    return folder


def _project_manifest_sha():
    import hashlib

    from app.base.model_files import manifest_path

    p = manifest_path()
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None


VERIFY_PHOTO = "portrait_frontal.jpg"      # the development STAR conversion's real face


@pytest.fixture(scope="session")
def star_dev_conversion(tmp_path_factory) -> dict:
    """The development STAR model (random weights, seed 0) made the way a developer makes it:
    `python main.py convert star --random-weights --overwrite` over a stale file, with the CoreML
    checker and the verification on 3 inputs, one of each kind: --verify-inputs 1 (one noise input,
    not the default 4) beside the synthetic face, and --verify-photo with one ../shared photo when it
    is there (not all four). Each input costs a PyTorch run of full STAR, most of the conversion's
    time, and the comparison is the same on every input; test_convert_star's refused export proves
    that the check catches a wrong model.
    Once per test run; tests/test_convert_star.py reads the command's output and exit status.
    Returns {"out": model path, "returncode", "stdout", "stderr", "manifest_before", "manifest_after"}
    (the project's manifest sha256 before and after: a conversion elsewhere must not touch it)."""
    _torch_or_skip()
    import json
    import subprocess
    import sys

    def make(folder: Path) -> None:
        out = folder / "star_landmark_98.onnx"
        out.write_bytes(b"an old model")            # replaced: --overwrite
        before = _project_manifest_sha()
        # the repository's face detector finds the photos' faces, whatever a test set for itself
        env = {k: v for k, v in os.environ.items() if k != "FACEMIRROR_WEIGHTS_DIR"}
        photo = MEDIA / VERIFY_PHOTO
        proc = subprocess.run([sys.executable, "main.py", "convert", "star", "--random-weights", "--seed", "0",
                               "--out", str(out), "--overwrite", "--verify-inputs", "1",
                               *(["--verify-photo", str(photo)] if photo.exists() else [])],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
        record = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                  "manifest_before": before, "manifest_after": _project_manifest_sha()}
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        (folder / "convert_star.json").write_text(json.dumps(record))

    folder = made_once(tmp_path_factory, "star_dev", make)
    return {"out": folder / "star_landmark_98.onnx", **json.loads((folder / "convert_star.json").read_text())}


@pytest.fixture(scope="session")
def star_live_dev_conversion(tmp_path_factory) -> dict:
    """The development live model: STAR cut after STAR_LIVE_STACKS stacks (random weights, seed 0),
    converted in-process with one noise input and the synthetic face, no CoreML check, no photo.
    Once per test run: test_convert_star_stacks checks it, and test_convert_star's checkpoint
    conversion (a cut model too) compares its outputs with it.
    Returns {"out": model path, "info": the converter's record, "log": its lines}."""
    _torch_or_skip()
    import json

    def make(folder: Path) -> None:
        from app.base import model_files
        from app.convert import star

        lines: list[str] = []
        info = star.convert_star(None, folder / model_files.STAR_LIVE_FILE, random_weights=True, seed=0,
                                 coreml_check=False, verify_inputs=1, verify_photos=[], log=lines.append,
                                 stacks=model_files.STAR_LIVE_STACKS)
        (folder / "convert_star_live.json").write_text(json.dumps({"info": info, "log": lines}))

    from app.base import model_files

    folder = made_once(tmp_path_factory, "star_live_dev", make)
    return {"out": folder / model_files.STAR_LIVE_FILE,
            **json.loads((folder / "convert_star_live.json").read_text())}


@pytest.fixture(scope="session")
def star_dev_model(star_dev_conversion) -> Path:
    """A STAR-architecture ONNX model with random weights (seed 0), exported once per test run."""
    return star_dev_conversion["out"]


@pytest.fixture(scope="session")
def retinaface_model(tmp_path_factory, retinaface_pth) -> Path:
    """The real RetinaFace weights converted to ONNX, once per test run."""
    _torch_or_skip()

    def make(folder: Path) -> None:
        from app.convert.retinaface import convert_retinaface

        convert_retinaface(retinaface_pth, folder / "retinaface_mobilenet025.onnx", random_weights=False, seed=0,
                           overwrite=False, coreml_check=False)

    return made_once(tmp_path_factory, "retinaface", make) / "retinaface_mobilenet025.onnx"


@pytest.fixture
def isolated_qsettings(tmp_path):
    """QSettings go to a temporary folder: window tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


# ---- the real face detector in 5-point mode, and the portrait used to make test videos ----------

@pytest.fixture(scope="module")
def face_detector(retinaface_model):
    from app.engine.faces import FaceDetector
    return FaceDetector(retinaface_model)


@pytest.fixture(scope="module")
def models_5pt(face_detector, retinaface_model):
    from app.engine.model_set import Models
    return Models(faces=face_detector, landmarks=None, files={"retinaface": retinaface_model})


@pytest.fixture(scope="module")
def portrait():
    from tests import videos
    return videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"))


@pytest.fixture
def detector_only_weights(tmp_path, retinaface_model, monkeypatch):
    """A weights folder with only the real face detector, and the app pointed at it (5-point mode)."""
    import shutil

    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(retinaface_model, folder / retinaface_model.name)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(folder))
    return folder


def open_window(qtbot, *, show: bool = True, timeout: int = 20000):
    """The main window, registered with qtbot, once it knows which models are installed."""
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    if show:
        w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=timeout)
    return w


@pytest.fixture
def slow_landmarks(monkeypatch):
    """Live landmarks 0.25 s slower per frame than the real analysis: a model far slower than the
    camera (app.live.landmarks.LatestLandmarks), for the never-queued-behind-inference tests."""
    import time

    from app.live import landmarks

    real = landmarks.LatestLandmarks.__init__

    def slow_init(self, *a, **kw):
        real(self, *a, **kw)
        analyze = self.analyzer.analyze

        def slow(frame):
            time.sleep(0.25)
            return analyze(frame)
        self.analyzer.analyze = slow
    monkeypatch.setattr(landmarks.LatestLandmarks, "__init__", slow_init)


# ---- pytest-xdist (make test runs two workers: -n 2) ---------------------------------------------

# Started first, longest first (CPU seconds, docs/performance.md "Test suite"), so that the two workers
# end together: a long module started last would leave one worker idle at the end. The modules after
# these are short (a few CPU seconds each) and fill the gaps. test_convert_star makes the STAR model
# that many modules use (the other worker meanwhile runs the soak, which needs no model);
# the first module to ask for the RetinaFace model makes it.
FIRST = ("test_soak.py", "test_convert_star.py", "test_data_safety.py", "test_frozen_build.py",
         "test_followup_agreement.py", "test_trust_pipeline.py", "test_gui_shutdown.py", "test_verdict_pipeline.py",
         "test_star_model.py", "test_measures_output.py", "test_retinaface_convert.py", "test_convert_star_stacks.py",
         "test_gui_trust.py", "test_ray_process.py", "test_gui_models.py", "test_gui_signals.py", "test_benchmark.py")
# Modules run on one worker with other modules: the tests of the local Ray share one cluster
# (num_cpus=2, a session fixture), never one per worker on a 2-core machine.
GROUPS = {"test_ray_process.py": "ray"}
# Modules whose tests may run on either worker: each test is a slow subprocess of its own, and the
# module's fixtures cost little. Every other module runs on one worker, so that its module-scoped
# fixtures (a conversion, a processed clip) are made once.
SPREAD = ("test_gui_shutdown.py",)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    rank = {name: k for k, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))     # stable: module order kept otherwise


@pytest.hookimpl(optionalhook=True)      # a hook of pytest-xdist, when it is installed
def pytest_xdist_make_scheduler(config, log):
    """With -n N (--dist load, the default, or loadgroup): one unit of work per module (GROUPS and
    SPREAD aside), handed out in collection order (FIRST). xdist's own loadgroup cannot do this
    with pytest 9 (its xdist_group marks no longer reach the scheduler)."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            name = Path(module).name
            return nodeid if name in SPREAD else GROUPS.get(name, module)

    config.option.loadscopereorder = False          # FIRST's order, not the most tests first
    return ModuleScheduling(config, log)


# ---- CPU seconds per test (docs/performance.md "Test suite"): FACEMIRROR_TEST_CPU_LOG=FILE --------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With FACEMIRROR_TEST_CPU_LOG set, append "CPU seconds<TAB>node id" for each test (setup, call
    and teardown: this process and the children it waited for; a local Ray's processes are not its
    children). Wall times say little on a shared machine; CPU seconds add up to the suite's cost."""
    log = os.environ.get("FACEMIRROR_TEST_CPU_LOG")
    if not log:
        yield
        return
    import resource

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    start = cpu()
    yield
    with open(log, "a") as fh:           # one short line per write: workers may append at once
        fh.write(f"{cpu() - start:.2f}\t{item.nodeid}\n")
