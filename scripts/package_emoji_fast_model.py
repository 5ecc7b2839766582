#!/usr/bin/env python
"""Package a finished distillation of the emoji model as the shipped fast variant ``weights/emoji-fast``.

The script copies the last stage's exported weights (stored as float16), then measures on the
held-out test split: the student's PSNR against its teacher's output (as shipped, averaged with
the mirror image's translation, and one pass of the teacher's generator), and both models' L1
and SSIM against the true counterparts. It writes those figures into the model card and
``evaluation.json``.

    python scripts/package_emoji_fast_model.py runs/emoji-fast4 data/emoji weights/emoji-fast \
        --wall-minutes 56 54 31 MINUTES --hardware "2-core CPUs, bf16 where native, else fp32"
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.cli.evaluate import evaluate_model  # noqa: E402
from translate.distill import DistillConfig  # noqa: E402
from translate.evaluation import find_pairs, load_pair_tensors, map_batched  # noqa: E402
from translate.inference import Translator  # noqa: E402
from translate.weights import load_generator, read_model_info, save_weights  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"AtoB": ("testA", "testB"), "BtoA": ("testB", "testA")}
# The stages in order. Each starts from the student of the one before, and the run packaged is the last.
STAGES = ("configs/emoji-fast.yaml", "configs/emoji-fast-finetune.yaml", "configs/emoji-fast-mirror.yaml",
          "configs/emoji-fast-cycle.yaml")
STAGE_RUNS = ("runs/emoji-fast", "runs/emoji-fast2", "runs/emoji-fast3", "runs/emoji-fast4")
STAGE_COUNT = ("one", "two", "three", "four", "five")[len(STAGES) - 1]


def psnr_to_teacher(student: Path, teacher: Path, data: Path, direction: str, *, mirror_average: bool | None = None,
                    ) -> float:
    """Mean PSNR (dB, on [0, 1] pixels) of the student's translations against the teacher's, fp32.

    ``mirror_average`` applies to the teacher: ``None`` as its config says, ``False`` for one pass.
    """
    source, target = FOLDERS[direction]
    sources, _ = load_pair_tensors(find_pairs(data / source, data / target))
    fast = map_batched(Translator(student, direction, precision="fp32").translate_tensor, sources)
    best = map_batched(Translator(teacher, direction, precision="fp32", mirror_average=mirror_average).translate_tensor,
                       sources)
    total = 0.0
    for a, b in zip(fast, best, strict=True):
        mse = float((((a.clamp(-1, 1) + 1) / 2 - (b.clamp(-1, 1) + 1) / 2) ** 2).mean())
        total += 10 * math.log10(1.0 / max(mse, 1e-12))
    return total / len(fast)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="distillation run folder (its weights/ are used)")
    parser.add_argument("data", type=Path, help="the emoji dataset folder (testA/, testB/)")
    parser.add_argument("output", type=Path, help="weights folder to write, e.g. weights/emoji-fast")
    parser.add_argument("--wall-minutes", type=float, nargs=len(STAGES), required=True,
                        help=f"distillation wall time of each of the {len(STAGES)} stages, in minutes")
    parser.add_argument("--hardware", required=True, help="the machines and precisions the stages ran on, for the card")
    args = parser.parse_args()

    exported = args.run / "weights"
    info = read_model_info(exported)
    teacher = REPO / "weights" / "emoji"
    generators = {d: load_generator(exported, d)[0] for d in info.directions}
    card = (exported / "README.md").read_text(encoding="utf-8").replace(str(info.extra.get("teacher")), "weights/emoji")
    extra = {**info.extra, "teacher": "weights/emoji"}
    if "init_from" in info.extra:
        # The last stage starts from the earlier stages' student, whatever folder it was read from.
        earlier = ", then ".join(f"`{stage}`" for stage in STAGES[:-1])
        card = card.replace(f"the earlier student `{info.extra['init_from']}`",
                            f"the student of the earlier stages ({earlier})")
        extra["init_from"] = f"earlier stages: {', '.join(STAGES[:-1])}"
        steps = [DistillConfig.from_file(REPO / stage).steps for stage in STAGES[:-1]]
        extra["stage_steps"] = [*steps, info.extra["trained_steps"]]
        extra["trained_steps"] = sum(extra["stage_steps"])
        card = card.replace(f"- Training: {info.extra['trained_steps']} steps ",
                            f"- Training (last stage; {extra['trained_steps']} steps in all): "
                            f"{info.extra['trained_steps']} steps ")
    save_weights(args.output, generators, domain_a=info.domain_a, domain_b=info.domain_b,
                 image_size=info.image_size, variant="fast", extra=extra, model_card=card,
                 storage_dtype=torch.float16)

    psnr = {d: psnr_to_teacher(args.output, teacher, args.data, d) for d in info.directions}
    one_pass = {d: psnr_to_teacher(args.output, teacher, args.data, d, mirror_average=False) for d in info.directions}
    fast = evaluate_model(args.output, args.data)
    best = evaluate_model(teacher, args.data)
    best_one_pass = evaluate_model(teacher, args.data, mirror_average=False)
    labels = {"AtoB": "Noto → Twemoji", "BtoA": "Twemoji → Noto"}
    rows = ["| direction | PSNR to teacher, dB (as shipped / one pass) | L1 fast / best / untranslated | "
            "SSIM fast / best / untranslated |", "|---|---|---|---|"]
    for d in info.directions:
        f, b = fast[d]["model"], best[d]["model"]
        u = fast[d]["baseline"]
        rows.append(f"| {labels[d]} | {psnr[d]:.2f} / {one_pass[d]:.2f} | {f['l1']:.4f} / {b['l1']:.4f} / "
                    f"{u['l1']:.4f} | {f['ssim']:.4f} / {b['ssim']:.4f} / {u['ssim']:.4f} |")
    table = "\n".join(rows)
    commands = "\n".join(f"    cyclegan-distill --config {stage} --data data/emoji --output_dir {run}"
                         for stage, run in zip(STAGES, STAGE_RUNS, strict=True))
    minutes = ", ".join(f"{value:.0f}" for value in args.wall_minutes)
    card = (args.output / "README.md").read_text(encoding="utf-8")
    card += f"""
## Held-out results

On the {fast['AtoB']['model']['count']} held-out pairs of `scripts/prepare_emoji.py`'s test split, fp32 inference.
PSNR compares the fast model's output with the best model's: as shipped, where the best model
averages its translations of the image and of its mirror image, and with one pass of its
generator. L1 and SSIM compare each model's translation with the true counterpart (lower L1 and
higher SSIM are better); "best" is the best model as shipped.

{table}

Distillation in {STAGE_COUNT} stages, {sum(args.wall_minutes):.0f} minutes in all ({minutes}).
Hardware: {args.hardware}. `mixed_precision: auto` in the configs picks bf16 where the CPU runs it natively,
else fp32:

{commands}

The first stage learns from the teacher's training images only; the second adds `extraA/` and
`extraB/` of `scripts/prepare_emoji.py` (the training emoji in their other style). The third
learns the teacher's mirror-averaged output. The fourth trains on the mean log-MSE per image
(minus a tenth of the mean PSNR) and adds, as a quarter of each batch, the teacher's
translations of the other domain's inputs (`cycle_inputs`). No held-out emoji is an input to
any of them, nor a translation of one.
Weights stored as float16.
"""
    (args.output / "README.md").write_text(card, encoding="utf-8")
    (args.output / "evaluation.json").write_text(json.dumps(
        {"psnr_to_teacher": psnr, "psnr_to_teacher_one_pass": one_pass, "fast": fast, "best": best,
         "best_one_pass": best_one_pass}, indent=2) + "\n")
    examples = args.output / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    shutil.copytree(teacher / "examples", examples)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
