"""What the window says about installed models and the backend (Qt-free, so it is testable).

Two steps, because loading ONNX sessions takes a moment and happens in the worker thread:
`scan_model_files()` only looks for files (instant, used while the window opens);
`load_models()` loads them through the pipeline (`Models.load`) and fills in the backend text,
the landmark model and its warnings.
"""
from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app.base import model_files, notices, paths

HF_REPO = model_files.WEIGHTS_REPO
HF_URL = model_files.WEIGHTS_REPO_URL
FETCH_COMMAND = "python main.py models fetch"
EXTRAS_COMMAND = ".venv/bin/pip install -e '.[convert]'"

COARSE_WARNING = "5-point mode: no STAR model, so the midline comes from 5 face points and is coarse."
UNTRAINED_WARNING = ("The STAR model is an UNTRAINED development model: landmarks and midline are "
                     "meaningless. Do not use the results clinically.")

# What each model is for, in the clinician's words.
ROLE = {
    model_files.RETINAFACE_KEY: "finds the face; required to process any video",
    model_files.STAR_KEY: "98 landmarks for an accurate midline; without it the midline is coarse",
}
# Short names for buttons.
SHORT_NAME = {model_files.RETINAFACE_KEY: "face detector (RetinaFace)",
              model_files.STAR_KEY: "landmarks (STAR)"}


# what the models panel tells the clinician (clinician_html), problem by problem, then what to do
_DETECTOR_MISSING = ("<li><b>Face detector - required, not installed.</b> FaceMirror uses it to find the face in "
                     "every frame. Until it is installed no video can be processed.</li>")
_STAR_MISSING = ("<li><b>Landmark model (STAR) - optional, not installed.</b> It places 98 points on the face for an "
                 "accurate midline. Without it the midline comes from 5 points found by the face detector and is "
                 "coarser; videos can still be processed and each result says so.</li>")
_UNTRAINED = ("<li><b>The landmark model is an untrained test model.</b> Its results are meaningless: every output "
              "video is marked <i>UNTRAINED MODEL - NOT FOR CLINICAL USE</i> and every result is rated not "
              "usable.</li>")
_NOT_LOADED = ("<li><b>The models could not be loaded.</b> No video can be processed until this is fixed (the "
               "reason is under Details).</li>")
_TODO_CONVERT = ("If you have the downloaded checkpoint file, click the <i>Convert</i> button and choose it; "
                 "FaceMirror prepares the model in the background.")
_TODO_INSTALL = ("Otherwise ask the person who installed FaceMirror (or your IT support) to install the models: "
                 "<i>Details</i> tells them how.")
_TODO_TRAINED = ("Ask the person who installed FaceMirror to install the trained models: <i>Details</i> tells "
                 "them how.")


@dataclass
class ModelStatus:
    found: dict = field(default_factory=dict)      # key -> path
    missing: list = field(default_factory=list)    # ModelFile entries
    # optional extras not installed (manifest "required": false, e.g. the live model): information,
    # never a problem, so they are not in `missing` and do not open the models panel
    absent_optional: list = field(default_factory=list)
    loaded: bool = False                           # models loaded: videos can be processed
    backend_text: str = ""                         # e.g. "CPU, 2 threads | STAR 98-point"
    landmark_model_text: str = ""                  # "STAR 98-point", "5-point mode", ...
    warnings: list = field(default_factory=list)
    notices: set = field(default_factory=set)       # app.base.notices codes that hold for these models
    error: str = ""                                # why loading failed, for the user

    @property
    def can_process(self) -> bool:
        return self.loaded

    @property
    def missing_keys(self) -> list[str]:
        return [m.key for m in self.missing]

    @property
    def needs_attention(self) -> bool:
        return bool(self.missing or self.warnings or self.error)

    def headline(self) -> tuple[str, str]:
        """(level, one line) for the top of the models panel; level is "error", "warning" or ""."""
        if model_files.RETINAFACE_KEY in self.missing_keys:
            order = [model_files.RETINAFACE_KEY, model_files.STAR_KEY]
            names = " and ".join(SHORT_NAME[k] for k in order if k in self.missing_keys)
            return "error", (f"Models missing: {names}. Videos cannot be processed until the face "
                             "detector is installed.")
        if self.error:
            return "error", f"Cannot load the models: {self.error}"
        if notices.UNTRAINED in self.notices:     # results meaningless: red, like a missing detector
            return "error", UNTRAINED_WARNING
        if model_files.STAR_KEY in self.missing_keys:   # optional: not "missing", say what it means
            return "warning", ("5-point mode: the optional STAR landmark model is not installed. Videos can be "
                               "processed; the midline comes from the face detector's 5 points and is coarse.")
        if self.warnings:
            return "warning", self.warnings[0]
        return "", ""

    def clinician_html(self, *, converter: bool | None = None) -> str:
        """For the person using the app, before any command: what is missing (the required face
        detector first, then the optional landmark model), what it means, and what to do."""
        missing = self.missing_keys
        found = ((model_files.RETINAFACE_KEY in missing, _DETECTOR_MISSING), (model_files.STAR_KEY in missing, _STAR_MISSING),
                 (notices.UNTRAINED in self.notices, _UNTRAINED), (bool(self.error), _NOT_LOADED))
        items = [text for there, text in found if there]
        if not items:
            return ""
        if missing:
            convert = converter_available() if converter is None else converter
            todo = ([_TODO_CONVERT] if convert else []) + [_TODO_INSTALL]
        else:       # an untrained model or a load error
            todo = [_TODO_TRAINED]
        return f"<ul style='margin:0'>{''.join(items)}</ul><p><b>What to do:</b> {' '.join(todo)}</p>"

    def summary_html(self, *, converter: bool | None = None) -> str:
        """The models panel's Details: which files, the commands that make them, where they are
        searched, and warnings (for whoever installs the models)."""
        parts = self._missing_html(converter) if self.missing else []
        for m in self.absent_optional:
            meaning = model_files.ABSENT_OPTIONAL.get(m.key, m.description)
            parts.append(f"<p>Optional, not installed: <b>{_esc(m.filename)}</b> ({_esc(meaning)}); create it with "
                         f"<code>{_esc(m.create_command)}</code></p>")
        if self.error:
            parts.append(f"<p style='color:#c62828'><b>Cannot load the models:</b> {_esc(self.error)}</p>")
        parts.extend(f"<p style='color:#b35c00'><b>WARNING:</b> {_esc(w)}</p>" for w in self.warnings)
        return "".join(parts)

    def _missing_html(self, converter: bool | None) -> list[str]:
        """The missing files (the required face detector first), where the checkpoints are
        published, the folders searched, and what the conversion needs when it cannot run here."""
        order = [model_files.RETINAFACE_KEY, model_files.STAR_KEY]
        parts = ["<p><b>For whoever installs the models</b> (the required face detector first):</p><ul>"]
        for m in sorted(self.missing, key=lambda m: order.index(m.key) if m.key in order else len(order)):
            parts.append(f"<li><b>{_esc(m.filename)}</b> ({_esc(ROLE.get(m.key, m.description))})"
                         f"<br>create it with <code>{_esc(m.create_command)}</code></li>")
        ckpts = ", ".join(f"<code>{_esc(c)}</code>" for c in checkpoint_names(self.missing_keys))
        parts.append("</ul><p>The official checkpoints are published by OpenFace 3.0 (Hugging Face repository "
                     f"<a href='{HF_URL}'>{HF_REPO}</a>: {ckpts}). <code>{FETCH_COMMAND}</code> downloads and "
                     "converts them, or download them yourself and convert them here with the buttons below.</p>")
        parts.append("<p>Model folders searched: "
                     + ", ".join(f"<code>{_esc(str(d))}</code>" for d in paths.weights_search_dirs()) + "</p>")
        if not (converter_available() if converter is None else converter):
            parts.append(f"<p>{_esc(converter_missing_hint())}</p>")
        return parts


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def scan_model_files() -> ModelStatus:
    """Which model files exist (no loading)."""
    status = ModelStatus()
    for m in model_files.expected_models():
        path = model_files.find_model(m.key)
        if path is None and not m.required:
            status.absent_optional.append(m)
        elif path is None:
            status.missing.append(m)
        else:
            status.found[m.key] = path
    if not status.found.get(model_files.RETINAFACE_KEY):
        status.backend_text = "No face detector model: videos cannot be processed"
    else:
        status.backend_text = "Loading models..."
    return status


def load_models(threads: int | None = None):
    """Load the installed models. Returns (Models or None, ModelStatus); never raises."""
    from app.engine.runtime import ModelFileError
    from app.engine.model_set import Models

    status = scan_model_files()
    try:
        models = Models.load(threads=threads)
    except ModelFileError as exc:
        if model_files.RETINAFACE_KEY in status.missing_keys:
            _describe_star_alone(status, threads)
        else:
            status.error = str(exc)
            status.backend_text = "Models failed to load: videos cannot be processed"
        return None, status
    except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
        status.error = f"{type(exc).__name__}: {exc}"
        status.backend_text = "Models failed to load: videos cannot be processed"
        return None, status
    status.loaded = True
    status.backend_text = models.describe()
    if models.landmarks is None:
        status.landmark_model_text = "5-point mode"
        status.warnings.append(COARSE_WARNING)
        status.notices.add(notices.COARSE)
    else:
        status.landmark_model_text = model_files.LANDMARKS_STAR
        if models.landmarks.untrained:
            status.landmark_model_text += " (UNTRAINED)"
            status.warnings.append(UNTRAINED_WARNING)
            status.notices.add(notices.UNTRAINED)
    return models, status


def _describe_star_alone(status: ModelStatus, threads: int | None) -> None:
    """The face detector is missing: still say what STAR would run on (or that it is missing)."""
    star = status.found.get(model_files.STAR_KEY)
    prefix = "No face detector model: videos cannot be processed"
    if star is None:
        status.landmark_model_text = "STAR missing (5-point mode once the face detector is installed)"
        status.backend_text = f"{prefix} | {status.landmark_model_text}"
        return
    try:
        from app.engine.landmarks import StarLandmarkDetector

        det = StarLandmarkDetector(star, threads=threads)
        status.landmark_model_text = model_files.LANDMARKS_STAR
        status.backend_text = f"{det.backend.describe()} | {model_files.LANDMARKS_STAR} | {prefix}"
        if det.untrained:
            status.warnings.append(UNTRAINED_WARNING)
            status.notices.add(notices.UNTRAINED)
    except Exception as exc:  # noqa: BLE001
        status.error = f"cannot load {star}: {exc}"
        status.backend_text = f"{prefix} | STAR model failed to load"


# --- converting checkpoints from the window ----------------------------------------------------

def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False)) or paths.bundle_dir() is not None


def conversion_target_dir() -> Path:
    """Where converted models go so that the app finds them next time."""
    override = os.environ.get("FACEMIRROR_WEIGHTS_DIR")
    if override:
        return Path(override)
    if is_frozen():
        return paths.user_data_dir() / "weights"
    return paths.repo_weights_dir()


def converter_available() -> bool:
    """The converters need torch and onnx (the optional `convert` extras)."""
    if is_frozen():
        return False
    from app.convert import extras_available
    return extras_available()


def converter_missing_hint() -> str:
    if is_frozen():
        return ("This build of the app cannot convert checkpoints. On a computer with the FaceMirror "
                f"source, run {FETCH_COMMAND} and copy the .onnx files into {conversion_target_dir()}.")
    return ("Converting a checkpoint needs the converter extras (PyTorch and ONNX). Install them with: "
            f"{EXTRAS_COMMAND}  then restart FaceMirror.")


def checkpoint_names(keys) -> list[str]:
    cks = model_files.load_manifest().get("checkpoints", {})
    return [cks.get(k, {}).get("file", k) for k in keys]


def model_filename(key: str) -> str:
    return model_files.model_entry(key).filename
