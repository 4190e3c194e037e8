"""Draw FaceMirror's app icon and write resources/FaceMirror.png and resources/FaceMirror.icns.

    .venv/bin/python packaging/make_icns.py            # rewrite both files
    .venv/bin/python packaging/make_icns.py --check    # parse the committed .icns and list entries

The icon is a face outline split by a vertical midline, the two halves in different tones: what
the app does to a patient's face. It is drawn with NumPy and OpenCV (4x supersampled, then
area-downscaled for smooth edges), so no image editor or macOS tool (iconutil) is needed.

The .icns container is written here (b'icns' + big-endian total length, then entries of 4-byte
type + big-endian length (header included) + PNG bytes; PNG payloads are allowed for all the types
used here since macOS 10.7) because Pillow's ICNS writer (13.0) writes only ic07-ic14: no 16x16
and 32x32 1x entries (icp4, icp5), which Finder's list view and the Dock's small sizes use.
The file is read back with Pillow's ICNS reader (`--check`, the tests).
"""
from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import cv2
import numpy as np

RESOURCES = Path(__file__).resolve().parent.parent / "resources"

# icns type -> pixel size of its PNG (the @2x types hold double-resolution images).
ICNS_TYPES: dict[str, int] = {
    "icp4": 16,    # 16x16
    "icp5": 32,    # 32x32
    "ic11": 32,    # 16x16@2x
    "ic12": 64,    # 32x32@2x
    "ic07": 128,   # 128x128
    "ic13": 256,   # 128x128@2x
    "ic08": 256,   # 256x256
    "ic14": 512,   # 256x256@2x
    "ic09": 512,   # 512x512
    "ic10": 1024,  # 512x512@2x
}


# Colours (BGR).
BACKGROUND_TOP = (74, 48, 32)       # deep navy
BACKGROUND_BOTTOM = (120, 84, 52)
LEFT_TONE = (196, 176, 76)          # teal-blue half
RIGHT_TONE = (120, 178, 236)        # warm sand half
FEATURE = (60, 44, 36)
MIDLINE = (255, 255, 255)


def _rounded_rect_mask(size: int, margin: float, radius: float) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    x0, y0, x1, y1 = int(margin), int(margin), int(size - margin), int(size - margin)
    r = int(radius)
    cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), 255, -1)
    cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return mask


def draw_icon(size: int = 1024, supersample: int = 4) -> np.ndarray:
    """The icon as a BGRA uint8 image of size x size."""
    S = size * supersample
    u = S / 1024.0  # drawing units: a 1024 canvas

    def p(x: float, y: float) -> tuple[int, int]:
        return int(round(x * u)), int(round(y * u))

    # Background: macOS-style rounded square (824 px body on a 1024 canvas) with a vertical gradient.
    t = np.linspace(0.0, 1.0, S, dtype=np.float32)[:, None, None]
    top, bottom = np.array(BACKGROUND_TOP, np.float32), np.array(BACKGROUND_BOTTOM, np.float32)
    img = np.broadcast_to(top * (1 - t) + bottom * t, (S, S, 3)).astype(np.uint8).copy()
    alpha = _rounded_rect_mask(S, 100 * u, 185 * u)

    # Face: one ellipse, left image half in one tone, right half in the other.
    face = np.zeros((S, S), np.uint8)
    cv2.ellipse(face, p(512, 530), p(250, 320), 0, 0, 360, 255, -1, cv2.LINE_AA)
    half = np.zeros((S, S), bool)
    half[:, : S // 2] = True
    for tone, region in ((LEFT_TONE, half), (RIGHT_TONE, ~half)):
        m = (face > 0) & region
        img[m] = tone

    # Features mirrored about the midline: brows, eyes, nostril, mouth corners.
    th = max(1, int(round(18 * u)))
    for sx in (-1, 1):
        cx = 512 + sx * 112
        cv2.ellipse(img, p(cx, 430), p(62, 26), 0, 200 if sx < 0 else 200, 340, FEATURE, th, cv2.LINE_AA)
        cv2.ellipse(img, p(cx, 492), p(46, 24), 0, 0, 360, FEATURE, -1, cv2.LINE_AA)
        cv2.circle(img, p(512 + sx * 28, 640), int(14 * u), FEATURE, -1, cv2.LINE_AA)
    cv2.ellipse(img, p(512, 700), p(120, 52), 0, 20, 160, FEATURE, th, cv2.LINE_AA)

    # The midline, beyond the face outline, with a soft gap in the dashes.
    lw = max(1, int(round(14 * u)))
    y = 170
    while y < 880:
        cv2.line(img, p(512, y), p(512, min(y + 52, 880)), MIDLINE, lw, cv2.LINE_AA)
        y += 82

    bgra = np.dstack([img, alpha])
    if supersample > 1:
        # Area downscaling with premultiplied alpha so edges do not pick up the background.
        a = bgra[..., 3:4].astype(np.float32) / 255.0
        pre = np.dstack([bgra[..., :3].astype(np.float32) * a, a * 255.0])
        small = cv2.resize(pre, (size, size), interpolation=cv2.INTER_AREA)
        sa = small[..., 3:4] / 255.0
        rgb = np.where(sa > 0, small[..., :3] / np.maximum(sa, 1e-6), 0)
        bgra = np.dstack([np.clip(rgb, 0, 255), small[..., 3:4]]).round().astype(np.uint8)
    return bgra


def png_bytes(bgra: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def resized(bgra: np.ndarray, size: int) -> np.ndarray:
    if bgra.shape[0] == size:
        return bgra
    return cv2.resize(bgra, (size, size), interpolation=cv2.INTER_AREA)


def build_icns(entries: list[tuple[str, bytes]]) -> bytes:
    """The icns container for (type, payload) entries."""
    body = b""
    for kind, data in entries:
        tag = kind.encode("ascii")
        if len(tag) != 4:
            raise ValueError(f"icns type must be 4 ASCII characters: {kind!r}")
        body += tag + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def icns_entries(path: Path) -> dict[str, tuple[int, int]]:
    """{type: (width, height)} of every image in an .icns file, decoded by Pillow's ICNS reader
    (an independent reader of what build_icns writes); raises on a malformed file."""
    from PIL import IcnsImagePlugin

    out = {}
    with open(path, "rb") as fh:
        icns = IcnsImagePlugin.IcnsFile(fh)
        for size, readers in icns.SIZES.items():
            for kind, reader in readers:
                if kind in icns.dct:
                    images = reader(fh, icns.dct[kind], size)
                    out[kind.decode("ascii")] = next(iter(images.values())).size
    return out


def make_icon_files(out_dir: Path = RESOURCES) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    master = draw_icon(1024)
    png_path = out_dir / "FaceMirror.png"
    png_path.write_bytes(png_bytes(master))
    cache: dict[int, bytes] = {}
    entries = []
    for kind, size in ICNS_TYPES.items():
        if size not in cache:
            cache[size] = png_bytes(resized(master, size))
        entries.append((kind, cache[size]))
    icns_path = out_dir / "FaceMirror.icns"
    icns_path.write_bytes(build_icns(entries))
    return png_path, icns_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=RESOURCES, help="output folder (default: resources/)")
    ap.add_argument("--check", action="store_true", help="only read the existing .icns back and list its entries")
    args = ap.parse_args(argv)
    if not args.check:
        png_path, icns_path = make_icon_files(args.out)
        print(f"wrote {png_path} ({png_path.stat().st_size} bytes)")
        print(f"wrote {icns_path} ({icns_path.stat().st_size} bytes)")
    icns_path = args.out / "FaceMirror.icns"
    for kind, (w, h) in icns_entries(icns_path).items():
        print(f"  {kind}: {w}x{h}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
