"""XDG base directories: a variable that is set but empty (or relative) counts as unset, as the
XDG Base Directory rules say; taken literally it put the matplotlib cache and the log into the
folder the app was started from (./FaceMirror/matplotlib)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.base import paths

REPO = Path(__file__).resolve().parent.parent
CASES = [("XDG_CACHE_HOME", paths.user_cache_dir, Path(".cache") / "FaceMirror"),
         ("XDG_DATA_HOME", paths.user_data_dir, Path(".local") / "share" / "FaceMirror"),
         ("XDG_STATE_HOME", paths.user_log_dir, Path(".local") / "state" / "FaceMirror" / "log")]


@pytest.fixture
def linux_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(home))
    for var in ("FACEMIRROR_CACHE_DIR", "FACEMIRROR_DATA_DIR", "FACEMIRROR_LOG_DIR"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.mark.parametrize("variable,where,under_home", CASES)
@pytest.mark.parametrize("value", ["", "relative/cache", "."])
def test_empty_or_relative_xdg_value_counts_as_unset(linux_home, monkeypatch, variable, where, under_home, value):
    monkeypatch.setenv(variable, value)
    assert where() == linux_home / under_home


@pytest.mark.parametrize("variable,where,under_home", CASES)
def test_absolute_xdg_value_is_used(linux_home, tmp_path, monkeypatch, variable, where, under_home):
    chosen = tmp_path / "xdg"
    monkeypatch.setenv(variable, str(chosen))
    assert where().is_relative_to(chosen) and where().parts[-len(under_home.parts[-1:]):] == under_home.parts[-1:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are the Linux rule")
def test_matplotlib_cache_never_lands_in_the_current_folder(tmp_path):
    """The real start-up path: the figures module picks MPLCONFIGDIR from the cache folder."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACEMIRROR_", "MPLCONFIGDIR", "XDG_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME="", XDG_DATA_HOME="", XDG_STATE_HOME="",
               PYTHONPATH=str(REPO))
    code = "import os; from app.measures import figures; figures._matplotlib(); print(os.environ['MPLCONFIGDIR'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == home / ".cache" / "FaceMirror" / "matplotlib"
    assert list(cwd.iterdir()) == []
