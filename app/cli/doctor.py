"""`python main.py doctor`: what this installation has and what it lacks, in plain words."""
from __future__ import annotations

import platform

from app import __version__, APP_NAME

from app.base import model_files, paths


def _describe_model(key: str, path) -> list[str]:
    lines = [f"    found: {path} ({path.stat().st_size / 1e6:.1f} MB)"]
    try:
        # onnxruntime, not the onnx package: doctor must work in the app bundle, which has no onnx.
        import onnxruntime as ort

        from app.engine import runtime

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=[runtime.CPU])
        meta = dict(session.get_modelmeta().custom_metadata_map)
        if meta.get(runtime.META_UNTRAINED, "").lower() == "true":
            lines.append("    WARNING: untrained development model (random weights): landmarks are meaningless")
        stacks = meta.get(runtime.META_STAR_STACKS, "")
        if stacks and stacks != str(model_files.STAR_STACKS):
            lines.append(f"    early exit: runs {stacks} of STAR's {model_files.STAR_STACKS} hourglass stacks")
    except Exception as exc:  # noqa: BLE001 - reported, doctor goes on
        lines.append(f"    WARNING: cannot read the model file: {exc}")
    return lines


def add_parser(sub) -> None:
    sub.add_parser("doctor", help="versions, ONNX Runtime providers, model files present or missing").set_defaults(
        run=lambda args: run_doctor())


def run_doctor() -> int:
    print(f"{APP_NAME} {__version__}")
    print(f"Python {platform.python_version()} ({platform.system()} {platform.machine()})")
    try:
        import onnxruntime as ort
    except ImportError as exc:
        print(f"onnxruntime: NOT INSTALLED ({exc})")
        return 1
    from app.engine import runtime

    available = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}; available providers: {', '.join(available)}")
    plan = runtime.provider_plan(available)
    print(f"backend order tried: {' -> '.join(plan)}; threads: {runtime.default_threads()}")
    print(f"CoreML cache folder: {runtime.coreml_cache_dir()}")
    for mod, label in (("cv2", "OpenCV"), ("numpy", "NumPy"), ("PySide6", "PySide6")):
        try:
            m = __import__(mod)
            print(f"{label} {m.__version__}")
        except ImportError:
            print(f"{label}: NOT INSTALLED")
    # The version from the package metadata: importing torch takes seconds and 1 GB of address space.
    from importlib import metadata
    try:
        print(f"converter extras: torch {metadata.version('torch')} installed")
    except metadata.PackageNotFoundError:
        print("converter extras: not installed (only needed to convert checkpoints: "
              ".venv/bin/pip install -e '.[convert]')")
    _report_model_files()
    return 0


def _report_model_files() -> None:
    """Each expected model file: found (its facts), optional and absent, or missing (how to make it)."""
    print("model files (searched: " + ", ".join(str(d) for d in paths.weights_search_dirs()) + ")")
    missing = 0
    for m in model_files.expected_models():
        path = model_files.find_model(m.key)
        print(f"  {m.filename}: {m.description}")
        if path is not None:
            for line in _describe_model(m.key, path):
                print(line)
        elif not m.required:
            # e.g. the live model: nothing is missing for processing files, so not counted
            meaning = model_files.ABSENT_OPTIONAL.get(m.key, "")
            print(f"    not installed (optional{': ' + meaning if meaning else ''}). Create it with:")
            print(f"      {m.create_command}")
        else:
            missing += 1
            if paths.bundle_dir() is not None:
                # The app bundle has no converter: models come from a source checkout.
                print(f"    MISSING. Put {m.filename} in {paths.user_data_dir() / 'weights'}; it is made from "
                      f"a source checkout with: {m.create_command}")
            else:
                print("    MISSING. Create it with:")
                print(f"      {m.create_command}")
    if missing:
        print("To download the official checkpoints and convert them in one step (needs internet and the "
              "converter extras): python main.py models fetch")
        if model_files.find_model(model_files.STAR_KEY) is None:
            print("Without the STAR model FaceMirror runs in 5-point mode (the detector's 5 points): the midline is coarse.")
