"""The main window's outputs: opening a finished file's summary or output folder, and comparing a
patient's visits (a compare page made in its own thread, gui.compare_visits, then opened).

`Outputs` receives the queue model, the queue panel's selection, the options bar (the chosen
output folder), ``open_url`` (the system's opener: the window's, which tests replace),
``notify`` and ``changed`` (the window re-enables its actions: Compare waits for its page).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtWidgets import QWidget

from app.gui.background import BackgroundThread
from app.gui.compare_visits import COMPARE_FOLDER, CompareWorker, folders_for, patient_of
from app.gui.open_failure import open_or_explain
from app.gui.queue_model import QueueModel
from app.gui.queue_panel import QueuePanel, summary_of
from app.gui.window_options import OptionsBar


class Outputs(QObject):
    _request_compare = Signal(object, object, str)     # folders, out dir, patient: to the compare thread

    def __init__(self, parent: QWidget, model: QueueModel, panel: QueuePanel, options: OptionsBar, *,
                 open_url: Callable[[QUrl], bool], notify: Callable[..., None], changed: Callable[[], None]):
        super().__init__(parent)
        self._parent, self.model, self.panel, self._options = parent, model, panel, options
        self._open_url, self._notify, self._changed = open_url, notify, changed
        self.comparing = False                   # a compare page is being made
        self.last_output_dir: Path | None = None  # of the last finished file (Open output folder without a selection)
        comparer = CompareWorker()
        self._comparer = BackgroundThread(comparer, "facemirror-compare", self)
        self._request_compare.connect(comparer.compare)
        comparer.done.connect(self.on_compared)
        self._comparer.start()

    def stop(self) -> None:
        self._comparer.stop()

    def open_path(self, path: Path, what: str) -> bool:
        """Open with the system; when it cannot, say so and where the file is (open_failure)."""
        return open_or_explain(self._parent, Path(path), what, opener=lambda p: self._open_url(QUrl.fromLocalFile(str(p))),
                               notify=lambda text: self._notify(text, 30000))

    def open_summary(self) -> None:
        summary = summary_of(self.panel.selected_job())
        if summary is None:
            self._notify("Select one finished file to open its summary")
        else:
            self.open_path(summary, "the summary")

    def open_summary_or_folder(self) -> None:
        """A finished row opens its visual summary (NAME_summary.html); any other its output folder."""
        rows = self.panel.selected_rows()
        if rows and summary_of(self.model.job_at(rows[0])) is not None:
            self.open_summary()
        else:
            self.open_output_folder()

    def _folder_to_open(self) -> Path | None:
        """The selected row's output folder, else the running file's, else the chosen or last one."""
        rows = self.panel.selected_rows()
        job = self.model.job_at(rows[0]) if rows else self.model.queue.current
        if job is not None:
            return self.model.out_dir_for(job)
        return self._options.output_folder or self.last_output_dir

    def open_output_folder(self) -> None:
        folder = self._folder_to_open()
        if folder is None:
            self._notify("No output folder yet: select a file in the queue or choose an output folder")
        elif not folder.is_dir():
            self._notify(f"The output folder {folder} does not exist yet")
        else:
            self.open_path(folder, "the output folder")

    def compare_visits(self) -> None:
        job = self.panel.selected_job()
        patient = patient_of(job)
        if job is None or patient is None or job.out_dir is None:
            self._notify("Select one finished file that has a patient ID to compare that patient's visits")
            return
        self.comparing = True
        self._changed()
        self._notify(f"Comparing the visits of patient {patient}...")
        self._request_compare.emit(folders_for(self.model.jobs, patient), job.out_dir / COMPARE_FOLDER, patient)

    def on_compared(self, page: str, problem: str) -> None:
        self.comparing = False
        if self.model.queue.closed:
            return
        self._changed()
        if not page:
            self._notify(problem)
        elif self.open_path(Path(page), "the comparison page"):
            self._notify(f"Comparison page written and opened: {page}")
