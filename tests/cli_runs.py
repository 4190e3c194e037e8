"""`python main.py process` as a user runs it, for the tests of the command line, and the result sets
it leaves (names and contents).

A run costs 1-4 CPU seconds, most of them fixed: starting Python and the app, loading the face
detector, and (for a clip of 3 frames or more) the symmetry measures and the summary, whose charts and
PDF alone cost about 2.5 s. So the tests here use clips of 2 frames (nothing to measure: the set then
has no measure files, UNMEASURED) wherever the measures are not what the test is about, and make an
earlier result set by copying one real run's files (copy_results) instead of running again.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.base.outputs import KINDS, MEASURE_KINDS, SUFFIX
from tests.conftest import REPO

ALL = tuple(SUFFIX.values())      # every output of a video: 3 videos, landmarks, report, measures, summary
# the outputs of a clip too short to measure (fewer than 3 frames): no measure or summary files
UNMEASURED = tuple(SUFFIX[k] for k in KINDS if k not in MEASURE_KINDS)


def process_cli(args, weights: Path, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """`python main.py process ARGS` with the models of the folder `weights`, run to its end."""
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights))
    return subprocess.run([sys.executable, "main.py", "process", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def start_process_cli(args, weights: Path) -> subprocess.Popen:
    """`python main.py process ARGS` started, with its stdout and stderr piped."""
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights))
    return subprocess.Popen([sys.executable, "main.py", "process", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, ready) -> str:
    """Read the child's stdout up to the first line for which ready(line) is true (its readiness);
    fails if the child ends first."""
    line = ""
    while not ready(line):
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
    return line


def wait_for_progress(proc: subprocess.Popen) -> None:
    """Return once the run printed its first progress line (its first frame is done)."""
    wait_for_line(proc, lambda line: "frames" in line)


def signal_when_ready(proc: subprocess.Popen, sig: int, ready, timeout: float = 300) -> tuple[str, str]:
    """Send `sig` once the child printed a line for which ready(line) is true, and return the rest of
    its stdout and its stderr when it ended. The child never outlives a failure here."""
    try:
        wait_for_line(proc, ready)
        proc.send_signal(sig)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def files(folder: Path) -> dict[str, str]:
    """Every file under a folder (hidden ones included) with a hash of its content."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder: Path) -> list[str]:
    return [n for n in files(folder) if Path(n).name.startswith(".")]


def names(stem: str, suffixes=ALL) -> list[str]:
    return sorted(stem + s for s in suffixes)


def copy_results(src: Path, stem: str, dest: Path, new_stem: str | None = None) -> list[str]:
    """Copy the result set of `stem` in folder `src` into `dest` (renamed to `new_stem`): an earlier
    run's outputs, as that run left them. Returns the copied names."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for p in sorted(src.glob(f"{stem}_*")):
        suffix = p.name[len(stem):]
        assert suffix in ALL, p
        shutil.copy2(p, dest / f"{new_stem or stem}{suffix}")
        copied.append(f"{new_stem or stem}{suffix}")
    return copied
