"""``cyclegan-evaluate``: score a model on a test set against the untranslated baseline.

    cyclegan-evaluate --model weights/emoji --data data/emoji
    cyclegan-evaluate --model horse2zebra --data data/horse2zebra --inception-weights inception_v3_google-0cc3c7bd.pth

Paired test sets (the same file names in ``testA/`` and ``testB/``) get L1, PSNR and SSIM of each
translation against its true counterpart. Unpaired test sets get FID and KID, which need
Inception-v3 weights on disk. Every score comes with the score of the untranslated inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from translate.inference import MIRROR_AVERAGE_CHOICES, MIRROR_AVERAGE_HELP, PRECISIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclegan-evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="weights folder or shipped model name (default: emoji)")
    parser.add_argument("--data", type=Path, required=True, help="folder with testA/ and testB/ of paired images")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="inference precision (default fp32)")
    parser.add_argument("--mirror-average", choices=tuple(MIRROR_AVERAGE_CHOICES), default="auto",
                        help=MIRROR_AVERAGE_HELP)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images of each folder")
    parser.add_argument("--inception-weights", type=Path, default=None,
                        help="torchvision Inception-v3 weights file, for FID and KID")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")
    return parser


def evaluate_model(
    model: Path, data: Path, *, precision: str = "fp32", limit: int | None = None,
    inception_weights: Path | None = None, feature_fn=None, mirror_average: bool | None = None,
) -> dict:
    """Score every direction of ``model`` on ``data``'s test folders.

    Returns ``{direction: {"model": ..., "baseline": ...}}`` with paired scores where the test set
    is paired, and ``{direction: {"unpaired": ...}}`` FID/KID scores where features are available.
    Each direction also records ``mirror_average``: whether its translations were averaged with
    those of the mirror images.
    """
    from translate.evaluation import evaluate_paired, evaluate_unpaired, find_pairs
    from translate.inference import Translator
    from translate.weights import read_model_info

    info = read_model_info(model)
    folders = {"AtoB": (data / "testA", data / "testB"), "BtoA": (data / "testB", data / "testA")}
    if feature_fn is None and inception_weights is not None:
        from translate.fid import inception_features

        feature_fn = inception_features(inception_weights)
    results = {}
    for direction in info.directions:
        source, target = folders[direction]
        translator = Translator(model, direction, precision=precision, full_resolution=True,
                                mirror_average=mirror_average)
        try:
            find_pairs(source, target)
            paired = True
        except ValueError:
            paired = False
        entry: dict = {"mirror_average": translator.mirror_average}
        if paired:
            scores, baseline = evaluate_paired(translator.translate_tensor, source, target, limit=limit)
            entry.update(model=scores.as_dict(), baseline=baseline.as_dict())
        if feature_fn is not None:
            entry["unpaired"] = evaluate_unpaired(translator.run, source, target, feature_fn, limit=limit)
        elif not paired:
            raise ValueError(
                f"{source} and {target} are not paired (no shared file names), so only FID and KID apply, and they "
                "need Inception-v3 weights: pass --inception-weights FILE (torchvision's "
                "inception_v3_google-0cc3c7bd.pth)."
            )
        results[direction] = entry
    return results


def mirror_average_line(results: dict, option: str) -> str:
    """Return one line naming the directions scored mirror-averaged or in one pass, and what chose that."""
    groups: dict[bool, list[str]] = {}
    for direction, rows in results.items():
        groups.setdefault(rows["mirror_average"], []).append(direction)
    parts = [f"{' and '.join(directions)} " + ("averaged with the mirror image" if averaged else "in one pass")
             for averaged, directions in groups.items()]
    source = (f"as --mirror-average {option} asks" if option != "auto"
              else "as the model's config.json sets it (mirror_average, one pass where absent); --mirror-average on or "
              "off overrides it")
    return f"Translations: {', '.join(parts)}, {source}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from translate.models import resolve_model

    try:
        results = evaluate_model(resolve_model(args.model), args.data, precision=args.precision, limit=args.limit,
                                 inception_weights=args.inception_weights,
                                 mirror_average=MIRROR_AVERAGE_CHOICES[args.mirror_average])
    except (FileNotFoundError, ValueError) as error:
        print(f"cyclegan-evaluate: error: {error}", file=sys.stderr)
        return 2
    if any("model" in rows for rows in results.values()):
        print(f"{'direction':<10}{'':<10}{'L1':>8}{'PSNR':>8}{'SSIM':>8}{'pairs':>7}")
    for direction, rows in results.items():
        if "model" not in rows:
            continue
        for label, scores in (("model", rows["model"]), ("untranslated", rows["baseline"])):
            print(f"{direction:<10}{label:<13}{scores['l1']:>5.4f}{scores['psnr']:>8.2f}{scores['ssim']:>8.4f}"
                  f"{scores['count']:>7}")
    for direction, rows in results.items():
        if "unpaired" in rows:
            u = rows["unpaired"]
            print(f"{direction}: FID {u['fid']:.2f} (untranslated {u['baseline_fid']:.2f}), "
                  f"KID {u['kid']:.4f} +- {u['kid_std']:.4f} (untranslated {u['baseline_kid']:.4f})")
    print(mirror_average_line(results, args.mirror_average))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
