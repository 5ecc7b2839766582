"""``cyclegan-train``: train a CycleGAN on two folders of unpaired images.

Single process::

    cyclegan-train --data data/emoji --output_dir runs/emoji --config configs/emoji.yaml

Several processes or GPUs, through Accelerate::

    accelerate launch -m translate.cli.train --data data/emoji --config configs/emoji.yaml
"""

from __future__ import annotations

import argparse
import sys

from translate.config import add_config_arguments, config_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cyclegan-train",
        description="Train a CycleGAN on a folder with trainA/ and trainB/ (optionally testA/ and testB/).",
    )
    parser.add_argument(
        "--resume", metavar="CHECKPOINT",
        help="continue a run: 'latest' (newest complete checkpoint under --output_dir) or a checkpoint folder",
    )
    add_config_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        from translate.training import train

        train(config, resume=args.resume)
    except (ValueError, FileNotFoundError) as error:
        print(f"cyclegan-train: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
