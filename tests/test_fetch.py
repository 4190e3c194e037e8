"""`models fetch` against a small HTTP server on 127.0.0.1 (never the internet)."""
from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.base import model_files
from app.convert import fetch

REPO = Path(__file__).resolve().parent.parent
STAR_BYTES = b"star-checkpoint-" * 5000
RF_BYTES = b"retinaface-ckpt-" * 3000


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    truncate: set = set()

    def do_GET(self):  # noqa: N802 - http.server API
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404, "Not Found")
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.truncate:
            self.wfile.write(body[: len(body) // 3])  # then hang up: an interrupted download
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.files = {"Landmark_98.pkl": STAR_BYTES, "Alignment_RetinaFace.pth": RF_BYTES}
    Handler.truncate = set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/models"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dest(tmp_path):
    d = tmp_path / "weights"
    d.mkdir()
    shutil.copy(REPO / "weights" / "manifest.json", d / "manifest.json")
    return d


def run_fetch(base, dest, *extra):
    return subprocess.run([sys.executable, "main.py", "models", "fetch", "--base-url", base, "--dest", str(dest),
                           "--timeout", "5", *extra], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_fetch_success_records_sha256(server, dest):
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert (dest / "Landmark_98.pkl").read_bytes() == STAR_BYTES
    assert (dest / "Alignment_RetinaFace.pth").read_bytes() == RF_BYTES
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["checkpoints"]["star"]["sha256"] == hashlib.sha256(STAR_BYTES).hexdigest()
    assert manifest["checkpoints"]["retinaface"]["sha256"] == hashlib.sha256(RF_BYTES).hexdigest()
    assert not list(dest.glob(".*part*"))
    # The project's own manifest is untouched by a fetch into another folder.
    assert json.loads((REPO / "weights" / "manifest.json").read_text())["checkpoints"]["star"]["sha256"] is None


def test_fetch_verifies_known_sha256(server, dest):
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["checkpoints"]["star"]["sha256"] = hashlib.sha256(STAR_BYTES).hexdigest()
    (dest / "manifest.json").write_text(json.dumps(manifest))
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert "sha256 verified" in proc.stdout


def test_wrong_checksum_keeps_nothing(server, dest):
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["checkpoints"]["star"]["sha256"] = "0" * 64
    (dest / "manifest.json").write_text(json.dumps(manifest))
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode != 0
    assert "does not match" in proc.stderr
    assert not (dest / "Landmark_98.pkl").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json"]


def test_404_is_one_clear_message(server, dest):
    Handler.files.pop("Landmark_98.pkl")
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode != 0
    assert "404" in proc.stderr and "Landmark_98.pkl" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json"]


def test_interrupted_download_leaves_no_partial_file(server, dest):
    Handler.truncate = {"Landmark_98.pkl"}
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode != 0
    assert "interrupted" in proc.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json"]


def test_no_network_fails_fast_and_says_where_to_put_files(dest):
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    proc = run_fetch("http://127.0.0.1:9/models", dest, "--no-convert")
    assert proc.returncode != 0
    assert "cannot reach" in proc.stderr
    assert str(dest) in proc.stderr  # where to put manually downloaded files
    assert "Traceback" not in proc.stderr


def test_existing_checkpoint_is_not_downloaded_again(server, dest):
    (dest / "Landmark_98.pkl").write_bytes(b"mine")
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert (dest / "Landmark_98.pkl").read_bytes() == b"mine"


def test_download_function_progress_and_atomic(server, tmp_path):
    import io

    out = io.StringIO()
    digest = fetch.download(f"{server}/Alignment_RetinaFace.pth", tmp_path / "rf.pth", out=out)
    assert digest == hashlib.sha256(RF_BYTES).hexdigest()
    assert "%" in out.getvalue()
    assert model_files.sha256_file(tmp_path / "rf.pth") == digest


def test_models_already_in_the_folder_are_not_fetched_again(server, dest):
    """The committed face detector (or a converted STAR) in the folder: its checkpoint is skipped."""
    (dest / "retinaface_mobilenet025.onnx").write_bytes(b"detector")
    Handler.files.pop("Alignment_RetinaFace.pth")   # would be a 404 if it were asked for
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert "retinaface_mobilenet025.onnx: already in" in proc.stdout
    assert (dest / "Landmark_98.pkl").read_bytes() == STAR_BYTES
    assert not (dest / "Alignment_RetinaFace.pth").exists()
    # Full STAR alone: its checkpoint is still needed, for the live model (issue 25).
    (dest / "star_landmark_98.onnx").write_bytes(b"star")
    (dest / "Landmark_98.pkl").unlink()
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert (dest / "Landmark_98.pkl").read_bytes() == STAR_BYTES
    # Both models made from STAR's checkpoint: it is not fetched.
    (dest / "star_landmark_98_live.onnx").write_bytes(b"live")
    (dest / "Landmark_98.pkl").unlink()
    Handler.files.pop("Landmark_98.pkl")
    proc = run_fetch(server, dest, "--no-convert")
    assert proc.returncode == 0, proc.stderr
    assert "star_landmark_98.onnx, star_landmark_98_live.onnx: already in" in proc.stdout
    assert not (dest / "Landmark_98.pkl").exists()


def test_make_models_installs_the_converter_extras_then_fetches(server, dest, tmp_path):
    """`make models` as wired in the Makefile; the venv is this interpreter and its install stamp
    is fresh, so make runs only the fetch (pointed at the local server)."""
    import os
    import time

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    venv.mkdir()
    dry = subprocess.run(["make", "-n", "models", f"VENV={venv}", f"PY={sys.executable}"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install" in line and "[convert]" in line)
    fetch_line = next(i for i, line in enumerate(lines) if "main.py models fetch" in line)
    assert install < fetch_line
    stamp = venv / ".installed-convert"
    stamp.touch()
    later = time.time() + 5
    os.utime(stamp, (later, later))  # newer than pyproject.toml: no reinstall
    args = f"--base-url {server} --dest {dest} --timeout 5 --no-convert"
    proc = subprocess.run(["make", "models", f"VENV={venv}", f"PY={sys.executable}", f"MODELS_ARGS={args}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pip install" not in proc.stdout
    assert (dest / "Landmark_98.pkl").read_bytes() == STAR_BYTES
