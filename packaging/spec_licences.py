"""Third-party notices and licence texts, generated at build time from the installed
distributions, and the licence texts a bundled library makes necessary.

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable, Sequence

from app import APP_NAME
from spec_toc import norm_dest

NOTICES_NAME = "THIRD_PARTY_NOTICES.txt"
LICENSE_NAME = "LICENSE"
LICENCE_FILE_RE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT|AUTHORS|THIRDPARTYNOTICES|"
                             r"THIRD[-_]PARTY)", re.IGNORECASE)
# Licence texts the wheels do not carry themselves (packaging/licenses/, verbatim FSF texts), by
# normalised distribution name (what they contain: packaging/README "Bundled codecs and licences"):
# Qt/PySide6 ship none; PyAV's FFmpeg is built as LGPL-3.0 (version3) and linked with x264/x265
# (GPL-2.0-or-later), lame and gnutls are LGPL-2.x; OpenCV's macOS FFmpeg is a GPL-3.0 build
# although its LICENSE-3RD-PARTY.txt only carries LGPL-2.1.
EXTRA_LICENCE_TEXTS = {
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "av": ("LGPL-3.0.txt", "GPL-3.0.txt", "GPL-2.0.txt", "LGPL-2.1.txt"),
    "opencv-python-headless": ("GPL-3.0.txt", "LGPL-2.1.txt"),
}
# Distributions in every build that no import names: PyInstaller's bootloader runs the app.
ALWAYS_BUNDLED = ("pyinstaller",)

# A bundled copy of a library needs its licence text, both in the notices and as a file in
# LICENCES_DIR; each text is (file in packaging/licenses, words the notices must contain).
LICENCES_DIR = "licenses"  # the same texts as separate files: licenses/<dist>-<version>/..., licenses/GPL-3.0.txt
GPL2 = ("GPL-2.0.txt", "GNU GENERAL PUBLIC LICENSE Version 2, June 1991")
GPL3 = ("GPL-3.0.txt", "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007")
LGPL21 = ("LGPL-2.1.txt", "GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999")
LGPL3 = ("LGPL-3.0.txt", "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007")
# (file name pattern of a bundled library, licence texts it needs): both in the notices and as a file.
LICENCE_MARKERS = (
    (re.compile(r"libx26[45]"), (GPL2,)),
    (re.compile(r"libavcodec"), (LGPL3, GPL3, LGPL21)),
    (re.compile(r"(libQt6Core|QtCore\.framework)"), (LGPL3, GPL3)),
)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_names(pure: Iterable[tuple], binaries: Iterable[tuple]) -> set[str]:
    """Top-level import names of everything bundled: modules, and folders binaries sit in."""
    names = {str(e[0]).split(".")[0] for e in pure}
    for e in binaries:
        parts = norm_dest(e[0]).split("/")
        if len(parts) > 1:
            names.add(parts[0])
        else:
            names.add(parts[0].split(".")[0])
    return names


def bundled_distributions(top_names: Iterable[str], own: str = "facemirror") -> list:
    """importlib.metadata distributions that provide any of top_names (not our own), by name."""
    from importlib import metadata

    mapping = metadata.packages_distributions()
    wanted = {normalise(d) for n in top_names for d in mapping.get(n, [])} | set(ALWAYS_BUNDLED)
    wanted.discard(own)
    dists = {}
    for dist in metadata.distributions():
        name = normalise(dist.metadata["Name"] or "")
        if name in wanted and name not in dists:
            dists[name] = dist
    return [dists[k] for k in sorted(dists)]


def licence_texts(dist) -> list[tuple[str, str]]:
    """(relative path, text) of the licence/notice files a distribution installed."""
    out = []
    for f in dist.files or []:
        if len(f.parts) > 3 or f.suffix in (".py", ".pyc", ".pyi") or "__pycache__" in f.parts:
            continue
        in_licence_dir = len(f.parts) > 1 and f.parts[-2] in ("licenses", "license_files")
        if not (LICENCE_FILE_RE.match(f.name) or in_licence_dir):
            continue
        try:
            out.append((str(f), Path(dist.locate_file(f)).read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out


def dist_licence_summary(dist) -> str:
    md = dist.metadata
    expr = md.get("License-Expression") or ""
    lic = (md.get("License") or "").strip()
    if not expr and lic and len(lic) < 200:
        expr = lic
    classifiers = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    return expr or ", ".join(classifiers) or "see the licence text below"


def python_licence_text() -> str | None:
    import sysconfig

    for base in (sysconfig.get_paths()["stdlib"],):
        p = Path(base) / "LICENSE.txt"
        if p.is_file():
            return p.read_text(encoding="utf-8", errors="replace")
    return None


def third_party_notices(dists: Sequence, licences_dir: Path, app_name: str = APP_NAME) -> str:
    """The notices file: one section per bundled distribution with its licence texts, then the
    texts from packaging/licenses that wheels do not carry, then CPython's licence."""
    rule = "=" * 78
    parts = [f"{app_name} bundles the following third-party software. Generated at build time from the",
             "installed distributions' metadata and licence files.", ""]
    parts += [f"  {dist.metadata['Name']} {dist.version}: {dist_licence_summary(dist)}" for dist in dists]
    parts.append(f"  Python {sys.version.split()[0]}: PSF-2.0")
    extra_needed: list[str] = []
    for dist in dists:
        parts += ["", rule, f"{dist.metadata['Name']} {dist.version}",
                  f"Licence: {dist_licence_summary(dist)}", rule]
        texts = licence_texts(dist)
        seen: set[str] = set()
        for rel, text in texts:
            if text.strip() in seen:  # e.g. opencv installs the same texts in cv2/ and its dist-info
                continue
            seen.add(text.strip())
            parts += ["", f"--- {rel} ---", text.rstrip()]
        for extra in EXTRA_LICENCE_TEXTS.get(normalise(dist.metadata["Name"]), ()):
            parts.append(f"(full text of {extra[:-4]}: see the end of this file)")
            if extra not in extra_needed:
                extra_needed.append(extra)
        if not texts and normalise(dist.metadata["Name"]) not in EXTRA_LICENCE_TEXTS:
            parts.append("(this distribution installed no licence file)")
    for extra in extra_needed:
        parts += ["", rule, f"Licence text: {extra[:-4]}", rule, "",
                  (Path(licences_dir) / extra).read_text(encoding="utf-8").rstrip()]
    py = python_licence_text()
    parts += ["", rule, f"Python {sys.version.split()[0]}", rule, "",
              py.rstrip() if py else "PSF License Agreement: https://docs.python.org/3/license.html"]
    return "\n".join(parts) + "\n"


def write_licence_folder(dists: Sequence, licences_dir: Path, dest: Path) -> list[Path]:
    """The licence files as separate files: dest/<dist>-<version>/<file> and the FSF texts."""
    written = []
    for dist in dists:
        folder = Path(dest) / f"{normalise(dist.metadata['Name'])}-{dist.version}"
        for rel, text in licence_texts(dist):
            target = folder / rel.replace("/", "__")  # flat and unique: cv2__LICENSE.txt, ...
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    for text_file in sorted(Path(licences_dir).glob("*.txt")):
        target = Path(dest) / text_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text_file.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    return written
