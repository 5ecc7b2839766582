"""Model cards: the README.md written into every weights folder."""

from __future__ import annotations

from translate.config import TrainConfig


def training_model_card(
    config: TrainConfig, steps: int, evaluation: dict[str, float] | None = None, *, precision: str | None = None
) -> str:
    """Describe a model exported by a training run: domains, data, architecture, recipe and scores.

    ``precision`` is the mixed precision the run used, which differs from ``config`` for ``auto``.
    """
    g = config.generator
    if config.ema_decay:
        weights = f"exponential moving average of the generator weights, decay {config.ema_decay}"
    else:
        weights = "final generator weights"
    lines = [
        "---",
        "library_name: cyclegan-translate",
        "tags: [cyclegan, image-to-image, unpaired-image-translation]",
        "---",
        "",
        f"# CycleGAN: {config.domain_a} <-> {config.domain_b}",
        "",
        f"Unpaired image-to-image translation between {config.domain_a} (domain A) and "
        f"{config.domain_b} (domain B). `G_AB.safetensors` translates A to B, `G_BA.safetensors` B to A.",
        "",
        "## Training",
        "",
        f"- Data: `{config.data}`",
        f"- Working resolution: images resized to a shorter side of {config.load_size} px, "
        f"{config.crop_size} px square crops",
        f"- Generator: ResNet, ngf {g.ngf}, {g.n_blocks} residual blocks, dropout {g.use_dropout}",
        f"- Steps: {steps} at batch size {config.batch_size} per process, lr {config.lr} "
        f"({config.decay_steps} decay steps), mixed precision {precision or config.mixed_precision}",
        f"- Losses: {config.gan_mode} GAN, cycle weight {config.lambda_cycle}, identity weight "
        f"{config.lambda_identity} x cycle weight",
        f"- Weights: {weights}",
    ]
    if evaluation:
        lines += ["", "## Evaluation", ""]
        lines += [f"- {name}: {value:.4f}" for name, value in sorted(evaluation.items())]
    lines += ["", "## Use", "", "```python", "from translate import Translator", "",
              'translator = Translator("path/to/this/folder", direction="AtoB")',
              'translator("input.png").save("output.png")', "```", ""]
    return "\n".join(lines)
