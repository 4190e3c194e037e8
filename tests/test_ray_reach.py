"""Ray edges that need no Ray cluster (issue 33): `process --ray ADDRESS` with an address where no
Ray answers is one sentence and exit 2 within seconds (Ray's own connect retries for minutes and
ignores Ctrl-C), Ctrl-C is honoured while it waits (the check comes before Ray is asked); the
driver's sweep of partial files left by workers that outlived a cancel."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from app.cluster.ray_runner import ClusterError, check_reachable
from tests.cli_runs import signal_when_ready
from tests.conftest import REPO

pytest.importorskip("ray", reason="the cluster extra (ray) is not installed")


@pytest.fixture
def deaf_port():
    """A loopback port whose listen queue is full: a new connection gets no answer at all (its SYN
    is dropped), like a firewalled or unplugged head node."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        pytest.skip("this system answers connections beyond a full listen queue")
    except TimeoutError:
        pass
    finally:
        probe.close()
    yield port
    filler.close()
    srv.close()


def _run(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "main.py", "process", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    return proc, time.monotonic() - t0


@pytest.mark.parametrize("address,words", [
    ("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1: nothing listens there (connection refused)"),
    ("no-such-host.invalid:6379", "the host name no-such-host.invalid is not known")])
def test_a_dead_or_unknown_address_is_one_sentence_and_exit_2_quickly(tmp_path, address, words):
    (tmp_path / "a.mp4").write_bytes(b"x")
    proc, seconds = _run(str(tmp_path / "a.mp4"), "--out", str(tmp_path / "res"), "--ray", address)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr
    assert seconds < 30, seconds                    # the bound; the refusal itself is immediate
    assert not (tmp_path / "res").exists()


def test_no_answer_is_an_error_after_the_timeout(deaf_port):
    t0 = time.monotonic()
    with pytest.raises(ClusterError) as exc:
        check_reachable(f"127.0.0.1:{deaf_port}", threading.Event(), timeout_s=1.0)
    assert f"cannot reach the Ray cluster at 127.0.0.1:{deaf_port}: no answer within 1 s" in str(exc.value)
    assert time.monotonic() - t0 < 30


def test_ctrl_c_while_waiting_for_an_address_that_does_not_answer(tmp_path, deaf_port):
    """The child says it is reaching the address (readiness), then gets SIGINT: it ends with 130 and
    one sentence, long before the reach timeout."""
    import signal

    (tmp_path / "a.mp4").write_bytes(b"x")
    proc = subprocess.Popen([sys.executable, "main.py", "process", str(tmp_path / "a.mp4"), "--out",
                             str(tmp_path / "res"), "--ray", f"127.0.0.1:{deaf_port}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def reaching(line: str) -> bool:          # readiness: its first line says it is reaching the address
        assert not line or line.startswith(f"Ray: reaching 127.0.0.1:{deaf_port}"), line
        return bool(line)

    out, err = signal_when_ready(proc, signal.SIGINT, reaching, timeout=120)
    assert proc.returncode == 130, out + err
    assert err.strip() == "cancelled before processing started; nothing was written"
    assert not (tmp_path / "res").exists()


def test_partials_of_workers_that_outlive_the_cancel_are_removed_once_they_die_and_said(tmp_path, capsys):
    """A signal to a local `--ray` run's whole process group can leave its workers alive past the
    driver's cancel (they die at Ray's shutdown): the driver's sweep waits for them, removes their
    hidden partial files and says so; files of a worker still alive at the deadline are named as left.
    The workers are stood in for by child processes whose ids the partial files carry."""
    import io

    from app.batch.process import CANCELLED, DONE, PlannedInput
    from app.cluster.ray_runner import sweep
    from app.batch.job_queue.summary import FileRow
    from app.base.outputs import temp_name

    dying = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    staying = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
        for folder, pid in ((a, dying.pid), (b, staying.pid), (c, dying.pid)):
            folder.mkdir()
            for ext in (".mp4", ".csv"):
                (folder / temp_name("partial", ext, pid=pid)).write_bytes(b"half")
        plan = SimpleNamespace(jobs=[PlannedInput(tmp_path / "v1.mp4", a), PlannedInput(tmp_path / "v2.mp4", b),
                                     PlannedInput(tmp_path / "v3.mp4", c)])
        rows = [FileRow(tmp_path / "v1.mp4", CANCELLED), FileRow(tmp_path / "v2.mp4", CANCELLED),
                FileRow(tmp_path / "v3.mp4", DONE)]         # a finished input's folder is not swept
        def end_first():                                    # the first "worker" exits a second later
            dying.stdin.close()
            dying.wait()                                    # reaped, as a worker that is not our child is

        threading.Timer(1.0, end_first).start()
        out, err = io.StringIO(), io.StringIO()
        sweep(plan, rows, out, err, wait_s=8.0)
        assert sorted(p.name for p in a.iterdir()) == []
        assert out.getvalue().splitlines()[0] == (f"removed 2 partial files left in {a} by an interrupted run "
                                                  f"(process {dying.pid})")
        assert len(list(b.iterdir())) == 2 and len(list(c.iterdir())) == 2
        assert err.getvalue().strip() == (f"warning: 2 partial files of worker processes still running (or on another "
                                          f"computer) remain in {b}; they are hidden, never results, and the next run "
                                          "writing there removes them")
    finally:
        for p in (dying, staying):
            if p.stdin and not p.stdin.closed:
                p.stdin.close()
            p.wait(timeout=60)
