"""One cancel request for a headless batch, set by Ctrl-C (SIGINT), SIGTERM or SIGHUP (unless the
process was started with SIGHUP ignored, as `nohup` does: then it stays ignored).

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
# A hang-up that the process was started ignoring (`nohup main.py process ...`: the run must outlive
# the terminal) is left ignored; SIGINT and SIGTERM are always ours (a scheduler's stop must work).
RESPECT_IGNORED = ("SIGHUP",)
requested = threading.Event()
received: int | None = None     # the first signal's number (for the exit code a scheduler expects)
CANCELLED = 1                   # cancelled without a signal (the window's Stop, a test)


def _on_signal(signum, frame) -> None:
    global received
    if received is None:
        received = signum
    requested.set()


def request(signum: int) -> None:
    """Record a cancel signal that arrived through someone else's handler (Ray's, while it starts)."""
    _on_signal(signum, None)


def exit_code() -> int:
    """128 + the signal's number after a signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), as shells and
    schedulers (SLURM, Ray, systemd) read it; 1 for a cancel without one."""
    return 128 + received if received is not None else CANCELLED


def clear() -> None:
    global received
    received = None
    requested.clear()


def _install(handler) -> dict:
    previous: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return previous        # Python lets only the main thread set handlers
    for name in SIGNALS:
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        if name in RESPECT_IGNORED and signal.getsignal(sig) is signal.SIG_IGN:
            continue           # `nohup` (or a scheduler) asked this process to ignore it: it stays ignored
        previous[sig] = signal.signal(sig, handler)
    return previous


def install() -> dict:
    """Route the cancel signals to `requested` (main thread only). Returns the previous handlers."""
    return _install(_on_signal)


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class Interrupted(BaseException):
    """A cancel signal in a command that runs on the main thread (`measures`): raised where the
    command is, so its `finally` blocks discard what it was writing. BaseException, like
    KeyboardInterrupt, so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum, frame) -> None:
    raise Interrupted(signum)


def raise_on_signals() -> dict:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread. Returns the previous
    handlers (for restore)."""
    return _install(_raise)
