"""What the window tests share: a window with no models installed, selecting a row, and answering
a modal question as a user would (clicking its button once it shows)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox


@pytest.fixture
def no_models(isolated_qsettings, tmp_path, monkeypatch):
    """The user's settings left alone, and no model installed (nothing can process)."""
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "no-weights"))


def select_row(w, row: int) -> None:
    w.table.selectionModel().select(w.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                    | QItemSelectionModel.SelectionFlag.Rows)


def answer_box(object_name: str, yes: bool) -> list:
    """Click Yes (or No) in the question box ``object_name`` once it shows; returns the list its
    question is appended to."""
    asked: list = []

    def click():
        box = next((b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox)
                    and b.objectName() == object_name and b.isVisible()), None)
        if box is None:
            QTimer.singleShot(20, click)
            return
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No).click()

    QTimer.singleShot(20, click)
    return asked
