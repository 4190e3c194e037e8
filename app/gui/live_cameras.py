"""The live window's camera list and its models, loaded in the background: which camera is open
(the remembered one, never another in the middle of a recording), the camera permission, and the
models' thread (the window shows the camera before they are in)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from app.gui import camera_source


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
    """The camera list of ``view`` (the live window: its combo box, prefs, source and notice)."""

    def __init__(self, view):
        self.view = view
        self.cameras: dict[str, camera_source.CameraInfo] = {}

    def watch(self) -> None:
        """The cameras of the system, followed as they are plugged in or out; the microphone's
        permission asked now, so that Record finds it answered."""
        from PySide6.QtMultimedia import QMediaDevices

        self._devices = QMediaDevices(self.view)
        self._devices.videoInputsChanged.connect(self.view.refresh_cameras)
        self.view.refresh_cameras()
        if camera_source.MicrophoneSource.available() and camera_source.microphone_permission() == "undetermined":
            camera_source.request_microphone_permission(self.view)

    def _showing(self, camera_id: str) -> bool:
        source = self.view.source
        return isinstance(source, camera_source.CameraSource) and source.info.id == camera_id

    def refresh(self) -> None:
        """Fill the camera list (also when a camera is plugged in or out) and open the remembered one."""
        view = self.view
        current = view.camera_combo.currentData()
        self._fill_list(camera_source.list_cameras())
        if view.recording and isinstance(view.source, camera_source.CameraSource):
            self._keep_recording_camera()
        elif self.cameras:
            self._open_wanted(current)
        elif not isinstance(view.source, camera_source.PushedFileSource):   # a file played as camera stays
            view.stop_source()
            view.say(camera_source.NO_CAMERA_MESSAGE)
            view.pane_panel.no_picture("No camera (see above)")
        view.recording_changed()

    def _fill_list(self, cameras: list[camera_source.CameraInfo]) -> None:
        combo = self.view.camera_combo
        combo.blockSignals(True)
        combo.clear()
        for cam in cameras:
            combo.addItem(cam.name, cam.id)
        combo.blockSignals(False)
        self.cameras = {c.id: c for c in cameras}

    def _open_wanted(self, current: str | None) -> None:
        """Show (and open) the camera shown before, else the remembered one, else the system's default."""
        default = next((c.id for c in self.cameras.values() if c.device is not None and c.device.isDefault()), None)
        wanted = wanted_camera(list(self.cameras), current, self.view.prefs.camera, default)
        self.view.camera_combo.setCurrentIndex(self.view.camera_combo.findData(wanted))
        if not self._showing(wanted):
            self.open(self.cameras[wanted])

    def _keep_recording_camera(self) -> None:
        # never another camera in the middle of a recording (one picture size per file)
        view = self.view
        recording_id = view.source.info.id
        if recording_id in self.cameras:
            view.camera_combo.setCurrentIndex(view.camera_combo.findData(recording_id))
        else:
            view.say("The camera was disconnected. Press Stop to keep the recording so far; "
                     "then choose a camera to go on.")

    def chosen(self, index: int) -> None:
        camera_id = self.view.camera_combo.itemData(index)
        if camera_id is None:
            return
        self.view.prefs.camera = camera_id
        self.view.prefs.sync()
        if not self._showing(camera_id):
            self.open(self.cameras[camera_id])

    def open(self, info: camera_source.CameraInfo) -> None:
        view = self.view
        permission = camera_source.camera_permission()
        if permission == "denied":
            view.stop_source()
            view.say(camera_source.DENIED_MESSAGE)
            view.pane_panel.no_picture("The camera is not allowed (see above)")
            return
        if permission == "undetermined":
            view.say("Waiting for permission to use the camera (answer the system's question)...")
            camera_source.request_camera_permission(
                view, lambda granted: self.open(info) if granted else view.say(camera_source.DENIED_MESSAGE))
            return
        view.set_source(camera_source.CameraSource(info, view))
