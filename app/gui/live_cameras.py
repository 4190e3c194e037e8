"""The live window's camera list and its models, loaded in the background: which camera is open
(the remembered one, never another in the middle of a recording), the camera permission, and the
models' thread (the window shows the camera before they are in)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QComboBox

from app.gui import camera_source
from app.gui.prefs import Prefs


class ModelsInBackground:
    """Loads the live models in a plain thread; ``ready(models, error)`` is called on the GUI
    thread (models None and the reason when they could not be loaded). The thread only sets a
    Python attribute and a timer of ``parent`` picks it up: a signal emitted from the thread after
    the window was deleted would reach freed memory."""

    def __init__(self, parent: QObject, loader, ready: Callable[[object, str], None]):
        self._loaded: tuple | None = None
        self._ready = ready
        self.timer = QTimer(parent)
        self.timer.setInterval(50)
        self.timer.timeout.connect(self._take)
        self.timer.start()
        threading.Thread(target=self._work, args=(loader,), name="facemirror-live-models", daemon=True).start()

    def _work(self, loader) -> None:
        try:
            if loader is not None:
                models = loader()
            else:
                from app.engine.model_set import Models

                models = Models.load(threads=2, live=True)    # two: the display and the encoder need the rest
            self._loaded = (models, "")
        except Exception as exc:  # noqa: BLE001 - said in the window; the exam works without
            self._loaded = (None, str(exc))

    def _take(self) -> None:
        if self._loaded is None:
            return
        self.timer.stop()
        self._ready(*self._loaded)

    def stop(self) -> None:
        """The window closes: nothing is handed over any more; the loaded models are let go."""
        self.timer.stop()
        self._loaded = None


def wanted_camera(ids: list[str], current: str | None, remembered: str | None, default: str | None) -> str:
    """The camera to open: the one shown, else the one remembered, else the system's default, else
    the first. ``ids`` is not empty."""
    for choice in (current, remembered, default):
        if choice in ids:
            return choice
    return ids[0]


class LiveCameras:
    """The camera list: fills ``combo``, remembers the choice in ``prefs`` and opens a camera. From
    the window: ``source()`` (the frame source shown now), ``recording()``, ``show(source)`` (show
    this camera), ``no_picture(why)`` (the source stopped, the panes say why), ``say(text)`` (the
    notice), ``changed()`` (the list changed: the controls follow). ``parent``: of the cameras
    and the permission questions."""

    def __init__(self, parent: QObject, combo: QComboBox, prefs: Prefs, *,
                 source: Callable[[], camera_source.QtFrameSource | None], recording: Callable[[], bool],
                 show: Callable[[camera_source.QtFrameSource], None], no_picture: Callable[[str], None],
                 say: Callable[..., None], changed: Callable[[], None]):
        self._parent, self._combo, self._prefs = parent, combo, prefs
        self._source, self._recording, self._show = source, recording, show
        self._no_picture, self._say, self._changed = no_picture, say, changed
        self.cameras: dict[str, camera_source.CameraInfo] = {}
        combo.activated.connect(self.chosen)

    def watch(self) -> None:
        """The cameras of the system, followed as they are plugged in or out; the microphone's
        permission asked now, so that Record finds it answered."""
        from PySide6.QtMultimedia import QMediaDevices

        self._devices = QMediaDevices(self._parent)
        self._devices.videoInputsChanged.connect(self.refresh)
        self.refresh()
        if camera_source.MicrophoneSource.available() and camera_source.microphone_permission() == "undetermined":
            camera_source.request_microphone_permission(self._parent)

    def _showing(self, camera_id: str) -> bool:
        source = self._source()
        return isinstance(source, camera_source.CameraSource) and source.info.id == camera_id

    def refresh(self) -> None:
        """Fill the camera list (also when a camera is plugged in or out) and open the remembered one."""
        current = self._combo.currentData()
        self._fill_list(camera_source.list_cameras())
        source = self._source()
        if self._recording() and isinstance(source, camera_source.CameraSource):
            self._keep_recording_camera(source)
        elif self.cameras:
            self._open_wanted(current)
        elif not isinstance(source, camera_source.PushedFileSource):   # a file played as camera stays
            self._say(camera_source.NO_CAMERA_MESSAGE)
            self._no_picture("No camera (see above)")
        self._changed()

    def _fill_list(self, cameras: list[camera_source.CameraInfo]) -> None:
        combo = self._combo
        combo.blockSignals(True)
        combo.clear()
        for cam in cameras:
            combo.addItem(cam.name, cam.id)
        combo.blockSignals(False)
        self.cameras = {c.id: c for c in cameras}

    def _open_wanted(self, current: str | None) -> None:
        """Show (and open) the camera shown before, else the remembered one, else the system's default."""
        default = next((c.id for c in self.cameras.values() if c.device is not None and c.device.isDefault()), None)
        wanted = wanted_camera(list(self.cameras), current, self._prefs.camera, default)
        self._combo.setCurrentIndex(self._combo.findData(wanted))
        if not self._showing(wanted):
            self.open(self.cameras[wanted])

    def _keep_recording_camera(self, source: camera_source.CameraSource) -> None:
        # never another camera in the middle of a recording (one picture size per file)
        recording_id = source.info.id
        if recording_id in self.cameras:
            self._combo.setCurrentIndex(self._combo.findData(recording_id))
        else:
            self._say("The camera was disconnected. Press Stop to keep the recording so far; "
                      "then choose a camera to go on.")

    def chosen(self, index: int) -> None:
        camera_id = self._combo.itemData(index)
        if camera_id is None:
            return
        self._prefs.camera = camera_id
        self._prefs.sync()
        if not self._showing(camera_id):
            self.open(self.cameras[camera_id])

    def open(self, info: camera_source.CameraInfo) -> None:
        permission = camera_source.camera_permission()
        if permission == "denied":
            self._say(camera_source.DENIED_MESSAGE)
            self._no_picture("The camera is not allowed (see above)")
            return
        if permission == "undetermined":
            self._say("Waiting for permission to use the camera (answer the system's question)...")
            camera_source.request_camera_permission(
                self._parent, lambda granted: self.open(info) if granted else self._say(camera_source.DENIED_MESSAGE))
            return
        self._show(camera_source.CameraSource(info, self._parent))
