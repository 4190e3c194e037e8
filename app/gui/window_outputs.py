"""The main window's outputs: the output folder and midline options, opening a finished file's
summary or folder, comparing a patient's visits, the queue's row menu and the selected row's details.

A mixin of MainWindow (it uses the window's queue model, table and options bar).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QTimer, QUrl, Qt
from PySide6.QtGui import QContextMenuEvent, QDesktopServices
from PySide6.QtWidgets import QMenu

from app.batch.job_queue.jobs import RETRYABLE
from app.gui.compare_visits import COMPARE_FOLDER, folders_for, patient_of
from app.batch.job_queue.jobs import Job, Status
from app.gui.open_failure import open_or_explain
from app.gui.queue_model import COL_FILE


class WindowOutputs:
    def choose_output_folder(self) -> None:
        start = str(self.output_folder or self.prefs.last_output_folder or self.prefs.input_start_folder())
        folder = self._ask_folder("Write outputs into this folder", start)
        if folder:
            self.set_output_folder(Path(folder))

    def set_output_folder(self, folder: Path | None) -> None:
        """None: beside each input; otherwise one folder for all outputs (remembered)."""
        if folder is None:
            self.output_combo.setCurrentIndex(0)
            return
        if self.output_combo.count() > 1:
            self.output_combo.setItemText(1, str(folder))
            self.output_combo.setItemData(1, str(folder))
        else:
            self.output_combo.addItem(str(folder), str(folder))
        self.output_combo.setItemData(1, str(folder), Qt.ItemDataRole.ToolTipRole)
        if self.output_combo.currentIndex() == 1:
            self._output_choice_changed(1)
        else:
            self.output_combo.setCurrentIndex(1)

    def _output_choice_changed(self, _index: int) -> None:
        folder = self.output_folder
        self.prefs.output_folder = folder
        self.model.set_default_out_dir(folder)

    def _midline_changed(self, _index: int) -> None:
        self.prefs.midline = self.midline

    def _open_url(self, url: QUrl) -> bool:
        return QDesktopServices.openUrl(url)

    def _open_path(self, path: Path, what: str) -> bool:
        """Open with the system; when it cannot, say so and where the file is (open_failure)."""
        return open_or_explain(self, Path(path), what, opener=lambda p: self._open_url(QUrl.fromLocalFile(str(p))),
                               notify=lambda text: self.message(text, 30000))

    @staticmethod
    def _summary_of(job: Job | None) -> Path | None:
        """The visual summary (NAME_summary.html) of a finished row, if it is there."""
        summary = (job.outputs or {}).get("summary") if job is not None and job.status == Status.DONE else None
        return Path(summary) if summary is not None and Path(summary).is_file() else None

    def open_summary(self) -> None:
        rows = self.selected_rows()
        summary = self._summary_of(self.model.job_at(rows[0])) if len(rows) == 1 else None
        if summary is None:
            self.message("Select one finished file to open its summary")
        else:
            self._open_path(summary, "the summary")

    def compare_visits(self) -> None:
        rows = self.selected_rows()
        job = self.model.job_at(rows[0]) if len(rows) == 1 else None
        patient = patient_of(job)
        if job is None or patient is None or job.out_dir is None:
            self.message("Select one finished file that has a patient ID to compare that patient's visits")
            return
        self._comparing = True
        self._update_actions()
        self.message(f"Comparing the visits of patient {patient}...")
        self._request_compare.emit(folders_for(self.model.jobs, patient), job.out_dir / COMPARE_FOLDER, patient)

    def _on_compared(self, page: str, problem: str) -> None:
        self._comparing = False
        if self.queue.closed:
            return
        self._update_actions()
        if not page:
            self.message(problem)
        elif self._open_path(Path(page), "the comparison page"):
            self.message(f"Comparison page written and opened: {page}")

    def open_summary_or_folder(self) -> None:
        """A finished row opens its visual summary (NAME_summary.html); any other its output folder."""
        rows = self.selected_rows()
        if rows and self._summary_of(self.model.job_at(rows[0])) is not None:
            self.open_summary()
            return
        self.open_output_folder()

    def _row_menu(self) -> QMenu:
        menu = QMenu(self)
        for a in (self.open_summary_action, self.compare_action, self.open_output_action, None, self.retry_action,
                  self.remove_action):
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        return menu

    def _show_row_menu(self, pos) -> None:
        menu = self._row_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if (obj is getattr(self, "table", None) and event.type() == QEvent.Type.ContextMenu
                and event.reason() == QContextMenuEvent.Reason.Keyboard):
            self._show_row_menu_from_keyboard()
            return True
        return super().eventFilter(obj, event)

    def _show_row_menu_from_keyboard(self) -> None:
        """Shift+F10 or the Menu key: the menu of the current row, opened at that row."""
        index = self.table.currentIndex()
        rows = self.selected_rows()
        if rows and (not index.isValid() or index.row() not in rows):
            index = self.model.index(rows[0], COL_FILE)
        rect = self.table.visualRect(index) if index.isValid() else None
        self._show_row_menu(rect.bottomLeft() if rect is not None and rect.isValid() else self.table.viewport().rect().topLeft())

    def _show_details(self) -> None:
        """One line under the queue with the full status of the selected row (the cell cuts it)."""
        if not hasattr(self, "details_label"):
            return
        rows = self.selected_rows()
        job = self.model.job_at(rows[0]) if len(rows) == 1 else None
        text = job.status_tooltip if job is not None and job.status in RETRYABLE else ""   # reasons to read
        self.details_label.setText(f"{self.model.label(job)}: {text}" if text else "")
        if self.details_label.isVisible() != bool(text):
            self.details_label.setVisible(bool(text))
            QTimer.singleShot(0, self._fit_queue_rows)     # the queue keeps its rows after the relayout

    def open_output_folder(self) -> None:
        rows = self.selected_rows()
        if rows:
            folder = self.model.out_dir_for(self.model.job_at(rows[0]))
        elif self.queue.current is not None:
            folder = self.model.out_dir_for(self.queue.current)
        else:
            folder = self.output_folder or self._last_output_dir
        if folder is None:
            self.message("No output folder yet: select a file in the queue or choose an output folder")
            return
        if not folder.is_dir():
            self.message(f"The output folder {folder} does not exist yet")
            return
        self._open_path(folder, "the output folder")
