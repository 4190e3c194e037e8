"""`python main.py models fetch`: download the official checkpoints and convert them.

For people building from source with internet access. The app itself never downloads anything.
Downloads go to a temporary name and are renamed only when complete and (where the manifest
knows the sha256) verified, so an interrupted download leaves nothing behind.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from app.base import model_files

DEFAULT_BASE_URL = model_files.WEIGHTS_DOWNLOAD_URL
CHUNK = 1 << 16


class FetchError(RuntimeError):
    pass


def _progress(name: str, done: int, total: int | None, out) -> None:
    if total:
        pct = 100.0 * done / total
        out.write(f"\r  {name}: {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({pct:5.1f} %)")
    else:
        out.write(f"\r  {name}: {done / 1e6:7.1f} MB")
    out.flush()


def download(url: str, dest: Path, *, expected_sha256: str | None = None, timeout: float = 30.0,
             out=sys.stdout) -> str:
    """Download url to dest atomically; return the sha256. Raises FetchError."""
    import hashlib

    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    h = hashlib.sha256()
    try:
        try:
            resp = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - https/http URL from the manifest
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: server answered {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(f"cannot reach {url} ({reason})") from exc
        with resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            with open(tmp, "wb") as fh:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (OSError, ValueError) as exc:  # connection dropped mid-body
                        raise FetchError(f"{url}: download interrupted after {done} bytes ({exc})") from exc
                    if not block:
                        break
                    fh.write(block)
                    h.update(block)
                    done += len(block)
                    _progress(dest.name, done, total, out)
            out.write("\n")
            if total is not None and done != total:
                raise FetchError(f"{url}: download interrupted ({done} of {total} bytes)")
        digest = h.hexdigest()
        if expected_sha256 and digest != expected_sha256:
            raise FetchError(f"{dest.name}: sha256 {digest} does not match the manifest's {expected_sha256}; "
                             "the file was not kept")
        os.replace(tmp, dest)
        return digest
    finally:
        tmp.unlink(missing_ok=True)


def model_entries(manifest: dict) -> dict:
    """The models to make: the project's list, with the destination manifest's entries over it
    (a folder fetched into before the live model existed lists only the older models)."""
    return {**model_files.load_manifest().get("models", {}), **manifest.get("models", {})}


def fetch_command(args) -> int:
    base = (args.base_url or DEFAULT_BASE_URL).rstrip("/")
    dest = args.dest or model_files.paths.repo_weights_dir()
    dest.mkdir(parents=True, exist_ok=True)
    manifest_file = dest / model_files.MANIFEST_NAME
    if not manifest_file.exists():
        manifest_file = model_files.manifest_path()
    manifest = model_files.load_manifest(manifest_file)
    checkpoints = manifest.get("checkpoints", {})
    models = model_entries(manifest)
    fetched: dict[str, Path] = {}
    for key in (model_files.STAR_KEY, model_files.RETINAFACE_KEY):
        ck = checkpoints[key]
        made = [dest / models[m]["file"] for m in model_files.models_from_checkpoint(key, models)]
        if all(p.is_file() for p in made) and not args.overwrite:
            # e.g. the committed face detector: nothing to download or convert
            print(f"{', '.join(p.name for p in made)}: already in {dest}, its checkpoint is not needed")
            continue
        target = dest / ck["file"]
        if target.exists():
            print(f"{ck['file']}: already in {dest}, not downloaded again")
            fetched[key] = target
            continue
        url = f"{base}/{ck['file']}"
        print(f"downloading {url}")
        try:
            digest = download(url, target, expected_sha256=ck.get("sha256"), timeout=args.timeout)
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(f"If this machine has no internet access, download {ck['file']} from "
                  f"{model_files.WEIGHTS_REPO_URL} by other means, put it in {dest}, "
                  "and run the convert command shown by `python main.py doctor`.", file=sys.stderr)
            return 2
        if not ck.get("sha256"):
            model_files.record_checkpoint_sha(key, digest, manifest_file)
            print(f"  sha256 {digest} (recorded in {manifest_file})")
        else:
            print(f"  sha256 verified: {digest}")
        fetched[key] = target
    if args.no_convert:
        return 0
    return _convert_all(fetched, dest, manifest, overwrite=args.overwrite)


def _convert_all(fetched: dict[str, Path], dest: Path, manifest: dict, overwrite: bool) -> int:
    from app.convert import EXTRAS_HINT, converter_for, extras_available

    if not extras_available():
        print(f"downloaded; to convert them, {EXTRAS_HINT}", file=sys.stderr)
        return 2
    from app.convert.common import ConvertError

    status = 0
    models = model_entries(manifest)
    for ck_key, ckpt in fetched.items():
        for key in model_files.models_from_checkpoint(ck_key, models):
            out = dest / models[key]["file"]
            if out.exists() and not overwrite:
                print(f"{out.name}: already converted (pass --overwrite to convert again)")
                continue
            try:
                converter_for(key)(ckpt, out, overwrite=overwrite)
            except ConvertError as exc:
                print(f"error converting {ckpt.name} to {out.name}: {exc}", file=sys.stderr)
                status = 2
    return status
