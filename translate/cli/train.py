"""``cyclegan-train``: train a CycleGAN on two folders of unpaired images.

Single process::

    cyclegan-train --data data/emoji --output_dir runs/emoji --config configs/emoji.yaml

Several processes or GPUs, through Accelerate::

    accelerate launch -m translate.cli.train --data data/emoji --config configs/emoji.yaml
"""

from __future__ import annotations

import argparse
import sys

from translate.config import add_config_arguments, config_from_args, flatten


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


def resumed_config(args: argparse.Namespace, config_class=None, program: str = "cyclegan-train"):
    """Return the resumed checkpoint's config with only the options given now applied on top.

    Fields left out on the command line keep the values the run was started with, so a resumed
    run continues with its own seed, schedule and batch size. Every changed field is printed.
    ``config_class`` is ``TrainConfig`` by default; ``cyclegan-distill`` passes ``DistillConfig``.
    """
    import torch

    from translate.checkpoint import resolve_resume
    from translate.config import TrainConfig

    config_class = config_class or TrainConfig
    # Only the run folder is needed to find the checkpoint; the other options may be partial.
    output_dir = args.output_dir
    if output_dir is None and args.config:
        output_dir = config_class.from_file(args.config).output_dir
    folder = resolve_resume(args.resume, output_dir or config_class().output_dir)
    saved = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)["config"]
    # A training run's config has a discriminator and a distillation's a teacher: each command
    # resumes only its own kind of run.
    other = {"cyclegan-train": ("teacher", "cyclegan-distill"), "cyclegan-distill": ("discriminator", "cyclegan-train")}
    marker, owner = other.get(program, (None, None))
    if marker in saved:
        raise ValueError(f"{folder} is a checkpoint of a {owner} run, not of {program}. Resume it with {owner} "
                         "--resume latest, or give this run another --output_dir.")
    config = config_from_args(args, config_class, base=saved)
    flat_saved, flat_now = flatten(saved), flatten(config.to_dict())
    for key in sorted(flat_now):
        if flat_saved.get(key) != flat_now[key]:
            print(f"{program}: resuming with {key} = {flat_now[key]!r} (the run started with "
                  f"{flat_saved.get(key)!r})", file=sys.stderr)
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = resumed_config(args) if args.resume else config_from_args(args)
        from translate.training import train

        train(config, resume=args.resume)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"cyclegan-train: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
