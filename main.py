"""FaceMirror entry point: no arguments opens the window; subcommands do headless work."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
