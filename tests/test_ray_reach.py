"""`process --ray ADDRESS` with an address where no Ray answers (issue 33): one sentence and exit 2
within seconds (Ray's own connect retries for minutes and ignores Ctrl-C), and Ctrl-C honoured
while it waits. No Ray cluster is started: the check comes before Ray is asked."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from app.cluster.ray_runner import ClusterError, check_reachable
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
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"Ray: reaching 127.0.0.1:{deaf_port}"), line + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert err.strip() == "cancelled before processing started; nothing was written"
    assert not (tmp_path / "res").exists()
