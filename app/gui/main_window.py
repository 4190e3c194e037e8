"""FaceMirror main window: a thin view that composes panels and wires signals (issue 34).

What it shows: the models banner (missing models, warnings, conversion), three live previews and
the symmetry trace, the throughput line, the queue table and the selected row's details, the
toolbars (queue actions; output folder, replace and midline; patient and visit) and the status
bar (backend, landmark model warning, version).

The window keeps layout and wiring only. Each part owns its widgets and state and receives what it
needs (the queue model, other parts, a few callbacks) in its constructor:
- decisions without Qt: app.gui.presenters (enabled_actions from one Busy value; the rules and
  notes for added files) and app.batch.job_queue (JobQueue's state machine; runner.QueueRunner,
  the one mapping from a run to its row, shared with `process`);
- window_actions (the actions, the File menu's, toolbar's and row menu's layouts), window_bars
  (queue and patient toolbars, status bar), window_options (output folder, replace, midline),
  queue_panel (table, row menu, details line), preview, throughput, symmetry_trace, models_panel;
- window_adding (QueueEditor: adding files, Retry, Remove, Move, durations; FileDrops),
  window_outputs (Outputs: summaries, folders, compare), window_run (RunControl: the worker and
  the run loop), window_models (ModelsControl: model status, conversion), window_closing
  (QuitQuestion), window_live (LiveExams).

Threads, all in one style (gui.background.BackgroundThread: a worker QObject in its own QThread,
requests through queued signals): the PipelineWorker loads the models (Models.load) and runs the
pipeline for one queued file at a time, cancelled through a threading.Event per file. A
DurationProber reads the durations of added files; a CompareWorker makes compare pages; a model
conversion runs in its own (model_convert.Conversion). Previews are polled from the worker on a
timer. Closing the window while a file is processing asks "Stop processing and quit?"; quitting
cancels the running file, stops the threads in a fixed order (shutdown) and leaves no partial output.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QThread, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QVBoxLayout, QWidget

from app import __version__, APP_NAME
from app.batch.job_queue.jobs import Job
from app.batch.job_queue.queue import JobQueue
from app.batch.job_queue.runner import WINDOW_EXISTS_HINT, QueueRunner
from app.gui import file_open
from app.gui.help_menu import install_help_menu
from app.gui.model_status import ModelStatus, scan_model_files
from app.gui.models_panel import ModelsPanel
from app.gui.prefs import Prefs
from app.gui.presenters import actions
from app.gui.queue_model import QueueModel
from app.gui.queue_panel import QueuePanel
from app.gui.window_actions import FILE_MENU, WindowActions
from app.gui.window_adding import FileDrops, QueueEditor
from app.gui.window_bars import WindowStatusBar, queue_toolbar, subject_toolbar
from app.gui.window_closing import QuitQuestion
from app.gui.window_live import LiveExams
from app.gui.window_models import ModelsControl
from app.gui.window_options import OptionsBar
from app.gui.window_outputs import Outputs
from app.gui.window_run import MESSAGE_MS, RunControl, RunView
from app.pipeline.run import Settings

# each presenters.actions name -> the actions it enables (OUTPUT also enables the output folder choice)
ENABLED_BY = {actions.START: ("start",), actions.CANCEL: ("cancel", "cancel_key"), actions.REMOVE: ("remove",),
              actions.RETRY: ("retry",), actions.UP: ("up",), actions.DOWN: ("down",),
              actions.OUTPUT: ("choose_output",), actions.OPEN_SUMMARY: ("open_summary",),
              actions.COMPARE: ("compare",)}


def default_size(window: QWidget) -> QSize:
    """1280 x 800, or less on a smaller screen."""
    size = QSize(1280, 800)
    screen = window.screen() or QApplication.primaryScreen()
    if screen is not None:
        avail = screen.availableGeometry().size()
        if avail.width() >= 640 and avail.height() >= 480:
            size = size.boundedTo(QSize(int(avail.width() * 0.95), int(avail.height() * 0.9)))
    return size


class MainWindow(QMainWindow):
    # for observers (tests, accessibility tools)
    models_changed = Signal(object)
    queue_finished = Signal(str)

    def __init__(self, status: ModelStatus | None = None, *, threads: int | None = None,
                 settings: QSettings | None = None):
        """`settings`: where choices are remembered (default: the user's FaceMirror settings);
        a self-test can pass QSettings(path, QSettings.IniFormat) to leave the user's alone."""
        super().__init__()
        title = f"{APP_NAME} {__version__}"
        # Qt appends the application's display name to any title that does not end with it
        # ("FaceMirror 0.1.0 - FaceMirror"): make the title that name
        QApplication.instance().setApplicationDisplayName(title)
        self.setWindowTitle(title)
        self.prefs = Prefs(settings)
        self.model = QueueModel(self)
        self.runner = QueueRunner(self.model.queue, WINDOW_EXISTS_HINT)
        self.action_set = WindowActions(self, self._slots())
        self._build_bars()
        self._build_central()
        self._compose(status or scan_model_files(), threads)
        self._build_menus()
        self._name_parts()
        self._restore_layout()
        self.drops = FileDrops(self, self.add_paths)
        self._file_open = file_open.install(QApplication.instance())
        self._file_open.attach(self.add_paths)
        QApplication.instance().aboutToQuit.connect(self.shutdown)
        self.run.begin()
        self._update_actions()

    # =========================================================================================
    # building: the parts, then their wiring
    def _slots(self) -> dict:
        """What each action does (window_actions.SPECS names); the parts exist when one is triggered."""
        return {"add": lambda: self.editor.add_videos_dialog(), "add_folder": lambda: self.editor.add_folder_dialog(),
                "remove": lambda: self.editor.remove_selected(), "up": lambda: self.editor.move_selected(-1),
                "down": lambda: self.editor.move_selected(1), "retry": lambda: self.editor.retry_selected(),
                "start": lambda: self.run.start(), "cancel": lambda: self.run.cancel(),
                "cancel_key": lambda: self.run.cancel_asked(), "choose_output": lambda: self.options.choose_output_folder(),
                "open_output": lambda: self.outputs.open_output_folder(),
                "open_summary": lambda: self.outputs.open_summary(), "compare": lambda: self.outputs.compare_visits(),
                "live": lambda: self.open_live_exam(), "quit": self.close}

    def _build_bars(self) -> None:
        """The queue toolbar, the options bar and the patient bar (each on its own line), the status bar."""
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, queue_toolbar(self, self.action_set))
        self.addToolBarBreak()
        self.options = OptionsBar(self, self.prefs, self.action_set["choose_output"])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.options)
        self.addToolBarBreak()
        subject_bar, self.subject_fields = subject_toolbar(self, self.prefs.s)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, subject_bar)
        self.status_bar = WindowStatusBar(self)
        self.setStatusBar(self.status_bar)

    def _build_central(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.models_panel = ModelsPanel(central)
        self.models_label = self.models_panel.label
        layout.addWidget(self.models_panel)
        self.run_view = RunView(central)
        self.preview, self.trace, self.throughput = self.run_view.preview, self.run_view.trace, self.run_view.throughput
        self.queue_panel = QueuePanel(self.model, central, self.action_set,
                                      open_row=lambda: self.outputs.open_summary_or_folder(),
                                      relayout=self._fit_queue_rows)
        self.splitter = QSplitter(Qt.Orientation.Vertical, central)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.run_view)
        self.splitter.addWidget(self.queue_panel.table)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.queue_panel.details_label)
        self.setCentralWidget(central)

    def _compose(self, status: ModelStatus, threads: int | None) -> None:
        """The behaviour: each part with what it needs; ``_update_actions`` after any change."""
        changed, notify = self._update_actions, self.message
        self.models = ModelsControl(self, status, panel=self.models_panel, status_bar=self.status_bar,
                                    options=self.options, queue=self.queue, prefs=self.prefs,
                                    load=lambda: self.run.request_load.emit(), notify=notify, changed=changed,
                                    close_window=self.close)
        self.outputs = Outputs(self, self.model, self.queue_panel, self.options, open_url=lambda url: self._open_url(url),
                               notify=notify, changed=changed)
        self.quit_question = QuitQuestion(self, self.model, lambda: self.live.window)
        self.run = RunControl(self, self.model, self.runner, options=self.options, models=self.models,
                              outputs=self.outputs, view=self.run_view, models_panel=self.models_panel,
                              threads=threads, notify=notify, changed=changed,
                              file_ended=self.quit_question.follow_queue)
        self.editor = QueueEditor(self, self.model, self.queue_panel, subject=self.subject_fields, options=self.options,
                                  prefs=self.prefs, notify=notify, changed=changed, start=self.run.start,
                                  ask_replace=lambda finished: self._ask_replace(finished))
        self.live = LiveExams(self, self.prefs, self.editor.add_recording)
        self.queue_panel.selection_changed.connect(changed)
        self.options.output_changed.connect(self.model.set_default_out_dir)
        self.models.models_changed.connect(self.models_changed)
        self.run.queue_finished.connect(self.queue_finished)

    def _build_menus(self) -> None:
        self.file_menu = self.menuBar().addMenu("&File")
        self.action_set.fill(self.file_menu, FILE_MENU)
        install_help_menu(self, backend_text=lambda: self.backend_label.text(), notify=self.message,
                          open_path=self.outputs.open_path)

    def _name_parts(self) -> None:
        """The actions and widgets that tests, the self-test and the live window's Quit reach on the window."""
        for name, action in self.action_set.by_name.items():
            setattr(self, f"{name}_action", action)
        bar, options = self.status_bar, self.options
        self.backend_label, self.warning_label, self.version_label = bar.backend_label, bar.warning_label, bar.version_label
        self.output_combo, self.overwrite_box, self.midline_combo = options.output_combo, options.overwrite_box, options.midline_combo
        self.midline_note, self.midline_note_action = options.midline_note, options.midline_note_action
        self.table, self.details_label = self.queue_panel.table, self.queue_panel.details_label

    # =========================================================================================
    # layout: size, the splitter between previews and queue (remembered)
    def _restore_layout(self) -> None:
        geometry = self.prefs.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(default_size(self))
        splitter = self.prefs.splitter()
        self._fit_rows = splitter is None or not self.splitter.restoreState(splitter)
        self.splitter.splitterMoved.connect(self._user_moved_splitter)
        self._missing_folder_note = self.options.restore()
        self.model.set_default_out_dir(self.options.output_folder)

    def _user_moved_splitter(self, *_args) -> None:
        self._fit_rows = False

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_queue_rows()

    def _fit_queue_rows(self) -> None:
        """Without a remembered layout, give the queue room for QUEUE_ROWS_SHOWN rows when the
        previews can spare it (a small screen keeps the split as it is)."""
        if not getattr(self, "_fit_rows", False):
            return
        top, table = self.splitter.sizes()
        total = top + table
        spare = total - self.splitter.widget(0).minimumSizeHint().height()
        want = min(self.queue_panel.rows_height, spare)
        if table < want:
            self.splitter.setSizes([total - want, want])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._missing_folder_note:
            note, self._missing_folder_note = self._missing_folder_note, ""
            self.message(note, 30000)

    # =========================================================================================
    # wiring: which actions are enabled (presenters.actions)
    def _window_state(self) -> actions.WindowState:
        return actions.WindowState(busy=actions.busy_of(self.queue.state, self.models.phase),
                                   comparing=self.outputs.comparing, can_process=self.models.status.can_process,
                                   has_waiting=self.model.next_waiting() is not None,
                                   selection=self.queue_panel.selection())

    def _update_actions(self, *_args) -> None:
        on = actions.enabled_actions(self._window_state())
        for name, targets in ENABLED_BY.items():
            for target in targets:
                self.action_set[target].setEnabled(name in on)
        self.output_combo.setEnabled(actions.OUTPUT in on)
        self.queue_panel.show_details()

    # =========================================================================================
    # entry points (the command line, the live window, tests) and the window's own dialogs
    def add_paths(self, paths) -> int:
        return self.editor.add_paths(paths)

    def add_recording(self, path, rest=None, subject=None) -> bool:
        return self.editor.add_recording(path, rest, subject)

    def start(self) -> None:
        self.run.start()

    def cancel(self) -> None:
        self.run.cancel()

    def open_live_exam(self, source_file: Path | None = None) -> None:
        self.live.open(source_file)

    @property
    def live_window(self):
        return self.live.window

    def selected_rows(self) -> list[int]:
        return self.queue_panel.selected_rows()

    def set_output_folder(self, folder: Path | None) -> None:
        self.options.set_output_folder(folder)

    def message(self, text: str, ms: int = MESSAGE_MS) -> None:
        """A non-blocking notice in the status bar."""
        self.status_bar.showMessage(text, ms)

    # where the window meets the user's desktop and questions (tests replace these)
    def _open_url(self, url: QUrl) -> bool:
        return QDesktopServices.openUrl(url)

    def _ask_replace(self, finished: list[Job]) -> bool:
        return self.editor.ask_replace(finished)

    def _settings(self, job: Job | None = None) -> Settings:
        """The pipeline's Settings for a job (window_run: the one place that makes them)."""
        return self.run.settings(job)

    # =========================================================================================
    # state, for observers
    @property
    def queue(self) -> JobQueue:
        """The jobs and the run's state (the table shows the same queue)."""
        return self.model.queue

    @property
    def is_running(self) -> bool:
        return self.queue.running

    @property
    def worker_thread(self) -> QThread:
        return self.run.worker_thread

    @property
    def model_status(self) -> ModelStatus:
        return self.models.status

    @property
    def models_known(self) -> bool:
        return self.models.known

    @property
    def five_point_mode(self) -> bool:
        return self.models.five_point_mode

    # =========================================================================================
    # closing
    def closeEvent(self, event) -> None:  # noqa: N802
        if self.models.close_after_conversion() or not self.quit_question.may_quit():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel the running file, stop the threads, remember the settings. Idempotent.

        Order matters for a clean exit: cancel first so the pipeline returns within a frame or two,
        then stop each BackgroundThread (waits, drops requests never started, delivers results
        already queued, releases ONNX sessions and images) while Python and Qt are fully alive."""
        if self.queue.closed:
            return
        self.queue.close()              # cancels the running file; late results start nothing
        self.live.close()               # finishes a recording in progress (kept on disk, complete)
        try:
            self.prefs.set_geometry(self.saveGeometry())
            self.prefs.set_splitter(self.splitter.saveState())
            self.prefs.sync()
        except RuntimeError:
            pass
        self.run.stop()
        self.models.wait()
        self.editor.stop()
        self.outputs.stop()
        self._file_open.detach(self.add_paths)
        try:
            QApplication.instance().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
