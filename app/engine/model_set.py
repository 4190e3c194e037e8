"""The loaded models of a run: the face detector (required) and STAR (optional)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.base import model_files
from app.engine import runtime
from app.engine.landmarks import StarLandmarkDetector

if TYPE_CHECKING:
    from app.engine.faces import FaceDetector

LANDMARKS_STAR = model_files.LANDMARKS_STAR
LANDMARKS_5POINT = model_files.LANDMARKS_5POINT


@dataclass
class Models:
    faces: FaceDetector
    landmarks: StarLandmarkDetector | None      # None: 5-point mode
    files: dict = field(default_factory=dict)   # key -> Path
    _sha: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, threads: int | None = None, *, live: bool = False) -> "Models":
        """Load the installed models. The face detector is required; STAR is optional.

        ``live``: the models of the live exam's panes: STAR cut after its second stack where that
        model was converted (about twice as fast), else full STAR. Never for a recording's
        analysis, which always uses full STAR."""
        from app.engine.faces import CREATE_COMMAND as FACES_CMD, FaceDetector

        rf = model_files.find_model(model_files.RETINAFACE_KEY)
        if rf is None:
            raise runtime.ModelFileError(
                f"face detector model {model_files.RETINAFACE_FILE} not found (searched "
                + ", ".join(str(d) for d in model_files.paths.weights_search_dirs())
                + f"). Create it with: {FACES_CMD}")
        files = {model_files.RETINAFACE_KEY: rf}
        faces = FaceDetector(rf, threads=threads)
        star_key, star_path = model_files.STAR_LIVE_KEY, None
        if live:
            star_path = model_files.find_model(star_key)
        if star_path is None:
            star_key, star_path = model_files.STAR_KEY, model_files.find_model(model_files.STAR_KEY)
        star = None
        if star_path is not None:
            star = StarLandmarkDetector(star_path, threads=threads)
            files[star_key] = star_path
        return cls(faces=faces, landmarks=star, files=files)

    @property
    def coarse(self) -> bool:
        return self.landmarks is None

    @property
    def live_cut(self) -> bool:
        """True when the landmarks are STAR cut after its second stack (the live panes' model)."""
        return self.landmarks is not None and model_files.STAR_LIVE_KEY in self.files

    @property
    def untrained(self) -> bool:
        return self.landmarks is not None and self.landmarks.untrained

    def describe(self) -> str:
        if self.landmarks is None:
            return f"{self.faces.backend.describe()} | 5-point mode (coarse midline)"
        return f"{self.landmarks.backend.describe()} | {LANDMARKS_STAR}"

    def sha256(self, path: Path) -> str:
        # Hashed once per Models, not once per video of a batch (STAR is 52 MB).
        if path not in self._sha:
            self._sha[path] = model_files.sha256_file(path)
        return self._sha[path]

    def report(self) -> dict:
        out: dict = {key: {"file": str(path), "sha256": self.sha256(path)} for key, path in self.files.items()}
        out[model_files.RETINAFACE_KEY]["backend"] = self.faces.backend.as_dict()
        if self.landmarks is not None:
            star_key = model_files.STAR_LIVE_KEY if self.live_cut else model_files.STAR_KEY
            out[star_key]["backend"] = self.landmarks.backend.as_dict()
            out[star_key]["untrained"] = self.landmarks.untrained
        out["landmark_model"] = LANDMARKS_5POINT if self.landmarks is None else LANDMARKS_STAR
        return out
