"""Output files for one input video: names, pre-flight checks, all-or-nothing publishing.

For input NAME.ext the outputs are NAME_left_mirrored.mp4, NAME_right_mirrored.mp4,
NAME_annotated.mp4, NAME_landmarks.csv and NAME_report.json (DESIGN.md). Everything is written
under temporary names in the output folder and renamed into place only when the whole video has
been processed, so a cancel, a crash or a full disk never leaves a partial file, and existing
results are never overwritten unless asked.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mpg", ".mpeg", ".wmv", ".webm", ".mts", ".m2ts", ".3gp"}

KINDS = ("left_mirrored", "right_mirrored", "annotated", "landmarks", "report")
SUFFIX = {"left_mirrored": "_left_mirrored.mp4", "right_mirrored": "_right_mirrored.mp4",
          "annotated": "_annotated.mp4", "landmarks": "_landmarks.csv", "report": "_report.json"}
TEMP_MARK = ".facemirror-partial"


class OutputError(RuntimeError):
    """Outputs cannot be written; the message is for the user."""


def output_paths(input_path: Path, out_dir: Path, annotated: bool = True) -> dict[str, Path]:
    stem = Path(input_path).stem
    kinds = [k for k in KINDS if annotated or k != "annotated"]
    return {k: Path(out_dir) / f"{stem}{SUFFIX[k]}" for k in kinds}


def preflight(paths: dict[str, Path], overwrite: bool, min_free_bytes: int = 50_000_000) -> None:
    """Refuse early, before any work: existing outputs, unwritable folder, almost full disk."""
    out_dir = next(iter(paths.values())).parent
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output folder {out_dir} is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        names = ", ".join(p.name for p in existing)
        raise OutputError(f"outputs already exist in {out_dir} ({names}); nothing was changed. "
                          "Use --overwrite to replace them or choose another output folder.")
    try:
        probe = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".facemirror-write-test", delete=True)
        probe.close()
    except OSError as exc:
        raise OutputError(f"output folder {out_dir} is not writable: {exc.strerror or exc}") from exc
    free = shutil.disk_usage(out_dir).free
    if free < min_free_bytes:
        raise OutputError(f"not enough free disk space in {out_dir} ({free / 1e6:.0f} MB free)")


def temp_path(final: Path) -> Path:
    return final.with_name(f".{final.stem}{TEMP_MARK}-{os.getpid()}{final.suffix}")


@dataclass
class OutputSet:
    """Temporary files for one run; publish() renames them all, discard() removes them all."""
    final: dict[str, Path]
    temp: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self):
        self.temp = {k: temp_path(p) for k, p in self.final.items()}

    def publish(self, overwrite: bool) -> None:
        for k, tmp in self.temp.items():
            if not tmp.exists() or tmp.stat().st_size == 0:
                raise OutputError(f"{self.final[k].name} was not written completely")
        if not overwrite:
            clash = [p for p in self.final.values() if p.exists()]
            if clash:
                raise OutputError(f"{clash[0]} appeared while processing; not overwritten")
        try:
            for k, tmp in self.temp.items():
                os.replace(tmp, self.final[k])
        except OSError as exc:
            raise OutputError(f"cannot move outputs into place: {exc}") from exc

    def discard(self) -> None:
        for tmp in self.temp.values():
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass


def find_videos(inputs: list[Path], *, by_extension: bool = False) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into video files. Returns (videos, refused) with reasons.

    Folders contribute the files with a video extension. A file named explicitly is taken as
    is (the reader then says clearly what it is) unless `by_extension`, as for files dropped on
    the window, where a non-video extension is refused at once.
    """
    videos: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                           and not p.name.startswith("."))
            if not found:
                refused.append((item, "folder contains no video files"))
            videos.extend(found)
        elif item.is_file():
            if by_extension and item.suffix.lower() not in VIDEO_EXTENSIONS:
                refused.append((item, "not a video file"))
            else:
                videos.append(item)
        else:
            refused.append((item, "no such file or folder"))
    # Same file given twice: process once.
    seen, unique = set(), []
    for v in videos:
        key = v.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique, refused
