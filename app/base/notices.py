"""Warnings that hold for a whole run (the models loaded), one wording each.

Front ends test the code (`COARSE in status.notices`), never the text, and say the text their own
way around it; the report and the CSV carry the same words.
"""
from __future__ import annotations

COARSE = "coarse"          # no STAR model: the 5-point mode's midline
UNTRAINED = "untrained"    # a random-weights STAR model (development only)

TEXT = {
    COARSE: ("no STAR model installed: the midline comes from the face detector's 5 points "
             "and is coarse"),
    UNTRAINED: "the STAR model is an UNTRAINED development model: landmarks are meaningless",
}
ADVICE = {
    COARSE: "Install the STAR model for clinical use (python main.py doctor says how).",
    UNTRAINED: "Every output video is marked UNTRAINED MODEL - NOT FOR CLINICAL USE.",
}
SHORT = {COARSE: "5-point mode, coarse midline", UNTRAINED: "untrained STAR model, results meaningless"}


def for_models(models) -> list[str]:
    """The codes that hold for a loaded app.engine.model_set.Models."""
    if models.landmarks is None:
        return [COARSE]
    return [UNTRAINED] if models.landmarks.untrained else []


def file_warnings(warnings: list[str]) -> list[str]:
    """A result's own warnings without the run's notices (front ends say those once per run).
    The one place that knows the notices' wording: front ends call this, never compare text."""
    run = set(TEXT.values())
    return [w for w in warnings if w not in run]
