"""packaging/check_release.py: the assertions the macOS workflow makes on the signed app and the tag.

codesign cannot run here: its output is injected, in the format macOS 15's codesign prints
(`-d --verbose=4` writes to stderr, the hardened runtime shows on the CodeDirectory line as
`flags=0x10000(runtime)`, ad hoc as `flags=0x10002(adhoc,runtime)` with `Signature=adhoc` and
`TeamIdentifier=not set`; `-d --entitlements - --xml` prints the plist on stdout). The texts below
were written from that format, not captured on a Mac here.
"""
from __future__ import annotations

import plistlib
from pathlib import Path

from tests.packaging_scripts import load as load_packaging_script

import pytest

REPO = Path(__file__).resolve().parent.parent


_load = load_packaging_script


check = _load("facemirror_check_release_test", REPO / "packaging" / "check_release.py")
cfg = _load("facemirror_spec_config_release_test", REPO / "packaging" / "spec_config.py")
VERSION = cfg.APP_VERSION
MACHO_64 = b"\xcf\xfa\xed\xfe"

RELEASE_SIGNATURE = """Executable={exe}
Identifier=org.facemirror.FaceMirror
Format=app bundle with Mach-O thin (arm64)
CodeDirectory v=20500 size=1043 flags=0x10000(runtime) hashes=21+7 location=embedded
Hash type=sha256 size=32
CandidateCDHash sha256=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c
CandidateCDHashFull sha256=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c
Hash choices=sha256
CMSDigest=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c
CMSDigestType=2
CDHash=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c
Signature size=9046
Authority=Developer ID Application: Test Clinic (ABCDE12345)
Authority=Developer ID Certification Authority
Authority=Apple Root CA
Timestamp=7 Dec 2026 at 21:40:12
Notarization Ticket=stapled
Info.plist entries=22
TeamIdentifier=ABCDE12345
Runtime Version=15.0.0
Sealed Resources version=2 rules=13 files=4211
Internal requirements count=1 size=220
"""

ADHOC_SIGNATURE = """Executable={exe}
Identifier=org.facemirror.FaceMirror
Format=app bundle with Mach-O thin (arm64)
CodeDirectory v=20500 size=1043 flags=0x10002(adhoc,runtime) hashes=21+7 location=embedded
Hash type=sha256 size=32
CandidateCDHash sha256=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c
CDHash=4b1f0e3c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c
Signature=adhoc
Info.plist entries=22
TeamIdentifier=not set
Runtime Version=15.0.0
Sealed Resources version=2 rules=13 files=4211
Internal requirements count=0 size=12
"""

NO_RUNTIME = ADHOC_SIGNATURE.replace("flags=0x10002(adhoc,runtime)", "flags=0x2(adhoc)")


def _entitlements_xml(entitlements: dict) -> str:
    return plistlib.dumps(entitlements).decode()


def _app(tmp_path: Path, info: dict | None = None) -> Path:
    app = tmp_path / "FaceMirror.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    (app / "Contents" / "MacOS" / "FaceMirror").write_bytes(MACHO_64 + b"bootloader")
    lib = app / "Contents" / "Frameworks" / "PySide6" / "Qt" / "plugins" / "multimedia"
    lib.mkdir(parents=True)
    (lib / "libffmpegmediaplugin.dylib").write_bytes(MACHO_64 + b"plugin")
    (app / "Contents" / "Frameworks" / "cv2").mkdir()
    (app / "Contents" / "Frameworks" / "cv2" / "cv2.abi3.so").write_bytes(MACHO_64 + b"cv2")
    (app / "Contents" / "Resources").mkdir()
    (app / "Contents" / "Resources" / "base_library.zip").write_bytes(b"PK\x03\x04")
    plist = cfg.info_plist(VERSION, "41") if info is None else info
    plist = {**plist, "CFBundleExecutable": "FaceMirror"}
    (app / "Contents" / "Info.plist").write_bytes(plistlib.dumps(plist))
    return app


def _runner(entitlements: dict | None, signature: str, nested: dict[str, str] | None = None):
    """codesign as recorded: the app's entitlements and signature; nested binaries (by file name)
    get `nested[name]`, else the app's signature format."""
    calls = []

    def run(argv):
        calls.append(list(argv))
        path = argv[-1]
        if "--entitlements" in argv:
            if entitlements is None:
                return 0, "", f"Executable={path}/Contents/MacOS/FaceMirror\n"
            return 0, _entitlements_xml(entitlements), f"Executable={path}/Contents/MacOS/FaceMirror\n"
        text = (nested or {}).get(Path(path).name, signature)
        if text is None:
            return 1, "", f"{path}: code object is not signed at all\n"
        return 0, "", text.format(exe=path)
    run.calls = calls
    return run


RELEASE_ENT = {check.CAMERA: True, check.AUDIO_INPUT: True}
CI_ENT = {**RELEASE_ENT, check.NO_LIBRARY_VALIDATION: True}


def test_a_good_release_passes_and_every_nested_binary_is_read(tmp_path):
    app = _app(tmp_path)
    run = _runner(RELEASE_ENT, RELEASE_SIGNATURE)
    assert check.app_problems(app, "release", f"v{VERSION}", run) == []
    read = {Path(c[-1]).name for c in run.calls}
    assert {"FaceMirror.app", "libffmpegmediaplugin.dylib", "cv2.abi3.so"} <= read
    assert "FaceMirror" not in read and "base_library.zip" not in read  # the main exe is the app's


def test_a_good_ci_build_passes_ad_hoc_with_the_runtime(tmp_path):
    assert check.app_problems(_app(tmp_path), "ci", None, _runner(CI_ENT, ADHOC_SIGNATURE)) == []


def test_missing_entitlements_or_extra_ones_fail(tmp_path):
    app = _app(tmp_path)
    problems = check.app_problems(app, "release", None, _runner({check.CAMERA: True}, RELEASE_SIGNATURE))
    assert problems == [f"entitlement {check.AUDIO_INPUT} is missing: the camera/microphone stay dark under the hardened runtime"]
    problems = check.app_problems(app, "release", None, _runner(CI_ENT, RELEASE_SIGNATURE))
    assert problems == [f"entitlements a release build must not carry: {check.NO_LIBRARY_VALIDATION}"]
    problems = check.app_problems(app, "release", None, _runner(None, RELEASE_SIGNATURE))
    assert len(problems) == 1 and problems[0].startswith("no entitlements in the app's signature")
    problems = check.app_problems(app, "ci", None, _runner(RELEASE_ENT, ADHOC_SIGNATURE))
    assert problems == [f"a CI build under the hardened runtime needs {check.NO_LIBRARY_VALIDATION}"]


def test_the_runtime_flag_is_required_on_the_app_and_each_nested_binary(tmp_path):
    app = _app(tmp_path)
    problems = check.app_problems(app, "ci", None, _runner(CI_ENT, NO_RUNTIME))
    assert len(problems) == 3 and all("the hardened runtime flag is not set (CodeDirectory flags: adhoc)" in p for p in problems)
    problems = check.app_problems(app, "ci", None, _runner(CI_ENT, ADHOC_SIGNATURE, {"cv2.abi3.so": NO_RUNTIME}))
    assert problems == ["Contents/Frameworks/cv2/cv2.abi3.so: the hardened runtime flag is not set (CodeDirectory flags: adhoc)"]
    problems = check.app_problems(app, "ci", None, _runner(CI_ENT, ADHOC_SIGNATURE, {"cv2.abi3.so": None}))
    assert problems == ["Contents/Frameworks/cv2/cv2.abi3.so: not signed (codesign exit 1)"]


def test_a_release_signed_ad_hoc_or_without_timestamp_fails(tmp_path):
    app = _app(tmp_path)
    problems = check.app_problems(app, "release", None, _runner(RELEASE_ENT, ADHOC_SIGNATURE))
    assert f"{app.name}: signed ad hoc, not with the Developer ID" in problems
    assert f"{app.name}: no Team ID in the signature" in problems
    no_ts = RELEASE_SIGNATURE.replace("Timestamp=7 Dec 2026 at 21:40:12\n", "")
    problems = check.app_problems(app, "release", None, _runner(RELEASE_ENT, no_ts))
    assert problems.count(f"{app.name}: no secure timestamp (notarization requires one)") == 1 and len(problems) == 3


def test_usage_strings_identifier_and_version_are_read_from_info_plist(tmp_path):
    run = _runner(RELEASE_ENT, RELEASE_SIGNATURE)
    info = cfg.info_plist(VERSION, "41")
    del info["NSMicrophoneUsageDescription"]
    problems = check.app_problems(_app(tmp_path / "a", info), "release", None, run)
    assert len(problems) == 1 and problems[0].startswith("Info.plist NSMicrophoneUsageDescription is None")
    problems = check.app_problems(_app(tmp_path / "b"), "release", "v9.9.9", run)
    assert problems == [f"Info.plist version '{VERSION}' does not equal the tag v9.9.9"]
    problems = check.app_problems(_app(tmp_path / "c", cfg.info_plist("0.0.1")), "release", None, run)
    assert problems == [f"Info.plist version '0.0.1' is not the app's version {VERSION}"]


@pytest.mark.parametrize("tag, ok", [(f"v{VERSION}", True), (f"refs/tags/v{VERSION}", True), (f"v{VERSION}.1", False), ("v0.0.0", False)])
def test_the_tag_must_name_the_apps_version(tag, ok):
    assert (check.tag_problems(tag) == []) == ok


def test_command_line_exit_codes(tmp_path, capsys):
    app = _app(tmp_path)
    assert check.main(["app", str(app), "--mode", "ci"], runner=_runner(CI_ENT, ADHOC_SIGNATURE)) == 0
    assert "release check: ok" in capsys.readouterr().out
    assert check.main(["app", str(app), "--mode", "release"], runner=_runner(CI_ENT, ADHOC_SIGNATURE)) == 1
    assert "signed ad hoc" in capsys.readouterr().err
    assert check.main(["tag", "v0.0.0"]) == 1 and check.main(["tag", f"v{VERSION}"]) == 0
