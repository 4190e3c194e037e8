"""Output files for one input video: names, pre-flight checks, all-or-nothing publishing, batch plans.

This module is the one home of the output kinds and of the temporary-file scheme of a video's
outputs (the video writer writes exactly to the path it is given; the names come from here). Model
files have their own, simpler single-file schemes: the converters' (app/convert/common.py), the
checkpoint download's (app/convert/fetch.py) and the manifest's (app/base/model_files.py).
Guarantees (README "Guarantees"):

* A result set appears all at once or not at all. Every file is written under a short hidden
  temporary name in the output folder; ``OutputSet.publish`` first moves any earlier result of the
  same NAME aside (every kind, including kinds this run does not produce, so no stale
  NAME_annotated.mp4 stays beside a new report), then moves the new files in. If any step fails the
  new files are removed and the earlier ones put back. A small journal beside them lets the next run
  finish that rollback if the process is killed in the middle of those renames.
* Temporary names do not depend on NAME (at most ``TEMP_NAME_MAX`` bytes), so any final name that
  fits the file system fits its temporary name.
* Temporary names carry the process id: ``clean_stale_files`` (called by the front ends before they
  write into a folder) removes only files of that pattern whose process is gone, and says so.
* Inputs whose outputs would collide are found before anything starts (``find_collisions``); folder
  batches keep each input's folder under ``--out`` (``out_dir_for``); FaceMirror's own outputs are
  never taken as inputs (``own_output_report``).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import shutil
import socket
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app import APP_NAME

from app.base.wording import plural

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mpg", ".mpeg", ".wmv", ".webm", ".mts", ".m2ts", ".3gp"}

# Every kind of output file for input NAME.ext, in the order they are listed to the user.
SUFFIX = {
    "left_mirrored": "_left_mirrored.mp4",
    "right_mirrored": "_right_mirrored.mp4",
    "annotated": "_annotated.mp4",
    "landmarks": "_landmarks.csv",
    "report": "_report.json",
    "measures_csv": "_measures.csv",
    "measures_json": "_measures.json",
    "summary": "_summary.html",
    "summary_pdf": "_summary.pdf",     # the same summary as pages to file (patient and page n of m on each)
}
KINDS = tuple(SUFFIX)
VIDEO_KINDS = ("left_mirrored", "right_mirrored", "annotated")
MEASURE_KINDS = ("measures_csv", "measures_json", "summary", "summary_pdf")
# The kinds a run writes unless told otherwise: all of them.
DEFAULT_KINDS = KINDS

# Hidden names of files that are not results yet: ".facemirror-<role>-<pid>-<host><random><ext>".
# partial: being written; old: an earlier result moved aside while publishing; journal: the
# publishing plan (for rollback after a kill). The host tag keeps a run on another computer
# (shared network folder) from taking our process ids for its own.
TEMP_PREFIX = ".facemirror-"
TEMP_ROLES = ("partial", "old", "journal")
# Names derived from ours by a library (a leading dot, a further suffix) count as ours too.
_TEMP_RE = re.compile(r"^\.{1,2}facemirror-(partial|old|journal)-(\d+)-([0-9a-f]{4})([0-9a-f]{6})([.\-_].*)?$")
TEMP_NAME_MAX = len(".facemirror-journal-") + 10 + 1 + 10 + 6   # pid up to 10 digits, ext up to 6
NAME_MAX_DEFAULT = 255
MIN_FREE_BYTES = 50_000_000


class OutputError(RuntimeError):
    """Outputs cannot be written; the message is for the user."""


class OutputsExist(OutputError):
    """Earlier results are in the way. The message says which; each front end adds how to replace
    them in its own terms (--overwrite, the window's "Replace existing outputs")."""

    def __init__(self, message: str, existing: Sequence[Path]):
        super().__init__(message)
        self.existing = list(existing)


# ---- names ------------------------------------------------------------------------------------------

def read_json_object(path: Path) -> dict | None:
    """A JSON object from a file FaceMirror wrote (report, measures), or None when it is missing,
    unreadable, not JSON or not an object: readers of earlier results skip such files. Only a
    regular file is opened: a named pipe where a study table points would block the reader forever."""
    if not Path(path).is_file():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def output_paths(input_path: Path, out_dir: Path, annotated: bool = True,
                 kinds: Sequence[str] = DEFAULT_KINDS) -> dict[str, Path]:
    """The files this run writes (kinds minus the annotated video when not wanted)."""
    stem = Path(input_path).stem
    return {k: Path(out_dir) / f"{stem}{SUFFIX[k]}" for k in kinds if annotated or k != "annotated"}


def all_output_paths(stem: str, out_dir: Path) -> dict[str, Path]:
    """Every kind for NAME, produced this time or not: the set that is replaced as a whole."""
    return {k: Path(out_dir) / f"{stem}{SUFFIX[k]}" for k in KINDS}


def _stem_of(kind: str, final: Path) -> str:
    return final.name[: -len(SUFFIX[kind])]


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"


def temp_name(role: str, ext: str = "", pid: int | None = None) -> str:
    """A fresh hidden name of the app's temporary pattern, independent of the result's name."""
    assert role in TEMP_ROLES
    return f"{TEMP_PREFIX}{role}-{pid or os.getpid()}-{_host_tag()}{secrets.token_hex(3)}{ext}"


def temp_path(final: Path) -> Path:
    """Where ``final`` is written until it is published (same folder, same extension)."""
    return final.with_name(temp_name("partial", final.suffix))


def parse_temp_name(name: str) -> tuple[str, int, str] | None:
    """(role, pid, host tag) of one of the app's temporary names, else None."""
    m = _TEMP_RE.match(name)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


# ---- checks before work -----------------------------------------------------------------------------

def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX_DEFAULT


def preflight(paths: dict[str, Path], overwrite: bool, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse early, before any work: existing outputs (of any kind), names too long for the file
    system, unwritable folder, almost full disk."""
    first_kind, first = next(iter(paths.items()))
    out_dir = first.parent
    _make_output_folder(out_dir)
    _refuse_long_names(_stem_of(first_kind, first), out_dir)
    _refuse_existing_outputs(_stem_of(first_kind, first), out_dir, overwrite)
    _refuse_unwritable_or_full(out_dir, min_free_bytes)


def _make_output_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output folder {out_dir} is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc


def _refuse_long_names(stem: str, out_dir: Path) -> None:
    name_max = _name_max(out_dir)
    longest = max((p.name for p in all_output_paths(stem, out_dir).values()),
                  key=lambda n: len(os.fsencode(n)))
    if len(os.fsencode(longest)) > name_max:
        suffix = max(SUFFIX.values(), key=len)
        raise OutputError(f"the input's name is too long for its outputs: NAME{suffix} would be "
                          f"{len(os.fsencode(longest))} bytes, the file system allows {name_max}. "
                          "Rename the input to a shorter name.")


def _refuse_existing_outputs(stem: str, out_dir: Path, overwrite: bool) -> None:
    existing = [p for p in all_output_paths(stem, out_dir).values() if os.path.lexists(p)]
    folders = [p for p in existing if p.is_dir() and not p.is_symlink()]
    if folders:
        raise OutputError(f"{folders[0]} is a folder, not an output file; nothing was changed.")
    if existing and not overwrite:
        names = ", ".join(p.name for p in existing)
        raise OutputsExist(f"outputs already exist in {out_dir} ({names}); nothing was changed.", existing)


def _refuse_unwritable_or_full(out_dir: Path, min_free_bytes: int) -> None:
    probe = out_dir / temp_name("partial", ".tmp")
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"output folder {out_dir} is not writable: {exc.strerror or exc}") from exc
    free = shutil.disk_usage(out_dir).free
    if free < min_free_bytes:
        raise OutputError(f"not enough free disk space in {out_dir} ({free / 1e6:.0f} MB free)")


def write_error_message(exc: OSError) -> str:
    """Plain words for a failed write."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (or the quota is used up); free some space and run again"
    if exc.errno == errno.EFBIG:
        return "a file grew larger than this file system or account allows"
    return str(exc.strerror or exc)


# ---- the result set ---------------------------------------------------------------------------------

@dataclass
class OutputSet:
    """The temporary files of one run; ``publish()`` puts them in place all at once, ``discard()``
    removes them. ``final``: the kinds this run writes; ``temp``: where each is written."""
    final: dict[str, Path]
    temp: dict[str, Path] = field(default_factory=dict)
    scope: Sequence[str] = KINDS     # the kinds replaced as a whole (`measures` recomputes only its own)

    def __post_init__(self):
        self.temp = {k: temp_path(p) for k, p in self.final.items()}
        kind, first = next(iter(self.final.items()))
        self.out_dir = first.parent
        self.everything = {k: p for k, p in all_output_paths(_stem_of(kind, first), self.out_dir).items()
                           if k in self.scope}

    def drop(self, kind: str) -> None:
        """This run will not produce `kind` after all (an older one is still removed on publish)."""
        tmp = self.temp.pop(kind, None)
        self.final.pop(kind, None)
        if tmp is not None:
            _remove(tmp)

    def publish(self, overwrite: bool) -> None:
        present = self._check_publishable(overwrite)
        plan = self._plan(present)
        journal = self.out_dir / temp_name("journal", ".json")
        try:
            _write_journal(journal, plan, committed=False)
        except OSError as exc:
            raise OutputError(f"cannot write in {self.out_dir}: {write_error_message(exc)}; "
                              "nothing was changed") from exc
        self._swap_in(plan, journal)
        _write_journal(journal, plan, committed=True, best_effort=True)
        for step in plan:
            if step["old"]:
                _remove(self.out_dir / str(step["old"]))
        _remove(journal)

    def _check_publishable(self, overwrite: bool) -> dict[str, Path]:
        """Every temporary file complete, and no result appeared meanwhile unless overwriting;
        returns the results already present (those the publish replaces)."""
        for k, tmp in self.temp.items():
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise OutputError(f"{self.final[k].name} was not written completely; nothing was published")
        present = {k: p for k, p in self.everything.items() if os.path.lexists(p)}
        if present and not overwrite:
            raise OutputError(f"{next(iter(present.values()))} appeared while processing; nothing was "
                              "replaced and nothing was published")
        return present

    def _plan(self, present: dict[str, Path]) -> list[dict]:
        """One step per result touched: its final name, where the earlier file is parked (old) and
        the temporary file that replaces it (new); the journal records this for recovery."""
        return [{"kind": k, "final": p.name, "old": temp_name("old", p.suffix) if k in present else None,
                 "new": self.temp[k].name if k in self.temp else None}
                for k, p in self.everything.items() if k in present or k in self.temp]

    def _swap_in(self, plan: list[dict], journal: Path) -> None:
        """Park the earlier files, then place the new ones; on any failure undo what was done (so
        the folder holds the earlier set) and say why."""
        done: list[tuple[str, dict]] = []
        try:
            for step in plan:
                if step["old"]:
                    os.rename(self.out_dir / str(step["final"]), self.out_dir / str(step["old"]))
                    done.append(("old", step))
            for step in plan:
                if step["new"]:
                    _place_no_clobber(self.out_dir / str(step["new"]), self.out_dir / str(step["final"]))
                    done.append(("new", step))
        except OSError as exc:
            problem = _rollback(self.out_dir, done)
            _remove(journal)
            raise self._swap_error(exc, problem) from exc

    def _swap_error(self, exc: OSError, problem: str) -> OutputError:
        if isinstance(exc, (FileNotFoundError, FileExistsError)):
            # a result file vanished or appeared under us: another run (or program) was putting
            # results in place in the same folder at the same moment; what is there is now its
            return OutputError(f"another run wrote the same results into {self.out_dir} at the same moment; "
                               "this run published nothing, and the files there are now the other run's "
                               "(check them, or run this file again)")
        name = self._user_name(Path(exc.filename or ""))
        return OutputError(f"cannot move the outputs into place ({name}: {write_error_message(exc)}); "
                           + (problem or "the earlier results were left as they were"))

    def _user_name(self, path: Path) -> str:
        """The result file a path stands for: never one of this run's hidden temporary names."""
        for k, tmp in self.temp.items():
            if path.name == tmp.name:
                return self.final[k].name
        return path.name if path.name and not path.name.startswith(".") else "a result file"

    def discard(self) -> list[Path]:
        """Remove the temporary files; returns those that could not be removed (e.g. the folder
        became read-only), so the caller can say where they are."""
        return [tmp for tmp in self.temp.values() if not _remove(tmp)]

    def left_behind_message(self, left: list[Path]) -> str:
        if not left:
            return ""
        return (f" {plural(len(left), 'partial file')} could not be removed from {self.out_dir} "
                f"({', '.join(p.name for p in left[:3])}{', ...' if len(left) > 3 else ''}): the next run that "
                "writes there removes them, or delete them once the folder can be written again.")


def _write_journal(path: Path, plan: list[dict], committed: bool, best_effort: bool = False) -> None:
    data = json.dumps({"app": APP_NAME, "committed": committed, "plan": plan}).encode()
    tmp = path.with_name(temp_name("partial", ".json"))
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        _remove(tmp)
        if not best_effort:
            raise


def _place_no_clobber(src: Path, dst: Path) -> None:
    """Rename that never replaces an existing file (hard link + unlink where links work)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(dst):   # file systems without hard links (exFAT, some network shares)
            raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
        os.rename(src, dst)
        return
    _remove(src)


def _rollback(folder: Path, done: list[tuple[str, dict]]) -> str:
    """Undo the renames done so far, newest first. Returns "" or what could not be undone.

    An earlier result is put back only where nothing stands now: when another run has placed its
    own file there meanwhile (two --overwrite runs at once), that newer result is kept and the
    earlier one, which both runs were replacing, is removed."""
    stuck = []
    for what, step in reversed(done):
        final = folder / step["final"]
        try:
            if what == "new":
                os.rename(final, folder / step["new"])
            else:
                try:
                    _place_no_clobber(folder / step["old"], final)
                except FileExistsError:
                    _remove(folder / step["old"])
        except OSError as exc:
            log.error("rollback of %s failed: %s", final, exc)
            stuck.append(f"{step['old'] or step['new']} -> {step['final']}")
    if stuck:
        return ("some earlier results could not be put back; they are in hidden files in "
                f"{folder}: " + ", ".join(stuck))
    return ""


def _remove(path: Path) -> bool:
    """True when the file is gone."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return False
    return True


# ---- files left by runs that were killed ------------------------------------------------------------

def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this computer still runs (ours, someone else's, or cannot tell)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True        # someone else's process
    except OSError:
        return True        # cannot tell: keep its files
    return True


@dataclass
class Cleanup:
    folder: Path
    removed: list[Path] = field(default_factory=list)       # partial files of dead runs
    restored: list[Path] = field(default_factory=list)      # earlier results put back by a rollback
    withdrawn: list[Path] = field(default_factory=list)     # half-published new results taken back by a rollback
    completed: list[Path] = field(default_factory=list)     # results of a publish that was complete, kept
    kept: list[Path] = field(default_factory=list)          # earlier results moved aside, no journal
    pids: set[int] = field(default_factory=set)

    def message(self) -> str:
        """What was done, one clause per kind of file, in _CLEANUP_WORDS's order ("" when nothing)."""
        pids = ", ".join(str(p) for p in sorted(self.pids))
        done = [(words, getattr(self, kind)) for kind, words in _CLEANUP_WORDS]
        return "; ".join(words.format(folder=self.folder, pids=pids, count=len(files),
                                      partial_files=plural(len(files), "partial file"),
                                      names=", ".join(p.name for p in files))
                         for words, files in done if files)


# What clean_stale_files did with each kind of file (a Cleanup list), in the order its message says it.
_CLEANUP_WORDS = (
    ("removed", "removed {partial_files} left in {folder} by an interrupted run (process {pids})"),
    ("withdrawn", "rolled back a publish that an interrupted run had cut short in {folder}: removed its "
                  "incomplete set {names}"),
    ("restored", "put back the earlier results {names} that an interrupted run had moved aside"),
    ("completed", "finished a publish that an interrupted run had completed in {folder} ({names} kept)"),
    ("kept", "kept {count} earlier result file(s) that an interrupted run had moved aside in {folder}: {names}"),
)


def clean_stale_files(folder: Path) -> Cleanup:
    """Remove the app's temporary files in ``folder`` whose process is gone (this computer only);
    finish the rollback of a publish that was killed half-way. Other files are never touched."""
    folder = Path(folder)
    result = Cleanup(folder)
    try:
        names = os.listdir(folder)
    except OSError:
        return result
    host = _host_tag()
    stale = []
    for name in names:
        parsed = parse_temp_name(name)
        if parsed and parsed[2] == host and not process_alive(parsed[1]):
            stale.append((parsed[0], name, parsed[1]))
    for role, name, pid in sorted(stale, key=lambda s: s[0] != "journal"):   # journals first
        path = folder / name
        if not os.path.lexists(path):
            continue               # handled by a journal
        if role == "old":
            # An earlier result moved aside; only its journal may decide. Never deleted without one.
            result.kept.append(path)
            continue
        result.pids.add(pid)
        if role == "journal":
            _recover_journal(path, result)
        else:
            _remove(path)
            result.removed.append(path)
    return result


def _recover_journal(journal: Path, result: Cleanup) -> None:
    """A run was killed while publishing: complete it (committed) or put the earlier set back;
    what was done goes into `result` (restored / withdrawn / completed), so the run says it."""
    folder = journal.parent
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        plan, committed = data["plan"], bool(data["committed"])
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("unreadable publish journal %s left in place", journal)
        return
    for step in plan:
        final = folder / step["final"]
        old = folder / step["old"] if step.get("old") else None
        new = folder / step["new"] if step.get("new") else None
        if committed:
            _complete_step(final, old, new, result)
        else:
            _undo_step(final, old, new, result)
    _remove(journal)


def _complete_step(final: Path, old: Path | None, new: Path | None, result: Cleanup) -> None:
    """The set was committed: only the parked earlier file is left to remove."""
    if old is not None:
        _remove(old)
    if new is not None and final.exists():
        result.completed.append(final)


def _undo_step(final: Path, old: Path | None, new: Path | None, result: Cleanup) -> None:
    """The set was not committed: put the earlier file back, or withdraw ours where there was none."""
    try:
        if old is not None and old.exists():
            os.replace(old, final)          # the earlier file wins over a half-published set
            result.restored.append(final)
        elif old is None and new is not None and final.exists() and (
                not new.exists() or os.path.samefile(new, final)):
            final.unlink()                  # ours, from the half-published set
            result.withdrawn.append(final)
    except OSError as exc:
        log.error("could not roll back %s: %s", final, exc)
    if new is not None:
        _remove(new)


# ---- inputs -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Input:
    path: Path
    root: Path | None = None     # the folder it was found in (as given), None for a file given by name


def own_output_report(path: Path) -> Path | None:
    """The FaceMirror report beside ``path`` if ``path`` is one of FaceMirror's outputs, else None.

    Recognised by name (NAME + an output suffix) AND by NAME_report.json beside it being a
    FaceMirror report, so a user's own "holiday_annotated.mp4" is still taken."""
    path = Path(path)
    if path.name.endswith(SUFFIX["report"]) and _is_facemirror_report(path):
        return path                      # the report itself (a shell glob of a results folder has it)
    for kind, suffix in SUFFIX.items():
        if kind != "report" and path.name.endswith(suffix) and len(path.name) > len(suffix):
            report = path.with_name(path.name[: -len(suffix)] + SUFFIX["report"])
            if _is_facemirror_report(report):
                return report
    return None


def _is_facemirror_report(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > 50_000_000:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("app"), dict) and data["app"].get("name") == APP_NAME


def expand_inputs(items: Iterable[Path], *, by_extension: bool = False
                  ) -> tuple[list[Input], list[tuple[Path, str]], list[Path]]:
    """Files and folders -> (inputs, refused with reasons, FaceMirror outputs skipped).

    Folders contribute the files with a video extension (recursively, hidden files excluded). A
    file named explicitly is taken as is (the reader then says clearly what it is) unless
    `by_extension`, as for files dropped on the window. FaceMirror's own outputs are never inputs:
    skipped, in folders and when named (a shell glob over a results folder names them). The same
    file given twice is processed once.
    """
    inputs: list[Input] = []
    refused: list[tuple[Path, str]] = []
    skipped: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            _expand_folder(item, inputs, refused, skipped)
        elif item.is_file():
            _take_named_file(item, by_extension, inputs, refused, skipped)
        else:
            refused.append((item, "no such file or folder"))
    return _unique_inputs(inputs), refused, skipped


def _expand_folder(folder: Path, inputs: list[Input], refused: list[tuple[Path, str]],
                   skipped: list[Path]) -> None:
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                   and not p.name.startswith("."))
    own = [p for p in found if own_output_report(p) is not None]
    skipped += own
    videos = [p for p in found if p not in own]
    if not videos:
        refused.append((folder, "folder contains no video files" if not own else
                        "folder contains only FaceMirror outputs"))
    inputs += [Input(p, folder) for p in videos]


def _take_named_file(item: Path, by_extension: bool, inputs: list[Input], refused: list[tuple[Path, str]],
                     skipped: list[Path]) -> None:
    if own_output_report(item) is not None:
        skipped.append(item)     # e.g. `process results/*`: earlier outputs are not failures
    elif by_extension and item.suffix.lower() not in VIDEO_EXTENSIONS:
        refused.append((item, "not a video file"))
    else:
        inputs.append(Input(item, None))


def _unique_inputs(inputs: list[Input]) -> list[Input]:
    """The same file (by its resolved path) once, first mention kept."""
    seen: set[Path] = set()
    unique = []
    for inp in inputs:
        key = inp.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(inp)
    return unique


def find_videos(inputs: list[Path], *, by_extension: bool = False) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into video files. Returns (videos, refused) with reasons."""
    found, refused, skipped = expand_inputs(inputs, by_extension=by_extension)
    named = {Path(p) for p in inputs}
    refused += [(p, "a FaceMirror output; not processed again") for p in skipped if p in named]
    return [i.path for i in found], refused


def out_dir_for(inp: Input, out: Path | None) -> Path:
    """Beside the input without --out; with it, videos found in a folder keep that folder (by its
    name) and their sub-folders under --out, so visit1/smile.mp4 and visit2/smile.mp4 never meet."""
    if out is None:
        return inp.path.parent
    if inp.root is None:
        return Path(out)
    return Path(out) / inp.root.resolve().name / inp.path.parent.relative_to(inp.root)


def _key(path: Path) -> str:
    # Case-insensitive: the default file systems of macOS and Windows are.
    return os.path.normcase(str(path.resolve())).casefold()


def find_collisions(jobs: Sequence[tuple[Path, Path]]) -> dict[Path, str]:
    """Inputs (input, out_dir) whose outputs would meet: the same NAME in the same output folder,
    or an output that would land on another input. Returns {input: reason} for every one of them
    (none is preferred over another)."""
    by_target: dict[str, list[Path]] = {}
    outputs_of: dict[str, Path] = {}
    for video, out_dir in jobs:
        by_target.setdefault(_key(Path(out_dir) / Path(video).stem), []).append(Path(video))
        for p in all_output_paths(Path(video).stem, out_dir).values():
            outputs_of[_key(p)] = Path(video)
    reasons: dict[Path, str] = {}
    for group in by_target.values():
        if len(group) > 1:
            for v in group:
                others = ", ".join(str(o) for o in group if o != v)
                reasons[v] = (f"its outputs would have the same names as those of {others} in the same "
                              "output folder; rename one, or give their folders instead of the files")
    for video, _ in jobs:
        owner = outputs_of.get(_key(Path(video)))
        if owner is not None and owner != Path(video):
            reasons[Path(video)] = f"an output of {owner} would replace this file"
            reasons.setdefault(owner, f"one of its outputs would replace the input {video}")
    return reasons


def distinct_labels(paths: Sequence[Path]) -> dict[Path, str]:
    """The shortest trailing part of each path (at least the file name) that tells it apart from
    the others: smile.mp4 when alone, visit1/smile.mp4 and visit2/smile.mp4 when both are there.
    Files sharing a NAME (smile.mp4, smile.mov) always show their folder."""
    paths = [Path(p) for p in paths]
    parts = {p: p.resolve().parts for p in paths}
    labels: dict[Path, str] = {}
    stems: dict[str, int] = {}
    for p in {parts[p]: p for p in paths}.values():
        stems[p.stem.casefold()] = stems.get(p.stem.casefold(), 0) + 1
    for p in paths:
        others = [parts[q] for q in paths if parts[q] != parts[p]]
        n = 2 if stems[p.stem.casefold()] > 1 else 1    # same NAME, other extension: show the folder too
        while n < len(parts[p]) and any(o[-n:] == parts[p][-n:] for o in others):
            n += 1
        labels[p] = str(Path(*parts[p][-n:])) if n < len(parts[p]) else str(p)
    return labels
