"""FaceMirror entry point: no arguments opens the window; subcommands do headless work."""
import sys


def _run() -> int:
    if sys.argv[1:2] == ["process"]:
        # First thing: Ctrl-C, SIGTERM and SIGHUP only request a cancel, at any moment of start-up.
        from app.base import cancel

        cancel.install()
    try:
        from app.cli.main import main

        return main(sys.argv[1:])
    except KeyboardInterrupt:      # other commands: Ctrl-C ends them without a traceback
        try:
            sys.stderr.write("cancelled\n")
        except (OSError, KeyboardInterrupt):
            pass
        return 130


if __name__ == "__main__":
    try:
        code = _run()
    except KeyboardInterrupt:      # Ctrl-C while the first modules load, before cancel.install()
        try:
            sys.stderr.write("cancelled\n")
        except (OSError, KeyboardInterrupt):
            pass
        code = 130
    sys.exit(code)
