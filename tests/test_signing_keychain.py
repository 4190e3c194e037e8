"""packaging/with_signing_keychain.sh: the release's secrets exist only while the command runs.

`security` and `xcrun` are stubs (they log their argv as JSON lines and whether the secret files
exist at that moment); the script's own logic (trap, order, removal) is what runs. A failing step
is injected with STUB_FAIL (the stub's first argument that must fail, e.g. "import").
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "packaging" / "with_signing_keychain.sh"

STUB = r"""#!/usr/bin/env bash
name="$(basename "$0")"
python3 - "$name" "$@" <<'EOF' >> "$STUB_LOG"
import glob, json, os, sys
work = glob.glob(os.path.join(os.environ["SECRETS_DIR"], "facemirror-signing.*"))
files = sorted(os.path.basename(p) for w in work for p in glob.glob(os.path.join(w, "*")))
print(json.dumps({"tool": sys.argv[1], "argv": sys.argv[2:], "files": files}))
EOF
if [ "$name" = security ] && [ "${1-}" = list-keychains ] && [ "${3-}" != -s ]; then
  printf '    "/Users/runner/Library/Keychains/login.keychain-db"\n'
fi
if [ -n "${STUB_FAIL-}" ] && { [ "${1-}" = "$STUB_FAIL" ] || [ "${2-}" = "$STUB_FAIL" ]; }; then
  echo "$name $1: stub failure" >&2
  exit 1
fi
"""

SECRETS = {
    "MACOS_CERTIFICATE_P12": base64.b64encode(b"-- pkcs12 bytes --").decode(),
    "MACOS_CERTIFICATE_PASSWORD": "p12-password",
    "NOTARY_API_KEY_P8": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
    "NOTARY_API_KEY_ID": "KEYID12345",
    "NOTARY_API_ISSUER": "issuer-uuid",
}


@pytest.fixture
def env(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("security", "xcrun"):
        (bindir / tool).write_text(STUB)
        (bindir / tool).chmod(0o755)
    secrets_dir = tmp_path / "runner_temp"
    secrets_dir.mkdir()
    e = {k: v for k, v in os.environ.items() if not k.startswith(("FACEMIRROR_", "MACOS_", "NOTARY_"))}
    e.update(SECRETS, PATH=f"{bindir}{os.pathsep}{e['PATH']}", STUB_LOG=str(tmp_path / "calls.jsonl"),
             SECRETS_DIR=str(secrets_dir))
    return e


def _calls(env):
    log = Path(env["STUB_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _left(env):
    return sorted(p.name for p in Path(env["SECRETS_DIR"]).rglob("*"))


def _security(calls, sub):
    return [c for c in calls if c["tool"] == "security" and c["argv"][0] == sub]


def test_the_command_runs_with_the_profile_then_every_secret_is_gone(env, tmp_path):
    out = tmp_path / "seen.txt"
    cmd = ["bash", "-c", f'echo "$FACEMIRROR_NOTARY_PROFILE $FACEMIRROR_NOTARY_KEYCHAIN" > "{out}"; '
           f'ls "$(dirname "$FACEMIRROR_NOTARY_KEYCHAIN")" >> "{out}"']
    proc = subprocess.run(["bash", str(SCRIPT), *cmd], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    profile, keychain = out.read_text().splitlines()[0].split()
    assert profile == "facemirror-notary" and keychain.endswith("signing.keychain-db")
    # While the command ran, neither the certificate nor the API key file existed any more.
    assert out.read_text().splitlines()[1:] == []
    calls = _calls(env)
    imp = _security(calls, "import")[0]
    assert "cert.p12" in imp["files"] and imp["argv"][imp["argv"].index("-T") + 1] == "/usr/bin/codesign"
    store = next(c for c in calls if c["tool"] == "xcrun")
    assert "notary-key.p8" in store["files"] and "cert.p12" not in store["files"]
    assert [c["argv"][1] for c in _security(calls, "delete-keychain")] == [keychain]
    # The user's keychain search list is put back as it was.
    lists = [c["argv"][1:] for c in _security(calls, "list-keychains")]
    login = "/Users/runner/Library/Keychains/login.keychain-db"
    assert lists == [["-d", "user"], ["-d", "user", "-s", keychain, login], ["-d", "user", "-s", login]]
    assert _left(env) == []
    assert "p12-password" not in proc.stdout + proc.stderr and "PRIVATE KEY" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("failing", ["import", "set-key-partition-list", "store-credentials"])
def test_a_failing_step_still_removes_every_secret(env, failing, tmp_path):
    marker = tmp_path / "ran"
    env["STUB_FAIL"] = failing
    proc = subprocess.run(["bash", str(SCRIPT), "touch", str(marker)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and not marker.exists()
    assert _left(env) == [], "a secret file or the keychain folder was left behind"
    assert _security(_calls(env), "delete-keychain"), "the keychain was not deleted"
    assert "secrets removed" in proc.stdout


def test_the_commands_failure_is_reported_and_cleaned_up(env):
    proc = subprocess.run(["bash", str(SCRIPT), "bash", "-c", "exit 7"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 7
    assert _left(env) == [] and _security(_calls(env), "delete-keychain")


def test_missing_secret_fails_before_anything_is_written(env):
    env.pop("NOTARY_API_ISSUER")
    proc = subprocess.run(["bash", str(SCRIPT), "true"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "NOTARY_API_ISSUER is not set" in proc.stderr
    assert _calls(env) == [] and _left(env) == []


def test_a_cancelled_job_signal_still_removes_every_secret(env, tmp_path):
    """The runner cancels a job by signalling its process group: the trap cleans up."""
    ready = tmp_path / "ready"
    proc = subprocess.Popen(["bash", str(SCRIPT), "bash", "-c", f'touch "{ready}"; sleep 600'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert "secrets removed" in out
    assert _left(env) == [] and _security(_calls(env), "delete-keychain")
