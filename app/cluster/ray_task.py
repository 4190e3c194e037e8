"""The worker side of `process --ray`: one video in one Ray task.

Ray pickles `run_video` by reference, so a worker imports this module (the same FaceMirror install
on every node, from the same Python). The module never imports Ray: everything it returns is plain
data, and the driver (ray_runner) turns it into the same lines and summary rows as a plain run.

Data safety is the pipeline's own (app/base/outputs.py): a worker killed mid-video leaves only hidden
temporary files, which the retried task (or the next run writing into that folder on the same
computer) removes before it starts; nothing partial is ever published.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

# Tests only: a folder; the first attempt of each video's task exits (like a killed worker) after
# two frames, leaving its partial files behind, so the test sees Ray retry it. Never set otherwise.
CRASH_ONCE_ENV = "FACEMIRROR_TEST_CRASH_ONCE_DIR"

_models_cache: dict = {}        # one set of ONNX Runtime sessions per worker process, reused by its tasks


class ModelMismatch(RuntimeError):
    pass


def _load_models(files: dict[str, str], sha256: dict[str, str], threads: int):
    """The driver's model files (by path, on the shared file system), checked by sha256 so that every
    worker runs exactly the models the driver planned (and --resume compared) with."""
    key = (tuple(sorted(files.items())), threads)
    if key in _models_cache:
        return _models_cache[key]
    from app.base import model_files
    from app.engine.faces import FaceDetector
    from app.engine.landmarks import StarLandmarkDetector
    from app.engine.model_set import Models

    paths = {k: Path(v) for k, v in files.items()}
    for path in paths.values():
        if not path.is_file():
            raise ModelMismatch(f"the model file {path} is not on this computer ({socket.gethostname()}); "
                                "the models must be on a file system every node sees")
    models = Models(faces=FaceDetector(paths[model_files.RETINAFACE_KEY], threads=threads),
                    landmarks=(StarLandmarkDetector(paths[model_files.STAR_KEY], threads=threads)
                               if model_files.STAR_KEY in paths else None),
                    files=paths)
    for k, path in paths.items():
        if models.sha256(path) != sha256.get(k):
            raise ModelMismatch(f"the model file {path} on {socket.gethostname()} differs from the driver's "
                                "(other sha256)")
    _models_cache[key] = models
    return models


def _crash_once_hook(video: Path):
    folder = os.environ.get(CRASH_ONCE_ENV)
    if not folder:
        return None

    def on_progress(p) -> None:
        if p.frames_done >= 2:
            try:
                fd = os.open(Path(folder) / f"{video.stem}.crashed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return           # the retry: run to the end
            os.close(fd)
            os._exit(3)          # as a kill would: no cleanup, partial files stay

    return on_progress


def _failed(base: dict, error: str) -> dict:
    return {**base, "status": "failed", "outcome": {"ok": False, "cancelled": False, "error": error,
                                                    "outputs_exist": False, "warnings": [], "verdict": None,
                                                    "reasons": [], "frames": 0, "fps": 0.0}}


def run_video(video: str, out_dir: str, spec: dict) -> dict:
    """Process one video (or find it finished, with --resume). `spec`: settings (Settings.as_dict()),
    model_files / model_sha256 (key -> path / sha256), threads, resume, version (the driver's).
    Returns {"status": "done"|"failed"|"skipped", "outcome" or "report", "host", "seconds", ...}."""
    t0 = time.perf_counter()
    from app import __version__
    from app.base import logs

    logs.setup()
    base = {"host": socket.gethostname(), "pid": os.getpid()}
    if spec["version"] != __version__:
        return _failed(base, f"this worker ({base['host']}) runs FaceMirror {__version__}, the driver "
                             f"{spec['version']}; install the same version on every node")
    import cv2

    from app.batch.job_queue.runner import outcome_of
    from app.engine.runtime import ModelFileError
    from app.base.outputs import clean_stale_files
    from app.pipeline.run import Pipeline, Settings
    from app.batch.scale import resume

    cv2.setNumThreads(spec["threads"])       # OpenCV's own pool would take every core of the node
    try:
        models = _load_models(spec["model_files"], spec["model_sha256"], spec["threads"])
    except (ModelFileError, ModelMismatch, OSError) as exc:
        return _failed(base, str(exc))
    video_path, folder = Path(video), Path(out_dir)
    cleanup = clean_stale_files(folder).message()   # e.g. a killed earlier attempt of this very task
    overwrite, redo, stale = bool(spec["settings"]["overwrite"]), "", False
    if spec["resume"]:
        decision = resume.check(video_path, folder, resume.Expected(models=spec["model_sha256"],
                                                                    settings=spec["settings"]))
        if decision.done:
            r = decision.report
            return {**base, "status": "skipped", "reason": decision.reason, "cleanup": cleanup,
                    "seconds": time.perf_counter() - t0,
                    "report": {"verdict": r.get("verdict"), "frames": r.get("frames"), "timings": r.get("timings")}}
        if decision.blocked:
            return _failed({**base, "cleanup": cleanup}, decision.reason)
        if decision.outputs_exist:
            overwrite, redo, stale = True, decision.reason, decision.other_input
    settings = Settings(**{**spec["settings"], "overwrite": overwrite})
    t1 = time.perf_counter()
    result = Pipeline(models, settings).process(video_path, folder, on_progress=_crash_once_hook(video_path))
    outcome = outcome_of(result)
    # a failed redo of a changed input: the set left there describes the other recording (batch.withdraw_stale)
    withdrawn = resume.withdraw(video_path, folder) if stale and not outcome["ok"] and not outcome["cancelled"] else ""
    return {**base, "status": "done" if outcome["ok"] else "failed", "outcome": outcome, "redo": redo,
            "withdrawn": withdrawn,
            "cleanup": cleanup, "seconds": time.perf_counter() - t0, "process_s": time.perf_counter() - t1}
