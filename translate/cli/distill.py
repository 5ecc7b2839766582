"""``cyclegan-distill``: train a small, fast student that reproduces a trained model's translations.

    cyclegan-distill --teacher weights/emoji --data data/emoji --output_dir runs/emoji-fast
    accelerate launch -m translate.cli.distill --teacher ... --data ...
"""

from __future__ import annotations

import argparse
import sys

from translate.config import add_config_arguments, config_from_args


def build_parser() -> argparse.ArgumentParser:
    from translate.distill import DistillConfig

    parser = argparse.ArgumentParser(
        prog="cyclegan-distill",
        description="Distil a trained CycleGAN (the teacher) into a smaller generator for each of its directions. "
        "The student learns the teacher's translations of the images in --data's trainA/ and trainB/, "
        "plus extraA/ and extraB/ where they exist.",
    )
    parser.add_argument("--resume", metavar="CHECKPOINT",
                        help="continue a run: 'latest' or a checkpoint folder under --output_dir; options "
                        "left out keep the run's saved values")
    add_config_arguments(parser, DistillConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    from translate.distill import DistillConfig, distill

    args = build_parser().parse_args(argv)
    try:
        if args.resume:
            from translate.cli.train import resumed_config

            config = resumed_config(args, DistillConfig, "cyclegan-distill")
        else:
            config = config_from_args(args, DistillConfig)
        distill(config, resume=args.resume)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"cyclegan-distill: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
