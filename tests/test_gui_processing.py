"""Processing from the window, end to end, with the real RetinaFace model (5-point fallback, and a
stand-in STAR model for the 98-point branch): previews, progress, outputs, cancel, close mid-run."""
from __future__ import annotations

import os
import shutil
import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QItemSelectionModel, Qt  # noqa: E402

from tests import videos  # noqa: E402

SCREENSHOT = "/tmp/facemirror_window_midrun.png"
from app.base.outputs import KINDS  # noqa: E402 - every kind: videos, CSV, report, measures and summary


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A short clip (20 frames, 240 px wide) and a longer one (90 frames, 480 px) for mid-run checks."""
    from tests.conftest import MEDIA, _need

    photo = _need(MEDIA / "portrait_frontal.jpg")
    folder = tmp_path_factory.mktemp("gui_clips")

    def clip(name, n, width):
        base = videos.portrait_base(photo, width=width)
        h, w = base.shape[:2]
        params = videos.transform_sequence(n, max_angle=8.0, max_shift=8.0, scale_amp=0.04)
        _, frames = videos.transformed_frames(base, params, (w / 2, h * 0.4))
        return videos.write_video(folder / name, frames)

    return {"short": clip("short.mp4", 20, 240), "long": clip("long.mp4", 90, 480)}


@pytest.fixture
def weights(detector_only_weights):
    return detector_only_weights


def _window(qtbot, out_dir):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w, before_close_func=lambda win: win.shutdown())   # teardown never asks
    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=30000)
    assert w.model_status.can_process, w.model_status.error
    if out_dir is not None:
        w.set_output_folder(out_dir)
    return w


def _all_files(folder):
    """Every file left in a folder, hidden temporary files included."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def _wait_finished(qtbot, w, timeout=60000):
    qtbot.waitUntil(lambda: not w.is_running, timeout=timeout)


class Hold:
    """The window's pipeline, on the video named `name`, waits in its progress report once it has
    done `at` frames (and before its last frame), until the test moves `at` on or the run is
    cancelled: the file cannot end before the test has acted, however slowly the GUI thread is
    scheduled on a loaded machine (tests/gui_close_script.py holds the shutdown matrix the same way)."""

    def __init__(self, name: str, at: int):
        self.name, self.at = name, at

    def report(self, p, cancel) -> None:
        end = time.monotonic() + 300       # a safety net only: a cancel that never comes lets the file end
        while self.at <= p.frames_done < (p.frames_total or 0) and not cancel.is_set() and time.monotonic() < end:
            time.sleep(0.02)


@pytest.fixture
def hold(monkeypatch):
    """hold(name, at) -> Hold (see there); released at the test's end."""
    from app.pipeline.run import Pipeline

    holds: list[Hold] = []
    real = Pipeline.process

    def process(self, input_path, out_dir, *, on_progress=None, cancel=None, **kw):
        h = next((h for h in holds if h.name == os.path.basename(input_path)), None)
        if h is None or on_progress is None or cancel is None:
            return real(self, input_path, out_dir, on_progress=on_progress, cancel=cancel, **kw)

        def report(p):
            on_progress(p)                 # the window hears of the frames first
            h.report(p, cancel)
        return real(self, input_path, out_dir, on_progress=report, cancel=cancel, **kw)

    monkeypatch.setattr(Pipeline, "process", process)

    def make(name: str, at: int) -> Hold:
        holds.append(Hold(name, at))
        return holds[-1]
    yield make
    for h in holds:
        h.at = 1 << 30                     # a worker still held carries on (the window's teardown cancels it)


def test_process_queue_end_to_end(qtbot, tmp_path, weights, clips):
    out = tmp_path / "out"
    w = _window(qtbot, out)
    assert "CPU" in w.backend_label.text() and "5-point mode" in w.backend_label.text()
    assert w.warning_label.isVisible() and "5-point" in w.warning_label.text()

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video at all" * 10)
    w.add_paths([broken, clips["short"]])
    assert w.start_action.isEnabled()
    with qtbot.waitSignal(w.queue_finished, timeout=60000) as finished:
        qtbot.keyClick(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)   # Start
    assert "1 done" in finished.args[0] and "1 failed" in finished.args[0]

    bad, good = w.model.jobs
    # one failed file does not stop the queue; its reason is on the row and in the status bar
    assert bad.status.value == "failed" and bad.message
    assert w.model.data(w.model.index(0, 2)).startswith("failed: ")
    assert "broken.mp4" in w.statusBar().currentMessage() or "1 failed" in w.throughput.file_label.text()
    assert good.status.value == "done", good.message
    assert good.progress == 1.0
    assert w.model.data(w.model.index(1, 3)) == "100 %"
    # the status lines say how the queue ended, not the last file's running figures
    assert w.throughput.bar.value() == w.throughput.bar.maximum() // 2
    assert w.throughput.bar.text() == "1 of 2 files done (some failed)"
    assert w.throughput.speed_label.text().startswith("Not processing: the queue is finished; some files failed")
    assert "ETA" not in w.throughput.speed_label.text()
    stages = w.throughput.stages_label.text()
    assert stages.startswith("last file, ms per frame") and "detect" in stages
    # previews arrived and were painted from QImages made in the worker
    assert w.preview.has_images() and w.preview.frame_index >= 0
    assert all(p.view.updates > 1 for p in w.preview.panes.values())   # cleared at start, then frames
    img = w.preview.panes["annotated"].view.image()
    assert (img.width(), img.height()) == (240, 300)
    # outputs
    stem = clips["short"].stem
    for kind, path in good.outputs.items():
        assert path.exists() and path.stat().st_size > 0, kind
    assert set(good.outputs) == set(KINDS)
    assert _all_files(out) == sorted(p.name for p in good.outputs.values())
    assert all(n.startswith(stem) for n in _all_files(out))
    # Open output folder: the selected row's folder, through QDesktopServices
    opened = []
    w._open_url = lambda url: opened.append(url.toLocalFile()) or True
    w.table.selectionModel().setCurrentIndex(w.model.index(1, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                             | QItemSelectionModel.SelectionFlag.Rows)
    w.open_output_action.trigger()
    assert opened == [str(out)]
    # the same video again: not added twice; the window says it was processed and how to redo it
    assert w.add_paths([clips["short"]]) == 0 and len(w.model.jobs) == 2
    assert "already processed" in w.statusBar().currentMessage() and "Retry" in w.statusBar().currentMessage()
    # Retry the finished row: its outputs exist, so the window asks first; Keep leaves the row done
    # and its summary opening (it used to be queued, fail with "outputs already exist" and lose it)
    outputs = dict(good.outputs)
    assert w.retry_action.isEnabled()
    asked = []
    w._ask_replace = lambda finished: asked.append([j.path.name for j in finished]) or False
    w.retry_action.trigger()
    assert asked == [[clips["short"].name]] and good.status.value == "done"
    assert w.open_summary_action.isEnabled() and "kept" in w.statusBar().currentMessage()
    # Replace: processed again, its own outputs replaced; the option stays off for other files
    before = {k: p.stat().st_mtime_ns for k, p in outputs.items()}
    w._ask_replace = lambda finished: True
    w.retry_action.trigger()
    assert good.status.value == "waiting" and not w.overwrite_box.isChecked()
    with qtbot.waitSignal(w.queue_finished, timeout=30000):
        w.start()
    assert good.status.value == "done"
    assert all(good.outputs[k].stat().st_mtime_ns > t for k, t in before.items())
    # the same video in a new row (its outputs exist): fails at once and says what to do
    assert w.model.remove_rows([1]) == 1
    assert w.add_paths([clips["short"]]) == 1
    again = w.model.job_at(1)
    with qtbot.waitSignal(w.queue_finished, timeout=30000):
        w.start()
    assert again.status.value == "failed" and "already exist" in again.message
    assert "Replace existing outputs" in again.message and "--overwrite" not in again.message
    assert w.model.data(w.model.index(1, 3)) == "failed"          # no bar, no "100 %" on a failure
    assert _all_files(out) == sorted(p.name for p in outputs.values())
    # tick Replace existing outputs and retry the failed row in place: done again
    before = {k: p.stat().st_mtime_ns for k, p in outputs.items()}
    w.overwrite_box.setChecked(True)
    w.table.selectionModel().setCurrentIndex(w.model.index(1, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                             | QItemSelectionModel.SelectionFlag.Rows)
    w.retry_action.trigger()
    with qtbot.waitSignal(w.queue_finished, timeout=30000):
        w.start()
    assert again.status.value == "done" and len(w.model.jobs) == 2
    assert all(again.outputs[k].stat().st_mtime_ns > t for k, t in before.items())
    # the worker thread keeps running for the next Start; closing stops it
    assert w.worker_thread.isRunning()
    w.close()
    assert w.worker_thread.isFinished()


def test_screenshot_mid_run_then_cancel_leaves_nothing(qtbot, tmp_path, weights, clips, hold):
    out = tmp_path / "out"
    hold(clips["long"].name, 20)           # the long video waits after 20 frames until it is cancelled
    w = _window(qtbot, out)
    short_copy = tmp_path / "second_visit.mp4"
    shutil.copy(clips["short"], short_copy)
    w.add_paths([clips["short"], clips["long"], short_copy])
    w.start()
    qtbot.waitUntil(lambda: w.model.job_at(0).status.value == "done", timeout=30000)
    long_job = w.model.job_at(1)
    qtbot.waitUntil(lambda: long_job.status.value == "processing" and long_job.frames_done >= 10
                    and w.preview.has_images() and w.preview.frame_index >= 5, timeout=30000)
    shot = w.grab()
    assert (shot.width(), shot.height()) == (1280 * shot.devicePixelRatio(), 800 * shot.devicePixelRatio())
    shot.save(str(tmp_path / "window_midrun.png"))
    shot.save(SCREENSHOT)
    assert (tmp_path / "window_midrun.png").stat().st_size > 20000
    first_outputs = {p.name for p in w.model.job_at(0).outputs.values()}

    w.activateWindow()
    w.cancel_action.trigger()                      # Esc
    # the video was held mid-file: a cancel that let the file run on would end it "done" (a clock
    # bound here failed on a starved GUI thread alone, so none is asserted)
    _wait_finished(qtbot, w, timeout=30000)
    assert long_job.status.value == "cancelled"
    assert w.model.job_at(2).status.value == "waiting"      # the rest of the queue waits
    assert set(_all_files(out)) == first_outputs            # nothing of the long video, no temp files
    assert "Cancelled" in w.throughput.file_label.text()
    # Start again resumes with the waiting file
    with qtbot.waitSignal(w.queue_finished, timeout=60000):
        w.start()
    assert w.model.job_at(2).status.value == "done"


def test_close_while_running_stops_the_thread_and_leaves_no_partial_output(qtbot, tmp_path, weights, clips, hold):
    out = tmp_path / "out"
    held = hold(clips["long"].name, 5)     # the video cannot end while the test closes the window
    w = _window(qtbot, out)
    w.add_paths([clips["long"]])
    w.start()
    job = w.model.job_at(0)
    qtbot.waitUntil(lambda: job.frames_done >= 5, timeout=30000)
    asked = answer_quit_question(False)          # "Keep processing": the window stays, the file goes on
    w.close()
    state = (asked, w.isVisible(), w.is_running)
    if not w.is_running:
        w.close()
    assert state == (["Stop processing and quit?"], True, True)
    done = job.frames_done
    held.at = done + 1                           # the file goes on, and is held again a little further
    qtbot.waitUntil(lambda: job.frames_done > done, timeout=30000)
    asked = answer_quit_question(True)           # "Stop and quit"
    w.close()                                    # returns once the worker has stopped (no clock asserted:
    assert asked == ["Stop processing and quit?"]  # a starved machine alone made a 2 s bound fail)
    assert w.worker_thread.isFinished()
    assert _all_files(out) == []
    assert job.status.value in ("processing", "cancelled")   # the window is gone; no further work
    qtbot.wait(200)                                           # late queued signals do no harm
    assert _all_files(out) == []


def answer_quit_question(yes: bool) -> list:
    """Answer the "Stop processing and quit?" box as a user would (click its button) once it shows."""
    from tests.gui_helpers import answer_box

    return answer_box("confirmQuit", yes)


def _face_template():
    """98 plausible WFLW points in STAR's output space [-1, 1] (a symmetric cartoon face)."""
    import numpy as np

    p = np.zeros((98, 2))
    t = np.linspace(np.pi, 0, 33)
    p[0:33] = np.c_[0.7 * np.cos(t), -0.1 + 0.9 * np.sin(t)]               # jaw, 16 = chin (0, 0.8)
    p[33:42] = np.c_[np.linspace(-0.6, -0.1, 9), np.full(9, -0.45)]          # brow on image left
    p[42:51] = np.c_[np.linspace(0.1, 0.6, 9), np.full(9, -0.45)]            # brow on image right
    p[38], p[50] = (-0.1, -0.4), (0.1, -0.4)                                  # inner lower brow points
    p[51:55] = np.c_[np.zeros(4), np.linspace(-0.3, 0.1, 4)]                 # nose bridge
    p[55:60] = np.c_[np.linspace(-0.12, 0.12, 5), np.full(5, 0.15)]          # nostrils
    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    p[60:68] = np.c_[-0.35 + 0.12 * np.cos(a), -0.25 + 0.05 * np.sin(a)]     # eyes
    p[68:76] = np.c_[0.35 + 0.12 * np.cos(a), -0.25 + 0.05 * np.sin(a)]
    b = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    p[76:88] = np.c_[0.25 * np.cos(b), 0.45 + 0.1 * np.sin(b)]               # outer lip
    p[88:96] = np.c_[0.15 * np.cos(a), 0.45 + 0.04 * np.sin(a)]              # inner lip
    p[96], p[97] = (-0.35, -0.25), (0.35, -0.25)                              # pupils
    return p


def test_star_model_path_and_untrained_warning(qtbot, tmp_path, weights, clips):
    """The STAR branch with a tiny stand-in model (constant landmarks, marked untrained): the
    status bar names it and warns; the pupils midline is used. (The real STAR network costs
    0.3-0.6 s per frame here; its plumbing is covered by the pipeline tests.)"""
    pytest.importorskip("onnx")
    from tests.onnx_stubs import constant_landmarks_model

    constant_landmarks_model(weights / "star_landmark_98.onnx", _face_template(), untrained=True)
    out = tmp_path / "out"
    w = _window(qtbot, out)
    assert "STAR 98-point" in w.backend_label.text() and "UNTRAINED" in w.backend_label.text()
    assert "untrained" in w.warning_label.text().lower()
    assert w.models_panel.isVisible() and "UNTRAINED" in w.models_panel.headline.text()
    w.midline_combo.setCurrentIndex(w.midline_combo.findData("pupils"))
    w.add_paths([clips["short"]])
    with qtbot.waitSignal(w.queue_finished, timeout=60000):
        w.start()
    job = w.model.job_at(0)
    assert job.status.value == "done", job.message
    assert job.message == ""          # the batch-wide UNTRAINED warning is in the status bar, not per row
    import json

    report = json.loads(job.outputs["report"].read_text())
    assert report["settings"]["midline"] == "pupils"
    assert report["models"]["landmark_model"] == "STAR 98-point"
    assert "STAR" in w.throughput.stages_label.text()


def test_same_names_from_two_folders_are_told_apart_and_refused_before_start(qtbot, tmp_path, weights, clips):
    """Two visits' smile.mp4 into one output folder: the queue shows their folders, and with
    "Replace existing outputs" ticked neither may replace the other's results: both are refused
    before anything starts; a third file goes ahead."""
    out = tmp_path / "out"
    w = _window(qtbot, out)
    for visit in ("visit1", "visit2"):
        (tmp_path / visit).mkdir()
        shutil.copy(clips["short"], tmp_path / visit / "smile.mp4")
    other = tmp_path / "visit2" / "frown.mp4"
    shutil.copy(clips["short"], other)
    w.add_paths([tmp_path / "visit1" / "smile.mp4", tmp_path / "visit2" / "smile.mp4", other])
    assert [w.model.data(w.model.index(r, 0)) for r in range(3)] == ["visit1/smile.mp4", "visit2/smile.mp4",
                                                                       "frown.mp4"]
    w.overwrite_box.setChecked(True)
    with qtbot.waitSignal(w.queue_finished, timeout=60000) as finished:
        w.start()
    assert "1 done" in finished.args[0] and "2 failed" in finished.args[0]
    a, b, c = w.model.jobs
    assert a.status.value == b.status.value == "failed" and "same names" in a.message and "same names" in b.message
    assert a.frames_done == b.frames_done == 0 and c.status.value == "done"
    assert sorted(_all_files(out)) == sorted(p.name for p in c.outputs.values())


def test_partial_files_of_a_killed_run_are_removed_and_the_window_says_so(qtbot, tmp_path, weights, clips):
    import subprocess
    import sys

    from app.base.outputs import temp_name

    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = out / temp_name("partial", ".mp4", pid=gone.pid)
    stale.write_bytes(b"half a video")
    w = _window(qtbot, out)
    w.add_paths([clips["short"]])
    with qtbot.waitSignal(w.queue_finished, timeout=60000):
        w.start()
    assert not stale.exists()
    assert f"Removed 1 partial file left in {out} by an interrupted run (process {gone.pid})" in \
        w.statusBar().currentMessage()
    assert not [n for n in _all_files(out) if n.startswith(".")]


def test_a_live_recording_is_processed_at_once_with_its_rest_and_subject(qtbot, tmp_path, weights, clips):
    """What the live window's Stop hands over (a recording, its rest capture, the subject) is
    processed without a Start, and the measures use the rest given, not one found."""
    import json
    import shutil

    out = tmp_path / "out"
    w = _window(qtbot, out)
    recording = shutil.copy(clips["short"], tmp_path / "exam_2026-12-03_101500.mp4")
    assert w.add_recording(recording, (0.0, 0.4), {"patient": "P-9", "visit": "V1"})
    assert w.is_running                                  # no Start needed
    _wait_finished(qtbot, w)
    job = w.model.jobs[-1]
    assert job.status.value == "done", job.message
    report = json.loads((out / "exam_2026-12-03_101500_report.json").read_text())
    assert report["subject"] == {"patient": "P-9", "visit": "V1"}
    assert report["settings"]["rest"] == [0.0, 0.4]
    measures = json.loads((out / "exam_2026-12-03_101500_measures.json").read_text())
    assert measures["rest"]["source"] == "given"
