"""Several result files put in place together, as the rest of the CLI does it (app/base/outputs.py).

Each file is written under a hidden temporary name of the app's pattern in its folder (so
``clean_stale_files`` removes it if the run is killed), flushed to disk, and only when all are
written are they renamed into place. Existing files are refused unless ``overwrite``; with it, the
earlier files are moved aside first and put back if any rename fails, then removed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from app.base.wording import first_few
from app.base.outputs import OutputError, OutputsExist, temp_name, temp_path, write_error_message


def refuse_existing(finals: list[Path], overwrite: bool) -> None:
    """Before any work: earlier results in the way (named) without --overwrite, a folder in their place."""
    folders = [p for p in finals if p.is_dir()]
    if folders:
        raise OutputError(f"{folders[0]} is a folder, not an output file; nothing was changed")
    existing = [p for p in finals if os.path.lexists(p)]
    if existing and not overwrite:
        names = first_few([p.name for p in existing], 5, more=", ...")
        raise OutputsExist(f"{names} already exist(s) in {existing[0].parent}; nothing was changed. "
                           "Use --overwrite to replace them or --out to write elsewhere.", existing)


def _make_folders(finals: list[Path]) -> None:
    for folder in {p.parent for p in finals}:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from None


# The three steps below fill the caller's dicts as they go (not on return), so that whatever a step
# did before it failed is known to write_all's rollback and clean-up.

def _write_temps(files: Mapping[Path, str | bytes], temps: dict[Path, Path]) -> None:
    """Each file's content under its temporary name, flushed to disk."""
    for final, content in files.items():
        final = Path(final)
        temps[final] = temp_path(final)
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(temps[final], "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _move_aside(temps: dict[Path, Path], aside: dict[Path, Path], overwrite: bool) -> None:
    """Earlier files in the way renamed to hidden names (put back if placing fails). Without
    ``overwrite`` one that appeared since refuse_existing stops everything."""
    for final in temps:
        if os.path.lexists(final):
            if not overwrite:
                raise OutputError(f"{final.name} appeared while writing; nothing was replaced")
            aside[final] = final.with_name(temp_name("old", final.suffix))
            os.rename(final, aside[final])


def _place(temps: dict[Path, Path], placed: list[Path]) -> None:
    """Each temporary file renamed to its final name; ``placed`` says which are, for the rollback."""
    for final, tmp in temps.items():
        os.rename(tmp, final)
        placed.append(final)


def _roll_back(placed: list[Path], aside: dict[Path, Path]) -> None:
    """Undo a publish that failed part way: remove the new files, put the earlier ones back."""
    for final in placed:
        final.unlink(missing_ok=True)
    for final, old in aside.items():
        if not os.path.lexists(final):
            os.rename(old, final)


def write_all(files: Mapping[Path, str | bytes], overwrite: bool) -> None:
    """Every file in place, or none changed (the module docstring says how)."""
    finals = [Path(p) for p in files]
    refuse_existing(finals, overwrite)
    _make_folders(finals)
    temps: dict[Path, Path] = {}
    aside: dict[Path, Path] = {}
    placed: list[Path] = []
    try:
        _write_temps(files, temps)
        _move_aside(temps, aside, overwrite)
        _place(temps, placed)
    except BaseException as exc:
        # Ctrl-C or SIGTERM (raised as an exception by the CLI's handlers) in the middle of the
        # renames must not leave earlier results under hidden names: put them back, then go on.
        _roll_back(placed, aside)
        if not isinstance(exc, OSError):
            raise
        raise OutputError(f"cannot write the results in {finals[0].parent}: {write_error_message(exc)}; "
                          "nothing was changed") from None
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    for old in aside.values():
        old.unlink(missing_ok=True)
