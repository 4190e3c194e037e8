"""The pure parts of FaceMirror.spec: names, Info.plist, module lists, file filters, checks.

FaceMirror.spec loads this file by path (packaging/ must stay a plain folder without __init__.py:
a package named `packaging` would shadow the PyPI library pip, pytest and PyInstaller import).
The parts live beside it by concern, as top-level modules found by putting packaging/ on sys.path:

  spec_macos     bundle identity, Info.plist, the minimum macOS declared and each binary's
  spec_modules   what the analysis includes and excludes (Qt modules, third-party, the app's own)
  spec_toc       dropping unused Qt libraries/plugins and other files from the analysis' TOC
  spec_models    model files, the bundled manifest, STAR or detector-only, pinned inputs, build_info
  spec_licences  third-party notices and the licence texts bundled libraries need
  spec_bundle    checks of a finished bundle, and its size by part against the budget

Everything is re-exported here, so the spec, the tests and CI read one namespace (`cfg.NAME`).
Nothing here imports PyInstaller or Qt, so tests can check the release configuration on any
machine without building. Names the app also uses (manifest and build-info file names, model
metadata keys, the app's name) are imported from the app's light, dependency-free modules: one
home per fact.
"""
from __future__ import annotations

import sys
from pathlib import Path

# The repository root first, so the app's constants can be imported; packaging/ last, so the
# parts (spec_*.py) are found without ever shadowing an installed module of the same name.
_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))
if str(_HERE) not in sys.path:
    sys.path.append(str(_HERE))

# Names of the app the spec reads through this module.
from app import APP_NAME  # noqa: E402, F401
from app import __version__ as APP_VERSION  # noqa: E402, F401
from app.base.build_info import FILE_NAME as BUILD_INFO_NAME  # noqa: E402, F401
from app.base.model_files import MANIFEST_NAME, STAR_FILE  # noqa: E402, F401
from spec_bundle import *  # noqa: E402, F401, F403
from spec_bundle import SIZE_BUDGET_FILE, check_bundle, size_report  # noqa: E402
from spec_licences import *  # noqa: E402, F401, F403
from spec_macos import *  # noqa: E402, F401, F403
from spec_models import *  # noqa: E402, F401, F403
from spec_modules import *  # noqa: E402, F401, F403
from spec_toc import *  # noqa: E402, F401, F403

if __name__ == "__main__":  # python packaging/spec_config.py check|size BUNDLE
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        found = check_bundle(Path(sys.argv[2]))
        for problem in found:
            print(f"bundle check: {problem}", file=sys.stderr)
        print(f"bundle check: {'FAILED' if found else 'ok'}: {sys.argv[2]}")
        sys.exit(1 if found else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "size":
        table, problem = size_report(Path(sys.argv[2]), Path(__file__).with_name(SIZE_BUDGET_FILE))
        print(table)
        if problem:
            print(f"size check: {problem}", file=sys.stderr)
        sys.exit(1 if problem else 0)
    print("usage: python packaging/spec_config.py check|size PATH/TO/FaceMirror.app", file=sys.stderr)
    sys.exit(2)
