"""`process --shard I/N`: N array tasks given the same command line process every input exactly
once, and a file's shard never depends on the other files (app/batch/scale/shards.py)."""
from __future__ import annotations

import io
import tempfile
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.batch.process import plan_jobs
from app.base.outputs import Input
from app.batch.scale.shards import Shard, ShardError, input_key, parse_shard, select, shard_of
from tests.scale_helpers import finished_stems, make_clips, process, summary_rows, weights_dir  # noqa: F401

NAME = st.text(alphabet=st.sampled_from("abcXYZ019_-é "), min_size=1, max_size=8).map(str.strip).filter(bool)
REL_PATH = st.lists(NAME, min_size=1, max_size=3).map(lambda parts: "/".join(parts[:-1] + [parts[-1] + ".mp4"]))


def _inputs(rels, root="/data/study"):
    r = Path(root)
    return [Input(r / rel, r) for rel in rels]


@settings(max_examples=200, deadline=None)
@given(rels=st.sets(REL_PATH, max_size=60), count=st.integers(1, 40))
def test_every_input_is_in_exactly_one_shard(rels, count):
    inputs = _inputs(sorted(rels))
    taken = [select(inputs, Shard(i, count), input_key) for i in range(count)]
    flat = [inp for shard in taken for inp in shard]
    assert sorted(flat, key=str) == sorted(inputs, key=str)          # everyone, and nobody twice
    assert len(flat) == len(set(flat))


@settings(max_examples=100, deadline=None)
@given(rels=st.sets(REL_PATH, min_size=1, max_size=40), added=st.sets(REL_PATH, max_size=20),
       count=st.integers(2, 30))
def test_adding_files_never_moves_the_others(rels, added, count):
    """Array tasks start hours apart; a file copied into the study meanwhile must not shift others."""
    before = {inp: i for i in range(count) for inp in select(_inputs(rels), Shard(i, count), input_key)}
    grown = _inputs(sorted(rels | added))
    after = {inp: i for i in range(count) for inp in select(grown, Shard(i, count), input_key)}
    assert all(after[inp] == shard for inp, shard in before.items())


@settings(max_examples=30, deadline=None)
@given(rels=st.sets(REL_PATH, min_size=1, max_size=12), count=st.integers(1, 6))
def test_real_folders_are_split_without_gaps_or_overlaps(rels, count):
    """The planner itself (folders expanded on disk, collisions refused over ALL inputs first) over
    every shard: each file appears once, as a job or as a refused row of exactly one shard."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "visits"
        for rel in rels:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"")
        seen: list[Path] = []
        for i in range(count):
            args = SimpleNamespace(inputs=[str(root)], out=str(Path(tmp) / "res"))
            jobs, rows = plan_jobs(args, io.StringIO(), io.StringIO(), Shard(i, count))
            seen += [video for video, _ in jobs] + [row.path for row in rows]
        assert sorted(seen) == sorted(root / rel for rel in rels)


def test_key_ignores_mount_point_working_folder_and_unicode_form():
    a = Input(Path("/mnt/share/visits/p1/smile.mp4"), Path("/mnt/share/visits"))
    b = Input(Path("/Volumes/share/visits/p1/smile.mp4"), Path("/Volumes/share/visits"))
    assert input_key(a) == input_key(b) == "visits/p1/smile.mp4"
    nfd = unicodedata.normalize("NFD", "José")
    c = Input(Path(f"/x/visits/{nfd}/smile.mp4"), Path("/x/visits"))
    assert input_key(c) == "visits/José/smile.mp4"
    assert input_key(Input(Path("/anywhere/smile.mp4"), None)) == "smile.mp4"    # a file given by name


def test_shards_are_balanced_for_a_large_study():
    counts = [0] * 10
    for k in range(5000):
        counts[shard_of(f"visits/patient{k // 5}/take{k % 5}.mp4", 10)] += 1
    assert min(counts) > 420 and max(counts) < 580, counts      # binomial 500 +/- 22 (sd)


@pytest.mark.parametrize("text", ["3", "3/3", "-1/3", "a/b", "0/0", "1/2/3", ""])
def test_bad_shard_values_are_refused_with_one_sentence(text):
    with pytest.raises(ShardError) as exc:
        parse_shard(text)
    assert "\n" not in str(exc.value) and "--shard" in str(exc.value)


def test_shard_values_as_slurm_gives_them():
    assert parse_shard("0/1") == Shard(0, 1)
    assert parse_shard(" 99 / 100 ") == Shard(99, 100)


def test_array_tasks_together_process_every_video_once(tmp_path, weights_dir):  # noqa: F811
    clips = make_clips(tmp_path / "visits", 4, frames=2)     # nothing to measure: which files run is the point
    done: list[str] = []
    for i in range(3):
        code, out, err = process(tmp_path / "visits", "--out", tmp_path / "res", "--shard", f"{i}/3")
        assert code == 0, out + err
        assert f"shard {i}/3: " in out and " of 4 inputs" in out
        done += [name for name, status in summary_rows(out).items() if status == "done"] if "\nfile " in out else []
    assert sorted(done) == sorted(c.name for c in clips)
    assert finished_stems(tmp_path / "res") == {c.stem for c in clips}

    # a shard that no file hashes to succeeds with nothing to do (a scheduler must not see a failure)
    empty = next(i for i in range(50) if not any(shard_of(f"visits/{c.name}", 50) == i for c in clips))
    code, out, err = process(tmp_path / "visits", "--out", tmp_path / "res2", "--shard", f"{empty}/50")
    assert code == 0 and "no inputs in this shard" in out, out + err
    assert not (tmp_path / "res2").exists()

    code, out, err = process(tmp_path / "visits", "--out", tmp_path / "res3", "--shard", "4/4")
    assert code == 2 and "--shard 4/4" in err and not (tmp_path / "res3").exists()


@pytest.mark.parametrize("value,words", [
    ("", "--shard was given an empty value (an unset variable such as $SLURM_ARRAY_TASK_ID?)"),
    ("  ", "--shard was given an empty value"),
    ("-1/3", "--shard -1/3: I must be from 0 to N-1, not negative"),
    ("-0/-3", "--shard -0/-3: the number of shards N must be at least 1")])
def test_empty_or_negative_shard_through_the_command_line_is_our_one_sentence(tmp_path, value, words):
    """As an array job writes it (`--shard "$TASK"` with the variable unset gives ""): exit 2 before
    anything is read or written, never every input; main.py in a child process, as a scheduler runs it."""
    import subprocess
    import sys

    from tests.conftest import REPO

    clips = make_clips(tmp_path / "visits", 1)
    proc = subprocess.run([sys.executable, "main.py", "process", str(clips[0].parent), "--out", str(tmp_path / "res"),
                           "--shard", value], cwd=REPO, capture_output=True, text=True, timeout=300)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and err[0].startswith("error: ") and words in err[0], err
    assert not (tmp_path / "res").exists()
