"""`process --shard I/N`: a stable split of the inputs into N shards, so that N array tasks given
the same command line together process every input exactly once.

Assignment: shard = first 8 bytes of sha256(key) as an integer, modulo N, where the key is the
input's location relative to what was given on the command line: ``FOLDER/sub/dir/NAME.ext`` for a
video found in a given FOLDER (the folder's own name, as ``--out`` uses it), the file name for a
file given by name. Unicode is normalised (NFC) and separators are "/", so a share mounted at
another path, or a macOS client writing decomposed names, gives every task the same key.

Why a hash of the relative path, not the others:

* not the sha256 of the content: every one of N tasks would read every input to find its own
  (100 tasks x 1 TB of video = 100 TB read before any work);
* not "every N-th file of the sorted list": that depends on the whole list, and array tasks start
  at different times (`--array=0-99%20` runs 20 at once, the last ones maybe hours later). A file
  added to (or removed from) the study folder in between shifts every later file to another
  shard: some files are then processed twice and others never. With a per-file hash a file's shard
  depends on its own key only, so adding files never moves the others.

The price: shards are balanced only statistically (binomial; for 1000 files in 100 shards, 10 +/-
3 each), which an array job with throttling (`%20`) absorbs. Renaming or moving a file changes its
shard (and its outputs' place), like any re-organisation of a study folder.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from app.base.outputs import Input

_SPEC = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")
OPTION = "--shard"


class ShardError(ValueError):
    """A --shard value that cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class Shard:
    index: int      # 0-based, as SLURM_ARRAY_TASK_ID with --array=0-(N-1)
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """"I/N" with 0 <= I < N -> Shard; anything else raises ShardError. An empty value is an error,
    never "no shard": an array job whose task variable is unset would otherwise make every task
    process every input."""
    if not (text or "").strip():
        raise ShardError("--shard was given an empty value (an unset variable such as $SLURM_ARRAY_TASK_ID?); "
                         "give I/N, e.g. 3/100, or leave --shard out to process every input")
    m = _SPEC.match(text)
    if not m:
        raise ShardError(f"--shard takes I/N (e.g. 3/100, with I from 0 to N-1), not {text!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if index < 0:
        raise ShardError(f"--shard {text.strip()}: I must be from 0 to N-1, not negative (SLURM: --array=0-(N-1))")
    if count < 1:
        raise ShardError(f"--shard {text}: the number of shards N must be at least 1")
    if index >= count:
        raise ShardError(f"--shard {text}: I must be from 0 to {count - 1} (SLURM: --array=0-{count - 1})")
    return Shard(index, count)


def join_option_value(argv: list[str]) -> list[str]:
    """``--shard -1/3`` as ``--shard=-1/3``: argparse takes a value starting with "-" for an option
    and stops with its own message before ours (parse_shard's) can say what is wrong."""
    out = list(argv)
    for i in range(len(out) - 1):
        if out[i] == OPTION and out[i + 1].startswith("-") and "/" in out[i + 1]:
            out[i:i + 2] = [f"{OPTION}={out[i + 1]}"]
            break
    return out


def _normal(parts: Sequence[str]) -> str:
    return "/".join(unicodedata.normalize("NFC", p) for p in parts if p not in ("", "."))


def input_key(inp: Input) -> str:
    """The input's stable key: FOLDER/relative/path for a video found in a given folder (the
    folder's own name, so a different mount point or working directory gives the same key), the
    file name for a file given by name."""
    if inp.root is None:
        return _normal([inp.path.name])
    rel = inp.path.relative_to(inp.root)
    return _normal([inp.root.resolve().name, *rel.parts])


def given_key(path: PurePath) -> str:
    """Key of something refused before it became an input (a missing file, an empty folder): the
    path as given, identical in every task of an array job (they share the command line)."""
    return _normal(PurePath(path).parts)


def shard_of(key: str, count: int) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(items: Sequence, shard: Shard | None, key) -> list:
    """The items this shard takes (all of them without a shard), in their given order."""
    if shard is None:
        return list(items)
    return [it for it in items if shard.takes(key(it))]

