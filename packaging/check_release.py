"""Assertions on a signed FaceMirror.app and on the release tag (run by the macOS workflow).

    python packaging/check_release.py tag TAG
        the tag (v1.2.3 or refs/tags/v1.2.3) names app.__version__: run before the long build
    python packaging/check_release.py app PATH/FaceMirror.app --mode release|ci [--tag TAG]
        what codesign and Info.plist say about the built app:
        - `codesign -d --entitlements - --xml`: camera and audio-input; a release nothing else, a
          CI build (build_macos.sh --ci-runtime) those plus disable-library-validation only;
        - `codesign -d --verbose=4`: the hardened runtime flag on the app's CodeDirectory, and on
          every nested Mach-O binary; a release is signed by a Developer ID with a Team ID and a
          secure timestamp, a CI build ad hoc;
        - Info.plist: both usage strings as spec_macos.py writes them, the bundle identifier, and
          CFBundleShortVersionString == app.__version__ (== the tag when one is given).

The commands go through a runner (argv -> (returncode, stdout, stderr)), so the checks are tested
on any machine with codesign's output recorded in the tests. Exit 1 with one line per problem.
"""
from __future__ import annotations

import argparse
import plistlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))
if str(_HERE) not in sys.path:
    sys.path.append(str(_HERE))

from app import __version__ as APP_VERSION  # noqa: E402
from spec_macos import BUNDLE_IDENTIFIER, CAMERA_USAGE, MICROPHONE_USAGE  # noqa: E402

Runner = Callable[[Sequence[str]], tuple[int, str, str]]

CAMERA = "com.apple.security.device.camera"
AUDIO_INPUT = "com.apple.security.device.audio-input"
NO_LIBRARY_VALIDATION = "com.apple.security.cs.disable-library-validation"
# What each kind of build must carry, exactly (packaging/entitlements.plist, entitlements-ci.plist).
ENTITLEMENTS = {
    "release": {CAMERA: True, AUDIO_INPUT: True},
    "ci": {CAMERA: True, AUDIO_INPUT: True, NO_LIBRARY_VALIDATION: True},
}
MACHO_MAGICS = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")


def run_command(argv: Sequence[str]) -> tuple[int, str, str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def version_of_tag(tag: str) -> str:
    """'refs/tags/v1.2.3' or 'v1.2.3' -> '1.2.3'."""
    name = tag.removeprefix("refs/tags/")
    return name[1:] if name.startswith("v") else name


def tag_problems(tag: str, version: str = APP_VERSION) -> list[str]:
    if version_of_tag(tag) != version:
        return [f"tag {tag} does not name the app's version {version} (app/__init__.py __version__): "
                f"tag v{version}, or change __version__ first"]
    return []


def parse_entitlements(stdout: str) -> dict | None:
    """The entitlements plist `codesign -d --entitlements - --xml` printed (None: none found)."""
    start = stdout.find("<?xml")
    if start < 0:
        start = stdout.find("<plist")
    if start < 0:
        return None
    try:
        return plistlib.loads(stdout[start:].encode())
    except Exception:  # noqa: BLE001 - an unreadable plist is reported as missing entitlements
        return None


def parse_signature(text: str) -> dict:
    """Facts of `codesign -d --verbose=4` (it writes to stderr): CodeDirectory flags, authorities,
    team, timestamp."""
    flags: list[str] = []
    m = re.search(r"^CodeDirectory .*?flags=0x[0-9a-fA-F]+\(([^)]*)\)", text, re.MULTILINE)
    if m:
        flags = [f for f in m.group(1).split(",") if f]
    team = re.search(r"^TeamIdentifier=(.*)$", text, re.MULTILINE)
    return {
        "flags": flags,
        "authorities": re.findall(r"^Authority=(.*)$", text, re.MULTILINE),
        "team": team.group(1).strip() if team else None,
        "timestamp": bool(re.search(r"^Timestamp=", text, re.MULTILINE)),
        "adhoc": "adhoc" in flags or bool(re.search(r"^Signature=adhoc", text, re.MULTILINE)),
    }


def signature_problems(sig: dict, mode: str, what: str) -> list[str]:
    problems = []
    if "runtime" not in sig["flags"]:
        problems.append(f"{what}: the hardened runtime flag is not set (CodeDirectory flags: {','.join(sig['flags']) or 'none'})")
    if mode == "release":
        if sig["adhoc"]:
            problems.append(f"{what}: signed ad hoc, not with the Developer ID")
        elif not any(a.startswith("Developer ID Application:") for a in sig["authorities"]):
            problems.append(f"{what}: not signed by a Developer ID Application certificate")
        if not sig["team"] or sig["team"] == "not set":
            problems.append(f"{what}: no Team ID in the signature")
        if not sig["timestamp"]:
            problems.append(f"{what}: no secure timestamp (notarization requires one)")
    elif not sig["adhoc"]:
        problems.append(f"{what}: a CI build is expected to be signed ad hoc")
    return problems


def nested_binaries(app: Path) -> list[Path]:
    """Every Mach-O file inside the app but its main executable (signed with the app)."""
    main = app / "Contents" / "MacOS" / app.stem
    out = []
    for f in sorted((app / "Contents").rglob("*")):
        if f.is_symlink() or not f.is_file() or f == main:
            continue
        with open(f, "rb") as fh:
            if fh.read(4) in MACHO_MAGICS:
                out.append(f)
    return out


def app_problems(app: Path, mode: str, tag: str | None = None, runner: Runner = run_command,
                 version: str = APP_VERSION) -> list[str]:
    app = Path(app)
    problems: list[str] = []
    rc, out, err = runner(["codesign", "-d", "--entitlements", "-", "--xml", str(app)])
    entitlements = parse_entitlements(out) if rc == 0 else None
    if entitlements is None:
        problems.append(f"no entitlements in the app's signature (codesign exit {rc}: {err.strip()[-200:]})")
    else:
        for key in (CAMERA, AUDIO_INPUT):
            if entitlements.get(key) is not True:
                problems.append(f"entitlement {key} is missing: the camera/microphone stay dark under the hardened runtime")
        extra = sorted(set(entitlements) - set(ENTITLEMENTS[mode]))
        if extra:
            problems.append(f"entitlements a {mode} build must not carry: {', '.join(extra)}")
        if mode == "ci" and entitlements.get(NO_LIBRARY_VALIDATION) is not True:
            problems.append(f"a CI build under the hardened runtime needs {NO_LIBRARY_VALIDATION}")
    rc, out, err = runner(["codesign", "-d", "--verbose=4", str(app)])
    if rc != 0:
        problems.append(f"codesign cannot read the app's signature (exit {rc}): {err.strip()[-200:]}")
    else:
        problems += signature_problems(parse_signature(out + err), mode, app.name)
        for binary in nested_binaries(app):
            rc, out, err = runner(["codesign", "-d", "--verbose=4", str(binary)])
            rel = binary.relative_to(app).as_posix()
            if rc != 0:
                problems.append(f"{rel}: not signed (codesign exit {rc})")
                continue
            problems += signature_problems(parse_signature(out + err), mode, rel)
    info_path = app / "Contents" / "Info.plist"
    try:
        info = plistlib.loads(info_path.read_bytes())
    except (OSError, plistlib.InvalidFileException) as exc:
        return problems + [f"cannot read {info_path}: {exc}"]
    for key, words in (("NSCameraUsageDescription", CAMERA_USAGE), ("NSMicrophoneUsageDescription", MICROPHONE_USAGE)):
        if info.get(key) != words:
            problems.append(f"Info.plist {key} is {info.get(key)!r}, not spec_macos.py's words: macOS kills an app "
                            "that opens the camera or microphone without it")
    if info.get("CFBundleIdentifier") != BUNDLE_IDENTIFIER:
        problems.append(f"Info.plist CFBundleIdentifier is {info.get('CFBundleIdentifier')!r}, not {BUNDLE_IDENTIFIER}")
    shown = info.get("CFBundleShortVersionString")
    if shown != version:
        problems.append(f"Info.plist version {shown!r} is not the app's version {version}")
    if tag is not None and shown != version_of_tag(tag):
        problems.append(f"Info.plist version {shown!r} does not equal the tag {tag}")
    return problems


def main(argv: Sequence[str] | None = None, runner: Runner = run_command) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tag")
    t.add_argument("tag")
    a = sub.add_parser("app")
    a.add_argument("app", type=Path)
    a.add_argument("--mode", choices=sorted(ENTITLEMENTS), required=True)
    a.add_argument("--tag")
    args = parser.parse_args(argv)
    if args.command == "tag":
        problems = tag_problems(args.tag)
    else:
        problems = app_problems(args.app, args.mode, args.tag, runner)
    for problem in problems:
        print(f"release check: {problem}", file=sys.stderr)
    what = f"tag {args.tag}" if args.command == "tag" else f"{args.app} ({args.mode})"
    print(f"release check: {'FAILED' if problems else 'ok'}: {what}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
