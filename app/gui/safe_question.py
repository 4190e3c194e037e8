"""A question whose safe answer is the default and the Esc answer ("Keep processing", "Keep
recording", "Keep the results"): a clinician pressing Esc or Enter by reflex never stops or
replaces anything. Modal; tests find each box by its object name."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from app import APP_NAME


def ask(parent: QWidget, name: str, question: str, details: str, act: str, keep: str,
        shown: Callable[[QMessageBox | None], None] | None = None) -> bool:
    """True only when the user chose ``act``; ``shown(box)`` / ``shown(None)`` around the wait
    (a caller that must not ask twice keeps the box meanwhile)."""
    box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, question,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setObjectName(name)
    box.setInformativeText(details)
    box.button(QMessageBox.StandardButton.Yes).setText(act)
    box.button(QMessageBox.StandardButton.No).setText(keep)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setEscapeButton(QMessageBox.StandardButton.No)
    if shown is not None:
        shown(box)
    try:
        return box.exec() == QMessageBox.StandardButton.Yes
    finally:
        if shown is not None:
            shown(None)
        box.deleteLater()
