"""Shared by the study-at-scale tests (shards, resume, Ray, study table): tiny face clips, the
committed face detector alone (5-point mode), and `process` run in this process."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest

from app.base.outputs import SUFFIX
from tests import videos
from tests.conftest import MEDIA, REPO, _need

DETECTOR = REPO / "weights" / "retinaface_mobilenet025.onnx"


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A weights folder with only the committed face detector; the app (and every Ray worker, which
    gets FACEMIRROR_* from the driver) looks there alone."""
    folder = tmp_path_factory.mktemp("weights")
    shutil.copy(DETECTOR, folder / DETECTOR.name)
    old = os.environ.get("FACEMIRROR_WEIGHTS_DIR")
    os.environ["FACEMIRROR_WEIGHTS_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("FACEMIRROR_WEIGHTS_DIR", None)
    else:
        os.environ["FACEMIRROR_WEIGHTS_DIR"] = old


def make_clips(folder: Path, n: int, frames: int = 12, first_seed: int = 0, prefix: str = "clip") -> list[Path]:
    """`n` short clips of the shared portrait moving a little (240x300, 30 fps), each its own noise."""
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    h, w = base.shape[:2]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        params = videos.transform_sequence(frames, 6.0, 6.0, 0.03)
        _, fr = videos.transformed_frames(base, params, (w / 2, h * 0.4), noise_sigma=2.0, seed=first_seed + i)
        out.append(videos.write_video(folder / f"{prefix}{first_seed + i}.mp4", fr))
    return out


def process(*args) -> tuple[int, str, str]:
    """`python main.py process ARGS` in this process: (exit code, stdout, stderr)."""
    from app.cli.main import _build_parser

    parsed = _build_parser().parse_args(["process", *map(str, args)])
    out, err = io.StringIO(), io.StringIO()
    if parsed.ray is not None:
        from app.cluster.ray_runner import ray_process_command
        code = ray_process_command(parsed, out=out, err=err)
    else:
        from app.batch.process import process_command
        code = process_command(parsed, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def files(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `folder` (hidden ones included): (inode, mtime_ns, content hash), to prove a
    file was not written again."""
    if not folder.exists():
        return {}
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def hidden(folder: Path) -> list[str]:
    return [n for n in files(folder) if Path(n).name.startswith(".")]


def finished_stems(folder: Path) -> set[str]:
    return {p.name[: -len(SUFFIX["report"])] for p in folder.rglob("*" + SUFFIX["report"]) if not p.name.startswith(".")}


def summary_rows(stdout: str) -> dict[str, str]:
    """file label -> status, from the summary table at the end of `process`."""
    text = stdout[stdout.rindex("\nfile "):]
    rows = {}
    for line in text.splitlines()[2:]:
        parts = line.split()
        if len(parts) >= 2 and "succeeded" not in line:
            rows[parts[0]] = parts[1]
    return rows
