#!/usr/bin/env python
"""Package a finished emoji training run as the shipped model ``weights/emoji``.

The script exports the run's newest checkpoint (EMA generators) and evaluates both directions
on the full held-out test split and on the committed 48-pair sample. It then copies a few
held-out examples for the app and writes the model card: data sources, licences, the training
command and the measured results.

    python scripts/package_emoji_model.py runs/emoji data/emoji weights/emoji --wall-minutes 52 \
        --hardware "2-core AMD EPYC CPU, bf16 autocast"

The packaged model averages each translation with that of the mirror image (``mirror_average``
in its config), which scores better on the held-out split; the card gives both figures.
``--rescore`` measures an already packaged folder again and rewrites only the results:

    python scripts/package_emoji_model.py --rescore weights/emoji data/emoji
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.checkpoint import load_checkpoint, resolve_resume  # noqa: E402
from translate.cli.evaluate import evaluate_model  # noqa: E402
from translate.cli.export import export_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "emoji_heldout"
TRAIN_COMMAND = "cyclegan-train --config configs/emoji.yaml --data data/emoji --output_dir runs/emoji"
EXAMPLES = ("1f405.png", "1f435.png", "1f347.png", "1f344.png", "1f30a.png", "1f389.png")


def results_table(results: dict) -> str:
    rows = ["| direction | images | L1 (lower is better) | PSNR dB | SSIM (higher is better) |",
            "|---|---|---|---|---|"]
    labels = {"AtoB": "Noto → Twemoji", "BtoA": "Twemoji → Noto"}
    for direction, scores in results.items():
        for name, values in (("model", scores["model"]), ("untranslated input", scores["baseline"])):
            rows.append(f"| {labels[direction]}, {name} | {values['count']} | {values['l1']:.4f} | "
                        f"{values['psnr']:.2f} | {values['ssim']:.4f} |")
    return "\n".join(rows)


def evaluate_both(folder: Path, data: Path) -> dict:
    """Score the model as packaged (mirror-averaged) and one pass of its generator on ``data``."""
    return {"as_shipped": evaluate_model(folder, data), "one_pass": evaluate_model(folder, data, mirror_average=False)}


def results_section(full: dict, sample: dict) -> str:
    """Write the card's held-out results from ``evaluate_both`` on the full split and on the committed sample."""
    return f"""## Held-out results

Translations compared with the true counterpart of each held-out emoji (the same emoji in the
target style), and the untranslated input compared with the same target as the baseline. L1 is
the mean absolute difference of [0, 1] pixel values; SSIM uses an 11×11 Gaussian window
(kornia.metrics.ssim); fp32 inference. Reproduce with
`cyclegan-evaluate --model weights/emoji --data data/emoji`.

The model averages its translation of each image with its translation of the mirror image,
mirrored back (`"mirror_average": true` in `config.json`, two passes of the generator). The
generator does not commute with a mirror flip, and the average is closer to the true
counterparts than one pass. `--mirror-average off` (or `Translator(..., mirror_average=False)`)
runs one pass at half the cost; both are listed.

Full held-out split, as shipped:

{results_table(full["as_shipped"])}

One pass (`--mirror-average off`):

{results_table(full["one_pass"])}

The 48-pair sample committed in `tests/data/emoji_heldout` (checked by the test suite), as shipped:

{results_table(sample["as_shipped"])}

"""


def model_card(config: dict, steps: int, full: dict, sample: dict, wall_minutes: float, hardware: str) -> str:
    g = config["generator"]
    return f"""---
license: apache-2.0
library_name: cyclegan-translate
tags: [cyclegan, image-to-image, unpaired-image-translation, emoji]
---

# Noto ↔ Twemoji emoji style (CycleGAN)

The default model of cyclegan-translate. `G_AB.safetensors` redraws an emoji in Google's
Noto Color Emoji style (domain A) in Twitter's Twemoji style (domain B); `G_BA.safetensors`
goes the other way. Variant: **best** (the full trained generator).

## Data and licences

Built by `scripts/prepare_emoji.py` from the npm packages `emoji-datasource-google@16.0.0`
(domain A) and `emoji-datasource-twitter@16.0.0` (domain B): 64×64 PNGs composited on white.

- Noto Color Emoji images: Apache License 2.0, Copyright Google Inc.
- Twemoji graphics: CC-BY 4.0, Copyright Twitter, Inc. and other contributors
  (https://creativecommons.org/licenses/by/4.0/).

The split is by emoji (skin-tone variants kept together): 10% of emoji are held out in both
styles for testing, and the rest are divided into two disjoint halves, one per training domain,
so no emoji is in both training domains.

## Training

```bash
python scripts/prepare_emoji.py data/emoji
{TRAIN_COMMAND}
```

- Working resolution: 64×64 (`image_size` 64), the images' native size.
- Generator: ResNet, ngf {g['ngf']}, {g['n_blocks']} residual blocks; PatchGAN discriminator, ndf
  {config['discriminator']['ndf']}, {config['discriminator']['n_layers']} layers.
- Recipe: least-squares GAN, cycle weight {config['lambda_cycle']}, identity weight
  {config['lambda_identity']} × cycle weight, 50-image pools, Adam lr {config['lr']} with betas
  ({config['beta1']}, {config['beta2']}), constant for {config['steps'] - config['decay_steps']} steps then linear
  decay to 0 over {config['decay_steps']}; batch size {config['batch_size']}; bf16 autocast.
- Exported weights: exponential moving average of the generator weights (decay {config['ema_decay']}),
  stored as float16 and loaded as float32.
- Steps: {steps} ({steps * config['batch_size']:,} images per domain); wall time {wall_minutes:.0f} minutes on
  {hardware}.

{results_section(full, sample)}## Use

```python
from translate import Translator

translator = Translator("weights/emoji", direction="AtoB")   # or "BtoA"
translator("emoji.png").save("emoji-twemoji.png")
```

Images of other sizes are resized to a 64-pixel shorter side for the network and the result is
resized back. The model was trained only on emoji artwork on white.
"""


def rescore(folder: Path, data: Path) -> int:
    """Measure a packaged folder again; rewrite its evaluation.json and the card's results section."""
    full, sample = evaluate_both(folder, data), evaluate_both(folder, SAMPLE)
    card_path = folder / "README.md"
    card = card_path.read_text(encoding="utf-8")
    start, end = card.index("## Held-out results\n"), card.index("## Use\n")
    card_path.write_text(card[:start] + results_section(full, sample) + card[end:], encoding="utf-8")
    (folder / "evaluation.json").write_text(json.dumps({"full": full, "sample": sample}, indent=2) + "\n")
    print(results_table(full["as_shipped"]))
    print(results_table(full["one_pass"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--rescore"]:
        rescoring = argparse.ArgumentParser(prog="package_emoji_model.py --rescore",
                                            description="measure a packaged folder again")
        rescoring.add_argument("folder", type=Path, help="packaged weights folder, e.g. weights/emoji")
        rescoring.add_argument("data", type=Path, help="the emoji dataset folder, for the full held-out evaluation")
        options = rescoring.parse_args(argv[1:])
        for needed in (options.folder / "README.md", options.folder / "config.json", options.data / "testA",
                       options.data / "testB", SAMPLE):
            if not needed.exists():
                rescoring.error(f"{needed} not found: give a packaged weights folder and the emoji dataset folder")
        return rescore(options.folder, options.data)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="To measure an already packaged folder again: --rescore FOLDER DATA "
                                            "(as the first argument)")
    parser.add_argument("run", type=Path, help="training run folder (its newest checkpoint is used)")
    parser.add_argument("data", type=Path, help="the emoji dataset folder, for the full held-out evaluation")
    parser.add_argument("output", type=Path, help="weights folder to write, e.g. weights/emoji")
    parser.add_argument("--wall-minutes", type=float, required=True, help="training wall time, in minutes")
    parser.add_argument("--hardware", required=True, help="what the run trained on, for the model card")
    args = parser.parse_args(argv)

    checkpoint = resolve_resume("latest", args.run)
    _, state = load_checkpoint(checkpoint)
    # float16 storage halves the files; the held-out scores below are measured on what is shipped.
    export_checkpoint(str(checkpoint), args.output, half=True)

    examples = args.output / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    examples.mkdir()
    for name in EXAMPLES:
        for folder, style in (("testA", "noto"), ("testB", "twemoji")):
            source = args.data / folder / name
            if source.is_file():
                shutil.copy2(source, examples / f"{style}_{name}")

    config_path = args.output / "config.json"
    values = json.loads(config_path.read_text())
    values["training_data"] = ("Noto Color Emoji (Apache-2.0) and Twemoji (CC-BY 4.0) artwork, 64x64, "
                               "from the emoji-datasource npm packages 16.0.0")
    values["license"] = "Apache-2.0 (Noto data) and CC-BY 4.0 (Twemoji data): credit both"
    values["mirror_average"] = True
    config_path.write_text(json.dumps(values, indent=2) + "\n")
    full, sample = evaluate_both(args.output, args.data), evaluate_both(args.output, SAMPLE)
    card = model_card(state["config"], int(state["step"]), full, sample, args.wall_minutes, args.hardware)
    (args.output / "README.md").write_text(card, encoding="utf-8")
    (args.output / "evaluation.json").write_text(json.dumps({"full": full, "sample": sample}, indent=2) + "\n")
    print(results_table(full["as_shipped"]))
    print(results_table(full["one_pass"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
