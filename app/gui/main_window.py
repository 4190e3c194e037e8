"""FaceMirror main window: a thin view that composes panels and wires signals (issue 34).

What it holds: the models banner (missing models, warnings, conversion), three live previews, the
throughput line, the queue table, the toolbars (queue actions; output folder and midline; patient)
and the status bar (backend, landmark model warning, version).

Where each part lives:
- decisions without Qt: app.gui.presenters (enabled_actions from one Busy value; the rules and
  notes for added files) and app.batch.job_queue (JobQueue's state machine; runner.QueueRunner,
  the one mapping from a run to its row, shared with `process`);
- widgets: window_actions (actions, File menu), window_bars (toolbars, status bar), queue_panel
  (the table and the selected row's details), preview, throughput, symmetry_trace, models_panel;
- behaviour, as mixins of this class: window_adding (adding files, editing the queue),
  window_outputs (output options, opening results, compare, row menu), window_run (the run loop),
  window_models (model status, conversion), window_closing (quit questions, shutdown order).

Threads, all in one style (gui.background.BackgroundThread: a worker QObject in its own QThread,
requests through queued signals): the PipelineWorker loads the models (Models.load) and runs the
pipeline for one queued file at a time, cancelled through a threading.Event per file. A
DurationProber reads the durations of added files; a CompareWorker makes compare pages; a model
conversion runs in its own (model_convert.Conversion). Previews are polled from the worker on a
timer. Closing the window while a file is processing asks "Stop processing and quit?"; quitting
cancels the running file, stops the threads in a fixed order (see background.py) and leaves no
partial output.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QMainWindow, QMessageBox, QSplitter, QVBoxLayout,
                               QWidget)

from app import __version__, APP_NAME

from app.gui import file_open
from app.gui.presenters import actions
from app.gui.background import BackgroundThread
from app.gui.model_convert import Conversion
from app.gui.model_status import ModelStatus, scan_model_files
from app.gui.models_panel import ModelsPanel
from app.engine.midline import MIDLINE_METHODS
from app.gui.prefs import Prefs
from app.gui.preview import PreviewStrip
from app.gui.queue_model import DurationProber, QueueModel
from app.gui.queue_panel import build_queue_table
from app.gui.help_menu import install_help_menu
from app.gui.compare_visits import CompareWorker, patient_of
from app.gui.symmetry_trace import SymmetryTrace
from app.gui.throughput import ThroughputPanel
from app.gui.window_actions import install_actions, install_file_menu
from app.gui.window_bars import build_status_bar, install_toolbars
from app.gui.window_adding import WindowAdding
from app.gui.window_closing import WindowClosing
from app.gui.window_outputs import WindowOutputs
from app.gui.window_run import MESSAGE_MS, PREVIEW_FPS, WindowRun
from app.gui.window_models import WindowModels
from app.gui.worker import PipelineWorker
from app.batch.job_queue.queue import JobQueue
from app.batch.job_queue.runner import WINDOW_EXISTS_HINT, QueueRunner


class MainWindow(WindowAdding, WindowOutputs, WindowRun, WindowModels, WindowClosing, QMainWindow):
    # requests to the worker (queued to its thread)
    _request_load = Signal()
    _request_process = Signal(object)     # worker.ProcessRequest
    _request_probe = Signal(object)       # queue_model.ProbeRequest
    _request_compare = Signal(object, object, str)
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
        self.setAcceptDrops(True)
        self.prefs = Prefs(settings)
        self.model_status = status or scan_model_files()
        self.models_known = False          # a load attempt has finished
        self._comparing = False            # a compare page is being made (gui.compare_visits)
        self._conversion: Conversion | None = None      # the running conversion (waited for on quit)
        self._conversion_phase = actions.Conversion.NONE
        self._confirm_box: QMessageBox | None = None   # "Stop processing and quit?" while it is asked
        self._cancel_box: QMessageBox | None = None    # "Stop processing?" (Esc) while it is asked
        self._last_output_dir: Path | None = None

        install_actions(self)
        self._build_ui()
        install_file_menu(self)
        install_help_menu(self, backend_text=lambda: self.backend_label.text(), notify=self.message,
                          open_path=self._open_path)
        self._restore_prefs()
        self._show_model_status(self.model_status)
        self._start_worker(threads)
        self._file_open = file_open.install(QApplication.instance())
        self._file_open.attach(self.add_paths)
        QApplication.instance().aboutToQuit.connect(self.shutdown)
        self._update_actions()

    # =========================================================================================
    # building
    def _build_ui(self) -> None:
        install_toolbars(self)
        self._build_central()

    def _build_central(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.models_panel = ModelsPanel(central)
        self.models_panel.convert_requested.connect(self.convert_model)
        self.models_label = self.models_panel.label
        layout.addWidget(self.models_panel)

        top = QWidget(central)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.preview = PreviewStrip(top)
        self.throughput = ThroughputPanel(top)
        top_layout.addWidget(self.preview, 1)
        self.trace = SymmetryTrace(top)
        self.trace.setToolTip("Patient's right (blue) and left (orange) movement of the most active region, "
                              "live; the finished summary has every measure")
        top_layout.addWidget(self.trace)
        top_layout.addWidget(self.throughput)

        self.model = QueueModel(self)
        self.runner = QueueRunner(self.model.queue, WINDOW_EXISTS_HINT)
        build_queue_table(self, central)

        self.splitter = QSplitter(Qt.Orientation.Vertical, central)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.details_label)
        self.setCentralWidget(central)

        build_status_bar(self)
        self._start_helpers()

    def _start_helpers(self) -> None:
        """The compare and probe threads, the preview timer; the options' signals."""
        comparer = CompareWorker()
        self._comparer = BackgroundThread(comparer, "facemirror-compare", self)
        self._request_compare.connect(comparer.compare)
        comparer.done.connect(self._on_compared)
        self._comparer.start()

        prober = DurationProber()
        self._prober = BackgroundThread(prober, "facemirror-probe", self)
        self._request_probe.connect(prober.probe)
        prober.probed.connect(self._on_probed)
        self._prober.start()
        self._preview_timer = QTimer(self)
        self._preview_timer.setInterval(max(10, int(1000 / PREVIEW_FPS)))
        self._preview_timer.timeout.connect(self._poll_preview)
        self.output_combo.currentIndexChanged.connect(self._output_choice_changed)
        self.midline_combo.currentIndexChanged.connect(self._midline_changed)

    def _restore_prefs(self) -> None:
        geometry = self.prefs.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(self._default_size())
        splitter = self.prefs.splitter()
        self._fit_rows = splitter is None or not self.splitter.restoreState(splitter)
        self.splitter.splitterMoved.connect(self._user_moved_splitter)
        folder = self.prefs.last_output_folder
        if folder is not None and Path(folder).is_dir():
            self.output_combo.addItem(str(folder), str(folder))
            self.output_combo.setItemData(1, str(folder), Qt.ItemDataRole.ToolTipRole)
        elif folder is not None:   # deleted or unmounted: never recreated behind the user's back
            self.prefs.output_folder = None
            self._missing_folder_note = (f"The remembered output folder {folder} no longer exists: outputs go "
                                         "beside each input video until you choose an output folder")
        if self.prefs.output_folder is not None and self.output_combo.count() > 1:
            self.output_combo.setCurrentIndex(1)
        self.model.set_default_out_dir(self.output_folder)
        self.midline_combo.setCurrentIndex(max(0, MIDLINE_METHODS.index(self.prefs.midline)))

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
        want = min(self._rows_height, spare)
        if table < want:
            self.splitter.setSizes([total - want, want])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        note = getattr(self, "_missing_folder_note", None)
        if note:
            self._missing_folder_note = None
            self.message(note, 30000)

    def _default_size(self) -> QSize:
        """1280 x 800, or less on a smaller screen."""
        size = QSize(1280, 800)
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            avail = screen.availableGeometry().size()
            if avail.width() >= 640 and avail.height() >= 480:
                size = size.boundedTo(QSize(int(avail.width() * 0.95), int(avail.height() * 0.9)))
        return size

    def _start_worker(self, threads: int | None) -> None:
        self._worker = PipelineWorker(threads)
        self._background = BackgroundThread(self._worker, "facemirror-worker", self)
        self._thread = self._background.thread
        self._request_load.connect(self._worker.load_models)
        self._request_process.connect(self._worker.process)
        self._worker.models_ready.connect(self._on_models_ready)
        self._worker.progress.connect(self._on_progress)
        self._worker.job_finished.connect(self._on_job_finished)
        self._worker.notice.connect(self._on_notice)
        self._background.start()
        self._request_load.emit()

    # =========================================================================================
    # properties
    @property
    def output_folder(self) -> Path | None:
        data = self.output_combo.currentData()
        return Path(data) if data else None

    @property
    def midline(self) -> str:
        return self.midline_combo.currentData() or MIDLINE_METHODS[0]

    @property
    def queue(self) -> JobQueue:
        """The jobs and the run's state (the table shows the same queue)."""
        return self.model.queue

    @property
    def is_running(self) -> bool:
        return self.queue.running

    @property
    def worker_thread(self) -> QThread:
        return self._thread

    def message(self, text: str, ms: int = MESSAGE_MS) -> None:
        """A non-blocking notice in the status bar."""
        self.statusBar().showMessage(text, ms)

    # =========================================================================================
    @property
    def busy(self) -> actions.Busy:
        """The window's one busy value (presenters.actions)."""
        return actions.busy_of(self.queue.state, self._conversion_phase)

    def _window_state(self) -> actions.WindowState:
        rows = self.selected_rows() if hasattr(self, "table") else []
        jobs = [self.model.job_at(r) for r in rows]
        single = len(rows) == 1
        selection = actions.Selection(
            statuses=tuple(j.status for j in jobs),
            can_move_up=single and self.model.can_move(rows[0], -1),
            can_move_down=single and self.model.can_move(rows[0], 1),
            has_summary=single and self._summary_of(jobs[0]) is not None,
            has_patient=single and patient_of(jobs[0]) is not None)
        return actions.WindowState(busy=self.busy, comparing=self._comparing,
                                   can_process=self.model_status.can_process,
                                   has_waiting=self.model.next_waiting() is not None, selection=selection)

    def _update_actions(self, *_args) -> None:
        on = actions.enabled_actions(self._window_state())
        for name, targets in self._enabled_by_name().items():
            for target in targets:
                target.setEnabled(name in on)
        self._show_details()

    def _enabled_by_name(self) -> dict:
        return {actions.START: (self.start_action,), actions.CANCEL: (self.cancel_action, self.cancel_key_action),
                actions.REMOVE: (self.remove_action,), actions.RETRY: (self.retry_action,),
                actions.UP: (self.up_action,), actions.DOWN: (self.down_action,),
                actions.OUTPUT: (self.output_combo, self.choose_output_action),
                actions.OPEN_SUMMARY: (self.open_summary_action,), actions.COMPARE: (self.compare_action,)}
