"""Start `python main.py ARGS` and return once main.py has begun loading the app.

A signal can only be handled by the app once main.py runs: one that lands while the interpreter is
still starting (importing `site`, say) ends in Python's own KeyboardInterrupt traceback, which no
code of ours can catch, and on a loaded machine a fixed sleep after starting the process may well
land there. So the tests that signal `process` during its start-up first wait for this readiness
byte. A one-line prelude (`python -c PRELUDE main.py ARGS` runs main.py as `python main.py ARGS`
does: the same __main__, sys.argv and sys.path[0], the working folder) adds an audit hook that
writes the byte when main.py imports the `app` package, which main.py does first thing inside the
protection that turns a Ctrl-C into "cancelled" (so every later moment is the app's to handle).
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

READY_FD = "FACEMIRROR_TEST_READY_FD"
PRELUDE = """\
import os, sys
fd = int(os.environ.pop("FACEMIRROR_TEST_READY_FD"))
def ready(event, args):
    global fd
    if fd >= 0 and event == "import" and args[0] == "app":
        os.write(fd, b"R")
        os.close(fd)
        fd = -1
sys.addaudithook(ready)
sys.argv = sys.argv[1:]
main = open(sys.argv[0], encoding="utf-8").read()
exec(compile(main, sys.argv[0], "exec"), {"__name__": "__main__", "__file__": sys.argv[0], "__builtins__": __builtins__})
"""


def start_main(args: list[str], env: dict | None = None, **popen_kw) -> subprocess.Popen:
    """`python main.py *args` in the repository, with stdout and stderr piped (text), returned once
    main.py is importing the app. Fails (and ends the child) if it exits before that."""
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-c", PRELUDE, "main.py", *map(str, args)], cwd=REPO,
                                env={**(os.environ if env is None else env), READY_FD: str(w)}, pass_fds=(w,),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen_kw)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as ready:
        byte = ready.read(1)          # the byte, or end of file when the child is gone without it
    if byte != b"R":
        out, err = proc.communicate(timeout=60)
        raise AssertionError(f"main.py never started loading the app (exit {proc.returncode}): {out[-1000:]}{err[-2000:]}")
    return proc
