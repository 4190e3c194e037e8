"""FaceMirror entry point: no arguments opens the window; subcommands do headless work."""
import signal
import sys


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _run() -> int:
    # Headless commands: until a command installs its own handlers (the `process` batch cancels
    # cleanly), SIGTERM and SIGHUP stop start-up the way Ctrl-C does: a short message, no traceback.
    # (The window, started without arguments, keeps the default handlers.)
    for name in ("SIGTERM", "SIGHUP"):
        if sys.argv[1:] and hasattr(signal, name):
            signal.signal(getattr(signal, name), _interrupt)
    try:
        from app.cli import main

        return main(sys.argv[1:])
    except KeyboardInterrupt:
        try:
            sys.stderr.write("cancelled\n")
        except (OSError, KeyboardInterrupt):
            pass
        return 1


if __name__ == "__main__":
    sys.exit(_run())
