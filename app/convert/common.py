"""Habits every converter shares: never overwrite unless asked, write to a temporary name and
rename only after verification, mark development models, run ONNX Runtime's CoreML checker and
record the result in the manifest beside the output.

torch-free so that it can be used (and tested) without the converter extras.
"""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from app.engine import runtime


class ConvertError(RuntimeError):
    """A conversion that cannot go on; the message is shown to the user as is."""


# ---------------------------------------------------------------------------------------------
# Reading checkpoints: safe loading only, problems told in plain words
# ---------------------------------------------------------------------------------------------
_ZIP_MAGIC = b"PK\x03\x04"


def load_checkpoint_safely(path: Path):
    """torch.load(path) in safe mode (tensors and plain containers only, never code from the file).

    Raises ConvertError with a plain-words reason; the loader's own message (pickle, zip or
    archive-reader internals) is never passed on.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: checkpoint file not found")
    try:
        with warnings.catch_warnings():  # the loader's warnings are internals too
            warnings.simplefilter("ignore")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one plain sentence
        raise ConvertError(explain_unreadable_checkpoint(path, exc)) from None


def explain_unreadable_checkpoint(path: Path, exc: BaseException) -> str:
    """Why torch.load could not read path, in words a user can act on (decided from the file's
    bytes, not from the loader's message)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as err:
        return f"{path}: cannot be read ({err.strerror or 'unreadable'})"
    again = "Download or copy it again."
    if size == 0:
        return f"{path} is empty (0 bytes): the download or copy did not complete. {again}"
    if head.startswith(_ZIP_MAGIC):
        return _explain_zip_checkpoint(path, size, exc, again)
    if head[:1] == b"\x80":  # a pickle stream: the pre-1.6 PyTorch format or a plain pickle
        if isinstance(exc, (EOFError, RuntimeError)):
            return (f"{path} is incomplete: the file ends early ({size:,} bytes; the download or copy "
                    f"was cut short). {again}")
        return (f"{path} is a Python pickle that safe loading cannot read: it is not a PyTorch checkpoint of "
                f"plain weights.")
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:200]:
        return (f"{path} is a web page (HTML), not a checkpoint: the download saved an error or sign-in page "
                f"instead of the file. {again}")
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        first = head.decode("ascii", "replace").strip().splitlines()[0][:60] if head.strip() else ""
        return f"{path} is a text file, not a PyTorch checkpoint (it starts with {first!r})."
    return f"{path} is not a PyTorch checkpoint (its content is not in any format PyTorch writes)."


def _explain_zip_checkpoint(path: Path, size: int, exc: BaseException, again: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            damaged = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        return (f"{path} is incomplete: it is the start of a PyTorch checkpoint but its end is missing "
                f"({size:,} bytes; the download or copy was cut short). {again}")
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return f"{path} is a zip archive but not a PyTorch checkpoint (it has no PyTorch data record)."
    if damaged is not None:
        return f"{path} is damaged: part of it fails its checksum. {again}"
    if isinstance(exc, pickle.UnpicklingError):
        found = _unsafe_globals(path)
        what = f" ({', '.join(found[:5])})" if found else ""
        return (f"{path} holds Python objects besides the network weights{what}. FaceMirror reads "
                f"checkpoints only in safe mode (tensors and plain data, never code from the file), so it cannot "
                f"read this one. A checkpoint saved with torch.save(model.state_dict(), path) can be read.")
    return f"{path} is a damaged PyTorch checkpoint (its data record cannot be read). {again}"


def _unsafe_globals(path: Path) -> list[str]:
    """Names of the Python classes/functions a checkpoint refers to that safe loading refuses."""
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint

        return list(get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - only used to name things in a message
        return []


def check_output_path(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise ConvertError(f"{out} already exists; pass --overwrite to replace it.")
    if not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(out.parent, os.W_OK):
        raise ConvertError(f"cannot write to folder {out.parent}")


def temp_output_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial-{os.getpid()}")


def finish_output(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move the verified model into place. Without `overwrite` a file that appeared meanwhile is
    not replaced: a hard link fails when the name exists (no window between a check and a rename);
    where the file system has no hard links, the check is made just before the rename."""
    if overwrite:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise ConvertError(f"{out} already exists; pass --overwrite to replace it.") from None
    except OSError:                     # no hard links here (e.g. some network or FAT file systems)
        if out.exists():
            raise ConvertError(f"{out} already exists; pass --overwrite to replace it.") from None
        os.replace(tmp, out)
        return
    tmp.unlink()


def discard(tmp: Path) -> None:
    tmp.unlink(missing_ok=True)


def drop_unused_initializers(graph) -> None:
    """In place: remove the ONNX graph's initializers that nothing reads any more (no node's
    input, no graph output), left behind by a clean-up that removed their readers."""
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for init in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(init)


def set_metadata(onnx_path: Path, meta: dict[str, str], ort_version: str | None = None, *,
                 cache_key: bool = True) -> None:
    """Write string metadata_props into an ONNX file in place (before it is renamed), then (unless
    ``cache_key`` is off) its COREML_CACHE_KEY for the installed (or the given) ONNX Runtime
    version, computed last so that it covers everything else in the file."""
    import onnx

    model = onnx.load(str(onnx_path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, str(value)
    if cache_key:
        stamp_coreml_cache_key(model, ort_version)
    onnx.save(model, str(onnx_path))


def model_content_sha256(model) -> str:
    """sha256 of an onnx ModelProto serialised without its COREML_CACHE_KEY (the key's input)."""
    import hashlib

    copy = type(model)()
    copy.CopyFrom(model)
    keep = [p for p in copy.metadata_props if p.key != runtime.META_COREML_CACHE_KEY]
    del copy.metadata_props[:]
    copy.metadata_props.extend(keep)
    return hashlib.sha256(copy.SerializeToString()).hexdigest()


def stamp_coreml_cache_key(model, ort_version: str | None = None) -> str:
    """Set the ModelProto's COREML_CACHE_KEY (model content sha256 + ONNX Runtime version) and
    return it. ORT then names the compiled model's cache folder by it, not by the model's path."""
    version = ort_version or runtime.onnxruntime_version()
    key = runtime.coreml_metadata_cache_key(model_content_sha256(model), version)
    if not runtime.valid_coreml_cache_key(key):  # a sha256 hex digest always is; never write one ORT ignores
        raise ValueError(f"not a valid {runtime.META_COREML_CACHE_KEY}: {key!r}")
    for prop in model.metadata_props:
        if prop.key == runtime.META_COREML_CACHE_KEY:
            prop.value = key
            break
    else:
        prop = model.metadata_props.add()
        prop.key, prop.value = runtime.META_COREML_CACHE_KEY, key
    return key


@dataclass
class CoreMLCheck:
    """What ONNX Runtime's mobile usability checker says about the CoreML MLProgram EP."""
    partitions: int
    supported_nodes: int
    total_nodes: int
    unsupported_ops: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def fully_supported(self) -> bool:
        return self.partitions == 1 and self.supported_nodes == self.total_nodes

    def summary(self) -> str:
        pct = 100.0 * self.supported_nodes / self.total_nodes if self.total_nodes else 0.0
        text = (f"CoreML MLProgram: {self.partitions} partition(s), "
                f"{self.supported_nodes}/{self.total_nodes} nodes supported ({pct:.1f} %)")
        if self.unsupported_ops:
            text += "; unsupported ops: " + ", ".join(self.unsupported_ops)
        return text

    def as_dict(self) -> dict:
        return {"partitions": self.partitions, "supported_nodes": self.supported_nodes,
                "total_nodes": self.total_nodes, "unsupported_ops": self.unsupported_ops}


_PARTITIONS = re.compile(r"(\d+) partitions with a total of (\d+)/(\d+) nodes")
_UNSUPPORTED = re.compile(r"Unsupported ops:\s*(.*)")


def parse_coreml_check(text: str) -> CoreMLCheck:
    """Parse the 'Checking CoreML MLProgram' section of the checker's log."""
    start = text.find("Checking CoreML MLProgram")
    if start < 0:
        raise ConvertError("ONNX Runtime's checker printed no CoreML MLProgram section:\n" + text[-2000:])
    section = text[start:]
    end = section.find("================")
    if end > 0:
        section = section[:end]
    m = _PARTITIONS.search(section)
    if not m:
        raise ConvertError("could not read the CoreML MLProgram partition count:\n" + section)
    ops: list[str] = []
    u = _UNSUPPORTED.search(section)
    if u:
        ops = [op.strip() for op in u.group(1).split(",") if op.strip()]
    return CoreMLCheck(int(m.group(1)), int(m.group(2)), int(m.group(3)), ops, section.strip())


def run_coreml_check(onnx_path: Path) -> CoreMLCheck:
    """Run `python -m onnxruntime.tools.check_onnx_model_mobile_usability` on a model."""
    proc = subprocess.run(
        [sys.executable, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability", str(onnx_path)],
        capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise ConvertError(f"ONNX Runtime's checker failed (exit {proc.returncode}):\n{text[-2000:]}")
    return parse_coreml_check(text)


def coreml_report(onnx_path: Path, label: str, log) -> tuple[dict | None, str]:
    """Run the CoreML checker and log its summary. A checker that cannot run is reported, not fatal."""
    try:
        check = run_coreml_check(onnx_path)
    except ConvertError as exc:
        summary = f"{label}: CoreML check could not run: {exc}"
        log(summary)
        return None, summary
    summary = check.summary()
    log(summary)
    if not check.fully_supported:
        log(f"{label}: warning: the model is not one CoreML partition; CoreML may be slow or fall back to the CPU")
    return check.as_dict(), summary
