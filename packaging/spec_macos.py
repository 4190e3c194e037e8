"""The macOS release: bundle identity, the oldest macOS it declares, Info.plist, and the minimum
macOS each collected Mach-O binary declares.

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

import fnmatch
import struct
from pathlib import Path
from typing import Iterable, Sequence

from app import APP_NAME
from spec_toc import norm_dest

BUNDLE_IDENTIFIER = "org.facemirror.FaceMirror"
TARGET_ARCH = "arm64"  # Apple Silicon only: the CoreML execution provider is the point of the Mac build

# Oldest macOS the bundle declares (LSMinimumSystemVersion), and the one the macOS CI job runs the
# frozen app on (macos-15, Apple Silicon): a minimum nobody tests is a promise nobody keeps, and
# GitHub retired its macOS 14 runners on 2026-11-02. The pinned wheels would allow older systems
# (PySide6 6.11.3's Qt frameworks declare macOS 13.0 and its Python bindings 15.0, read from the
# macosx_13_0_universal2 wheels on 2026-12-07; onnxruntime 1.32 and numpy 2.4 are built for
# macOS 14), but 15.0 is the oldest that can still be tested. The CI job fails if its runner stops
# matching this value. The spec re-reads every collected binary's minimum macOS (check_min_macos)
# so a dependency upgrade cannot silently raise the floor above it.
MIN_MACOS = "15.0"

# Reviewed binaries that declare a newer minimum macOS than MIN_MACOS: (destination glob, minos).
# Empty with PySide6 6.11.3 (every binary of its wheels declares 15.0 or older). PySide6 6.12.0,
# whose bindings declared 26.0, was left because it leaks references to None on Python 3.11
# (README, "Qt binding"). Any binary above MIN_MACOS fails the build unless it is listed here with
# exactly its minos, after someone has shown that it loads on MIN_MACOS.
MINOS_EXCEPTIONS: tuple[tuple[str, str], ...] = ()


# Environment variables the spec reads for the macOS release.
ENV_CODESIGN_IDENTITY = "FACEMIRROR_CODESIGN_IDENTITY"
ENV_BUILD_NUMBER = "FACEMIRROR_BUILD_NUMBER"  # CFBundleVersion: a number that only goes up (CI: run number)
ENV_ENTITLEMENTS = "FACEMIRROR_ENTITLEMENTS"


# --------------------------------------------------------------------------------------------
# Version and Info.plist

CAMERA_USAGE = ("FaceMirror shows the camera's picture mirrored left and right during a live "
                "assessment and records it only when you press Record. Nothing leaves this Mac.")
MICROPHONE_USAGE = ("FaceMirror records sound with a live assessment only when you press Record, "
                    "into the file you choose. Nothing leaves this Mac.")


def bundle_version(version: str, build_number: str | None) -> str:
    """CFBundleVersion: the CI build number (macOS compares it to decide what is newer, so it
    must only go up), else the marketing version for a local build."""
    build = (build_number or "").strip()
    if not build:
        return version
    if not build.isdigit():
        raise ValueError(f"{ENV_BUILD_NUMBER} must be a whole number, not {build!r}")
    return str(int(build))


def info_plist(version: str, build_number: str | None = None) -> dict:
    """Info.plist entries merged over PyInstaller's defaults (executable, icon, package type)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_IDENTIFIER,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": bundle_version(version, build_number),
        "CFBundleDevelopmentRegion": "en",
        "LSMinimumSystemVersion": MIN_MACOS,
        "LSApplicationCategoryType": "public.app-category.medical",
        # Retina rendering; Qt draws at the screen's scale.
        "NSHighResolutionCapable": True,
        # Follow the system's light/dark appearance (Qt supports both).
        "NSRequiresAquaSystemAppearance": False,
        # Videos and folders of videos can be dropped on the app icon / opened with FaceMirror,
        # which reads them only (Viewer) and never claims to be the default player (Alternate).
        # Qt delivers them as QFileOpenEvent (argv emulation is off).
        "CFBundleDocumentTypes": document_types(),
        "UTImportedTypeDeclarations": imported_types(),
        # The live mode (QCamera): macOS asks the user with these words and kills an app that
        # opens the camera or microphone without them.
        "NSCameraUsageDescription": CAMERA_USAGE,
        "NSMicrophoneUsageDescription": MICROPHONE_USAGE,
    }


# Container formats the app accepts (app/base/outputs.py VIDEO_EXTENSIONS) as uniform type
# identifiers. macOS declares most of them; Matroska and WebM are imported below so Finder knows
# them even where no other app declared them.
CONTAINER_TYPES = {
    ".mp4": "public.mpeg-4", ".m4v": "com.apple.m4v-video", ".mov": "com.apple.quicktime-movie",
    ".avi": "public.avi", ".mpg": "public.mpeg", ".mpeg": "public.mpeg", ".3gp": "public.3gpp",
    ".mts": "public.avchd-mpeg-2-transport-stream", ".m2ts": "public.avchd-mpeg-2-transport-stream",
    ".wmv": "com.microsoft.windows-media-wmv", ".mkv": "org.matroska.mkv", ".webm": "org.webmproject.webm",
}
IMPORTED_TYPES = {"org.matroska.mkv": ("Matroska video", ("mkv",), "video/x-matroska"),
                  "org.webmproject.webm": ("WebM video", ("webm",), "video/webm")}


def document_types() -> list[dict]:
    viewer = {"CFBundleTypeRole": "Viewer", "LSHandlerRank": "Alternate"}
    movies = sorted(set(CONTAINER_TYPES.values())) + ["public.movie"]
    return [
        {"CFBundleTypeName": "Video", "LSItemContentTypes": movies, **viewer},
        # A folder dropped on the Dock icon: every video inside it is queued.
        {"CFBundleTypeName": "Folder", "LSItemContentTypes": ["public.folder"], **viewer},
    ]


def imported_types() -> list[dict]:
    return [{"UTTypeIdentifier": uti, "UTTypeDescription": desc, "UTTypeConformsTo": ["public.movie"],
             "UTTypeTagSpecification": {"public.filename-extension": list(exts), "public.mime-type": mime}}
            for uti, (desc, exts, mime) in IMPORTED_TYPES.items()]


# --------------------------------------------------------------------------------------------
# Mach-O: the oldest macOS each binary runs on (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX), read
# with macholib (PyInstaller's own Mach-O library on macOS; a dev dependency elsewhere)

FAT_MAGICS = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")
PLATFORM_MACOS = 1


def _decode_version(v: int) -> str:
    major, minor, patch = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def macho_min_os(path: Path) -> dict[str, str | None]:
    """{arch: minimum macOS} for a Mach-O file (thin or fat); {} when it is not Mach-O."""
    from macholib import mach_o
    from macholib.MachO import MachO

    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8:
        return {}
    if head[:4] in FAT_MAGICS and not 0 < int.from_bytes(head[4:8], "big") < 20:
        return {}                       # a Java class file shares the 0xcafebabe magic
    try:
        headers = MachO(str(path), allow_unknown_load_commands=True).headers
    except (ValueError, struct.error):   # not Mach-O (macholib: "Unknown Mach-O header")
        return {}
    out: dict[str, str | None] = {}
    for h in headers:
        cpu = int(h.header.cputype) & 0xFFFFFFFF
        arch = mach_o.CPU_TYPE_NAMES.get(cpu, hex(cpu)).lower()
        minos = None
        for lc, cmd, _data in h.commands:
            if lc.cmd == mach_o.LC_BUILD_VERSION and cmd.platform == PLATFORM_MACOS:
                minos = _decode_version(int(cmd.minos))
                break
            if lc.cmd == mach_o.LC_VERSION_MIN_MACOSX:
                minos = _decode_version(int(cmd.version))
                break
        out[arch] = minos
    return out


def check_min_macos(entries: Iterable[tuple], declared: str = MIN_MACOS, arch: str = TARGET_ARCH,
                    exceptions: Sequence[tuple[str, str]] = MINOS_EXCEPTIONS
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Binaries whose `arch` slice declares a newer minimum macOS than `declared`.

    entries are TOC entries (dest, src, ...). Returns (too_new, excused): (dest, minos) pairs;
    excused ones match a reviewed MINOS_EXCEPTIONS pattern with exactly that minos.
    """
    too_new, excused = [], []
    for entry in entries:
        dest, src = norm_dest(entry[0]), entry[1]
        try:
            info = macho_min_os(Path(src))
        except (OSError, struct.error):
            continue
        minos = info.get(arch)
        if minos and version_tuple(minos) > version_tuple(declared):
            if any(fnmatch.fnmatch(dest, pat) and minos == v for pat, v in exceptions):
                excused.append((dest, minos))
            else:
                too_new.append((dest, minos))
    return too_new, excused
