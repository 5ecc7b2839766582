#!/usr/bin/env python
"""Compare distillation student shapes on one direction of a teacher, in short equal-step runs.

Each shape trains for the same number of steps on the teacher's cached translations of its
training and extra images (as ``cyclegan-distill`` does), with the distillation loss and an
exponential moving average of the weights. The script then reports the average's PSNR against
the teacher on the held-out test folder, its multiply-accumulates at 512x512 and its latency at
512x512 in the precision the ``Translator`` picks. Short runs rank shapes by how fast they learn,
which is not always how far they get: confirm a winner with a full ``cyclegan-distill`` run.
Building the teacher's cache takes a few minutes for a few thousand images on a 2-core CPU.

    python scripts/compare_students.py weights/emoji data/emoji --direction BtoA --steps 2000 \
        --shape 12/6 --shape 16/6 --shape 14/4 --output runs/student-shapes.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import torch
from accelerate import PartialState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.data import scan_domain  # noqa: E402
from translate.distill import (  # noqa: E402
    EXTRA_FOLDER,
    SOURCE_FOLDER,
    DistillConfig,
    build_teacher_cache,
    distillation_losses,
)
from translate.ema import EMA  # noqa: E402
from translate.evaluation import score_images  # noqa: E402
from translate.flops import count_macs  # noqa: E402
from translate.inference import inference_network, resolve_precision  # noqa: E402
from translate.models import resolve_model  # noqa: E402
from translate.networks import GeneratorConfig, ResnetGenerator  # noqa: E402
from translate.weights import load_generator, read_model_info  # noqa: E402

TEST_FOLDER = {"AtoB": "testA", "BtoA": "testB"}


def parse_shape(text: str) -> GeneratorConfig:
    """Parse ``NGF/BLOCKS``, for example ``12/6``, into a generator config."""
    try:
        ngf, blocks = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"Invalid shape {text!r}: write NGF/BLOCKS, for example 12/6") from None
    try:
        return GeneratorConfig(ngf=ngf, n_blocks=blocks)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"Invalid shape {text!r}: {error}") from None


def number_type(convert, valid, expected: str):
    """Return an argparse type that reads a number with ``convert`` and accepts it where ``valid`` returns true."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"Invalid value {text!r}: give {expected}")
        return value

    return parse


positive = number_type(int, lambda value: value >= 1, "a whole number of at least 1")
positive_float = number_type(float, lambda value: math.isfinite(value) and value > 0, "a finite number above 0")
decay = number_type(float, lambda value: 0 <= value < 1, "a number from 0 up to, not including, 1")


@torch.no_grad()
def psnr(generator: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Return the mean PSNR (dB) of ``generator``'s fp32 output against ``targets``, both in [-1, 1]."""
    generator.eval()
    outputs = torch.cat([generator(inputs[i : i + 64]) for i in range(0, len(inputs), 64)])
    return score_images(list(outputs), list(targets)).psnr


@torch.inference_mode()
def latency_512(generator: ResnetGenerator, repeats: int = 5) -> float:
    """Return the median seconds of one 512x512 pass in the precision the ``Translator`` would pick on this machine."""
    dtype = resolve_precision("auto", torch.device("cpu"))
    network = inference_network(generator.eval(), dtype)
    image = torch.rand(1, generator.config.in_channels, 512, 512) * 2 - 1
    network(image)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        network(image)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def train(student: ResnetGenerator, cache, config: DistillConfig, steps: int) -> ResnetGenerator:
    """Distil ``student`` for ``steps`` steps, learning rate falling linearly over the second half; return the average.

    Mixed precision is bf16 where the CPU runs it natively, as in ``configs/emoji-fast.yaml``.
    """
    average = EMA(student, config.ema_decay)
    optimizer = torch.optim.Adam(student.parameters(), lr=config.lr)
    half = steps // 2
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - max(0, step - half) / (steps - half + 1))
    generator = torch.Generator().manual_seed(config.seed)
    dtype = resolve_precision("auto", torch.device("cpu"))
    for step in range(steps):
        student.train()
        real, target = cache.sample(config.batch_size, generator, flip=config.flip)
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            output = student(real)
        loss = sum(distillation_losses(output, target, config).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        average.update(student, step)
    return average.module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("teacher", help="weights folder or model name of the teacher")
    parser.add_argument("data", type=Path, help="dataset folder with trainA/, trainB/, testA/, testB/ "
                        "and optionally extraA/, extraB/")
    parser.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="teacher generator to distil")
    parser.add_argument("--shape", type=parse_shape, action="append", required=True,
                        help="student shape NGF/BLOCKS; repeat for each shape to compare")
    parser.add_argument("--steps", type=positive, default=2000, help="training steps per shape")
    parser.add_argument("--batch-size", type=positive, default=16, help="images per step")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--ema-decay", type=decay, default=0.995, help="lower than a full run's, for short runs")
    parser.add_argument("--output", type=Path, help="append one JSON line per shape to this file: shape, held-out "
                        "PSNR against the teacher (psnr_held_out), PSNR on as many training inputs (psnr_inputs), "
                        "macs_ratio and speed_ratio (one teacher pass / student at 512x512) and train_seconds")
    args = parser.parse_args()

    PartialState()  # the shared helpers log through Accelerate, which needs its state
    logging.basicConfig(format="%(message)s", level=logging.INFO)  # for example the first non-square image
    try:
        teacher_folder = resolve_model(args.teacher)
        info = read_model_info(teacher_folder)
    except (FileNotFoundError, ValueError) as error:
        parser.error(f"Cannot load the teacher {args.teacher}: {error}")
    if args.direction not in info.directions:
        parser.error(f"{teacher_folder} has no {args.direction} generator; it has {', '.join(info.directions)}")
    for folder in (SOURCE_FOLDER[args.direction], TEST_FOLDER[args.direction]):
        if not (args.data / folder).is_dir():
            parser.error(f"Missing folder {args.data / folder}: the dataset needs trainA/, trainB/, testA/ and testB/")
    if args.output:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.open("a", encoding="utf-8").close()
        except OSError as error:
            parser.error(f"Cannot write --output {args.output}: {error}")
    teacher = load_generator(teacher_folder, args.direction)[0].eval().requires_grad_(False)
    config = DistillConfig(teacher=args.teacher, data=str(args.data), batch_size=args.batch_size, lr=args.lr,
                           ema_decay=args.ema_decay)
    files = scan_domain(args.data / SOURCE_FOLDER[args.direction]).images
    extra = args.data / EXTRA_FOLDER[args.direction]
    if extra.is_dir():
        files += scan_domain(extra).images
    held_out = scan_domain(args.data / TEST_FOLDER[args.direction]).images
    for folder, images in ((SOURCE_FOLDER[args.direction], files), (TEST_FOLDER[args.direction], held_out)):
        if not images:
            parser.error(f"No readable images in {args.data / folder}: the comparison needs inputs and held-out images")
    cpu = torch.device("cpu")
    # The held-out images first: they are fewer, so a non-square one is reported sooner.
    test = build_teacher_cache(teacher, held_out, size=info.image_size, device=cpu, description="teacher, held-out")
    cache = None
    if test is not None:
        cache = build_teacher_cache(teacher, files, size=info.image_size, device=cpu, description="teacher, inputs",
                                    mirror_average=info.mirror_average)
    if cache is None or test is None:
        parser.error("The images are not all square, so the teacher's translations cannot be cached for this script. "
                     "The first one is named above. Crop them to squares, or compare shapes with full "
                     "cyclegan-distill runs, which run the teacher at every step.")
    test_targets = test.targets[:, 0].float()
    if info.mirror_average:  # the teacher's output is the average of both orientations, as in the Translator
        test_targets = (test_targets + test.targets[:, 1].float().flip(-1)) / 2
    teacher_macs = count_macs(teacher, 512, 512)
    teacher_seconds = latency_512(teacher)
    # How far the teacher is from commuting with a mirror flip: its translation of each mirrored
    # held-out image, mirrored back, against its translation of the image itself.
    mirror_psnr = score_images(list(test.targets[:, 0].float()), list(test.targets[:, 1].float().flip(-1))).psnr
    print(f"{args.direction}: {len(cache)} inputs, {len(test)} held-out images; teacher {teacher_macs / 1e9:.1f} "
          f"GMACs, {teacher_seconds:.3f} s at 512x512; its translations of the mirrored held-out images, mirrored "
          f"back, are {mirror_psnr:.2f} dB PSNR from its translations of the images"
          + ("; the students learn the average of the two (mirror_average)" if info.mirror_average else ""),
          flush=True)

    for shape in args.shape:
        torch.manual_seed(config.seed)
        student = ResnetGenerator(shape)
        started = time.perf_counter()
        average = train(student, cache, config, args.steps)
        macs, seconds = count_macs(average, 512, 512), latency_512(average)
        row = {
            "shape": f"{shape.ngf}/{shape.n_blocks}", "direction": args.direction, "steps": args.steps,
            "psnr_held_out": round(psnr(average, test.inputs, test_targets), 3),
            "psnr_inputs": round(psnr(average, cache.inputs[: len(test)], cache.targets[: len(test), 0].float()), 3),
            "macs_ratio": round(teacher_macs / macs, 2), "speed_ratio": round(teacher_seconds / seconds, 2),
            "train_seconds": round(time.perf_counter() - started),
        }
        print(json.dumps(row), flush=True)
        if args.output:
            with args.output.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
