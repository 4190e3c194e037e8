"""Where FaceMirror finds its model files and keeps its caches.

Models are looked up, in order: inside a frozen bundle, in the repository's weights/ folder
(running from source), then in the user's data folder. Caches (compiled CoreML models) always
go to the user's cache folder, never inside the app bundle, which is signed and read-only.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "FaceMirror"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]   # app/base/paths.py -> the checkout


def bundle_dir() -> Path | None:
    """Folder PyInstaller unpacked the app into, or None when running from source."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else None


def repo_weights_dir() -> Path:
    return repo_root() / "weights"


def xdg_dir(variable: str, default: Path) -> Path:
    """An XDG base directory: the variable's value when it is an absolute path, else ``default``.
    The XDG Base Directory rules treat an empty or relative value as unset; taking it literally
    would put caches and logs into whatever folder the app was started from."""
    value = os.environ.get(variable, "")
    return Path(value) if value and os.path.isabs(value) else default


def _user_dir(override: str, mac: tuple[str, ...], windows: tuple[str, tuple[str, ...]],
              xdg: tuple[str, str]) -> Path:
    """One per-user folder: the FACEMIRROR_* override (tests, custom installs), else the platform's
    place: ~/Library/... on macOS, %VARIABLE%\\... on Windows, the XDG folder on Linux."""
    value = os.environ.get(override)
    if value:
        return Path(value)
    if sys.platform == "darwin":
        return Path.home().joinpath("Library", *mac, APP_DIR_NAME)
    if sys.platform == "win32":
        variable, tail = windows
        return Path(os.environ.get(variable, Path.home())).joinpath(APP_DIR_NAME, *tail)
    variable, default = xdg
    return xdg_dir(variable, Path.home() / default) / APP_DIR_NAME


def user_data_dir() -> Path:
    return _user_dir("FACEMIRROR_DATA_DIR", ("Application Support",), ("APPDATA", ()),
                     ("XDG_DATA_HOME", ".local/share"))


def user_cache_dir() -> Path:
    return _user_dir("FACEMIRROR_CACHE_DIR", ("Caches",), ("LOCALAPPDATA", ("Cache",)),
                     ("XDG_CACHE_HOME", ".cache"))


def user_log_dir() -> Path:
    """Where the log file goes: the place each platform's tools look (macOS: Console.app)."""
    override = os.environ.get("FACEMIRROR_LOG_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Logs" / APP_DIR_NAME
    if sys.platform == "win32":
        return user_data_dir() / "Logs"
    return xdg_dir("XDG_STATE_HOME", Path.home() / ".local" / "state") / APP_DIR_NAME / "log"   # not
    # user_state_dir(): FACEMIRROR_STATE_DIR must not move the log, which has its own override


def weights_search_dirs() -> list[Path]:
    """Folders searched for model files, most specific first.

    FACEMIRROR_WEIGHTS_DIR (tests, custom installs), when set, is the only folder searched.
    """
    override = os.environ.get("FACEMIRROR_WEIGHTS_DIR")
    if override:
        return [Path(override)]
    dirs: list[Path] = []
    b = bundle_dir()
    if b is not None:
        dirs.append(b / "weights")
    for d in (repo_weights_dir(), user_data_dir() / "weights"):
        if d not in dirs:  # frozen: the "repository" folder is the bundle itself
            dirs.append(d)
    return dirs


def user_state_dir() -> Path:
    """Per-user state that is neither data nor cache (the log on Linux, the window's session
    journal): FACEMIRROR_STATE_DIR (tests), else $XDG_STATE_HOME/FaceMirror on Linux, the app's
    data folder on macOS and Windows."""
    override = os.environ.get("FACEMIRROR_STATE_DIR")
    if override:
        return Path(override)
    if sys.platform in ("darwin", "win32"):
        return user_data_dir()
    return xdg_dir("XDG_STATE_HOME", Path.home() / ".local" / "state") / APP_DIR_NAME
