"""One cancel request for a headless batch, set by Ctrl-C (SIGINT), SIGTERM or SIGHUP.

Installed by main.py as the very first thing for `process`, so a signal at any moment of start-up
(while numpy, OpenCV or ONNX Runtime are being imported, or the models loaded) only sets the event:
a KeyboardInterrupt raised in the middle of a library's import could be swallowed by it and leave
a half-imported module behind. The batch checks the event before it starts and passes it to the
pipeline as its cancel event.
"""
from __future__ import annotations

import signal
import threading

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
requested = threading.Event()


def _on_signal(signum, frame) -> None:
    requested.set()


def install() -> dict:
    """Route the cancel signals to `requested` (main thread only). Returns the previous handlers."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for name in SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, _on_signal)
    return previous


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
