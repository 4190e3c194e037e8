"""`process --ray`: one Ray task per video on ONE local Ray for the whole session (started the way
the app starts a local Ray: loopback only, no dashboard). A worker killed mid-video is retried and
the result equals a plain run's; --resume and --shard work through Ray; no partial file is ever
published; exit codes as schedulers read them (0, 1, 2, 130, 143)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cluster import ray_task
from app.base.outputs import SUFFIX
from tests.conftest import REPO
from tests.scale_helpers import files, finished_stems, hidden, make_clips, process, summary_rows, weights_dir  # noqa: F401

# Under pytest-xdist every test of this module runs on one worker (tests/conftest.py, GROUPS "ray"): one
# local Ray (num_cpus=2) for the run; a Ray test in another module joins that group there.


@pytest.fixture(scope="session")
def ray_cluster():
    from app.cluster.ray_runner import import_ray, start_local

    ray = import_ray(None)
    if ray is None:
        pytest.skip("the cluster extra (ray) is not installed")
    if ray.is_initialized():
        ray.shutdown()
    context = start_local(ray, num_cpus=2)
    yield context.address_info["address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory, weights_dir):  # noqa: F811
    # 2 frames: nothing to measure (no summary charts and PDF in each task), and the crash of
    # CRASH_ONCE_ENV (at the second frame done) still comes before the video's outputs are finished
    return make_clips(tmp_path_factory.mktemp("ray") / "visits", 3, frames=2)


def _landmark_rows(folder: Path, stem: str) -> list[str]:
    return (folder / f"{stem}{SUFFIX['landmarks']}").read_text().splitlines()


def _listening_sockets() -> dict[int, str]:
    """inode -> local address of every listening TCP socket (Linux /proc)."""
    out = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A":                                   # LISTEN
                out[int(f[9])] = f[1][:width]
    return out


LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000",      # 127.0.0.1, ::1
                "0000000000000000FFFF00000100007F"}                         # ::ffff:127.0.0.1


def _descendants(root: int) -> set[int]:
    """This process and every process started under it (the local Ray's GCS, raylet, workers)."""
    parent = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                stat = (proc / "stat").read_text()
                parent[int(proc.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
    found, grew = {root}, True
    while grew:
        new = {pid for pid, ppid in parent.items() if ppid in found and pid not in found}
        found |= new
        grew = bool(new)
    return found


def test_local_ray_listens_on_loopback_only(ray_cluster):
    """No network beyond localhost: every socket the local Ray's processes listen on is 127.0.0.1."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc")
    assert ray_cluster.rsplit(":", 1)[0] == "127.0.0.1", ray_cluster
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    listening = _listening_sockets()
    ours: dict[int, int] = {}
    for pid in _descendants(os.getpid()):
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and int(target[8:-1]) in listening:
                    ours[int(target[8:-1])] = pid
        except OSError:
            continue                     # gone meanwhile
    assert len(set(ours.values())) >= 3, ours          # driver, GCS, raylet (and workers) were found
    assert all(listening[inode] in LOOPBACK_HEX for inode in ours), {pid: listening[i] for i, pid in ours.items()}


def test_killed_workers_are_retried_and_the_results_equal_a_plain_run(ray_cluster, clips, tmp_path, monkeypatch):
    code, out, err = process(clips[0].parent, "--out", tmp_path / "plain")
    assert code == 0, out + err
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    monkeypatch.setenv(ray_task.CRASH_ONCE_ENV, str(crashed))    # each video's first attempt dies at frame 2
    code, out, err = process(clips[0].parent, "--out", tmp_path / "ray", "--ray")
    assert code == 0, out + err
    assert sorted(p.name for p in crashed.iterdir()) == sorted(f"{c.stem}.crashed" for c in clips)   # all died once
    assert summary_rows(out) == {c.name: "done" for c in clips}
    assert "3 of 3 succeeded" in out and "[3/3 finished" in out
    for c in clips:
        assert _landmark_rows(tmp_path / "ray" / "visits", c.stem) == _landmark_rows(tmp_path / "plain" / "visits", c.stem)
    assert not hidden(tmp_path / "ray")       # the dead attempts' partial files were removed, none published
    assert finished_stems(tmp_path / "ray") == {c.stem for c in clips}


def test_resume_and_shards_through_ray(ray_cluster, clips, tmp_path):
    done: list[str] = []
    for i in range(2):
        code, out, err = process(clips[0].parent, "--out", tmp_path / "res", "--ray", "--shard", f"{i}/2", "--resume")
        assert code == 0, out + err
        done += [n for n, s in summary_rows(out).items() if s == "done"] if "\nfile " in out else []
    assert sorted(done) == sorted(c.name for c in clips)     # the two shards: every video exactly once
    before = files(tmp_path / "res")
    t0 = time.perf_counter()
    code, out, err = process(clips[0].parent, "--out", tmp_path / "res", "--ray", "--resume")
    assert code == 0, out + err
    assert summary_rows(out) == {c.name: "skipped" for c in clips}
    assert files(tmp_path / "res") == before
    print(f"\nresume through Ray, 3 finished videos: {time.perf_counter() - t0:.2f} s")


def test_a_failed_file_gives_exit_1_and_is_named(ray_cluster, clips, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.mp4").write_text("not a video")
    os.link(clips[0], folder / clips[0].name)
    code, out, err = process(folder, "--out", tmp_path / "res", "--ray", "--ray-cpus", "2")
    assert code == 1, out + err
    assert summary_rows(out) == {"broken.mp4": "failed", clips[0].name: "done"}
    assert out.rstrip().splitlines()[-1].endswith("not done: broken.mp4")
    assert not [n for n in files(tmp_path / "res") if "broken" in n]


def test_without_ray_one_sentence_with_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)          # `import ray` fails as if not installed
    code, out, err = process(tmp_path, "--ray")
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'facemirror[cluster]'" in err, err


@pytest.mark.parametrize("bad", [["--ray-cpus", "0"], ["--ray-retries", "-1"], ["--ray", "videos"]])
def test_bad_ray_options_are_usage_errors(tmp_path, bad):
    code, out, err = process(tmp_path, "--ray", *bad)
    assert code == 2 and err.startswith("error: --ray") and err.count("\n") == 1, err


def test_ray_options_without_ray_are_refused(tmp_path):
    from app.cli.main import main

    assert main(["process", str(tmp_path), "--ray-cpus", "2"]) == 2


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_cancel_a_ray_run_with_the_scheduler_exit_code(ray_cluster, tmp_path, weights_dir, sig, code):  # noqa: F811
    """A driver connected to the cluster (--ray ADDRESS) gets the signal mid-video: the task is
    killed, nothing is published, its partial files are removed, exit 128 + signal."""
    clip = make_clips(tmp_path / "in", 1, frames=240)[0]
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "main.py", "process", str(clip), "--out", str(tmp_path / "res"),
                             "--ray", ray_cluster], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # signalled only once the task writes its (hidden) partial files, mid-video: a generous deadline
    # for a loaded machine, and a failure (never a signal at another moment) if it passes
    deadline = time.monotonic() + 300
    while not hidden(tmp_path / "res") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    if not hidden(tmp_path / "res"):
        proc.kill()
        pytest.fail(f"no partial file within 300 s: {proc.communicate()}")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert summary_rows(out) == {clip.name: "cancelled"}
    assert files(tmp_path / "res") == {}, files(tmp_path / "res")     # nothing published, nothing left
