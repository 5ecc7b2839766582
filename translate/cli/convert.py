"""``cyclegan-convert``: translate every image in a folder, mirroring its structure.

    cyclegan-convert photos/ translated/ --model emoji --direction AtoB
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from translate.image_io import DEFAULT_LIMITS
from translate.inference import MIRROR_AVERAGE_CHOICES, MIRROR_AVERAGE_HELP, PRECISIONS, TILING_MODES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cyclegan-convert",
        description="Translate every image under INPUT (recursively) into the same relative path under OUTPUT. "
        "Input files are never modified; existing outputs are kept unless --overwrite is given, so running the "
        "same command again resumes an interrupted conversion.",
    )
    parser.add_argument("input", type=Path, help="folder of images to translate")
    parser.add_argument("output", type=Path, help="folder to write results to (must not be inside INPUT)")
    parser.add_argument("--model", default=None,
                        help="weights folder, official .pth file, shipped or pretrained model name, or Hub id "
                             "(default: emoji)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB", help="translation direction")
    parser.add_argument("--variant", choices=("best", "fast"), default=None,
                        help="a shipped model's full generator (best) or its distilled one (fast)")

    quality = parser.add_argument_group("resolution and speed")
    quality.add_argument("--full-resolution", action="store_true",
                         help="run the network at each image's own size instead of the model's training scale")
    quality.add_argument("--tiling", choices=TILING_MODES, default="auto",
                         help="translate large images in overlapping tiles (auto: when larger than one tile)")
    quality.add_argument("--tile-size", type=int, default=None,
                         help="tile side in pixels (default: chosen from the available memory)")
    quality.add_argument("--tile-overlap", type=int, default=None, help="tile overlap in pixels (default: tile/8)")
    quality.add_argument("--precision", choices=PRECISIONS, default="auto",
                         help="auto picks bf16 where the hardware supports it natively; fp32 is the exact path")
    quality.add_argument("--mirror-average", choices=tuple(MIRROR_AVERAGE_CHOICES), default="auto",
                         help=MIRROR_AVERAGE_HELP)
    quality.add_argument("--device", default=None,
                         help="torch device, for example cpu or cuda:0 (default: the best available)")
    quality.add_argument("--batch-size", type=int, default=4,
                         help="max images of one size translated together; a batch also stays within 512x512 pixels")
    quality.add_argument("--workers", type=int, default=2, help="threads for decoding and for encoding")

    output = parser.add_argument_group("output files")
    output.add_argument("--format", choices=("keep", "png", "jpeg", "webp"), default="keep",
                        help="output format (keep: the input's format)")
    output.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality, 1-100")
    output.add_argument("--webp-quality", type=int, default=95, help="WebP quality, 1-100")
    output.add_argument("--keep-gps", action="store_true", help="keep GPS location metadata (dropped by default)")
    output.add_argument("--all-frames", action="store_true",
                        help="translate every frame of animated GIF/WebP files (default: the first frame)")
    output.add_argument("--max-pixels", type=int, default=DEFAULT_LIMITS.max_pixels,
                        help="skip images with more pixels than this (checked before decoding)")
    output.add_argument("--overwrite", action="store_true", help="translate again images whose output exists")

    run = parser.add_argument_group("run")
    run.add_argument("--dry-run", action="store_true", help="list what would be converted, and exit")
    run.add_argument("--report", type=Path, default=None,
                     help="write every file's outcome to this file: CSV for .csv, else JSON (with the model "
                          "settings); an existing file is kept and the report gets a free name beside it")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def print_plan(args: argparse.Namespace) -> int:
    from translate.batch import check_folders, plan

    check_folders(args.input, args.output)
    jobs, ignored = plan(args.input, args.output, args.format)
    todo = 0
    for job in jobs:
        done = job.target.exists() and not args.overwrite
        todo += not done
        print(f"{'skip (exists)' if done else 'convert':<14} {job.source} -> {job.target}")
    for path in ignored:
        print(f"{'ignore':<14} {path} (not an image file extension)")
    print(f"Dry run: {todo} to convert, {len(jobs) - todo} already done, {len(ignored)} ignored.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO)
    from translate.batch import check_folders, convert_folder
    from translate.image_io import ImageLimits, SaveOptions
    from translate.inference import Translator
    from translate.models import with_variant

    try:
        check_folders(args.input, args.output)  # before loading (or downloading) a model
        if args.report and args.report.is_dir():
            raise ValueError(f"--report {args.report} is a folder. Give a file name, for example "
                             f"{args.report / 'report.csv'} (CSV) or {args.report / 'report.json'} (JSON).")
        if args.variant:
            args.model = with_variant(args.model, args.variant)
        if args.dry_run:
            if args.report:
                print(f"Dry run: no report is written to {args.report}.", file=sys.stderr)
            return print_plan(args)
        save_options = SaveOptions(jpeg_quality=args.jpeg_quality, webp_quality=args.webp_quality,
                                   keep_gps=args.keep_gps)
        translator = Translator(
            args.model or "emoji", args.direction, device=args.device, precision=args.precision,
            full_resolution=args.full_resolution, tiling=args.tiling, tile_size=args.tile_size,
            tile_overlap=args.tile_overlap, limits=ImageLimits(max_pixels=args.max_pixels),
            mirror_average=MIRROR_AVERAGE_CHOICES[args.mirror_average],
        )
        mirror = ", averaged with the mirror image" if translator.mirror_average else ""
        print(f"Model: {translator.description} ({translator.info.variant}), device {translator.device}, "
              f"{translator.precision_description}{mirror}",
              file=sys.stderr)
        result = convert_folder(
            args.input, args.output, translator, overwrite=args.overwrite, output_format=args.format,
            save_options=save_options, all_frames=args.all_frames, batch_size=args.batch_size,
            workers=args.workers, progress=not args.quiet,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"cyclegan-convert: error: {error}", file=sys.stderr)
        return 2

    report_failed = False
    if args.report:
        try:
            settings = {"model": str(args.model or "emoji"), "translation": translator.description,
                        "variant": translator.info.variant,
                        "direction": args.direction, "device": str(translator.device),
                        "precision": translator.precision_description,
                        "mirror_average": translator.mirror_average,
                        "applies_to": "the files converted in this run; files already done keep the settings of "
                                      "the run that made them"}
            written = result.write_report(args.report, settings)
            if written != args.report:
                print(f"{args.report} already exists and was kept, so the report was written to {written}",
                      file=sys.stderr)
        except OSError as error:
            print(f"cyclegan-convert: error: cannot write the report {args.report}: {error}. The converted images "
                  "are kept.", file=sys.stderr)
            report_failed = True
    print(f"Done: {result.summary()}. Output: {args.output}", file=sys.stderr)
    for path, notice in result.notices:
        print(f"Note: {path}: {notice}", file=sys.stderr)
    if result.ignored:
        listed = ", ".join(str(p) for p in result.ignored[:20])
        print(f"Ignored (not an image extension): {listed}" + (" ..." if len(result.ignored) > 20 else ""),
              file=sys.stderr)
    if result.failed:
        print("Failed files:", file=sys.stderr)
        for job, reason in result.failed:
            print(f"  {job.source}: {reason}", file=sys.stderr)
        return 1
    return 1 if report_failed else 0


if __name__ == "__main__":
    sys.exit(main())
