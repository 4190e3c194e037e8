"""Which heavy packages a piece of the app pulls in, seen in a fresh interpreter (this test process
has imported everything already): the layer and lazy-import checks of several test modules."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def packages_loaded(setup: str, packages) -> list[str]:
    """Run `setup` (import statements, a call) in a fresh Python in the repository; return which of
    `packages` (top-level names) it loaded, sorted."""
    code = (f"{setup}\nimport json, sys\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(packages)!r}))))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
