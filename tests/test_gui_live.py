"""The live exam window (offscreen), the camera replaced by a file-backed source: a synthetic
moving picture (app.live.sources.SyntheticSource) pushed through QVideoFrameInput into the same
capture session -> video sink path a camera uses. Models: the installed ones (5-point detector
mode where STAR is absent), as tests/test_live.py."""
from __future__ import annotations

import math
import time
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Qt, Signal  # noqa: E402

from app.gui import camera_source  # noqa: E402
from app.gui.camera_source import CameraInfo, PushedFileSource, QtFrameSource  # noqa: E402
from app.live.sources import SyntheticSource  # noqa: E402
from app.engine.model_set import Models  # noqa: E402
from tests.gui_helpers import answer_box  # noqa: E402

FPS = 30.0


@pytest.fixture(autouse=True)
def isolated_settings(isolated_qsettings):
    """QSettings go to a temporary folder (tests/conftest.py)."""


@pytest.fixture(scope="module")
def models():
    return Models.load(threads=1)


def _window(qtbot, models, tmp_path, seconds=2.0, source=True, **kw):
    from app.gui.live_window import LiveWindow

    src = PushedFileSource(SyntheticSource((320, 240), fps=FPS, seconds=seconds)) if source else None
    w = LiveWindow(models_loader=lambda: models, folder=tmp_path / "live", source=src, **kw)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.feed.models is not None, timeout=20000)
    return w


def _decoded_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def test_panes_update_at_the_sources_rate_with_the_file_backed_source(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=1.0)
    qtbot.waitUntil(lambda: w.frames_seen == 30, timeout=60000)
    # each frame drawn, unless a newer one was already waiting (a busy moment: the newest is drawn)
    assert w.feed.pane_updates + w.feed.draws_skipped == 30 and w.feed.pane_updates > 0
    assert all(not p.view.image().isNull() for p in w.panes.values())
    assert w.panes["camera"].view.image().size() == w.panes["left"].view.image().size()
    assert "File" in w.camera_combo.currentText() or "Synthetic" in w.camera_combo.currentText()
    qtbot.waitUntil(lambda: w.feed.landmark_runs > 0, timeout=10000)


def test_frames_are_never_queued_behind_a_slow_landmark_model(qtbot, models, tmp_path, slow_landmarks):
    w = _window(qtbot, models, tmp_path, seconds=2.0)
    started = time.perf_counter()
    qtbot.waitUntil(lambda: w.frames_seen == 60, timeout=60000)
    elapsed = time.perf_counter() - started
    assert w.feed.pane_updates + w.feed.draws_skipped == 60     # every frame shown (or a newer one in its place) ...
    assert w.feed.landmark_runs <= 10                      # ... while the model saw only the newest ones
    assert elapsed < 3.5                              # no backlog: the frames came at the camera's pace
    assert np.percentile(list(w.feed.handle_ms), 95) < 50  # and the display never waited for the model


def test_recording_keeps_every_frame_and_stop_hands_it_over_with_the_rest(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=3.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    assert not w.rest_button.isEnabled()
    assert w.start_recording()
    first = w.frames_seen + 1
    qtbot.waitUntil(lambda: w.frames_seen >= first + 15, timeout=10000)
    w.capture_rest()
    marked = w.rec.exam.rest_mark
    qtbot.waitUntil(lambda: w.frames_seen == 90, timeout=60000)       # the source's last frame
    with qtbot.waitSignal(w.recording_ready, timeout=10000) as got:
        w.rec.toggle()                                          # Stop
    path, rest, subject = got.args
    assert path.exists() and path.suffix == ".mp4" and not path.with_name(path.stem + ".recording.mp4").exists()
    times = np.array(_decoded_times(path))
    assert len(times) == 90 - first + 1                               # every frame since Record
    assert np.allclose(times - times[0], np.arange(len(times)) / FPS, atol=0.002)   # with its own time
    assert times[0] == pytest.approx(0.0, abs=0.002)                  # the recording's clock starts at 0
    assert rest == (pytest.approx(marked, abs=1e-3), pytest.approx(marked + 1.5, abs=1e-3))
    assert subject == {"patient": None, "visit": None}
    assert w.last_recording[0] == path and "Saved" in w.notice.text()


def test_closing_the_window_while_recording_leaves_a_playable_file(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=3.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    w.start_recording()
    first = w.frames_seen
    qtbot.waitUntil(lambda: w.frames_seen >= first + 27, timeout=10000)
    with qtbot.waitSignal(w.recording_ready, timeout=10000):
        w.close()
    files = sorted((tmp_path / "live").iterdir())
    assert len(files) == 1 and files[0].name.endswith(".mp4") and ".recording" not in files[0].name
    assert len(_decoded_times(files[0])) == w.frames_seen - first >= 27      # every frame since Record


def test_freeze_stops_the_panes_but_not_the_recording(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=3.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    w.start_recording()
    first = w.frames_seen + 1
    qtbot.keyClick(w, Qt.Key.Key_Space)                     # Space freezes
    assert w.feed.frozen and w.freeze_button.isChecked()
    shown, seen = w.feed.pane_updates, w.frames_seen
    qtbot.waitUntil(lambda: w.frames_seen >= seen + 20, timeout=10000)
    assert w.feed.pane_updates == shown
    assert "frozen" in w.status_label.text().lower() and "REC" in w.status_label.text()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not w.feed.frozen
    qtbot.waitUntil(lambda: w.feed.pane_updates > shown + 5, timeout=10000)
    qtbot.waitUntil(lambda: w.frames_seen == 90, timeout=60000)
    path = w.stop_recording()
    assert len(_decoded_times(path)) == 90 - first + 1     # frozen or not, every frame was recorded


class FakeCamera(QtFrameSource):
    """Stands in for CameraSource (no camera on the test machine): remembers which was opened."""

    opened: list[str] = []

    def __init__(self, info: CameraInfo, parent: QObject | None = None):
        super().__init__(parent)
        self.info = info

    def start(self) -> None:
        FakeCamera.opened.append(self.info.id)

    def stop(self) -> None:
        pass


def _fake_cameras(monkeypatch, cameras, permission="granted"):
    FakeCamera.opened = []
    monkeypatch.setattr(camera_source, "list_cameras", lambda: list(cameras))
    monkeypatch.setattr(camera_source, "CameraSource", FakeCamera)
    monkeypatch.setattr(camera_source, "camera_permission", lambda: permission)


def test_the_chosen_camera_is_remembered(qtbot, models, tmp_path, monkeypatch):
    _fake_cameras(monkeypatch, [CameraInfo("cam-a", "FaceTime HD Camera"), CameraInfo("cam-b", "USB Camera")])
    w = _window(qtbot, models, tmp_path, source=False)
    assert FakeCamera.opened == ["cam-a"] and w.camera_combo.currentText() == "FaceTime HD Camera"
    w.camera_combo.setCurrentIndex(1)
    w.camera_combo.activated.emit(1)                      # as when the clinician picks it
    assert FakeCamera.opened[-1] == "cam-b"
    w.close()
    again = _window(qtbot, models, tmp_path, source=False)
    assert again.camera_combo.currentText() == "USB Camera" and FakeCamera.opened[-1] == "cam-b"


def test_no_camera_is_said_clearly(qtbot, models, tmp_path, monkeypatch):
    _fake_cameras(monkeypatch, [])
    w = _window(qtbot, models, tmp_path, source=False)
    assert w.notice.isVisible() and "No camera found" in w.notice.text()
    assert not w.record_button.isEnabled()


def test_a_refused_camera_permission_names_the_system_settings_path(qtbot, models, tmp_path, monkeypatch):
    _fake_cameras(monkeypatch, [CameraInfo("cam-a", "FaceTime HD Camera")], permission="denied")
    w = _window(qtbot, models, tmp_path, source=False)
    assert "System Settings > Privacy & Security > Camera" in w.notice.text()
    assert FakeCamera.opened == [] and not w.record_button.isEnabled()


def test_a_camera_error_after_refusal_says_where_to_allow_it(qtbot, monkeypatch):
    from PySide6.QtMultimedia import QCamera

    src = camera_source.CameraSource(CameraInfo("x", "Cam"))     # no device here: a default QCamera
    messages: list[str] = []
    src.failed.connect(messages.append)
    monkeypatch.setattr(camera_source, "camera_permission", lambda: "denied")
    src.camera.errorOccurred.emit(QCamera.Error.CameraError, "access denied")
    assert messages and "Privacy & Security > Camera" in messages[0]
    monkeypatch.setattr(camera_source, "camera_permission", lambda: "granted")
    src.camera.errorOccurred.emit(QCamera.Error.CameraError, "device lost")
    assert "'Cam' stopped: device lost" in messages[1]


def test_the_main_window_queues_a_live_recording_with_its_rest_and_subject(qtbot, tmp_path, monkeypatch):
    from tests.conftest import open_window

    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))   # no models: nothing starts
    w = open_window(qtbot, show=False)
    assert w.live_action in w.file_menu.actions() and w.live_action.text() == "Live exam..."
    video = tmp_path / "exam_2026-12-03_101500.mp4"
    video.write_bytes(b"")
    assert w.add_recording(video, (1.0, 2.5), {"patient": "P-7", "visit": "V2"})
    job = w.model.jobs[-1]
    assert job.path == video and job.rest == (1.0, 2.5) and job.subject == {"patient": "P-7", "visit": "V2"}
    settings = w._settings(job)
    assert settings.rest == (1.0, 2.5) and settings.patient == "P-7" and settings.visit == "V2"
    assert w._settings(None).rest is None
    assert not w.add_recording(video, None, {})           # already waiting: not twice
    w.open_live_exam()                                      # no camera on this machine: said in the window
    live = w.live_window
    assert live.isVisible() and "No camera found" in live.notice.text()
    live.close()
    assert live.is_closed


def test_the_camera_format_favours_a_smooth_720p_over_a_slow_4k():
    from app.gui.camera_source import choose_format

    formats = [(3840, 2160, 30, False), (1920, 1080, 15, False), (1280, 720, 30, True), (1280, 720, 30, False),
               (640, 480, 30, False)]
    assert choose_format(formats) == 3
    assert choose_format([(640, 480, 15, False), (320, 240, 30, False)]) == 1   # smooth before sharp
    assert choose_format([]) is None


class ToneSource(QObject):
    """Stands in for the microphone (none on the test machine): a 440 Hz tone in 0.1 s chunks,
    each stamped with the perf_counter time of its first sample, as MicrophoneSource does."""

    chunk = Signal(object, float)
    rate, channels = 48000, 1

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        self._n, self._t0 = 0, time.perf_counter()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._emit)
        self._timer.start(100)

    def _emit(self) -> None:
        n = int((time.perf_counter() - self._t0) * self.rate) - self._n
        pcm = (np.sin(2 * np.pi * 440 * np.arange(self._n, self._n + n) / self.rate) * 8000).astype(np.int16)
        self.chunk.emit(pcm.reshape(-1, 1), self._t0 + self._n / self.rate)
        self._n += n

    def stop(self) -> None:
        self._timer.stop()


def test_the_recording_has_the_sound_of_the_microphone_in_step(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=3.0, audio_factory=ToneSource)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    started = time.perf_counter()
    w.start_recording()
    assert "with sound" in w.status_label.text() or w.frames_seen < 5
    # every frame of the clip delivered or, on a busy machine, dropped as an overflowing camera would
    qtbot.waitUntil(lambda: w.frames_seen + w.source.dropped >= 90, timeout=60000)
    path = w.stop_recording()
    held_s = time.perf_counter() - started
    with av.open(str(path)) as c:
        video_s = float(c.streams.video[0].duration * c.streams.video[0].time_base)
        samples = sum(f.samples for f in c.decode(audio=0))
    # In step on a loaded machine too: the sound covers the pictures (nothing missing at the start
    # or in gaps) and is never longer than the time Record was held (nothing doubled). How long
    # after the last picture Stop came depends on the machine, so the end is bounded by the clock.
    assert video_s - 0.25 < samples / 48000 < held_s + 0.25, (samples / 48000, video_s, held_s)
    assert "with sound" in w.notice.text()


def test_a_file_source_records_without_sound_and_says_so(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=1.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    w.start_recording()
    qtbot.waitUntil(lambda: w.frames_seen == 30, timeout=60000)
    path = w.stop_recording()
    with av.open(str(path)) as c:
        assert not c.streams.audio
    assert "no sound" in w.notice.text()


def test_microphone_pcm_of_any_sample_format_becomes_int16():
    from PySide6.QtMultimedia import QAudioFormat

    from app.gui.camera_source import pcm_to_int16

    F = QAudioFormat.SampleFormat
    floats = np.array([0.0, 0.5, -1.0, 1.0], np.float32)
    assert pcm_to_int16(floats.tobytes(), F.Float, 1)[:, 0].tolist() == [0, 16383, -32767, 32767]
    stereo = np.array([1, 2, 3, 4, 5], np.int16)            # a torn last frame is left out
    assert pcm_to_int16(stereo.tobytes(), F.Int16, 2).tolist() == [[1, 2], [3, 4]]


def test_a_camera_unplugged_while_recording_is_said_and_never_replaced_mid_file(qtbot, models, tmp_path, monkeypatch):
    cams = [CameraInfo("cam-a", "USB Camera"), CameraInfo("cam-b", "FaceTime HD Camera")]
    _fake_cameras(monkeypatch, cams)
    w = _window(qtbot, models, tmp_path, source=False)
    w.source.frame.emit(np.zeros((240, 320, 3), np.uint8), 0.0)    # (the fake camera's first frame)
    w.source.size = (320, 240)
    assert w.start_recording()
    cams.pop(0)                                                    # cam-a unplugged
    w.refresh_cameras()
    assert FakeCamera.opened == ["cam-a"]                          # cam-b not opened mid-recording
    assert "disconnected" in w.notice.text() and "Stop" in w.notice.text()
    w.source.frame.emit(np.zeros((240, 320, 3), np.uint8), 1 / 30)
    assert w.stop_recording() is not None


def test_the_camera_list_is_a_part_of_its_own_given_a_list_prefs_and_callbacks(qtbot, monkeypatch):
    """LiveCameras without a live window: what it shows, says and remembers goes through what it
    was given."""
    from PySide6.QtWidgets import QComboBox

    from app.gui.live_cameras import LiveCameras
    from app.gui.prefs import Prefs

    cams = [CameraInfo("cam-a", "USB Camera"), CameraInfo("cam-b", "FaceTime HD Camera")]
    _fake_cameras(monkeypatch, cams)
    combo, prefs, shown, said, blank, changes = QComboBox(), Prefs(), [], [], [], []
    qtbot.addWidget(combo)
    prefs.camera = "cam-b"
    recording = [False]
    parts = LiveCameras(combo, combo, prefs, source=lambda: shown[-1] if shown else None,
                        recording=lambda: recording[0], show=shown.append, no_picture=blank.append,
                        say=lambda text, *level: said.append(text), changed=lambda: changes.append(1))
    parts.refresh()
    assert [s.info.id for s in shown] == ["cam-b"] and combo.currentText() == "FaceTime HD Camera"   # remembered
    assert changes and not said and not blank
    combo.setCurrentIndex(0)
    combo.activated.emit(0)                                        # the clinician picks cam-a
    assert shown[-1].info.id == "cam-a" and prefs.camera == "cam-a"
    recording[0] = True
    cams.pop(0)                                                    # cam-a unplugged while recording
    parts.refresh()
    assert len(shown) == 2 and "disconnected" in said[-1]          # never another camera mid-file
    recording[0] = False
    cams.clear()
    parts.refresh()
    assert said[-1] == camera_source.NO_CAMERA_MESSAGE and blank == ["No camera (see above)"]


QUIT_OR_CRASH = """
import os, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.gui.camera_source import PushedFileSource
from app.gui.live_window import LiveWindow
from app.live.sources import SyntheticSource
w = LiveWindow(models_loader=lambda: None, folder=Path({folder!r}),
               source=PushedFileSource(SyntheticSource((320, 240), fps=30.0, seconds=10.0)))
w.show()
QTimer.singleShot(300, w.start_recording)
if {crash!r}:
    QTimer.singleShot(2800, lambda: os._exit(9))       # a hard crash: no clean-up of any kind
else:
    QTimer.singleShot(2800, app.quit)                  # Quit (menu, Cmd+Q) while recording
app.exec()
"""


@pytest.mark.parametrize("crash", [False, True])
def test_quit_or_crash_while_recording_leaves_a_playable_file(tmp_path, crash):
    import subprocess
    import sys

    from tests.conftest import REPO

    folder = tmp_path / "live"
    script = QUIT_OR_CRASH.format(repo=str(REPO), folder=str(folder), crash=crash)
    p = subprocess.run([sys.executable, "-c", script], timeout=120, capture_output=True, text=True)
    files = sorted(folder.iterdir())
    assert len(files) == 1, (p.returncode, p.stderr[-2000:])
    if crash:
        assert p.returncode == 9 and files[0].name.endswith(".recording.mp4")
        assert len(_decoded_times(files[0])) >= 30          # all but (at most) the last second
    else:
        assert p.returncode == 0 and ".recording" not in files[0].name    # finished, complete
        assert len(_decoded_times(files[0])) >= 60


def test_a_large_camera_picture_is_drawn_at_the_panes_size(qtbot, models, tmp_path):
    w = _window(qtbot, models, tmp_path, seconds=0.5)
    assert w.pane_panel.display_scale(1920, 1080) < 0.75 and w.pane_panel.display_scale(320, 240) == 1.0


def test_a_full_disk_while_recording_injected_enospc_stops_it_with_one_sentence_and_keeps_the_part(
        qtbot, models, tmp_path):
    from tests.test_live_safety import FullDisk

    w = _window(qtbot, models, tmp_path, seconds=6.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    w.start_recording()
    rec = w.rec.writer.recorder
    rec._container = FullDisk(rec._container, good=45)           # the write layer: the disk fills up after 1.5 s
    qtbot.waitUntil(lambda: not w.recording, timeout=20000)       # stopped by itself: nothing more can be written
    partial = list((tmp_path / "live").glob("*.recording.mp4"))
    text = w.notice.text()
    assert len(partial) == 1 and "disk is full" in text and str(partial[0]) in text and "playable" in text
    assert "\n" not in text and w.record_button.text().endswith("Record") and w.last_recording is None
    times = _decoded_times(partial[0])                            # plays to its end
    assert len(times) >= 30 and np.allclose(np.diff(times), 1 / FPS, atol=0.002)
    assert list((tmp_path / "live").glob("*.mp4")) == partial     # nothing handed over as if complete


def test_the_main_window_plays_a_file_as_the_camera_for_a_demonstration(qtbot, tmp_path, monkeypatch):
    """`main.py live --window --source FILE`: the live exam opens with FILE played as the camera,
    named so in the camera list (a demonstration is never taken for a camera), and looped as a
    camera never ends."""
    from bench.media import make_video
    from tests.conftest import open_window

    clip = make_video(tmp_path / "demo.mp4", (320, 240), 1.0, 15.0, out=open("/dev/null", "w"))
    w = open_window(qtbot, show=False)
    w.open_live_exam(source_file=clip)
    live = w.live_window
    qtbot.waitUntil(lambda: live.frames_seen >= 25, timeout=15000)    # past the 15-frame clip: it loops
    assert live.camera_combo.currentText() == "File: demo.mp4"
    assert isinstance(live.source, PushedFileSource)
    assert not live.panes["left"].view.image().isNull()
    live.close()


def test_live_needs_an_out_folder_or_the_window_and_a_file_that_plays(tmp_path, capsys):
    from app.cli import main as cli

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert cli.main(["live", "--source", str(broken)]) == 2
    assert "--out" in capsys.readouterr().err
    assert cli.main(["live", "--window", "--source", str(broken)]) == 2      # said before any window opens
    assert "broken.mp4" in capsys.readouterr().err


def test_the_landmark_label_says_which_model_the_panes_use():
    from types import SimpleNamespace

    from app.gui.live_panels import landmark_label_text

    def models(**kw):
        return SimpleNamespace(**({"coarse": False, "live_cut": False, "untrained": False} | kw))

    assert "5-point" in landmark_label_text(models(coarse=True))
    assert landmark_label_text(models()) == "Landmarks: STAR 98-point"
    assert "fast live model" in landmark_label_text(models(live_cut=True))
    assert "UNTRAINED" in landmark_label_text(models(live_cut=True, untrained=True))


# ---- a whole clinic day: busy computer, lost frames, quitting from the live window (issue 31) ----

def _busy_gui_thread(qtbot, ms: int = 100, every: int = 120):
    """The GUI thread held up, as by a busy computer: ``ms`` of work every ``every`` ms."""
    from PySide6.QtCore import QTimer

    def work():
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass

    timer = QTimer()
    timer.timeout.connect(work)
    timer.start(every)
    return timer


def test_a_busy_computer_no_longer_shortens_the_recording_of_a_file_camera(qtbot, models, tmp_path):
    """Held up 100 ms in every 120 on the GUI thread, the file camera used to lose most ticks of its
    timer: a 3 s Record came out 0.7 s long. Paced by the clock, every frame of the time Record was
    held is recorded, with its own time."""
    src = PushedFileSource(SyntheticSource((320, 240), fps=FPS, seconds=60.0))
    src.MAX_LATE_S = 60.0          # nothing dropped however long this machine stalls: the pacing is tested
    w = _window(qtbot, models, tmp_path, source=False)
    w.set_source(src)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    busy = _busy_gui_thread(qtbot)
    assert w.start_recording()
    first = w.frames_seen
    qtbot.waitUntil(lambda: w.frames_seen >= first + 60, timeout=30000)
    path = w.stop_recording()
    busy.stop()
    timing = w.rec.last_timing
    times = np.array(_decoded_times(path))
    assert len(times) == timing.frames == w.frames_seen - first
    # Every frame of the time held, give or take the frames due while the GUI thread was held at
    # Stop (up to 100 ms: 3 frames) and 2 of scheduling on a loaded machine; the fault this test
    # guards against lost most of them (0.7 s of a 3 s Record, about 70 frames).
    assert abs(timing.frames - timing.held_s * FPS) <= math.ceil(0.100 * FPS) + 2, timing
    assert np.allclose(np.diff(times), 1 / FPS, atol=0.002)              # no holes
    assert not timing.frames_were_lost and "missing" not in w.notice.text()
    assert w.feed.draws_skipped > 0                                            # only the newest frame was drawn


def test_frames_lost_on_their_way_are_said_with_figures_when_stop_is_pressed(qtbot, models, tmp_path):
    """A camera that delivers a quarter of its frames (as a too-busy computer takes them): the
    recording is a quarter of the time Record was held, and the window says so with the figures."""
    w = _window(qtbot, models, tmp_path, source=False)
    w.set_source(PushedFileSource(SyntheticSource((320, 240), fps=FPS, seconds=60.0), speed=0.25))
    qtbot.waitUntil(lambda: w.frames_seen >= 2, timeout=10000)
    assert w.start_recording()
    first = w.frames_seen
    qtbot.waitUntil(lambda: w.frames_seen >= first + 15, timeout=30000)
    path = w.stop_recording()
    timing = w.rec.last_timing
    assert path is not None and timing.frames_were_lost
    assert timing.recorded_s < 0.3 * timing.held_s and timing.lost_frames >= 2 * timing.frames
    text = w.notice.text()
    assert f"Recorded {timing.recorded_s:.1f} s of the {timing.held_s:.1f} s" in text
    assert f"{timing.lost_frames} of about {timing.expected_frames} frames are missing" in text
    assert "computer was too busy" in text and "Saved" in text


def _answer_live_quit(yes: bool) -> list:
    return answer_box("confirmQuitLive", yes)


def _recording_live_exam(qtbot, tmp_path, monkeypatch):
    """The main window (no models: nothing processes) and its live window, showing a synthetic
    picture and recording into tmp_path/live."""
    from tests.conftest import open_window

    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    w = open_window(qtbot)
    w.open_live_exam()
    live = w.live_window
    live.set_source(PushedFileSource(SyntheticSource((320, 240), fps=FPS, seconds=60.0)))
    live.folder = tmp_path / "live"
    qtbot.waitUntil(lambda: live.frames_seen >= 3, timeout=10000)
    return w, live


def test_ctrl_q_in_the_live_window_quits_like_the_main_windows_quit(qtbot, tmp_path, monkeypatch):
    w, live = _recording_live_exam(qtbot, tmp_path, monkeypatch)
    live.activateWindow()
    qtbot.waitUntil(live.isActiveWindow, timeout=10000)       # the shortcut works in the active window
    assert live.start_recording()
    qtbot.waitUntil(lambda: live.rec.writer.frames >= 10, timeout=10000)

    asked = _answer_live_quit(yes=False)
    qtbot.keyClick(live, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["Stop recording and quit?"]
    assert live.recording and w.isVisible() and not w.queue.closed           # "Keep recording": nothing stopped

    live.activateWindow()                                                    # back from the question
    qtbot.waitUntil(live.isActiveWindow, timeout=10000)
    asked = _answer_live_quit(yes=True)
    qtbot.keyClick(live, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["Stop recording and quit?"]
    assert w.queue.closed and not w.isVisible() and live.is_closed          # the main window's Quit ran
    files = sorted((tmp_path / "live").iterdir())
    assert len(files) == 1 and ".recording" not in files[0].name and len(_decoded_times(files[0])) >= 10


def test_ctrl_q_in_the_live_window_without_a_recording_quits_at_once(qtbot, tmp_path, monkeypatch):
    from tests.conftest import open_window

    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    w = open_window(qtbot)
    w.open_live_exam()
    live = w.live_window
    live.activateWindow()
    qtbot.waitUntil(live.isActiveWindow, timeout=10000)
    qtbot.keyClick(live, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert w.queue.closed and not w.isVisible() and live.is_closed


def test_camera_frames_are_converted_on_the_cpu_to_the_right_colours():
    """BGRX (what a pushed picture and many cameras give) exactly; NV12 (most cameras' own format)
    within the rounding of 4:2:0 against the picture it was made from with OpenCV's BT.601."""
    import cv2
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QImage
    from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat

    from app.gui.camera_frames import frame_to_bgr, mapped_to_bgr

    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    bgr = np.dstack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 255 // (w + h))]).astype(np.uint8)
    bgr = cv2.GaussianBlur(bgr, (5, 5), 0)            # smooth colours: 4:2:0 keeps them
    frame = QVideoFrame(QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888).copy())
    assert frame.pixelFormat() == QVideoFrameFormat.PixelFormat.Format_BGRX8888
    assert np.array_equal(mapped_to_bgr(frame), bgr) and np.array_equal(frame_to_bgr(frame), bgr)

    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    y, u, v = i420[:h], i420[h:h + h // 4].reshape(h // 2, w // 2), i420[h + h // 4:].reshape(h // 2, w // 2)
    nv12 = QVideoFrame(QVideoFrameFormat(QSize(w, h), QVideoFrameFormat.PixelFormat.Format_NV12))
    assert nv12.map(QVideoFrame.MapMode.WriteOnly)
    for plane, rows in ((0, y), (1, np.dstack([u, v]).reshape(h // 2, w))):
        stride = nv12.bytesPerLine(plane)
        dst = np.frombuffer(nv12.bits(plane), np.uint8, count=nv12.mappedBytes(plane)).reshape(-1, stride)
        dst[:rows.shape[0], :w] = rows
    nv12.unmap()
    got = mapped_to_bgr(nv12)
    assert got is not None and got.shape == bgr.shape
    assert np.abs(got.astype(int) - bgr.astype(int)).mean() < 3.0


def test_quit_in_the_main_window_asks_first_while_the_live_window_records(qtbot, tmp_path, monkeypatch):
    w, live = _recording_live_exam(qtbot, tmp_path, monkeypatch)
    assert live.start_recording()
    asked = _answer_live_quit(yes=False)
    w.quit_action.trigger()                                   # File > Quit, or Ctrl+Q in the main window
    assert asked == ["Stop recording and quit?"] and live.recording and not w.queue.closed
    asked = _answer_live_quit(yes=True)
    w.quit_action.trigger()
    assert asked == ["Stop recording and quit?"] and w.queue.closed and live.is_closed
    files = sorted((tmp_path / "live").iterdir())
    assert len(files) == 1 and ".recording" not in files[0].name


def test_a_camera_that_stops_sending_is_not_taken_for_frames_missing(qtbot, models, tmp_path):
    """Unplugged mid-recording (the file camera's frames end): the time after its last frame is not
    counted as frames lost to a busy computer."""
    w = _window(qtbot, models, tmp_path, seconds=1.0)
    qtbot.waitUntil(lambda: w.frames_seen >= 3, timeout=10000)
    assert w.start_recording()
    with qtbot.waitSignal(w.source.finished, timeout=20000):
        pass
    ended = time.perf_counter()
    qtbot.waitUntil(lambda: time.perf_counter() - ended > 1.0, timeout=5000)    # Stop pressed a while later
    path = w.stop_recording()
    assert path is not None and not w.rec.last_timing.frames_were_lost and "missing" not in w.notice.text()
    assert w.rec.last_timing.frames == len(_decoded_times(path))


class ThreadCamera(QtFrameSource):
    """Stands in for a camera as Qt's backends deliver one: frames set on the video sink from a
    thread of the camera's own, so they queue up for the GUI thread. The first frame comes at
    once; the rest (``count`` in all, at 30 fps) when ``go`` is set."""

    def __init__(self, count: int):
        import threading

        super().__init__()
        self.count, self.go, self.sent = count, threading.Event(), 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _frame(self, i: int):
        from PySide6.QtGui import QImage
        from PySide6.QtMultimedia import QVideoFrame

        img = np.ascontiguousarray(next(iter(SyntheticSource((320, 240), fps=FPS, seconds=1.0).frames()))[0])
        img[:8, :8] = i % 256
        vf = QVideoFrame(QImage(img.data, 320, 240, img.strides[0], QImage.Format.Format_BGR888).copy())
        vf.setStartTime(int(i * 1e6 / FPS))
        return vf

    def _run(self) -> None:
        self._sink.setVideoFrame(self._frame(0))
        self.sent = 1
        self.go.wait(60)
        start = time.perf_counter()
        for i in range(1, self.count):
            time.sleep(max(0.0, start + i / FPS - time.perf_counter()))
            self._sink.setVideoFrame(self._frame(i))
            self.sent = i + 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.go.set()


def test_a_camera_on_a_busy_computer_records_every_frame_and_draws_only_the_newest(qtbot, models, tmp_path):
    """A camera's frames queue up for a GUI thread held up 100 ms in every 120: every one is
    recorded, but the panes are drawn only for the newest of those waiting (drawing each old one
    kept the window ever further behind the camera)."""
    cam = ThreadCamera(count=90)
    w = _window(qtbot, models, tmp_path, source=False)
    w.set_source(cam)
    qtbot.waitUntil(lambda: w.frames_seen == 1, timeout=60000)
    busy = _busy_gui_thread(qtbot)
    assert w.start_recording()
    cam.go.set()
    qtbot.waitUntil(lambda: w.frames_seen == 90, timeout=60000)      # every frame the camera sent
    path = w.stop_recording()
    busy.stop()
    times = np.array(_decoded_times(path))
    assert len(times) == 89 and np.allclose(np.diff(times), 1 / FPS, atol=0.002)   # all since Record
    assert w.feed.draws_skipped > 0 and w.feed.pane_updates + w.feed.draws_skipped == 90
