"""``cyclegan-evaluate``: score a model on a paired test set against the untranslated baseline.

    cyclegan-evaluate --model weights/emoji --data data/emoji

For each direction the model has, translations of ``testA/`` are compared with the images of
the same name in ``testB/`` (and the reverse), next to the score of the untranslated inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from translate.inference import PRECISIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclegan-evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="weights folder or shipped model name (default: emoji)")
    parser.add_argument("--data", type=Path, required=True, help="folder with testA/ and testB/ of paired images")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="inference precision (default fp32)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")
    return parser


def evaluate_model(model: Path, data: Path, *, precision: str = "fp32", limit: int | None = None) -> dict:
    """Return {direction: {"model": scores, "baseline": scores}} for every direction of ``model``."""
    from translate.evaluation import evaluate_paired
    from translate.inference import Translator
    from translate.weights import read_model_info

    info = read_model_info(model)
    folders = {"AtoB": (data / "testA", data / "testB"), "BtoA": (data / "testB", data / "testA")}
    results = {}
    for direction in info.directions:
        translator = Translator(model, direction, precision=precision, full_resolution=True)
        scores, baseline = evaluate_paired(translator.translate_tensor, *folders[direction], limit=limit)
        results[direction] = {"model": scores.as_dict(), "baseline": baseline.as_dict()}
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from translate.models import resolve_model

    try:
        results = evaluate_model(resolve_model(args.model), args.data, precision=args.precision, limit=args.limit)
    except (FileNotFoundError, ValueError) as error:
        print(f"cyclegan-evaluate: error: {error}", file=sys.stderr)
        return 2
    print(f"{'direction':<10}{'':<10}{'L1':>8}{'PSNR':>8}{'SSIM':>8}{'pairs':>7}")
    for direction, rows in results.items():
        for label, scores in (("model", rows["model"]), ("untranslated", rows["baseline"])):
            print(f"{direction:<10}{label:<13}{scores['l1']:>5.4f}{scores['psnr']:>8.2f}{scores['ssim']:>8.4f}"
                  f"{scores['count']:>7}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
