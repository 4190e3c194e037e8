""""Copy diagnostic info": one plain-text block a clinician can paste into a support e-mail.

Versions, platform, backend, models (with sha256), the log file and the last warnings/errors.
No patient data: file names of inputs are not included.
"""
from __future__ import annotations

import platform
from importlib import metadata

from app import APP_NAME, __version__

from app.base import build_info, logs

PACKAGES = ("onnxruntime", "numpy", "opencv-python-headless", "PySide6-Essentials", "av", "matplotlib")


def _package_versions() -> list[str]:
    out = []
    for name in PACKAGES:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} not installed")
    try:
        import av
        out.append(f"FFmpeg (PyAV) {av.ffmpeg_version_info}")
    except Exception:  # noqa: BLE001 - informative only
        pass
    return out


def diagnostic_text(*, backend: str | None = None, models: dict | None = None) -> str:
    note = build_info.build_note()
    lines = [f"{APP_NAME} {__version__}" + (f" ({note})" if note else ""),
             f"Python {platform.python_version()} on {platform.system()} {platform.release()} ({platform.machine()})"]
    lines += _package_versions()
    if backend:
        lines.append(f"backend: {backend}")
    for key, info in (models or {}).items():
        if isinstance(info, dict):
            lines.append(f"model {key}: {info.get('file')} sha256 {info.get('sha256')}")
    lines.append(f"log file: {logs.log_file()}")
    recent = list(logs.recent_errors.records)
    lines.append(f"last warnings and errors ({len(recent)}):" if recent else "no warnings or errors logged")
    lines += [f"  {r}" for r in recent]
    return "\n".join(lines) + "\n"
