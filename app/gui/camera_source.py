"""Frames for the live exam window through Qt Multimedia, push-based: a source emits
``frame(BGR uint8 array, seconds since its first frame)`` on the GUI thread.

Two sources share one path (QMediaCaptureSession -> QVideoSink -> QVideoFrame.toImage -> BGR):
- :class:`CameraSource`: a QCamera;
- :class:`PushedFileSource`: the frames of an app.live frame source (a file played as a camera, or
  the synthetic pattern) pushed through a QVideoFrameInput, for tests and demos without a camera.
Qt stays here (app/gui); the Qt-free sources in app/live serve the CLI.

Frame times come from the frame itself (QVideoFrame.startTime, microseconds), so the recording
keeps the camera's own clock; a backend that gives none gets the arrival time instead.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np
from PySide6.QtCore import QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import (QCamera, QCameraDevice, QMediaCaptureSession, QMediaDevices, QVideoFrame,
                                  QVideoFrameFormat, QVideoFrameInput, QVideoSink)
from PySide6.QtWidgets import QApplication

from app.gui.camera_frames import frame_to_bgr

CAMERA_SETTINGS_PATH = "System Settings > Privacy & Security > Camera"
DENIED_MESSAGE = (f"FaceMirror may not use the camera. Allow it in {CAMERA_SETTINGS_PATH} (switch FaceMirror on), "
                  "then quit FaceMirror and open it again.")
NO_CAMERA_MESSAGE = ("No camera found. Connect a camera (or close the other app that is using it); "
                     "the list updates by itself.")
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class CameraInfo:
    id: str              # stable across runs: what the preference remembers
    name: str
    device: QCameraDevice | None = None


def list_cameras() -> list[CameraInfo]:
    return [CameraInfo(bytes(d.id().data()).decode("utf-8", "replace"), d.description(), d)
            for d in QMediaDevices.videoInputs()]


def application() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication), "the live window needs a QApplication"
    return app


TARGET_HEIGHT = 720       # enough for the landmarks; 1080p would cost the display its frame rate


def choose_format(formats: list[tuple[int, int, float, bool]]) -> int | None:
    """The index of the camera format to use among (width, height, max fps, compressed) or None
    to leave the camera's default: a smooth rate first (>= 25 fps), uncompressed before MJPEG
    (decoding costs the display time), then the height nearest 720 (not above 1080)."""
    best, best_key = None, None
    for i, (w, h, fps, compressed) in enumerate(formats):
        if h > 1080 or w <= 0 or h <= 0:
            continue
        key = (fps >= 25, not compressed, -abs(h - TARGET_HEIGHT), min(fps, 60))
        if best_key is None or key > best_key:
            best, best_key = i, key
    return best


def camera_permission() -> str:
    """'granted', 'denied' or 'undetermined' (Qt asks the system; platforms without a camera
    permission, e.g. Linux, say granted)."""
    from PySide6.QtCore import QCameraPermission

    status = application().checkPermission(QCameraPermission())
    return {Qt.PermissionStatus.Granted: "granted", Qt.PermissionStatus.Denied: "denied"}.get(status, "undetermined")


def request_camera_permission(context: QObject, done) -> None:
    """Ask once (macOS shows its dialog); ``done(granted: bool)`` is called on the GUI thread."""
    from PySide6.QtCore import QCameraPermission

    application().requestPermission(
        QCameraPermission(), context, lambda p: done(camera_permission() == "granted"))


class QtFrameSource(QObject):
    """The window's frame source. ``fps``/``size`` are the source's own (size known once a frame
    has arrived); ``failed`` carries a message for the clinician."""

    frame = Signal(object, float)
    failed = Signal(str)
    finished = Signal()          # a file source has no more frames (a camera never finishes)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.fps = DEFAULT_FPS
        self.size: tuple[int, int] | None = None
        self.delivered = 0
        self._session = QMediaCaptureSession(self)
        self._sink = QVideoSink(self)
        self._session.setVideoSink(self._sink)
        # A camera emits from its own thread: the frames queue up for the GUI thread, each one
        # delivered (and recorded). Noted in the camera's thread as it comes (a direct connection:
        # one integer stored), the newest frame's time tells the GUI thread that a frame it takes
        # is already old, so that the window draws only the newest while it catches up.
        self._newest_us = -1
        self._sink.videoFrameChanged.connect(self._note_newest, Qt.ConnectionType.DirectConnection)
        self._sink.videoFrameChanged.connect(self._on_video_frame)
        self._t0_us: int | None = None
        self._t0_clock: float | None = None
        # a newer frame is already waiting behind the one being delivered: draw no panes for this
        # one (it is still recorded)
        self.behind = False
        self._burst_behind = False          # the same, known by a source that pushes a burst of frames

    def _note_newest(self, vf: QVideoFrame) -> None:
        self._newest_us = max(self._newest_us, vf.startTime())

    def _on_video_frame(self, vf: QVideoFrame) -> None:
        image = frame_to_bgr(vf)
        if image is None:
            return
        start_us = vf.startTime()
        self.behind = self._burst_behind or 0 <= start_us < self._newest_us
        if start_us >= 0:
            if self._t0_us is None:
                self._t0_us = start_us
            t = (start_us - self._t0_us) / 1e6
        else:
            now = time.perf_counter()
            if self._t0_clock is None:
                self._t0_clock = now
            t = now - self._t0_clock
        self.size = (image.shape[1], image.shape[0])
        self.delivered += 1
        self.frame.emit(image, t)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class CameraSource(QtFrameSource):
    def __init__(self, info: CameraInfo, parent: QObject | None = None):
        super().__init__(parent)
        self.info = info
        self.camera = QCamera(info.device, self) if info.device is not None else QCamera(self)
        self._session.setCamera(self.camera)
        self.camera.errorOccurred.connect(self._on_error)
        if info.device is not None:
            formats = info.device.videoFormats()
            pick = choose_format([(f.resolution().width(), f.resolution().height(), f.maxFrameRate(),
                                   f.pixelFormat() == QVideoFrameFormat.PixelFormat.Format_Jpeg) for f in formats])
            if pick is not None:
                self.camera.setCameraFormat(formats[pick])
        fmt = self.camera.cameraFormat()
        if not fmt.isNull() and fmt.maxFrameRate() > 0:
            self.fps = float(fmt.maxFrameRate())

    def _on_error(self, error, text: str) -> None:
        if error == QCamera.Error.NoError:
            return
        if camera_permission() == "denied":
            self.failed.emit(DENIED_MESSAGE)
        else:
            self.failed.emit(f"The camera {self.info.name!r} stopped: {text or 'unknown error'}. "
                             "Check that no other app is using it, or choose another camera.")

    def start(self) -> None:
        self.camera.start()
        fmt = self.camera.cameraFormat()      # chosen by the backend once the camera runs
        if not fmt.isNull() and fmt.maxFrameRate() > 0:
            self.fps = float(fmt.maxFrameRate())

    def stop(self) -> None:
        self.camera.stop()


class PushedFileSource(QtFrameSource):
    """The camera replaced by a file-backed (or synthetic) source: its frames are pushed through a
    QVideoFrameInput into the same capture session and sink path as a camera's, each with its own
    time as the frame's start time, paced by the clock as a camera is: each tick of a timer on the
    GUI thread pushes every frame due by now. A camera does not wait for a busy computer; pushing
    one frame per tick did, and a GUI thread held up by other work (ticks skipped) slowed the
    "camera" itself: a 3 s Record came out 0.7 s long. Frames more than ``MAX_LATE_S`` overdue
    are dropped (``dropped``), as a camera's own buffer overflows. While a burst of overdue frames
    is pushed, ``behind`` is True for all but the newest (the window records them but draws only
    the newest)."""

    MAX_LATE_S = 1.0
    EARLY_S = 0.002          # a tick a little early still takes the frame due then

    def __init__(self, source, parent: QObject | None = None, *, speed: float = 1.0):
        super().__init__(parent)
        self.source = source
        self.fps = float(source.fps)
        self.speed = float(speed)
        self.dropped = 0
        self._input = QVideoFrameInput(self)
        self._session.setVideoFrameInput(self._input)
        self._frames: Iterator[tuple[np.ndarray, float]] | None = None
        self._next: tuple[np.ndarray, float] | None = None
        self._clock0: float | None = None     # perf_counter at which the source's time 0 is due
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(max(1, int(round(1000.0 / (self.fps * self.speed)))))
        self._timer.timeout.connect(self.catch_up)

    def start(self) -> None:
        if self._frames is None:
            self._frames = iter(self.source.frames())
        self._clock0 = None                   # (re)started: the next frame is due now
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _due(self, t: float) -> float:
        return cast(float, self._clock0) + t / self.speed

    def _take(self) -> tuple[np.ndarray, float] | None:
        if self._next is None and self._frames is not None:
            self._next = next(self._frames, None)
            if self._next is None:
                self._frames = None
                self._timer.stop()
                QTimer.singleShot(0, self, self.finished.emit)   # after the last frame; never once deleted
        return self._next

    def catch_up(self) -> int:
        """Push every frame due by now (the timer calls it; the window also before Record and at
        Stop, so the recording holds every frame of the time it ran). Returns the frames pushed."""
        if not self._timer.isActive():
            return 0
        now = time.perf_counter()
        pushed = 0
        while (item := self._take()) is not None:
            image, t = item
            if self._clock0 is None:
                self._clock0 = now - t / self.speed
            if self._due(t) > now + self.EARLY_S:
                break
            self._next = None
            if now - self._due(t) > self.MAX_LATE_S:
                self.dropped += 1                # lost, as a camera's overflowing buffer loses it
                continue
            after = self._take()
            self._burst_behind = after is not None and self._due(after[1]) <= now + self.EARLY_S
            self._send(image, t)
            pushed += 1
        self._burst_behind = False
        return pushed

    def _send(self, image: np.ndarray, t: float) -> None:
        arr = np.ascontiguousarray(image)
        h, w = arr.shape[:2]
        qimg = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_BGR888).copy()
        vf = QVideoFrame(qimg)
        vf.setStartTime(int(round(t * 1e6)))
        vf.setEndTime(int(round((t + 1.0 / self.fps) * 1e6)))
        self._input.sendVideoFrame(vf)


# ---- the microphone (optional: the exam records video only where there is none or it is refused)

MIC_SETTINGS_PATH = "System Settings > Privacy & Security > Microphone"
PCM_SCALE = 32767.0


def microphone_permission() -> str:
    from PySide6.QtCore import QMicrophonePermission

    status = application().checkPermission(QMicrophonePermission())
    return {Qt.PermissionStatus.Granted: "granted", Qt.PermissionStatus.Denied: "denied"}.get(status, "undetermined")


def request_microphone_permission(context: QObject) -> None:
    """Ask once, early (at the window's opening), so that Record finds the answer given."""
    from PySide6.QtCore import QMicrophonePermission

    application().requestPermission(QMicrophonePermission(), context, lambda p: None)


def pcm_to_int16(data: bytes, sample_format, channels: int) -> np.ndarray:
    """Raw PCM bytes from QAudioSource as int16 (n, channels)."""
    from PySide6.QtMultimedia import QAudioFormat

    F = QAudioFormat.SampleFormat
    if sample_format == F.Int16:
        pcm = np.frombuffer(data, np.int16)
    elif sample_format == F.Float:
        pcm = (np.clip(np.frombuffer(data, np.float32), -1, 1) * PCM_SCALE).astype(np.int16)
    elif sample_format == F.Int32:
        pcm = (np.frombuffer(data, np.int32) >> 16).astype(np.int16)
    else:   # UInt8
        pcm = ((np.frombuffer(data, np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    n = len(pcm) // channels
    return pcm[:n * channels].reshape(n, channels)


class MicrophoneSource(QObject):
    """The default microphone as int16 PCM chunks: ``chunk(samples (n, channels), t)`` where t is
    the time.perf_counter() at which the chunk's first sample was captured (its arrival less its
    length), the clock the window puts the camera frames' arrivals on too."""

    chunk = Signal(object, float)

    def __init__(self, parent: QObject | None = None):
        from PySide6.QtMultimedia import QAudioFormat, QAudioSource

        super().__init__(parent)
        device = QMediaDevices.defaultAudioInput()
        fmt = QAudioFormat()
        fmt.setSampleRate(48000)
        fmt.setChannelCount(1)                          # one voice: mono is enough and half the size
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            fmt = device.preferredFormat()
        self.rate, self.channels = fmt.sampleRate(), min(2, max(1, fmt.channelCount()))
        self._device_channels, self._sample_format = fmt.channelCount(), fmt.sampleFormat()
        self.name = device.description()
        self._source = QAudioSource(device, fmt, self)
        self._io: QIODevice | None = None

    @staticmethod
    def available() -> bool:
        return not QMediaDevices.defaultAudioInput().isNull()

    def start(self) -> None:
        self._io = self._source.start()
        if self._io is not None:
            self._io.readyRead.connect(self._read)

    def _read(self) -> None:
        if self._io is None:
            return
        data = bytes(self._io.readAll().data())
        if not data:
            return
        pcm = pcm_to_int16(data, self._sample_format, self._device_channels)[:, :self.channels]
        self.chunk.emit(pcm, time.perf_counter() - len(pcm) / self.rate)

    def stop(self) -> None:
        self._source.stop()
        self._io = None
