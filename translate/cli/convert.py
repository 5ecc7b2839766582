"""``cyclegan-convert``: translate every image in a folder, mirroring its structure.

    cyclegan-convert photos/ translated/ --model emoji --direction AtoB
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from translate.inference import PRECISIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cyclegan-convert",
        description="Translate every image under INPUT (recursively) into the same relative path under OUTPUT. "
        "Input files are never modified; existing outputs are kept unless --overwrite is given.",
    )
    parser.add_argument("input", type=Path, help="folder of images to translate")
    parser.add_argument("output", type=Path, help="folder to write results to (must not be inside INPUT)")
    parser.add_argument("--model", default=None, help="weights folder, or the name of a shipped model (default: emoji)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB", help="translation direction")
    parser.add_argument("--full-resolution", action="store_true",
                        help="run the network at each image's own size instead of the model's training scale")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto picks bf16 where the hardware supports it natively; fp32 is the exact path")
    parser.add_argument("--device", default=None,
                        help="torch device, for example cpu or cuda:0 (default: the best available)")
    parser.add_argument("--overwrite", action="store_true", help="translate again images whose output exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO)
    from translate.batch import convert_folder
    from translate.inference import Translator
    from translate.models import resolve_model

    try:
        translator = Translator(
            resolve_model(args.model), args.direction, device=args.device, precision=args.precision,
            full_resolution=args.full_resolution,
        )
        print(f"Model: {translator.description} ({translator.info.variant}), device {translator.device}",
              file=sys.stderr)
        result = convert_folder(args.input, args.output, translator.translate, overwrite=args.overwrite,
                                progress=not args.quiet)
    except (FileNotFoundError, ValueError) as error:
        print(f"cyclegan-convert: error: {error}", file=sys.stderr)
        return 2

    print(f"Done: {result.summary()}. Output: {args.output}", file=sys.stderr)
    if result.ignored:
        print(f"Ignored (not an image extension): {', '.join(str(p) for p in result.ignored[:20])}"
              + (" ..." if len(result.ignored) > 20 else ""), file=sys.stderr)
    if result.failed:
        print("Failed files:", file=sys.stderr)
        for path, reason in result.failed:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
