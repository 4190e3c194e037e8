"""`convert` (a checkpoint to ONNX) and `models fetch` (the official checkpoints): their options
live here, in app/cli, because the app bundle leaves app/convert out (packaging/spec_modules.py)
and its `--help` still lists them. The converters are imported only when a command runs: torch is
never imported at start-up.
"""
from __future__ import annotations

import sys
from pathlib import Path

from app.base import model_files


def add_parser(sub) -> None:
    conv = sub.add_parser("convert", help="convert a published checkpoint to ONNX")
    conv_sub = conv.add_subparsers(dest="model", required=True)
    for name, default_out in (("star", f"weights/{model_files.STAR_FILE}"),
                              ("retinaface", f"weights/{model_files.RETINAFACE_FILE}")):
        c = conv_sub.add_parser(name, help=f"convert the {name} checkpoint")
        c.add_argument("checkpoint", nargs="?", type=Path, help="checkpoint file (.pkl / .pth)")
        if name == "star":      # the default depends on --stacks (_star_default_out)
            c.add_argument("--out", type=Path, default=None,
                           help=f"output ONNX file (default {default_out}; with --stacks K below "
                                f"{model_files.STAR_STACKS}: weights/{model_files.STAR_LIVE_FILE})")
        else:
            c.add_argument("--out", type=Path, default=Path(default_out), help=f"output ONNX file (default {default_out})")
        c.add_argument("--random-weights", action="store_true",
                       help="export the architecture with random weights (development and tests; marked untrained)")
        c.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
        c.add_argument("--overwrite", action="store_true", help="replace an existing output file")
        c.add_argument("--skip-coreml-check", action="store_true", help="do not run ONNX Runtime's CoreML checker")
        c.add_argument("--verify-inputs", type=int, default=None, metavar="N",
                       help="how many generated inputs the ONNX-vs-PyTorch check uses (STAR: uniform noise, "
                            "default 4, besides the synthetic face and the photos' faces; RetinaFace: "
                            "synthetic faces, default 3); each costs one PyTorch run")
        if name == "star":
            c.add_argument("--verify-photo", type=Path, action="append", default=None, metavar="PHOTO",
                           help="a photograph with a face; its face crops join the ONNX-vs-PyTorch check "
                                "(repeatable; default: the development photos in ../shared/media when present)")
            c.add_argument("--stacks", type=int, default=None, metavar="K",
                           help=f"early exit: run only the first K of STAR's {model_files.STAR_STACKS} hourglass "
                                f"stacks (each is trained to give landmarks; about K/{model_files.STAR_STACKS} of the "
                                f"compute). The live exam's panes use K={model_files.STAR_LIVE_STACKS}; recordings "
                                "always use full STAR. Default: all stacks")
    conv.set_defaults(run=convert_command)

    models = sub.add_parser("models", help="official model files")
    models_sub = models.add_subparsers(dest="action", required=True)
    fetch = models_sub.add_parser("fetch", help="download the official checkpoints and convert them")
    fetch.add_argument("--base-url", default=None, help="where the checkpoints are served (default: OpenFace 3.0's Hugging Face repository)")
    fetch.add_argument("--dest", type=Path, default=None, help="weights folder (default: the repository's weights/)")
    fetch.add_argument("--no-convert", action="store_true", help="download only")
    fetch.add_argument("--overwrite", action="store_true", help="replace existing converted models")
    fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    fetch.set_defaults(run=fetch_command)


def fetch_command(args) -> int:
    from app.convert.fetch import fetch_command as fetch_models

    return fetch_models(args)


def star_default_out(stacks: int | None) -> Path:
    """`convert star`'s output without --out: a cut model goes to the live model's file, so that
    nobody overwrites full STAR (which recordings are analysed with) by adding --stacks."""
    cut = stacks is not None and stacks < model_files.STAR_STACKS
    return Path("weights") / (model_files.STAR_LIVE_FILE if cut else model_files.STAR_FILE)


def convert_command(args) -> int:
    from app.convert.common import ConvertError

    if not args.random_weights and args.checkpoint is None:
        print("error: give a checkpoint file or --random-weights", file=sys.stderr)
        return 2
    from app.convert import EXTRAS_HINT, converter_for, extras_available

    if not extras_available():
        print(f"error: {EXTRAS_HINT}", file=sys.stderr)
        return 2
    extra = {"verify_photos": args.verify_photo} if getattr(args, "verify_photo", None) else {}
    if args.verify_inputs is not None:
        extra["verify_inputs"] = args.verify_inputs
    out = args.out
    if args.model == "star":
        extra["stacks"] = args.stacks
        out = out or star_default_out(args.stacks)
    try:
        converter_for(args.model)(args.checkpoint, out, random_weights=args.random_weights, seed=args.seed,
                                  overwrite=args.overwrite, coreml_check=not args.skip_coreml_check, **extra)
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
