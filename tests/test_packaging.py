"""Packaging: the macOS build script (with stub Apple tools), the spec's configuration, the icon.

Everything here runs on Linux in about a second: build_macos.sh runs against a fake
FaceMirror.app tree with stub codesign/xcrun/hdiutil/spctl/ditto/xattr/pyinstaller executables
that log their argv as JSON lines; the spec's pure parts come from packaging/spec_config.py; the
icns container is parsed. No PyInstaller build happens here.
"""
from __future__ import annotations

import ast
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

from tests.packaging_scripts import load as load_packaging_script

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
SCRIPT = PACKAGING / "build_macos.sh"
IDENTITY = "Developer ID Application: Test Clinic (ABCDE12345)"
PROFILE = "facemirror-test-profile"
MACHO_64 = b"\xcf\xfa\xed\xfe"  # MH_MAGIC_64, little-endian: what arm64 binaries start with


_load = load_packaging_script


cfg = _load("facemirror_spec_config_test", PACKAGING / "spec_config.py")


# ============================================================================================
# build_macos.sh with stub tools

# Each stub appends {"tool", "argv"[, "env"]} as one JSON line to $STUB_LOG and succeeds. Plain
# bash (no Python start-up per call) keeps a full script run around a tenth of a second.
STUB = r"""#!/usr/bin/env bash
esc() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
name="$(basename "$0")"
line="{\"tool\": $(esc "$name"), \"argv\": ["
sep=""
for a in "$@"; do line="$line$sep$(esc "$a")"; sep=", "; done
line="$line]"
if [ "$name" = pyinstaller ]; then
  line="$line, \"env\": {\"FACEMIRROR_SPEC_REQUIRE_MODELS\": $(esc "${FACEMIRROR_SPEC_REQUIRE_MODELS-}"),"
  line="$line \"FACEMIRROR_CODESIGN_IDENTITY\": $(esc "${FACEMIRROR_CODESIGN_IDENTITY-}"),"
  line="$line \"FACEMIRROR_ENTITLEMENTS\": $(esc "${FACEMIRROR_ENTITLEMENTS-}")}"
fi
# STUB_FAIL_<TOOL>=N: the first N calls of that tool fail (logged with "failed": true).
fail_var="STUB_FAIL_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')"
fail_n="${!fail_var:-0}"
if [ "$fail_n" -gt 0 ]; then
  count_file="$STUB_LOG.$name.count"
  count=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
  echo "$count" > "$count_file"
  if [ "$count" -le "$fail_n" ]; then
    printf '%s, "failed": true}\n' "$line" >> "$STUB_LOG"
    echo "$name: stub failure $count (e.g. timestamp service unavailable / Resource busy)" >&2
    exit 1
  fi
fi
printf '%s}\n' "$line" >> "$STUB_LOG"
# notarytool: submit answers with an id (numbered per call), wait with STUB_NOTARY_STATUS;
# "In Progress" makes wait exit 1, as when its --timeout ran out.
if [ "$name" = xcrun ] && [ "${1-}" = notarytool ] && [ "${2-}" = submit ]; then
  n=$(( $(cat "$STUB_LOG.submits" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$STUB_LOG.submits"
  printf '{"id": "0f1e2d3c-test-%s", "message": "Successfully uploaded file", "path": "%s"}\n' "$n" "$3"
fi
if [ "$name" = xcrun ] && [ "${1-}" = notarytool ] && [ "${2-}" = wait ]; then
  printf '{"id": "%s", "status": "%s", "message": "Processing complete"}\n' "$3" "${STUB_NOTARY_STATUS:-Accepted}"
  [ "${STUB_NOTARY_STATUS:-Accepted}" != "In Progress" ] || exit 1
fi
"""

STUB_TOOLS = ("codesign", "xcrun", "hdiutil", "spctl", "ditto", "xattr", "pyinstaller", "sleep")


@pytest.fixture
def stubs(tmp_path):
    bindir = tmp_path / "stubbin"
    bindir.mkdir()
    for tool in STUB_TOOLS:
        p = bindir / tool
        p.write_text(STUB)
        p.chmod(0o755)
    return bindir


def _write(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _framework(lib_dir: Path, name: str) -> Path:
    """A macOS-style versioned framework: Versions/A/NAME, Versions/Current -> A, top links."""
    fw = lib_dir / f"{name}.framework"
    _write(fw / "Versions" / "A" / name, MACHO_64 + b"framework binary")
    _write(fw / "Versions" / "A" / "Resources" / "Info.plist", b"<plist/>")
    (fw / "Versions" / "Current").symlink_to("A")
    (fw / name).symlink_to(f"Versions/Current/{name}")
    (fw / "Resources").symlink_to("Versions/Current/Resources")
    return fw


@pytest.fixture
def fake_app(tmp_path):
    """A FaceMirror.app shaped like PyInstaller's: code in Frameworks, data in Resources."""
    dist = tmp_path / "dist"
    app = dist / "FaceMirror.app"
    c = app / "Contents"
    _write(c / "Info.plist", b"<plist/>")
    main_exe = _write(c / "MacOS" / "FaceMirror", MACHO_64 + b"bootloader")
    fr = c / "Frameworks"
    code = [
        _write(fr / "Python", MACHO_64 + b"libpython"),  # Mach-O without a suffix
        _write(fr / "lib-dynload" / "_ssl.cpython-311-darwin.so", MACHO_64),
        _write(fr / "numpy" / "_core" / "_multiarray_umath.cpython-311-darwin.so", MACHO_64),
        _write(fr / "numpy" / "__dot__dylibs" / "libopenblas64_.0.dylib", MACHO_64),
        _write(fr / "onnxruntime" / "capi" / "onnxruntime_pybind11_state.so", MACHO_64),
        _write(fr / "onnxruntime" / "capi" / "libonnxruntime.1.32.0.dylib", MACHO_64),
        _write(fr / "cv2" / "cv2.abi3.so", MACHO_64),
        _write(fr / "cv2" / "__dot__dylibs" / "libavcodec.61.dylib", MACHO_64),
        _write(fr / "PySide6" / "QtCore.abi3.so", MACHO_64),
        _write(fr / "PySide6" / "QtWidgets.abi3.so", MACHO_64),
        _write(fr / "PySide6" / "Qt" / "plugins" / "platforms" / "libqcocoa.dylib", MACHO_64),
        _write(fr / "PySide6" / "Qt" / "plugins" / "styles" / "libqmacstyle.dylib", MACHO_64),
        _write(fr / "shiboken6" / "libshiboken6.abi3.6.12.dylib", MACHO_64),
    ]
    (fr / "numpy" / ".dylibs").symlink_to("__dot__dylibs")  # PyInstaller's dot-directory link
    lib = fr / "PySide6" / "Qt" / "lib"
    frameworks = [_framework(lib, "QtCore"), _framework(lib, "QtGui"), _framework(lib, "QtWidgets")]
    # A dylib and a framework nested inside a framework must be signed before their framework.
    code.append(_write(frameworks[0] / "Versions" / "A" / "Helpers" / "libhelper.dylib", MACHO_64))
    frameworks.insert(0, _framework(frameworks[0] / "Versions" / "A" / "Frameworks", "QtInner"))
    res = c / "Resources"
    data = [
        _write(res / "FaceMirror.icns", b"icns\x00\x00\x00\x08"),
        _write(res / "base_library.zip", b"PK\x03\x04"),
        _write(res / "weights" / "star_landmark_98.onnx", b"\x08\x07onnx"),
        _write(res / "weights" / "manifest.json", b"{}"),
    ]
    (res / "PySide6").symlink_to("../Frameworks/PySide6")
    return {"dist": dist, "app": app, "main_exe": main_exe, "code": code,
            "frameworks": frameworks, "data": data}


def _run(stubs: Path, dist: Path, *args: str, env_extra: dict | None = None, drop: tuple = ()):
    log = stubs.parent / "calls.jsonl"
    for old in [log, *stubs.parent.glob("calls.jsonl.*")]:  # each run starts with a fresh log
        old.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACEMIRROR_", "DRY_RUN"))}
    env.update({
        "PATH": f"{stubs}{os.pathsep}{env.get('PATH', '')}",
        "STUB_LOG": str(log),
        "DIST_DIR": str(dist),
        "BUILD_DIR": str(stubs.parent / "build"),
        "FACEMIRROR_CODESIGN_IDENTITY": IDENTITY,
        "FACEMIRROR_NOTARY_PROFILE": PROFILE,
        "FACEMIRROR_RETRY_DELAY": "1",
    })
    env.update(env_extra or {})
    for k in drop:
        env.pop(k, None)
    proc = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=120)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def _is_sign(call) -> bool:
    return call["tool"] == "codesign" and "--sign" in call["argv"]


def _opt(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _index(calls, pred) -> int:
    for i, c in enumerate(calls):
        if pred(c):
            return i
    raise AssertionError("no matching call in:\n" + "\n".join(json.dumps(c) for c in calls))


def test_release_run_signs_inside_out_then_notarizes_staples_and_packages(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    app = str(fake_app["app"])
    assert not any(c["tool"] == "pyinstaller" for c in calls)

    signs = [(i, c) for i, c in enumerate(calls) if _is_sign(c)]
    target = {c["argv"][-1]: i for i, c in signs}
    app_sign = target[app]

    # Every nested binary signed (each once), and before the app; no data file, no symlink.
    for f in fake_app["code"]:
        assert str(f) in target, f"{f} was not signed"
        assert target[str(f)] < app_sign
    signed_paths = [c["argv"][-1] for _, c in signs]
    assert len(signed_paths) == len(set(signed_paths)), "a file was signed twice"
    for f in fake_app["data"]:
        assert str(f) not in target
    assert not any(Path(p).is_symlink() for p in signed_paths)
    # The main executable is signed as part of the app; framework binaries with their framework.
    assert str(fake_app["main_exe"]) not in target
    for fw in fake_app["frameworks"]:
        assert str(fw) in target
        assert str(fw / "Versions" / "A" / fw.stem) not in target
        for f, i in target.items():
            if f.startswith(str(fw) + os.sep):
                assert i < target[str(fw)], f"{f} signed after its framework"

    # Code signatures: hardened runtime, secure timestamp, our identity; entitlements on the app only.
    dmg_signs = [c for _, c in signs if c["argv"][-1].endswith(".dmg")]
    for _, c in signs:
        a = c["argv"]
        assert "--timestamp" in a and _opt(a, "--sign") == IDENTITY and "--force" in a
        if c not in dmg_signs:
            assert _opt(a, "--options") == "runtime", a
    assert _opt(calls[app_sign]["argv"], "--entitlements") == str(PACKAGING / "entitlements.plist")
    assert [c for _, c in signs if "--entitlements" in c["argv"]] == [calls[app_sign]]
    assert app_sign == max(i for i, c in signs if not c["argv"][-1].endswith(".dmg"))

    verify = _index(calls, lambda c: c["tool"] == "codesign" and "--verify" in c["argv"])
    assert verify > app_sign
    assert {"--deep", "--strict", "--verbose=2"} <= set(calls[verify]["argv"]) and calls[verify]["argv"][-1] == app

    # Notarize the zipped app (submit, then wait on the saved id), then staple the app.
    submits = [i for i, c in enumerate(calls) if c["tool"] == "xcrun" and c["argv"][:2] == ["notarytool", "submit"]]
    waits = [i for i, c in enumerate(calls) if c["tool"] == "xcrun" and c["argv"][:2] == ["notarytool", "wait"]]
    assert len(submits) == 2 and len(waits) == 2
    for i, w, n in zip(submits, waits, (1, 2)):
        a = calls[i]["argv"]
        assert _opt(a, "--keychain-profile") == PROFILE and "--wait" not in a
        assert calls[w]["argv"][2] == f"0f1e2d3c-test-{n}" and i < w
        assert _opt(calls[w]["argv"], "--timeout") == "30m" and _opt(calls[w]["argv"], "--keychain-profile") == PROFILE
    zip_path = calls[submits[0]]["argv"][2]
    assert zip_path.endswith(".zip")
    zipping = _index(calls, lambda c: c["tool"] == "ditto" and c["argv"][-1] == zip_path)
    assert calls[zipping]["argv"][:3] == ["-c", "-k", "--keepParent"] and app in calls[zipping]["argv"]
    assert verify < zipping < submits[0]
    staple_app = _index(calls, lambda c: c["tool"] == "xcrun" and c["argv"][:2] == ["stapler", "staple"] and c["argv"][-1] == app)
    assert staple_app > waits[0]

    # DMG from the stapled app, then signed, notarized, stapled.
    create = _index(calls, lambda c: c["tool"] == "hdiutil" and c["argv"][:1] == ["create"])
    a = calls[create]["argv"]
    dmg = a[-1]
    assert create > staple_app
    assert _opt(a, "-volname") == "FaceMirror" and _opt(a, "-format") == "UDZO" and "-ov" in a and "-srcfolder" in a
    assert dmg.endswith(".dmg") and _app_version() in Path(dmg).name
    dmg_sign = _index(calls, lambda c: _is_sign(c) and c["argv"][-1] == dmg)
    assert dmg_sign > create
    assert calls[submits[1]]["argv"][2] == dmg and submits[1] > dmg_sign
    staple_dmg = _index(calls, lambda c: c["tool"] == "xcrun" and c["argv"][:2] == ["stapler", "staple"] and c["argv"][-1] == dmg)
    assert staple_dmg > waits[1]

    # Gatekeeper's view last.
    tail = calls[-2:]
    assert [c["tool"] for c in tail] == ["spctl", "spctl"]
    assert tail[0]["argv"] == ["--assess", "--type", "execute", "--verbose", app]
    assert tail[1]["argv"][:5] == ["-a", "-t", "open", "--context", "context:primary-signature"]
    assert tail[1]["argv"][-1] == dmg


def _app_version() -> str:
    return cfg.APP_VERSION


def test_build_step_runs_pyinstaller_on_the_spec_with_release_settings(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--no-notarize", "--no-dmg")
    assert proc.returncode == 0, proc.stderr
    assert calls[0]["tool"] == "pyinstaller"
    a = calls[0]["argv"]
    assert "--clean" in a and "--noconfirm" in a and a[-1] == str(REPO / "FaceMirror.spec")
    assert _opt(a, "--distpath") == str(fake_app["dist"])
    # A release build refuses missing or untrained models; PyInstaller itself only signs ad hoc.
    assert calls[0]["env"]["FACEMIRROR_SPEC_REQUIRE_MODELS"] == "1"
    assert not calls[0]["env"]["FACEMIRROR_CODESIGN_IDENTITY"]
    assert all(_is_sign(c) or c["tool"] in ("codesign", "xattr") for c in calls[1:])


def test_no_notarize_skips_notary_staple_and_gatekeeper(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize",
                       drop=("FACEMIRROR_NOTARY_PROFILE",))
    assert proc.returncode == 0, proc.stderr
    tools = [(c["tool"], c["argv"][0]) for c in calls]
    assert ("xcrun", "notarytool") not in tools and ("xcrun", "stapler") not in tools
    assert not any(c["tool"] == "spctl" for c in calls)
    assert any(c["tool"] == "hdiutil" for c in calls)


def test_dry_run_prints_every_step_and_calls_nothing(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    out = proc.stdout
    lines = [line for line in out.splitlines() if line.startswith("+ ")]
    for needle in ("pyinstaller", "codesign --force --options runtime --timestamp", "--entitlements",
                   "codesign --verify --deep --strict", "notarytool submit", "notarytool wait", "stapler staple",
                   "hdiutil create", "spctl --assess --type execute", "context:primary-signature"):
        assert any(needle in line for line in lines), needle
    for f in fake_app["code"]:
        assert any(line.endswith(str(f).replace(" ", "\\ ")) for line in lines), f
    # DRY_RUN=1 in the environment means the same.
    proc2, calls2 = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"DRY_RUN": "1"})
    assert proc2.returncode == 0 and calls2 == [] and "+ codesign" in proc2.stdout


def test_missing_identity_fails_clearly_before_any_tool_runs(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", drop=("FACEMIRROR_CODESIGN_IDENTITY",))
    assert proc.returncode != 0
    assert "FACEMIRROR_CODESIGN_IDENTITY is not set" in proc.stderr
    assert calls == []


def test_missing_notary_profile_fails_clearly(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", drop=("FACEMIRROR_NOTARY_PROFILE",))
    assert proc.returncode != 0
    assert "FACEMIRROR_NOTARY_PROFILE is not set" in proc.stderr and "--no-notarize" in proc.stderr
    assert calls == []


def test_rejected_notarization_stops_the_release(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"STUB_NOTARY_STATUS": "Invalid"})
    assert proc.returncode != 0
    assert "not accepted (Invalid)" in proc.stderr and "notarytool log 0f1e2d3c-test-1" in proc.stderr
    # A refused submission is not resumable: no saved id is left behind.
    assert not (fake_app["dist"] / "notary-state" / "app.id").exists()
    assert not any(c["tool"] == "xcrun" and c["argv"][0] == "stapler" for c in calls)
    assert not any(c["tool"] == "hdiutil" for c in calls)


def test_ad_hoc_signature_for_local_builds(stubs, fake_app):
    proc, _ = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"FACEMIRROR_CODESIGN_IDENTITY": "-"})
    assert proc.returncode != 0 and "--no-notarize" in proc.stderr
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize",
                       env_extra={"FACEMIRROR_CODESIGN_IDENTITY": "-"})
    assert proc.returncode == 0, proc.stderr
    signs = [c for c in calls if _is_sign(c)]
    assert signs and all(_opt(c["argv"], "--sign") == "-" and "--timestamp" not in c["argv"] for c in signs)
    # No hardened runtime on an ad-hoc build: its library validation refuses teamless dylibs.
    assert all("--options" not in c["argv"] for c in signs)


def test_skip_build_without_an_app_and_unknown_options_fail(stubs, tmp_path):
    proc, calls = _run(stubs, tmp_path / "empty_dist", "--skip-build")
    assert proc.returncode != 0 and "FaceMirror.app not found" in proc.stderr and calls == []
    proc, _ = _run(stubs, tmp_path / "empty_dist", "--frobnicate")
    assert proc.returncode != 0 and "unknown option" in proc.stderr


def test_notary_keychain_is_passed_to_notarytool(stubs, fake_app, tmp_path):
    kc = str(tmp_path / "ci signing.keychain-db")
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"FACEMIRROR_NOTARY_KEYCHAIN": kc})
    assert proc.returncode == 0, proc.stderr
    notary = [c["argv"] for c in calls if c["tool"] == "xcrun" and c["argv"][0] == "notarytool"]
    assert len(notary) == 4 and all(_opt(a, "--keychain") == kc and _opt(a, "--keychain-profile") == PROFILE
                                    for a in notary)


def test_missing_entitlements_file_fails(stubs, fake_app, tmp_path):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build",
                       env_extra={"FACEMIRROR_ENTITLEMENTS": str(tmp_path / "nope.plist")})
    assert proc.returncode != 0 and "entitlements file not found" in proc.stderr and calls == []


# ============================================================================================
# Spec configuration (packaging/spec_config.py) and the spec file itself

def test_info_plist_declares_videos_folders_version_and_retina():
    version = _app_version()
    import app

    assert version == app.__version__
    plist = cfg.info_plist(version)
    assert plist["CFBundleShortVersionString"] == version == plist["CFBundleVersion"]  # a local build
    # CI builds: CFBundleVersion is the run number, which only goes up; anything else is refused.
    assert cfg.info_plist(version, "1234")["CFBundleVersion"] == "1234"
    assert cfg.info_plist(version, "1234")["CFBundleShortVersionString"] == version
    with pytest.raises(ValueError, match=cfg.ENV_BUILD_NUMBER):
        cfg.bundle_version(version, "1.2-beta")
    assert plist["CFBundleIdentifier"] == cfg.BUNDLE_IDENTIFIER == "org.facemirror.FaceMirror"
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSMinimumSystemVersion"] == cfg.MIN_MACOS
    assert cfg.version_tuple(cfg.MIN_MACOS) >= (14, 4)  # onnxruntime 1.32 and numpy 2.4 are built for macOS 14
    # The minimum is what the macOS CI job runs on (a runner that exists).
    workflow = (REPO / ".github" / "workflows" / "macos.yml").read_text()
    assert f"runner: [macos-{cfg.MIN_MACOS.split('.')[0]}," in workflow
    assert "macos-14" not in workflow
    movies, folders = plist["CFBundleDocumentTypes"]
    for doc in (movies, folders):
        assert doc["CFBundleTypeRole"] == "Viewer" and doc["LSHandlerRank"] == "Alternate" and doc["CFBundleTypeName"]
    assert folders["LSItemContentTypes"] == ["public.folder"]  # a folder dropped on the Dock icon
    assert "public.movie" in movies["LSItemContentTypes"]
    # Every container the app accepts has its type declared (system types, or imported below).
    from app.base.outputs import VIDEO_EXTENSIONS

    assert set(cfg.CONTAINER_TYPES) == VIDEO_EXTENSIONS
    assert set(cfg.CONTAINER_TYPES.values()) <= set(movies["LSItemContentTypes"])
    imported = {t["UTTypeIdentifier"]: t for t in plist["UTImportedTypeDeclarations"]}
    assert set(imported) == {"org.matroska.mkv", "org.webmproject.webm"}
    assert imported["org.matroska.mkv"]["UTTypeTagSpecification"]["public.filename-extension"] == ["mkv"]
    assert all(t["UTTypeConformsTo"] == ["public.movie"] for t in imported.values())
    # plistlib must be able to write it (PyInstaller does exactly that).
    import plistlib

    assert plistlib.loads(plistlib.dumps(plist)) == plist


def test_excludes_keep_torch_and_converters_out():
    ex = cfg.excluded_modules(REPO / "app", ["QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtQml"])
    for name in ("torch", "torchvision", "onnx", "onnxscript", "tkinter", "app.convert",
                 "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore"):
        assert name in ex, name
    assert "PySide6.QtNetwork" not in ex  # the QtMultimedia binding imports it
    for name in ("app.convert.nets.star", "app.convert.star", "app.convert.retinaface", "app.convert.fetch"):
        assert cfg.is_excluded(name, ex), name
    # This round the app imports PyAV (video I/O) and matplotlib (plots for the measures summary; it
    # needs Pillow) at run time.
    for used in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtMultimedia", "PySide6.QtNetwork",
                 "onnxruntime", "cv2", "numpy",
                 "av", "matplotlib", "PIL"):
        assert not cfg.is_excluded(used, ex), used
    for lazy in ("av", "matplotlib", "PIL"):  # imported inside functions: listed as hidden imports
        assert lazy in cfg.RUNTIME_THIRD_PARTY
    hidden = cfg.app_hiddenimports(REPO / "app")
    assert "app.cli.main" in hidden and "app.base.paths" in hidden and "app.gui.main_window" in hidden
    assert "app.measures.summary" in hidden and "app.measures.command" in hidden
    assert not [m for m in hidden if cfg.is_excluded(m, ex)]
    assert not [m for m in hidden if m.startswith("app.convert")]


def test_every_binding_the_used_qt_modules_import_is_bundled():
    """Importing a kept binding imports others (QtMultimedia imports QtNetwork): each must be kept,
    or the frozen app fails at that import ("libshiboken: could not import module"). Checked on the
    installed PySide6, in a fresh interpreter."""
    code = ("import importlib, sys\n"
            f"for m in {list(cfg.USED_QT_MODULES)!r}: importlib.import_module('PySide6.' + m)\n"
            "print(' '.join(sorted(m.split('.')[1] for m in sys.modules if m.startswith('PySide6.Qt'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stderr
    imported = set(proc.stdout.split())
    assert "QtNetwork" in imported  # PySide6 6.11.3's QtMultimedia needs it; a new pin may not
    excluded = {m.split(".", 1)[1] for m in cfg.excluded_modules(REPO / "app", cfg.pyside6_modules_on_disk(
        Path(__import__("PySide6").__file__).parent)) if m.startswith("PySide6.")}
    assert not imported & excluded, f"bindings imported by the used ones but excluded: {sorted(imported & excluded)}"


def test_converter_package_excluded(tmp_path):
    app_dir = tmp_path / "app"
    for rel in ("__init__.py", "cli/__init__.py", "cli/main.py", "engine/__init__.py", "convert/__init__.py", "convert/star.py",
                "convert/fetch.py", "convert/nets/__init__.py", "convert/nets/net.py"):
        _write(app_dir / rel, b"")
    ex = cfg.excluded_app_modules(app_dir)
    assert "app.convert" in ex
    assert cfg.app_hiddenimports(app_dir) == ["app", "app.cli", "app.cli.main", "app.engine"]


def test_pyside6_modules_listed_from_disk(tmp_path):
    for n in ("QtCore.abi3.so", "QtNetwork.abi3.so", "QtGui.pyd", "libpyside6.abi3.so.6.12", "__init__.py"):
        _write(tmp_path / n)
    assert cfg.pyside6_modules_on_disk(tmp_path) == ["QtCore", "QtGui", "QtNetwork"]
    assert cfg.pyside6_modules_on_disk(None) == []


def test_cv2_qt_files_are_filtered_out():
    toc = [
        ("cv2/__init__.py", "/site/cv2/__init__.py", "DATA"),
        ("cv2/cv2.abi3.so", "/site/cv2/cv2.abi3.so", "EXTENSION"),
        ("cv2/qt/plugins/platforms/libqxcb.so", "/site/cv2/qt/plugins/platforms/libqxcb.so", "BINARY"),
        ("cv2/qt/fonts/DejaVuSans.ttf", "/site/cv2/qt/fonts/DejaVuSans.ttf", "DATA"),
        ("cv2\\qt\\plugins\\platforms\\qwindows.dll", "C:/site/cv2/qt/plugins/platforms/qwindows.dll", "BINARY"),
        ("libqxcb.so", "cv2/qt/plugins/platforms/libqxcb.so", "SYMLINK"),
        ("mycv2/qtstuff.py", "/x/mycv2/qtstuff.py", "DATA"),
    ]
    kept, dropped = cfg.filter_toc(toc)
    assert [e[0] for e in kept] == ["cv2/__init__.py", "cv2/cv2.abi3.so", "mycv2/qtstuff.py"]
    assert len(dropped) == 4


def test_unused_qt_plugins_and_libraries_are_filtered_out():
    keep = [
        "PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Widgets.so.6",
        "PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore",
        "PySide6/Qt/plugins/platforms/libqcocoa.dylib", "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/styles/libqmacstyle.dylib",
        "PySide6/Qt/plugins/imageformats/libqjpeg.dylib", "PySide6/QtWidgets.abi3.so",
        # the live camera: QtMultimedia, its FFmpeg backend plugin and what they link to
        "PySide6/Qt/lib/libQt6Multimedia.so.6", "PySide6/Qt/lib/QtMultimedia.framework/Versions/A/QtMultimedia",
        "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so", "PySide6/Qt/lib/libQt6Network.so.6",
        "PySide6/Qt/lib/libQt6Qml.so.6", "PySide6/Qt/lib/QtQuick.framework/Versions/A/QtQuick",
        "PySide6/Qt/lib/libavcodec.so.63", "PySide6/QtMultimedia.abi3.so",
        # the guided exam's spoken prompts: the binding, the library and the platform engines
        "PySide6/QtTextToSpeech.abi3.so", "PySide6/Qt/lib/libQt6TextToSpeech.so.6",
        "PySide6/Qt/lib/QtTextToSpeech.framework/Versions/A/QtTextToSpeech",
        "PySide6/Qt/plugins/texttospeech/libqtexttospeech_darwin.dylib",
        "PySide6/Qt/plugins/texttospeech/libqtexttospeech_speechd.so",
    ]
    drop = [
        "PySide6/Qt/plugins/texttospeech/libqtexttospeech_mock.so",      # a test engine that says nothing
        "PySide6/Qt/lib/libQt6Svg.so.6", "PySide6/Qt/lib/libQt6QuickControls2.so.6",
        "PySide6/Qt/lib/libQt6MultimediaQuick.so.6", "PySide6/Qt/lib/QtMultimediaWidgets.framework/Versions/A/QtMultimediaWidgets",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/QtWebEngineCore", "PySide6/Qt/lib/libQt6Pdf.so.6",
        "PySide6/Qt/lib/QtSvg.framework/Resources/Info.plist", "PySide6/Qt/translations/qtbase_de.qm",
        "onnxruntime/capi/libonnxruntime.1.32.0.dylib", "torch-2.13.0.dist-info/METADATA",
        "PySide6/Qt/plugins/imageformats/libqsvg.dylib", "PySide6/Qt/plugins/imageformats/libqpdf.so",
        "PySide6/Qt/plugins/iconengines/libqsvgicon.so", "PySide6/Qt/plugins/tls/libqopensslbackend.so",
        "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.dylib",
        "PySide6/Qt/plugins/qmltooling/libqmldbg_tcp.so",
    ]
    for d in keep + ["onnxruntime/capi/onnxruntime_pybind11_state.so", "torchvision_like/x.py",
                     "numpy-2.4.0.dist-info/METADATA"]:
        assert not cfg.should_drop(d), d
    assert "PySide6.QtMultimedia" in cfg.RUNTIME_THIRD_PARTY
    assert "PySide6.QtMultimedia" not in cfg.unused_pyside6_modules(["QtMultimedia", "QtWebEngineCore"])
    assert "PySide6.QtTextToSpeech" not in cfg.unused_pyside6_modules(["QtTextToSpeech"])
    assert "PySide6.QtWebEngineCore" in cfg.unused_pyside6_modules(["QtMultimedia", "QtWebEngineCore"])
    for d in drop:
        assert cfg.should_drop(d), d
    # The top-level symlink PyInstaller adds for a dropped library goes with it.
    toc = [("PySide6/Qt/lib/libQt6Svg.so.6", "/site/PySide6/Qt/lib/libQt6Svg.so.6", "BINARY"),
           ("libQt6Svg.so.6", "PySide6/Qt/lib/libQt6Svg.so.6", "SYMLINK"),
           ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK")]
    kept, dropped = cfg.filter_toc(toc)
    assert [e[0] for e in kept] == ["libQt6Core.so.6"]


def test_broken_link_check_names_the_offender():
    kept = [("a.so", "/src/a.so", "BINARY"), ("b.so", "/src/b.so", "EXTENSION"), ("x.txt", "/src/x.txt", "DATA")]
    dropped = [("PySide6/Qt/lib/libQt6Svg.so.6", "/src/libQt6Svg.so.6", "BINARY")]
    imports = {"/src/a.so": [("libQt6Svg.so.6", "/src/libQt6Svg.so.6"), ("libc.so.6", None)],
               "/src/b.so": [("libQt6Core.so.6", "/src/libQt6Core.so.6")]}
    broken = cfg.find_broken_links(kept, dropped, lambda src: imports.get(src, []))
    assert broken == [("a.so", "PySide6/Qt/lib/libQt6Svg.so.6")]
    assert cfg.find_broken_links(kept, [], lambda src: imports[src]) == []


def _macho(arch_cpu: int, minos: tuple[int, int], legacy: bool = False) -> bytes:
    """A minimal 64-bit little-endian Mach-O with one version load command."""
    ver = (minos[0] << 16) | (minos[1] << 8)
    if legacy:
        lc = struct.pack("<IIII", 0x24, 16, ver, ver)                   # LC_VERSION_MIN_MACOSX
    else:
        lc = struct.pack("<IIIIII", 0x32, 24, 1, ver, ver, 0)         # LC_BUILD_VERSION, platform macOS
    other = struct.pack("<II", 0x1B, 24) + b"\x11" * 16              # an unrelated command first (LC_UUID)
    hdr = struct.pack("<IiiIIIII", 0xFEEDFACF, arch_cpu, 0, 6, 2, len(other) + len(lc), 0, 0)
    return hdr + other + lc


def test_macho_minimum_macos_thin_and_fat(tmp_path):
    arm = _macho(0x0100000C, (14, 4))
    x86 = _macho(0x01000007, (10, 13), legacy=True)
    thin = _write(tmp_path / "thin.dylib", arm)
    assert cfg.macho_min_os(thin) == {"arm64": "14.4"}
    off1, off2 = 4096, 8192
    fat = bytearray(struct.pack(">II", 0xCAFEBABE, 2)
                    + struct.pack(">iiIII", 0x01000007, 3, off1, len(x86), 12)
                    + struct.pack(">iiIII", 0x0100000C, 0, off2, len(arm), 14))
    fat += b"\0" * (off1 - len(fat)) + x86
    fat += b"\0" * (off2 - len(fat)) + arm
    fatp = _write(tmp_path / "fat.so", bytes(fat))
    assert cfg.macho_min_os(fatp) == {"x86_64": "10.13", "arm64": "14.4"}
    assert cfg.macho_min_os(_write(tmp_path / "data.bin", b"not a binary at all")) == {}
    assert cfg.macho_min_os(_write(tmp_path / "Foo.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x41")) == {}

    new = _write(tmp_path / "new.so", _macho(0x0100000C, (26, 0)))
    entries = [("ok.dylib", str(thin), "BINARY"), ("PySide6/QtCore.abi3.so", str(new), "EXTENSION"),
               ("other/new.so", str(new), "BINARY"), ("fat.so", str(fatp), "BINARY")]
    reviewed = (("PySide6/*.abi3.so", "26.0"),)
    too_new, excused = cfg.check_min_macos(entries, "14.4", "arm64", exceptions=reviewed)
    assert too_new == [("other/new.so", "26.0")]
    assert excused == [("PySide6/QtCore.abi3.so", "26.0")]
    # An exception excuses exactly its minos, not a newer one.
    too_new, _ = cfg.check_min_macos(entries, "14.4", "arm64", exceptions=(("PySide6/*.abi3.so", "25.0"),))
    assert len(too_new) == 2
    # The shipped list (empty with PySide6 6.11.3) excuses nothing.
    too_new, excused = cfg.check_min_macos(entries, "14.4", "arm64")
    assert len(too_new) == 2 and excused == []


def test_weights_are_bundled_from_the_chosen_folder(tmp_path):
    repo_w = tmp_path / "repo_weights"
    _write(repo_w / "manifest.json", json.dumps({"models": {
        "star": {"file": "star_landmark_98.onnx", "required": True, "create": "make star"},
        "retinaface": {"file": "retinaface_mobilenet025.onnx", "required": True, "create": "make rf"},
        "extra": {"file": "extra.onnx", "required": False}}}).encode())
    dev = tmp_path / "dev"
    _write(dev / "star_landmark_98.onnx", b"x")
    _write(dev / "notes.txt", b"x")
    assert cfg.weights_source_dir(REPO, {}) == REPO / "weights"
    assert cfg.weights_source_dir(REPO, {cfg.ENV_WEIGHTS_DIR: str(dev)}) == dev.resolve()
    datas = cfg.weights_datas(dev, repo_w)
    assert datas == [(str(dev / "star_landmark_98.onnx"), "weights")]  # the spec adds the merged manifest
    missing = cfg.missing_required_models(datas, cfg.load_manifest(repo_w / "manifest.json"))
    assert missing == [("retinaface_mobilenet025.onnx", "make rf")]
    # Model licence texts come along, from the repository's weights/ or the chosen folder.
    _write(repo_w / "LICENSE-retinaface.txt", b"MIT")
    _write(dev / "LICENSE-star.txt", b"text")
    assert cfg.weights_datas(dev, repo_w)[-2:] == [(str(repo_w / "LICENSE-retinaface.txt"), "weights"),
                                                   (str(dev / "LICENSE-star.txt"), "weights")]
    (repo_w / "LICENSE-retinaface.txt").unlink()
    (dev / "LICENSE-star.txt").unlink()
    # A folder's own manifest is never bundled as it is (the spec bundles bundle_manifest's).
    _write(dev / "manifest.json", b"{}")
    assert all(Path(src).name != "manifest.json" for src, _ in cfg.weights_datas(dev, repo_w))
    assert cfg.env_flag({"X": "1"}, "X") and not cfg.env_flag({"X": "0"}, "X") and not cfg.env_flag({}, "X")


def test_bundle_manifest_merges_a_dev_folder_over_the_repository(tmp_path):
    # What `convert star --out DEV/star_landmark_98.onnx` leaves in a fresh folder: a manifest
    # listing STAR only. The bundle must still list RetinaFace (else the frozen self-test fails
    # with "no model 'retinaface'"), and carry STAR's conversion record.
    repo_w = tmp_path / "repo_weights"
    _write(repo_w / "manifest.json", json.dumps({
        "models": {"star": {"file": "star_landmark_98.onnx", "required": True, "description": "STAR"},
                   "retinaface": {"file": "retinaface_mobilenet025.onnx", "required": True, "sha256": "aa",
                                  "converted": {"retinaface_mobilenet025.onnx": {"sha256": "aa"}}}},
        "checkpoints": {"star": {"url": "u"}, "retinaface": {"sha256": "cc"}}}).encode())
    dev = tmp_path / "dev"
    _write(dev / "manifest.json", json.dumps({
        "models": {"star": {"file": "star_landmark_98.onnx", "description": "STAR",
                            "converted": {"star_landmark_98.onnx": {"sha256": "bb", "untrained": True}}}},
        "checkpoints": {"star": {"sha256": "dd"}}}).encode())
    merged = cfg.bundle_manifest(dev, repo_w)
    assert set(merged["models"]) == {"star", "retinaface"}
    assert merged["models"]["retinaface"]["sha256"] == "aa"
    assert merged["models"]["star"]["required"] is True  # the repository's fields stay
    assert merged["models"]["star"]["converted"] == {"star_landmark_98.onnx": {"sha256": "bb", "untrained": True}}
    assert merged["checkpoints"] == {"star": {"url": "u", "sha256": "dd"}, "retinaface": {"sha256": "cc"}}
    # Nothing required is reported missing when both files are bundled.
    assert cfg.missing_required_models([(str(dev / "star_landmark_98.onnx"), "weights"),
                                        (str(repo_w / "retinaface_mobilenet025.onnx"), "weights")], merged) == []
    # Without a folder manifest (or with weights/ itself) it is the repository's, unchanged.
    assert cfg.bundle_manifest(repo_w, repo_w) == json.loads((repo_w / "manifest.json").read_text())
    (dev / "manifest.json").unlink()
    assert cfg.bundle_manifest(dev, repo_w) == json.loads((repo_w / "manifest.json").read_text())
    # The spec bundles the merged manifest, never the folder's.
    spec = (REPO / "FaceMirror.spec").read_text()
    assert "cfg.bundle_manifest(weights_dir" in spec and "manifest = BUNDLE_MANIFEST" in spec


def test_untrained_model_detected(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "trained.onnx")
    helper.set_model_props(m, {"facemirror.untrained": "true"})
    onnx.save(m, tmp_path / "dev.onnx")
    assert cfg.model_is_untrained(tmp_path / "dev.onnx")
    assert not cfg.model_is_untrained(tmp_path / "trained.onnx")


def test_spec_uses_the_config_and_builds_an_arm64_bundle():
    """The spec parses and wires the settings the release depends on (checked without running it)."""
    src = (REPO / "FaceMirror.spec").read_text()
    tree = ast.parse(src)
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for target in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        assert target in calls, target
    kw = lambda call: {k.arg: ast.unparse(k.value) for k in call.keywords}  # noqa: E731
    exe, bundle, analysis = kw(calls["EXE"]), kw(calls["BUNDLE"]), kw(calls["Analysis"])
    assert exe["argv_emulation"] == "False" and exe["upx"] == "False"
    assert "TARGET_ARCH" in exe["target_arch"] and cfg.TARGET_ARCH == "arm64"
    assert "ENV_CODESIGN_IDENTITY" in exe["codesign_identity"] and "ENV_ENTITLEMENTS" in exe["entitlements_file"]
    assert exe["exclude_binaries"] == "True"  # onedir
    assert "FaceMirror.icns" in bundle["icon"] and "info_plist" in bundle["info_plist"]
    assert "BUNDLE_IDENTIFIER" in bundle["bundle_identifier"] and bundle["version"] == "VERSION"
    assert "excluded_modules" in analysis["excludes"] and analysis["datas"] == "model_datas + metadata_datas"
    from app.base import diagnostics

    assert set(diagnostics.PACKAGES) == set(cfg.METADATA_DISTRIBUTIONS)
    assert "filter_toc(a.binaries)" in src and "filter_toc(a.datas)" in src
    assert (REPO / "resources" / "FaceMirror.icns").is_file()


def test_entitlements_are_a_valid_minimal_plist():
    import plistlib

    ent = plistlib.loads((PACKAGING / "entitlements.plist").read_bytes())
    # The live mode's camera and microphone, nothing else: everything is signed by us and nothing
    # generates code, so none of the code-signing exceptions may creep in unexplained.
    assert ent == {"com.apple.security.device.camera": True, "com.apple.security.device.audio-input": True}
    plist = cfg.info_plist("1.0")
    for key in ("NSCameraUsageDescription", "NSMicrophoneUsageDescription"):
        assert "FaceMirror" in plist[key] and "Nothing leaves this Mac" in plist[key]


# ============================================================================================
# Icon

make_icns = _load("facemirror_make_icns_test", PACKAGING / "make_icns.py")


def test_committed_icns_reads_back_with_every_declared_size():
    """Pillow's reader (not ours) decodes every entry, the 16/32 px 1x ones included."""
    entries = make_icns.icns_entries(REPO / "resources" / "FaceMirror.icns")
    assert entries == {kind: (size, size) for kind, size in make_icns.ICNS_TYPES.items()}
    assert entries["icp4"] == (16, 16) and entries["icp5"] == (32, 32)
    from PIL import Image
    with Image.open(REPO / "resources" / "FaceMirror.png") as png:
        assert png.size == (1024, 1024)


def test_icns_writer_output_reads_back_and_rejects_bad_types(tmp_path):
    img = make_icns.draw_icon(64, supersample=1)
    entries = [("icp4", make_icns.png_bytes(make_icns.resized(img, 16))), ("ic12", make_icns.png_bytes(img))]
    path = tmp_path / "t.icns"
    path.write_bytes(make_icns.build_icns(entries))
    assert make_icns.icns_entries(path) == {"icp4": (16, 16), "ic12": (64, 64)}
    with pytest.raises(ValueError):
        make_icns.build_icns([("toolong", b"")])


def test_pillow_still_writes_no_16_and_32_px_1x_icns_entries(tmp_path):
    """Why make_icns writes the container itself: when this fails, Pillow writes icp4/icp5 and
    build_icns can go."""
    from PIL import Image
    path = tmp_path / "pillow.icns"
    Image.new("RGBA", (1024, 1024), (200, 100, 50, 255)).save(path)
    entries = make_icns.icns_entries(path)
    assert "ic10" in entries and "icp4" not in entries and "icp5" not in entries


def test_icon_drawing_is_square_with_transparent_corners():
    img = make_icns.draw_icon(128, supersample=2)
    assert img.shape == (128, 128, 4)
    assert img[0, 0, 3] == 0 and img[64, 64, 3] == 255
    # The two halves of the face differ in tone.
    left, right = img[64, 40, :3].astype(int), img[64, 88, :3].astype(int)
    assert abs(left - right).sum() > 60


# ============================================================================================
# Retries with back-off (stub tools that fail the first N times)

def test_timestamp_signing_is_retried_with_doubling_back_off(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize", "--no-dmg",
                       env_extra={"STUB_FAIL_CODESIGN": "2", "FACEMIRROR_RETRY_DELAY": "3"})
    assert proc.returncode == 0, proc.stderr
    signs = [c for c in calls if _is_sign(c)]
    first = signs[0]["argv"][-1]
    assert [c.get("failed", False) for c in signs[:3]] == [True, True, False]
    assert all(c["argv"][-1] == first for c in signs[:3])  # the same file, signed again
    assert [c["argv"] for c in calls if c["tool"] == "sleep"] == [["3"], ["6"]]
    assert "attempt 1 of 4" in proc.stdout and "attempt 2 of 4" in proc.stdout


def test_timestamp_signing_gives_up_after_the_last_attempt(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize", "--no-dmg",
                       env_extra={"STUB_FAIL_CODESIGN": "99", "FACEMIRROR_RETRIES": "3"})
    assert proc.returncode != 0 and "failed 3 times; giving up" in proc.stderr
    assert len([c for c in calls if _is_sign(c)]) == 3
    assert [c["argv"] for c in calls if c["tool"] == "sleep"] == [["1"], ["2"]]


def test_ad_hoc_signing_is_not_retried(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize", "--no-dmg",
                       env_extra={"STUB_FAIL_CODESIGN": "1", "FACEMIRROR_CODESIGN_IDENTITY": "-"})
    assert proc.returncode != 0  # no timestamp service involved: a failure is real
    assert not any(c["tool"] == "sleep" for c in calls)


def test_dmg_creation_is_retried_when_the_disk_is_busy(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"STUB_FAIL_HDIUTIL": "2"})
    assert proc.returncode == 0, proc.stderr
    creates = [c for c in calls if c["tool"] == "hdiutil" and c["argv"][0] == "create"]
    assert [c.get("failed", False) for c in creates] == [True, True, False]
    assert len({tuple(c["argv"]) for c in creates}) == 1 and "-ov" in creates[0]["argv"]
    dmg = creates[0]["argv"][-1]
    assert _index(calls, lambda c: _is_sign(c) and c["argv"][-1] == dmg) > calls.index(creates[-1])
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"STUB_FAIL_HDIUTIL": "9"})
    assert proc.returncode != 0 and "hdiutil create failed 4 times" in proc.stderr
    assert not any(c["tool"] == "xcrun" and c["argv"][-1].endswith(".dmg") for c in calls)


def test_retry_settings_are_validated(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", env_extra={"FACEMIRROR_RETRIES": "0"})
    assert proc.returncode != 0 and "FACEMIRROR_RETRIES" in proc.stderr and calls == []


# ============================================================================================
# STAR or detector-only; pinned release inputs

def test_star_rule_missing_star_fails_unless_detector_only_is_explicit():
    rf = [("/w/retinaface_mobilenet025.onnx", "weights")]
    detector_only, error = cfg.star_rule(rf, {})
    assert not detector_only and "star_landmark_98.onnx" in error and cfg.ENV_DETECTOR_ONLY in error
    assert cfg.star_rule(rf, {cfg.ENV_DETECTOR_ONLY: "1"}) == (True, None)
    with_star = rf + [("/w/star_landmark_98.onnx", "weights")]
    assert cfg.star_rule(with_star, {}) == (False, None)
    assert cfg.star_rule(with_star, {cfg.ENV_DETECTOR_ONLY: "1"}) == (False, None)  # STAR present wins


MANIFEST = {"models": {"star": {"file": "star_landmark_98.onnx"},
                       "retinaface": {"file": "retinaface_mobilenet025.onnx", "sha256": "ab" * 32}},
            "checkpoints": {"star": {"file": "Landmark_98.pkl", "sha256": None}}}


def _pin_check(meta: dict, env: dict, manifest=MANIFEST, rf_sha="ab" * 32):
    paths = [Path("/w/star_landmark_98.onnx"), Path("/w/retinaface_mobilenet025.onnx")]
    return cfg.check_pinned_models(paths, manifest, env, lambda p: meta.get(p.name, {}),
                                   lambda p: rf_sha)


def test_release_needs_pinned_checkpoint_sha_and_refuses_a_mismatch():
    star_meta = {"star_landmark_98.onnx": {cfg.META_SOURCE_SHA: "cd" * 32}}
    errors, _ = _pin_check(star_meta, {})
    assert len(errors) == 1 and "no pinned checkpoint sha256" in errors[0] and "CHECKPOINT_SHA256_STAR" in errors[0]
    errors, notes = _pin_check(star_meta, {cfg.ENV_CHECKPOINT_SHA_PREFIX + "STAR": "CD" * 32})
    assert errors == [] and any("pinned checkpoint" in n for n in notes)
    errors, _ = _pin_check(star_meta, {cfg.ENV_CHECKPOINT_SHA_PREFIX + "STAR": "ef" * 32})
    assert len(errors) == 1 and "not the pinned" in errors[0]
    # The manifest's pin counts as well.
    pinned = json.loads(json.dumps(MANIFEST))
    pinned["checkpoints"]["star"]["sha256"] = "cd" * 32
    assert _pin_check(star_meta, {}, manifest=pinned)[0] == []
    # A committed model (sha256 of the file in the manifest) must be exactly that file.
    errors, _ = _pin_check(star_meta, {}, manifest=pinned, rf_sha="00" * 32)
    assert len(errors) == 1 and "retinaface_mobilenet025.onnx: sha256" in errors[0]


def test_the_live_model_is_pinned_by_stars_checkpoint_and_never_required(tmp_path):
    """The live model (STAR cut after 2 stacks) comes from STAR's checkpoint: the release pin is that
    checkpoint's. It is bundled when in the models folder and never required."""
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["models"]["star_live"] = {"file": "star_landmark_98_live.onnx", "source_checkpoint": "star",
                                       "required": False}
    meta = {"star_landmark_98_live.onnx": {cfg.META_SOURCE_SHA: "cd" * 32}}
    live = [Path("/w/star_landmark_98_live.onnx")]

    def check(env):
        return cfg.check_pinned_models(live, manifest, env, lambda p: meta.get(p.name, {}), lambda p: "")

    errors, _ = check({})
    assert len(errors) == 1 and "CHECKPOINT_SHA256_STAR or checkpoints.star.sha256" in errors[0]
    assert check({cfg.ENV_CHECKPOINT_SHA_PREFIX + "STAR": "cd" * 32})[0] == []
    repo_manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    weights = tmp_path / "w"
    _write(weights / "star_landmark_98.onnx", b"x")
    _write(weights / "retinaface_mobilenet025.onnx", b"x")
    assert cfg.missing_required_models(cfg.weights_datas(weights, weights), repo_manifest) == []
    _write(weights / "star_landmark_98_live.onnx", b"x")
    assert "star_landmark_98_live.onnx" in {Path(src).name for src, _ in cfg.weights_datas(weights, weights)}


def test_release_refuses_untrained_models_unless_a_test_build():
    meta = {"star_landmark_98.onnx": {cfg.META_UNTRAINED: "true"}}
    errors, _ = _pin_check(meta, {})
    assert len(errors) == 1 and "untrained" in errors[0]
    errors, notes = _pin_check(meta, {cfg.ENV_ALLOW_UNTRAINED: "1"})
    assert errors == [] and "untrained development model accepted" in notes[0]


# ============================================================================================
# Licences and the finished bundle

def test_third_party_notices_carry_every_distributions_licence_and_the_codec_texts(tmp_path):
    dists = cfg.bundled_distributions({"av", "cv2", "numpy", "PySide6", "matplotlib", "app"})
    names = {cfg.normalise(d.metadata["Name"]) for d in dists}
    assert {"av", "opencv-python-headless", "numpy", "pyside6-essentials", "matplotlib", "pyinstaller"} <= names
    assert "facemirror" not in names
    text = cfg.third_party_notices(dists, PACKAGING / "licenses")
    flat = " ".join(text.split())
    for d in dists:
        assert f"{d.metadata['Name']} {d.version}" in text
    assert "Copyright retained by original committers" in text  # PyAV's own BSD text, from its wheel
    assert "GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999" in flat   # lame, gnutls
    assert "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007" in flat             # OpenCV's FFmpeg (macOS)
    assert "GNU GENERAL PUBLIC LICENSE Version 2, June 1991" in flat                # x264 / x265
    assert "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007" in flat     # Qt, PyAV's FFmpeg
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in text
    assert text.count("GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 2.1") >= 1
    for name in cfg.EXTRA_LICENCE_TEXTS.values():
        for f in name:
            assert (PACKAGING / "licenses" / f).is_file()


# Qt Multimedia as PyInstaller lays out PySide6 6.11.3 (Linux wheel: this machine's install; macOS:
# the macosx_13_0_universal2 wheel), relative to the bundle's data root.
QT_MULTIMEDIA_FILES = {
    "linux": ["PySide6/QtMultimedia.abi3.so", "PySide6/QtNetwork.abi3.so", "PySide6/Qt/lib/libQt6Multimedia.so.6",
              "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
              *(f"PySide6/Qt/lib/lib{n}" for n in ("avcodec.so.61", "avformat.so.61", "avutil.so.59", "swresample.so.5", "swscale.so.8"))],
    "darwin": ["PySide6/QtMultimedia.abi3.so", "PySide6/QtNetwork.abi3.so",
               "PySide6/Qt/lib/QtMultimedia.framework/Versions/A/QtMultimedia",
               "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.dylib",
               "PySide6/Qt/plugins/multimedia/libdarwinmediaplugin.dylib",
               *(f"PySide6/Qt/lib/lib{n}.dylib" for n in ("avcodec.61", "avformat.61", "avutil.59", "swresample.5", "swscale.8"))],
}


def _fake_bundle(root: Path, *, star=True, detector_only=False, notices="full", skip=()) -> Path:
    internal = root / "_internal"
    for rel in QT_MULTIMEDIA_FILES[sys.platform]:
        if rel not in skip:
            _write(internal / rel)
    for pkg in cfg.REQUIRED_PACKAGES:
        if pkg not in skip:
            _write(internal / pkg / "__init__.pyc")
    _write(internal / "av.libs" / "libavcodec-5e6b81c2.so.62")
    _write(internal / "av.libs" / "libx264-d6533a8d.so.165")
    for rel in (cfg.LICENSE_NAME, cfg.ICON_PNG):
        if rel not in skip:
            _write(internal / rel, b"x")
    _write(internal / cfg.BUILD_INFO_NAME, json.dumps({"detector_only": detector_only}).encode())
    if star:
        _write(internal / "weights" / cfg.STAR_FILE, b"x")
    text = ""
    if notices == "full":
        fsf = ("GPL-2.0.txt", "GPL-3.0.txt", "LGPL-2.1.txt", "LGPL-3.0.txt")
        text = "\n".join((PACKAGING / "licenses" / f).read_text() for f in fsf)
        for f in fsf:
            if f"licenses/{f}" not in skip:
                _write(internal / "licenses" / f, (PACKAGING / "licenses" / f).read_bytes())
    _write(internal / cfg.NOTICES_NAME, text.encode())
    return root


def test_bundle_check_finds_what_is_missing(tmp_path):
    assert cfg.check_bundle(_fake_bundle(tmp_path / "ok")) == []
    assert cfg.check_bundle(_fake_bundle(tmp_path / "det", star=False, detector_only=True)) == []
    problems = cfg.check_bundle(_fake_bundle(tmp_path / "nostar", star=False))
    assert problems == ["weights/star_landmark_98.onnx is missing and the build is not marked detector-only"]
    problems = cfg.check_bundle(_fake_bundle(tmp_path / "bad", notices="empty", skip=("LICENSE", "av", "PIL")))
    assert "LICENSE is missing" in problems and "package av is missing" in problems
    assert "package PIL is missing" in problems
    assert any(p.startswith("libx26[45] is bundled") for p in problems)
    assert any(p.startswith("libavcodec is bundled") for p in problems)
    # The texts must also be there as files (licenses/), not only inside the notices.
    problems = cfg.check_bundle(_fake_bundle(tmp_path / "nofile", skip=("licenses/GPL-3.0.txt",)))
    assert problems == ["libavcodec is bundled but licenses/GPL-3.0.txt is missing"]
    # A bundled model whose manifest names a licence file needs that file beside it.
    lic = _fake_bundle(tmp_path / "lic")
    _write(lic / "_internal" / "weights" / "manifest.json", json.dumps({"models": {"retinaface": {
        "file": "retinaface_mobilenet025.onnx", "licence_file": "LICENSE-retinaface.txt"}}}).encode())
    assert cfg.check_bundle(lic) == []  # the model itself is not bundled: nothing to license
    _write(lic / "_internal" / "weights" / "retinaface_mobilenet025.onnx", b"x")
    assert cfg.check_bundle(lic) == ["weights/LICENSE-retinaface.txt (licence of retinaface_mobilenet025.onnx) is missing"]
    _write(lic / "_internal" / "weights" / "LICENSE-retinaface.txt", b"MIT")
    assert cfg.check_bundle(lic) == []
    app = tmp_path / "FaceMirror.app"
    assert cfg.bundle_data_roots(app) == [app / "Contents" / "Resources", app / "Contents" / "Frameworks"]


@pytest.mark.parametrize("platform", sorted(QT_MULTIMEDIA_FILES))
def test_bundle_check_requires_qt_multimedia_per_platform(tmp_path, platform):
    """Each plugin, Qt's FFmpeg library and QtMultimedia itself are required, on macOS (a .app laid
    out from the macOS wheel's names, injected platform) and on Linux."""
    def bundle(name, skip=()):
        root = tmp_path / name / ("FaceMirror.app" if platform == "darwin" else "FaceMirror")
        data = root / "Contents" / "Frameworks" if platform == "darwin" else root / "_internal"
        for rel in QT_MULTIMEDIA_FILES[platform]:
            if rel not in skip:
                _write(data / rel)
        return root

    required = cfg.required_multimedia(platform)
    assert len(required) == len(QT_MULTIMEDIA_FILES[platform])
    assert cfg.bundle_platform(bundle("whole")) == (platform if platform == "darwin" else sys.platform)

    def multimedia_problems(root):
        return [p for p in cfg.check_bundle(root) if "live exam would have no camera" in p]

    if platform == sys.platform or platform == "darwin":
        assert multimedia_problems(bundle("whole")) == []
        for rel in QT_MULTIMEDIA_FILES[platform]:
            problems = multimedia_problems(bundle(rel.replace("/", "_"), skip=(rel,)))
            assert len(problems) == 1, (rel, problems)
    # Only Qt's own tree counts: PyAV's and OpenCV's FFmpeg of the same names do not.
    assert not any(pat.search("cv2/__dot__dylibs/libavcodec.61.dylib") or pat.search("av.libs/libavcodec.so.61")
                   for _, pat in required)


def test_bundle_check_command_line(tmp_path):
    ok = subprocess.run([sys.executable, str(PACKAGING / "spec_config.py"), "check", str(_fake_bundle(tmp_path / "a"))],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "bundle check: ok" in ok.stdout
    bad = subprocess.run([sys.executable, str(PACKAGING / "spec_config.py"), "check",
                          str(_fake_bundle(tmp_path / "b", skip=("resources/FaceMirror.png",)))],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "resources/FaceMirror.png is missing" in bad.stderr


def test_project_licence_is_mit_and_declared():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    assert 'license = "MIT"' in (REPO / "pyproject.toml").read_text()


def test_spec_wires_rthook_generated_files_pins_and_bundle_check():
    src = (REPO / "FaceMirror.spec").read_text()
    for needle in ("cfg.star_rule(", "cfg.check_pinned_models(", "cfg.third_party_notices(", "cfg.check_bundle(",
                   "cfg.RUNTIME_THIRD_PARTY", "cfg.MPL_RTHOOK", "cfg.PYINSTALLER_MPL_RTHOOK", "cfg.ICON_PNG",
                   "cfg.LICENSE_NAME", "cfg.BUILD_INFO_NAME"):
        assert needle in src, needle
    hook = PACKAGING / cfg.MPL_RTHOOK
    assert hook.is_file()
    ast.parse(hook.read_text())


def test_mpl_runtime_hook_uses_the_user_cache_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env["FACEMIRROR_CACHE_DIR"] = str(tmp_path / "cache")
    code = (f"exec(open({str(PACKAGING / cfg.MPL_RTHOOK)!r}).read()); import os, matplotlib; "
            "print(os.environ['MPLCONFIGDIR']); print(matplotlib.get_configdir())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "cache" / "matplotlib")] * 2
    env["MPLCONFIGDIR"] = str(tmp_path / "mine")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.stdout.split()[0] == str(tmp_path / "mine")


def test_macos_workflow_starts_the_app_as_users_do():
    """Static check of the CI steps that only a Mac can run (the workflow file is the contract)."""
    runs = (REPO / ".github" / "workflows" / "macos.yml").read_text()
    assert "runs-on: ${{ matrix.runner }}" in runs and "runner: [macos-15, macos-26]" in runs
    assert "packaging/build_macos.sh --no-notarize --ci-runtime\n" in runs  # test builds make the DMG too, hardened
    assert "--no-dmg" not in runs
    assert 'open -n -W --stdout "$out" --stderr "$out.err" "$1" --args --self-test --require-coreml' in runs
    assert "Qt platform: cocoa, style: macos" in runs
    assert "hdiutil attach -nobrowse -readonly" in runs and 'launch "$mnt/FaceMirror.app" dmg' in runs
    assert "xattr -w com.apple.quarantine" in runs
    assert "videos queued from files opened by the system: 1" in runs
    assert "packaging/spec_config.py check dist/FaceMirror.app" in runs


def test_requires_python_is_true_to_the_pinned_dependencies():
    """pyproject's floor is the highest floor among the pinned runtime wheels (installed metadata)."""
    import re
    import tomllib
    from importlib import metadata

    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ours = SpecifierSet(project["requires-python"])
    floors = {}
    for dep in project["dependencies"]:
        name, version = re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", dep).groups()
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"
        spec = SpecifierSet(metadata.metadata(name).get("Requires-Python") or "")
        lows = [tuple(int(x) for x in s.version.split(".")[:2]) for s in spec if s.operator in (">=", ">")]
        floors[name] = max(lows) if lows else (3, 0)
    highest = max(floors.values())
    ours_low = max(tuple(int(x) for x in s.version.split(".")[:2]) for s in ours if s.operator == ">=")
    assert ours_low == highest, f"requires-python {ours} but the pins need >= {highest}: {floors}"


def test_licence_folder_has_each_distributions_files_and_the_fsf_texts(tmp_path):
    dists = cfg.bundled_distributions({"av", "cv2", "PySide6"})
    written = cfg.write_licence_folder(dists, PACKAGING / "licenses", tmp_path / "licenses")
    names = {str(p.relative_to(tmp_path / "licenses")) for p in written}
    for fsf in ("GPL-2.0.txt", "GPL-3.0.txt", "LGPL-2.1.txt", "LGPL-3.0.txt"):
        assert fsf in names
    av = next(d for d in dists if d.metadata["Name"] == "av")
    assert f"av-{av.version}/av-{av.version}.dist-info__licenses__LICENSE.txt" in names
    assert any(n.startswith("opencv-python-headless-") and n.endswith("cv2__LICENSE-3RD-PARTY.txt") for n in names)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)


# ============================================================================================
# The workflow and the spec agree

def _workflow():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO / ".github" / "workflows" / "macos.yml").read_text())


def _steps(wf):
    return wf["jobs"]["app"]["steps"]


def _step(wf, name_start):
    found = [s for s in _steps(wf) if s.get("name", "").startswith(name_start)]
    assert len(found) == 1, name_start
    return found[0]


# First majors of GitHub's own actions that run on Node 24 (Node 20 is removed from the runners).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6, "actions/cache": 5,
                 "actions/cache/restore": 5, "actions/cache/save": 5}


def test_workflow_actions_run_on_node_24_and_releases_are_never_cancelled():
    wf = _workflow()
    uses = [s["uses"] for s in _steps(wf) if "uses" in s]
    assert uses
    for ref in uses:
        action, major = ref.split("@")
        assert int(major.lstrip("v")) >= NODE24_MAJORS[action], ref
    cancel = str(wf["concurrency"]["cancel-in-progress"])
    assert "refs/tags/" in cancel and cancel.startswith("${{ !startsWith(github.ref")


def test_workflow_test_build_bundles_the_merged_manifest(tmp_path, monkeypatch):
    """The test build converts STAR into a dev folder and points the spec at it; what `convert`
    leaves there (made here with the converter's own record_converted) merged by the spec keeps
    every model of the repository's manifest."""
    wf = _workflow()
    models = _step(wf, "Models (test builds")["run"]
    assert 'convert star --random-weights' in models and '--out "$dev/star_landmark_98.onnx"' in models
    assert 'FACEMIRROR_SPEC_WEIGHTS_DIR=$dev' in models
    from app.base import model_files

    dev = tmp_path / "devweights"
    _write(dev / "star_landmark_98.onnx", b"onnx")
    model_files.record_converted(dev / "star_landmark_98.onnx", model_files.STAR_KEY, {"untrained": True})
    assert set(json.loads((dev / "manifest.json").read_text())["models"]) == {"star"}  # the partial one
    merged = cfg.bundle_manifest(dev, REPO / "weights")
    assert set(merged["models"]) == set(model_files.load_manifest()["models"])
    assert merged["models"]["star"]["converted"]["star_landmark_98.onnx"]["untrained"] is True
    spec = (REPO / "FaceMirror.spec").read_text()
    assert "cfg.bundle_manifest(weights_dir" in spec and "BUNDLE_MANIFEST" in spec
    # Signed ad hoc (build_macos.sh then leaves out the hardened runtime: see the stub tests).
    assert _step(wf, "Build, sign ad hoc")["env"]["FACEMIRROR_CODESIGN_IDENTITY"] == "-"


def test_workflow_checks_what_the_spec_excludes_and_the_size_budget():
    wf = _workflow()
    assert _step(wf, "Bundle contents")["run"].endswith("spec_config.py check dist/FaceMirror.app")
    assert _step(wf, "Bundle size")["run"].endswith("spec_config.py size dist/FaceMirror.app")
    budgets = json.loads((PACKAGING / cfg.SIZE_BUDGET_FILE).read_text())
    assert set(budgets) >= {"macos-arm64", "linux-x86_64"}
    # CFBundleVersion: the run number, read by the spec.
    assert wf["jobs"]["app"]["env"][cfg.ENV_BUILD_NUMBER] == "${{ github.run_number }}"
    assert "ENV.get(cfg.ENV_BUILD_NUMBER)" in (REPO / "FaceMirror.spec").read_text()


def test_workflow_release_signing_and_launch_steps():
    wf = _workflow()
    keychain = (PACKAGING / "with_signing_keychain.sh").read_text()
    assert "-T /usr/bin/codesign" in keychain and " -A " not in keychain
    assert "--key " in keychain and "--issuer" in keychain and "--apple-id" not in keychain
    release = _step(wf, "Build, sign, notarize, staple, DMG (releases)")
    assert "packaging/with_signing_keychain.sh packaging/build_macos.sh" in release["run"]
    assert release["env"]["MACOS_CERTIFICATE_P12"] == "${{ secrets.MACOS_CERTIFICATE_P12 }}"
    # Secrets only reach the step that needs them.
    assert not [s for s in _steps(wf) if s is not release and "secrets." in json.dumps(s)]
    quarantined = _step(wf, "Quarantined copy, as if downloaded")["run"]
    assert "spctl --assess --type execute -vv" in quarantined and "syspolicy_check distribution" in quarantined
    commands = [ln.strip() for ln in quarantined.splitlines() if not ln.strip().startswith("#")]
    assert not [c for c in commands if c.startswith("open ")]  # a quarantined launch can wait for a click until the job times out
    launch = _step(wf, "Start the app as a user does")["run"]
    assert "for attempt in" in launch and "hdiutil attach" in launch
    cache = _step(wf, "Restore converted release models")
    assert cache["uses"].startswith("actions/cache/restore@") and "STAR_CHECKPOINT_SHA256" in cache["with"]["key"]


def test_size_by_part_and_budget(tmp_path):
    app_dir = tmp_path / "FaceMirror"
    internal = app_dir / "_internal"
    _write(internal / "weights" / "star_landmark_98.onnx", b"x" * 3000)
    _write(internal / "PySide6" / "Qt" / "lib" / "libQt6Core.so.6", b"x" * 2000)
    _write(internal / "PySide6" / "Qt" / "lib" / "libQt6Multimedia.so.6", b"x" * 1000)
    _write(internal / "cv2" / "cv2.abi3.so", b"x" * 500)
    _write(internal / "base_library.zip", b"x" * 7)
    (internal / "libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")  # links cost nothing
    parts = cfg.size_by_part(app_dir)
    assert parts == {"models": 3000, "Qt (PySide6, shiboken6)": 2000, "Qt Multimedia (+ its FFmpeg)": 1000,
                     "OpenCV (+ its FFmpeg)": 500, "Python and the rest": 7}
    assert cfg.check_size(int(110e6), 100) is None  # exactly 10 % over: still fine
    problem = cfg.check_size(int(111e6), 100)
    assert problem and "111 MB" in problem and "10%" in problem
    assert cfg.check_size(int(1e12), None) is None  # no budget recorded for this platform


def test_size_budget_macos_entry_is_an_estimate_labelled_so_and_warns_instead_of_failing(tmp_path, monkeypatch):
    budgets = json.loads((PACKAGING / cfg.SIZE_BUDGET_FILE).read_text())
    assert cfg.budget_entry(budgets, "linux-x86_64") == (659.0, False)       # measured: fails > 10 % over
    mb, estimated = cfg.budget_entry(budgets, "macos-arm64")
    assert estimated and 300 <= mb <= 700 and "not measured" in budgets["macos-arm64"]["basis"]
    assert cfg.budget_entry({}, "macos-arm64") == (None, False)
    app_dir = tmp_path / "FaceMirror"
    _write(app_dir / "_internal" / "weights" / "m.onnx", b"x" * 3000)
    budget_file = tmp_path / "b.json"
    # size_report reads size_platform from its own part (spec_bundle), not from spec_config's re-export.
    monkeypatch.setattr(sys.modules[cfg.size_report.__module__], "size_platform", lambda: "macos-arm64")
    budget_file.write_text(json.dumps({"macos-arm64": {"mb": 0.001, "estimated": True, "basis": "guess"}}))
    table, problem = cfg.size_report(app_dir, budget_file)
    assert problem is None and "estimated, not measured" in table and "warning:" in table
    budget_file.write_text(json.dumps({"macos-arm64": 0.001}))
    table, problem = cfg.size_report(app_dir, budget_file)
    assert problem and "over its budget" in problem and "warning:" not in table


# ============================================================================================
# spec_config's layout: parts by concern beside it, re-exported (issue 21)

SPEC_PARTS = ("spec_macos", "spec_modules", "spec_toc", "spec_models", "spec_licences", "spec_bundle")


def test_spec_parts_are_the_files_beside_spec_config_and_it_re_exports_them():
    assert not (PACKAGING / "__init__.py").exists()  # never a package: it would shadow PyPI's `packaging`
    assert sorted(p.stem for p in PACKAGING.glob("spec_*.py")) == sorted((*SPEC_PARTS, "spec_config"))
    for name in SPEC_PARTS:
        part = sys.modules[name]
        # The part loaded is the file in packaging/, not an installed module of the same name.
        assert Path(part.__file__).resolve() == (PACKAGING / f"{name}.py").resolve()
        # Its own public names (functions and classes defined there, and every constant).
        public = [k for k, v in vars(part).items() if not k.startswith("_") and not isinstance(v, type(sys))
                  and (not callable(v) or isinstance(v, re.Pattern) or getattr(v, "__module__", None) == name)]
        assert len(public) > 5, name
        assert all(getattr(cfg, k) is getattr(part, k) for k in public), name
        # No PyInstaller or Qt at import: tests read the configuration on any machine.
        src = (PACKAGING / f"{name}.py").read_text(encoding="utf-8")
        assert not [ln for ln in src.splitlines() if ln.startswith(("import PyInstaller", "from PyInstaller", "from PySide6"))]


def test_the_ci_minimum_macos_step_reads_the_file_that_defines_min_macos():
    step = _step(_workflow(), "Minimum macOS is what this runner runs")["run"]
    src = next(f for f in ("packaging/" + p + ".py" for p in SPEC_PARTS) if f in step)
    tree = ast.parse((REPO / src).read_text(encoding="utf-8"))
    declared = next(n.value.value for n in tree.body
                    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "MIN_MACOS")
    assert declared == cfg.MIN_MACOS


# ============================================================================================
# Pull requests: ad-hoc with the hardened runtime; releases stay strict (issue 35)

def test_ci_runtime_signs_ad_hoc_with_the_hardened_runtime_and_the_ci_entitlements(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize", "--ci-runtime",
                       env_extra={"FACEMIRROR_CODESIGN_IDENTITY": "-"}, drop=("FACEMIRROR_NOTARY_PROFILE",))
    assert proc.returncode == 0, proc.stderr
    signs = [c for c in calls if _is_sign(c) and not c["argv"][-1].endswith(".dmg")]
    assert len(signs) > 10
    for c in signs:
        a = c["argv"]
        assert _opt(a, "--sign") == "-" and _opt(a, "--options") == "runtime" and "--timestamp" not in a
    app_sign = next(c for c in signs if c["argv"][-1] == str(fake_app["app"]))
    assert _opt(app_sign["argv"], "--entitlements") == str(PACKAGING / "entitlements-ci.plist")


def test_ci_entitlements_are_the_release_ones_plus_library_validation_only():
    import plistlib

    release = plistlib.loads((PACKAGING / "entitlements.plist").read_bytes())
    ci = plistlib.loads((PACKAGING / "entitlements-ci.plist").read_bytes())
    assert ci == {**release, "com.apple.security.cs.disable-library-validation": True}


def test_releases_refuse_the_ci_runtime_and_the_ci_entitlements(stubs, fake_app):
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--ci-runtime")
    assert proc.returncode != 0 and "--ci-runtime is for ad-hoc test builds" in proc.stderr and calls == []
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build",
                       env_extra={"FACEMIRROR_ENTITLEMENTS": str(PACKAGING / "entitlements-ci.plist")})
    assert proc.returncode != 0 and "disables library validation: a release never does" in proc.stderr and calls == []
    # An ad-hoc build asking for the runtime without the exception would die at start: refused too.
    proc, calls = _run(stubs, fake_app["dist"], "--skip-build", "--no-notarize", "--ci-runtime",
                       env_extra={"FACEMIRROR_CODESIGN_IDENTITY": "-",
                                  "FACEMIRROR_ENTITLEMENTS": str(PACKAGING / "entitlements.plist")})
    assert proc.returncode != 0 and "needs com.apple.security.cs.disable-library-validation" in proc.stderr


# ============================================================================================
# A notarization that times out is resumed, never rebuilt or re-signed (issue 35)

def _notary(calls, sub):
    return [c["argv"] for c in calls if c["tool"] == "xcrun" and c["argv"][:2] == ["notarytool", sub]]


def test_a_timed_out_app_notarization_is_resumed_with_its_saved_id(stubs, fake_app):
    dist = fake_app["dist"]
    proc, calls = _run(stubs, dist, "--skip-build", env_extra={"STUB_NOTARY_STATUS": "In Progress"})
    assert proc.returncode != 0
    assert "did not finish within 30m" in proc.stderr and "--resume" in proc.stderr
    assert (dist / "notary-state" / "app.id").read_text().strip() == "0f1e2d3c-test-1"
    assert not any(c["tool"] == "hdiutil" for c in calls)

    proc, calls = _run(stubs, dist, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert not any(c["tool"] == "pyinstaller" for c in calls) and not any(_is_sign(c) and c["argv"][-1] == str(fake_app["app"]) for c in calls)
    assert not [c for c in calls if _is_sign(c) and not c["argv"][-1].endswith(".dmg")], "the submitted app was re-signed"
    assert any(c["tool"] == "codesign" and "--verify" in c["argv"] for c in calls)
    waits = _notary(calls, "wait")
    assert waits[0][2] == "0f1e2d3c-test-1"             # the app: the saved submission, not a new one
    assert len(_notary(calls, "submit")) == 1             # only the DMG is submitted
    staple = [c["argv"][-1] for c in calls if c["tool"] == "xcrun" and c["argv"][:2] == ["stapler", "staple"]]
    assert staple[0] == str(fake_app["app"]) and staple[1].endswith(".dmg")
    assert (dist / "notary-state" / "app.done").exists() and (dist / "notary-state" / "dmg.done").exists()


def test_a_timed_out_dmg_notarization_resumes_without_touching_the_stapled_app(stubs, fake_app, tmp_path):
    dist = fake_app["dist"]
    # The app's notarization is accepted; the DMG's times out (a stub that answers per id).
    wait_stub = stubs / "xcrun"
    wait_stub.write_text(wait_stub.read_text().replace(
        '"${STUB_NOTARY_STATUS:-Accepted}"', '"$( [ "${3-}" = 0f1e2d3c-test-2 ] && echo "${STUB_DMG_STATUS:-Accepted}" || echo Accepted)"'))
    dmg = dist / f"FaceMirror-{_app_version()}-arm64.dmg"
    # hdiutil is a stub: make the image it "created" exist, as the real one would.
    (stubs / "hdiutil").write_text(STUB + f'[ "${{1-}}" = create ] && : > "{dmg}"\n')
    proc, _ = _run(stubs, dist, "--skip-build", env_extra={"STUB_DMG_STATUS": "In Progress"})
    assert proc.returncode != 0 and "did not finish" in proc.stderr
    assert (dist / "notary-state" / "app.done").exists() and (dist / "notary-state" / "dmg.id").exists()

    proc, calls = _run(stubs, dist, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert _notary(calls, "submit") == [] and [w[2] for w in _notary(calls, "wait")] == ["0f1e2d3c-test-2"]
    assert not any(c["tool"] == "hdiutil" for c in calls) and not any(_is_sign(c) for c in calls)
    staple = [c["argv"][-1] for c in calls if c["tool"] == "xcrun" and c["argv"][:2] == ["stapler", "staple"]]
    assert staple == [str(dmg)]
    assert [c["tool"] for c in calls[-2:]] == ["spctl", "spctl"]


def test_resume_needs_a_saved_submission_and_a_fresh_run_forgets_old_ones(stubs, fake_app):
    dist = fake_app["dist"]
    proc, calls = _run(stubs, dist, "--resume")
    assert proc.returncode != 0 and "no saved notarization" in proc.stderr and calls == []
    _write(dist / "notary-state" / "app.id", b"stale-id\n")
    proc, calls = _run(stubs, dist, "--skip-build")
    assert proc.returncode == 0, proc.stderr
    assert "stale-id" not in [w[2] for w in _notary(calls, "wait")] and len(_notary(calls, "submit")) == 2


# ============================================================================================
# The release workflow: time, both STAR files cached, resumable notarization, the assertions, pins

def test_release_job_has_150_minutes_and_pull_requests_75():
    timeout = _workflow()["jobs"]["app"]["timeout-minutes"]
    assert timeout == "${{ (matrix.release == 'true' || inputs.opencv_without_ffmpeg == true) && 150 || 75 }}"


def test_opencv_without_ffmpeg_is_a_manual_test_build_of_the_pinned_version_never_a_release():
    wf = _workflow()
    step = _step(wf, "OpenCV from source without FFmpeg")
    assert "env.RELEASE != 'true'" in step["if"] and "inputs.opencv_without_ffmpeg == true" in step["if"]
    assert 'CMAKE_ARGS="-DWITH_FFMPEG=OFF"' in step["run"] and "--no-binary opencv-python-headless" in step["run"]
    assert "opencv-python-headless==" in step["run"] and "pyproject.toml" in step["run"]  # the pin, from pyproject
    assert 'sys.exit("OpenCV still has FFmpeg"' in step["run"]
    on = wf.get("on", wf.get(True))  # PyYAML reads the key `on` as True
    assert on["workflow_dispatch"]["inputs"]["opencv_without_ffmpeg"]["default"] is False


def test_release_caches_both_star_files_and_needs_neither_torch_nor_network_when_warm():
    wf = _workflow()
    from app.base import model_files

    manifest = model_files.load_manifest()["models"]
    star_files = {manifest[k]["file"] for k in model_files.models_from_checkpoint(model_files.STAR_KEY, manifest)}
    assert star_files == {"star_landmark_98.onnx", "star_landmark_98_live.onnx"}
    restore, save = _step(wf, "Restore converted release models"), _step(wf, "Save converted release models")
    for step in (restore, save):
        assert {f"weights/{f}" for f in star_files} == set(step["with"]["path"].split())
    assert save["with"]["key"] == "${{ steps.star.outputs.cache-primary-key }}"
    assert "cache-hit != 'true'" in save["if"]
    install = _step(wf, "Install pyproject's pins")["run"]
    assert "extras=convert,dev" in install and "steps.star.outputs.cache-hit }}\" = true ]; then extras=dev" in install
    models = _step(wf, "Real models")["run"]
    assert "models fetch --no-convert" in models  # warm: no download, no converter
    steps = [s.get("name", "") for s in _steps(wf)]
    assert steps.index("Restore converted release models") < steps.index(next(n for n in steps if n.startswith("Install pyproject")))


def test_release_notarization_state_is_saved_on_failure_and_resumed_by_a_re_run():
    wf = _workflow()
    restore = _step(wf, "Restore the notarization state")
    save = _step(wf, "Save the notarization state")
    assert restore["with"]["path"] == save["with"]["path"] == "dist"
    assert save["with"]["key"] == "notary-${{ github.run_id }}-${{ github.run_attempt }}"
    assert restore["with"]["restore-keys"] == "notary-${{ github.run_id }}-"   # any earlier attempt of this run
    assert save["if"].startswith("failure()") and "dist/notary-state/*.id" in save["if"]
    build = _step(wf, "Build, sign, notarize, staple, DMG (releases)")["run"]
    assert "build_macos.sh --resume" in build and "steps.notary.outputs.cache-matched-key" in build
    names = [s.get("name", "") for s in _steps(wf)]
    assert names.index(restore["name"]) < names.index("Build, sign, notarize, staple, DMG (releases)") < names.index(save["name"])


def test_workflow_asserts_the_signed_app_and_the_tag():
    wf = _workflow()
    tag = _step(wf, "The tag names the app's version")
    assert tag["if"] == "startsWith(github.ref, 'refs/tags/')" and "check_release.py tag" in tag["run"]
    signed = _step(wf, "Signed app")["run"]
    assert "check_release.py app dist/FaceMirror.app --mode" in signed and "mode=release" in signed and "--tag" in signed
    names = [s.get("name", "") for s in _steps(wf)]
    assert names.index(tag["name"]) < names.index(next(n for n in names if n.startswith("Install pyproject")))


def test_workflow_installs_from_pyprojects_pins_on_python_3_11():
    """The macOS build uses the pins chosen for the window (README "Qt binding"): pyproject's
    dependencies, installed from pyproject, checked after installing."""
    import tomllib

    wf = _workflow()
    setup = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/setup-python"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert setup["with"]["python-version"] == "3.11" and project["requires-python"] == ">=3.11"
    assert "PySide6-Essentials==6.11.3" in " ".join(project["dependencies"])
    install = _step(wf, "Install pyproject's pins")["run"]
    pip_lines = [ln for ln in install.splitlines() if "pip install" in ln]
    assert pip_lines == [".venv/bin/python -m pip install --quiet --upgrade pip",
                         '.venv/bin/python -m pip install --quiet -e ".[$extras]"']
    check = _step(wf, "Installed versions are pyproject's pins")["run"]
    assert 'project["dependencies"]' in check and "(3, 11)" in check
