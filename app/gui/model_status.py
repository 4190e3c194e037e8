"""What the window says about installed models and the backend (Qt-free, so it is testable)."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from app import model_files


@dataclass
class ModelStatus:
    found: dict = field(default_factory=dict)      # key -> path
    missing: list = field(default_factory=list)    # ModelFile entries
    backend_text: str = ""
    landmark_model_text: str = ""
    warnings: list = field(default_factory=list)

    def summary_html(self) -> str:
        parts = []
        if self.missing:
            parts.append("<h3>Models missing</h3><ul>")
            for m in self.missing:
                parts.append(f"<li><b>{html.escape(m.filename)}</b>: {html.escape(m.description)}<br>"
                             f"create it with <code>{html.escape(m.create_command)}</code></li>")
            parts.append("</ul><p>The official checkpoints are published by OpenFace 3.0 "
                         "(Hugging Face repository <code>nutPace/openface_weights</code>); "
                         "<code>python main.py models fetch</code> downloads and converts them.</p>")
        else:
            parts.append("<h3>Models installed</h3>")
        for w in self.warnings:
            parts.append(f"<p style='color:#b35c00'><b>Warning:</b> {html.escape(w)}</p>")
        return "".join(parts)


def read_model_status() -> ModelStatus:
    status = ModelStatus()
    for m in model_files.expected_models():
        path = model_files.find_model(m.key)
        if path is None:
            status.missing.append(m)
        else:
            status.found[m.key] = path
    star = status.found.get(model_files.STAR_KEY)
    if star is None:
        status.landmark_model_text = "5-point fallback (STAR model missing)"
        status.warnings.append("No STAR model: the midline would come from the face detector's 5 points and is coarse.")
        status.backend_text = status.landmark_model_text
        return status
    try:
        from app.engine.landmarks import StarLandmarkDetector

        det = StarLandmarkDetector(star)
        status.backend_text = f"{det.backend.describe()} | STAR 98-point"
        status.landmark_model_text = "STAR 98-point"
        if det.untrained:
            status.warnings.append("The STAR model is an UNTRAINED development model: landmarks are meaningless.")
    except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
        status.warnings.append(f"Cannot load {star}: {exc}")
        status.backend_text = "STAR model failed to load"
    return status
