"""``cyclegan-export``: write a weights folder (safetensors, config.json, model card) from a training checkpoint.

    cyclegan-export runs/emoji/checkpoints/step-00005000 my-model/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclegan-export", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="checkpoint folder, or a run folder to take its newest checkpoint")
    parser.add_argument("output", type=Path, help="weights folder to write")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16, half the size (they load back as float32)")
    parser.add_argument("--no-ema", action="store_true",
                        help="export the raw generator weights instead of their moving average")
    return parser


def export_checkpoint(checkpoint: str, output: Path, *, use_ema: bool = True, half: bool = False) -> Path:
    import torch

    from translate.checkpoint import load_checkpoint, resolve_resume
    from translate.config import TrainConfig
    from translate.model_card import training_model_card
    from translate.networks import ResnetGenerator
    from translate.weights import save_weights

    path = Path(checkpoint)
    folder = resolve_resume("latest", path) if (path / "checkpoints").is_dir() else resolve_resume(checkpoint, path)
    networks, state = load_checkpoint(folder)
    config = TrainConfig.from_dict(state["config"])
    use_ema = use_ema and config.ema_decay > 0
    generators = {}
    for direction, name in (("AtoB", "G_AB"), ("BtoA", "G_BA")):
        generator = ResnetGenerator(config.generator)
        generator.load_state_dict(networks[f"ema_{name}" if use_ema else name], strict=True)
        generators[direction] = generator
    save_weights(
        output, generators, domain_a=config.domain_a, domain_b=config.domain_b, image_size=config.load_size,
        extra={"trained_steps": int(state["step"]), "package_version": state.get("version"),
               "ema_decay": config.ema_decay if use_ema else 0.0},
        model_card=training_model_card(config, int(state["step"])),
        storage_dtype=torch.float16 if half else torch.float32,
    )
    return output


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        folder = export_checkpoint(args.checkpoint, args.output, use_ema=not args.no_ema, half=args.half)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"cyclegan-export: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
