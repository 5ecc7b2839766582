#!/usr/bin/env python
"""Measure speed and memory of our paths against a reference path; write docs/benchmarks.md and .json.

The reference path does what the official CycleGAN test and train scripts do: fp32 eager
PyTorch, one image at a time, no autocast, plain file handling, and a training step with
separate forward passes. Our path is what this package does. Both run in the same invocation,
so their ratio is measured on the same machine at the same time.

Each case runs in its own child process, so the peak resident memory of the process (the
kernel's maximum RSS) belongs to that case alone. Within a case, every figure is the median of
``--repeats`` timed runs after one warm-up run.

    python scripts/benchmark.py                       # every case (about 30 minutes on 2 cores)
    python scripts/benchmark.py --only latency --only tiling
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHIPPED = REPO / "weights" / "emoji"
SHIPPED_FAST = REPO / "weights" / "emoji-fast"


# ----------------------------------------------------------------------------- helpers
def timed(function, repeats: int) -> dict:
    function()  # warm-up: allocator, kernels and caches
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "runs": len(seconds)}


def photo_like(width: int, height: int, seed: int = 0):
    """Draw a PIL image with gradients, edges and grain, a stand-in for a photo."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 37.0 + y / 23.0)], axis=-1) * 220
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0, size = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(4, width // 4))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse([x0, y0, x0 + size, y0 + size], fill=colour)
    array = np.asarray(image, dtype=np.float32) + rng.normal(0, 5, (height, width, 3))
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def matmul_throughput(dtype) -> float:
    """Measured multiply-accumulates per second of a 2048x2048 matrix product in ``dtype``."""
    import torch

    a = torch.randn(2048, 2048).to(dtype)
    b = torch.randn(2048, 2048).to(dtype)
    result = timed(lambda: torch.mm(a, b), 5)
    return 2048**3 / result["median"]


def reference_generator_call(generator, image):
    """Run the generator the way the official test loop does: fp32 eager, no_grad, one image."""
    import torch

    with torch.no_grad():
        return generator(image)


# ----------------------------------------------------------------------------- cases
def autocast_call(generator, batch, dtype):
    """Run the generator under plain bf16 autocast, the usual way to add mixed precision, for comparison."""
    import torch

    from translate.inference import run_generator

    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype):
        return run_generator(generator, batch).float()


def case_latency(repeats: int) -> dict:
    """Generator latency, reference (fp32 eager) vs ours (Translator: inference_mode, mixed precision)."""
    import torch

    from translate.flops import count_macs
    from translate.image_io import to_tensor
    from translate.inference import Translator, resolve_precision, run_generator
    from translate.networks import GeneratorConfig, ResnetGenerator
    from translate.weights import save_weights

    torch.manual_seed(0)
    folder = Path(tempfile.mkdtemp()) / "resnet9"
    save_weights(folder, {"AtoB": ResnetGenerator(GeneratorConfig())}, image_size=256)
    models = [("ResNet-9, ngf 64", folder, (256, 512, 1024))]
    if SHIPPED.is_dir():
        models.append(("shipped emoji (best)", SHIPPED, (512,)))
    if SHIPPED_FAST.is_dir():
        models.append(("shipped emoji (fast)", SHIPPED_FAST, (512,)))

    dtype = resolve_precision("auto", torch.device("cpu"))
    throughput = {"fp32": matmul_throughput(torch.float32)}
    if dtype is not None:
        throughput["bf16"] = matmul_throughput(dtype)
    rows = []
    for name, path, sizes in models:
        # One pass of the generator, as the reference runs, whatever the model's mirror_average.
        ours = Translator(path, full_resolution=True, tiling="never", mirror_average=False)
        reference = Translator(path, full_resolution=True, tiling="never", precision="fp32").generator
        for size in sizes:
            batch = to_tensor(photo_like(size, size)).unsqueeze(0)
            reference_time = timed(partial(reference_generator_call, reference, batch), repeats)
            our_time = timed(partial(ours.translate_tensor, batch), repeats)
            autocast_time = None
            if dtype is not None:
                autocast_time = timed(partial(autocast_call, reference, batch, dtype), repeats)
            ours.network.to(memory_format=torch.channels_last)
            channels_last_time = timed(partial(ours.translate_tensor, batch.to(memory_format=torch.channels_last)),
                                       repeats)
            ours.network.to(memory_format=torch.contiguous_format)
            with torch.no_grad():
                exact = run_generator(reference, batch)
            fast = ours.translate_tensor(batch)
            macs = count_macs(reference, size, size)
            precision = ours.precision_name
            rows.append({
                "model": name, "size": size, "macs": macs,
                "reference_s": reference_time, "ours_s": our_time, "ours_channels_last_s": channels_last_time,
                "autocast_s": autocast_time,
                "speedup": reference_time["median"] / our_time["median"],
                "ours_precision": precision, "ours_precision_description": ours.precision_description,
                "mean_abs_levels": float((fast - exact).abs().mean() * 127.5),
                "autocast_mean_abs_levels": (
                    float((autocast_call(reference, batch, dtype) - exact).abs().mean() * 127.5) if dtype else None
                ),
                "floor_s": macs / throughput.get(precision, throughput["fp32"]),
                "reference_floor_s": macs / throughput["fp32"],
            })
    return {"rows": rows, "matmul_macs_per_s": throughput, "threads": torch.get_num_threads()}


def case_fast(repeats: int) -> dict:
    """Time the shipped best and fast models at 512x512 in the precision the app picks here, and in fp32.

    The latency case measures the same pair. On a CPU without native bf16, it also spends minutes
    timing emulated bf16 autocast, so this case is the quicker check of the distillation targets.
    """
    import torch

    from translate.flops import count_macs
    from translate.image_io import to_tensor
    from translate.inference import Translator

    batch = to_tensor(photo_like(512, 512)).unsqueeze(0)
    rows = []
    # The best model as shipped averages two passes (mirror_average), and "best, one pass" is its generator alone.
    models = (("best", SHIPPED, None), ("best, one pass", SHIPPED, False), ("fast", SHIPPED_FAST, None))
    for name, path, mirror in models:
        ours = Translator(path, full_resolution=True, tiling="never", mirror_average=mirror)
        exact = Translator(path, full_resolution=True, tiling="never", precision="fp32", mirror_average=mirror)
        passes = 2 if ours.mirror_average else 1
        rows.append({
            "model": name, "macs": passes * count_macs(exact.generator, 512, 512), "passes": passes,
            "precision": ours.precision_description,
            "ours_s": timed(partial(ours.translate_tensor, batch), repeats),
            "fp32_s": timed(partial(exact.translate_tensor, batch), repeats),
        })
    return {"rows": rows, "threads": torch.get_num_threads()}


def case_compile(repeats: int) -> dict:
    """torch.compile (inductor, frozen weights) of our network, ResNet-9 ngf 64 at 512x512: cost and gain."""
    import torch
    import torch._inductor.config as inductor_config

    from translate.image_io import to_tensor
    from translate.inference import Translator
    from translate.networks import GeneratorConfig, ResnetGenerator
    from translate.weights import save_weights

    torch.manual_seed(0)
    folder = Path(tempfile.mkdtemp()) / "resnet9"
    save_weights(folder, {"AtoB": ResnetGenerator(GeneratorConfig())}, image_size=256)
    ours = Translator(folder, full_resolution=True, tiling="never")
    batch = to_tensor(photo_like(512, 512)).unsqueeze(0)
    eager = timed(partial(ours.translate_tensor, batch), repeats)
    eager_output = ours.translate_tensor(batch)

    inductor_config.freezing = True
    compiled = torch.compile(ours.network)
    with torch.inference_mode():
        start = time.perf_counter()
        compiled_output = compiled(batch).float()
        first_call = time.perf_counter() - start
        steady = timed(lambda: compiled(batch), repeats)
        other = to_tensor(photo_like(512, 384)).unsqueeze(0)
        start = time.perf_counter()
        compiled(other)
        new_size_call = time.perf_counter() - start
    saving = eager["median"] - steady["median"]
    return {
        "size": 512, "precision": ours.precision_name, "eager_s": eager, "compiled_s": steady,
        "first_call_s": first_call, "new_size_first_call_s": new_size_call,
        "speedup": eager["median"] / steady["median"],
        "break_even_images": (first_call / saving) if saving > 0 else None,
        "mean_abs_levels_to_eager": float((compiled_output - eager_output).abs().mean() * 127.5),
    }


def case_batch(repeats: int) -> dict:
    """Folder conversion throughput: 64 photos of 512x384 with the shipped model at full resolution."""
    import numpy as np
    import torch
    from PIL import Image

    from translate.batch import convert_folder
    from translate.image_io import to_pil, to_tensor
    from translate.inference import Translator

    root = Path(tempfile.mkdtemp())
    photos = root / "photos"
    photos.mkdir()
    for index in range(64):
        photo_like(512, 384, seed=index).save(photos / f"photo{index:02d}.jpg", quality=92)
    generator = Translator(SHIPPED, full_resolution=True, precision="fp32").generator

    def reference() -> None:
        output = root / "reference"
        output.mkdir(exist_ok=True)
        for path in sorted(photos.iterdir()):
            image = Image.open(path).convert("RGB")
            with torch.no_grad():
                result = generator(to_tensor(image).unsqueeze(0))[0]
            to_pil(result).save(output / path.name, quality=92)

    translator = Translator(SHIPPED, full_resolution=True, mirror_average=False)
    counter = iter(range(1000))

    def ours(batch_size: int = 4) -> None:
        convert_folder(photos, root / f"ours{next(counter)}", translator, progress=False, batch_size=batch_size,
                       workers=2)

    reference_time = timed(reference, repeats)
    our_time = timed(ours, repeats)
    one_at_a_time = timed(partial(ours, 1), repeats)
    first = np.asarray(Image.open(root / "reference" / "photo00.jpg"), dtype=np.float64)
    second = np.asarray(Image.open(root / "ours0" / "photo00.jpg"), dtype=np.float64)
    return {
        "images": 64, "size": [512, 384],
        "reference_images_per_s": 64 / reference_time["median"], "ours_images_per_s": 64 / our_time["median"],
        "reference_s": reference_time, "ours_s": our_time, "ours_batch_1_s": one_at_a_time,
        "speedup": reference_time["median"] / our_time["median"], "precision": translator.precision_name,
        "mean_abs_levels_after_jpeg": float(np.abs(first - second).mean()),
    }


def reference_train_step(nets, optimizers, real_A, real_B, config) -> None:
    """A training step the way the official code does it: fp32, six generator and separate D passes."""
    import torch
    import torch.nn.functional as F

    G_AB, G_BA, D_A, D_B = nets
    optimizer_G, optimizer_D = optimizers
    fake_B, fake_A = G_AB(real_A), G_BA(real_B)
    rec_A, rec_B = G_BA(fake_B), G_AB(fake_A)
    idt_B, idt_A = G_AB(real_B), G_BA(real_A)
    for d in (D_A, D_B):
        d.requires_grad_(False)
    pred_B, pred_A = D_B(fake_B), D_A(fake_A)
    loss_G = (F.mse_loss(pred_B, torch.ones_like(pred_B)) + F.mse_loss(pred_A, torch.ones_like(pred_A))
              + 10 * (F.l1_loss(rec_A, real_A) + F.l1_loss(rec_B, real_B))
              + 5 * (F.l1_loss(idt_A, real_A) + F.l1_loss(idt_B, real_B)))
    optimizer_G.zero_grad()
    loss_G.backward()
    optimizer_G.step()
    for d in (D_A, D_B):
        d.requires_grad_(True)
    optimizer_D.zero_grad()
    for d, real, fake in ((D_A, real_A, fake_A), (D_B, real_B, fake_B)):
        real_score, fake_score = d(real), d(fake.detach())
        loss = 0.5 * (F.mse_loss(real_score, torch.ones_like(real_score))
                      + F.mse_loss(fake_score, torch.zeros_like(fake_score)))
        loss.backward()
    optimizer_D.step()


def case_train(repeats: int) -> dict:
    """Training step time, reference (official-style fp32) vs ours (Trainer.train_step, bf16 where native)."""
    import torch
    from accelerate.state import AcceleratorState

    from translate.config import TrainConfig
    from translate.inference import resolve_precision
    from translate.networks import PatchDiscriminator, ResnetGenerator
    from translate.training import Trainer

    root = Path(tempfile.mkdtemp())
    for domain in ("trainA", "trainB"):
        (root / domain).mkdir()
        for index in range(8):
            photo_like(160, 160, seed=index).save(root / domain / f"{index}.png")
    precision = "bf16" if resolve_precision("auto", torch.device("cpu")) is not None else "no"
    configs = {
        "default (ResNet-9 ngf 64, 128x128, batch 1)": dict(load_size=128, crop_size=128, batch_size=1),
        "emoji (configs/emoji.yaml: ngf 32, 64x64, batch 4)": dict(
            load_size=64, crop_size=64, batch_size=4, generator={"ngf": 32, "n_blocks": 9}),
    }
    rows = []
    for name, values in configs.items():
        config = TrainConfig.from_dict(dict(data=str(root), output_dir=str(root / "run"), num_workers=0,
                                            trackers="none", mixed_precision=precision, **values))
        AcceleratorState._reset_state(True)
        trainer = Trainer(config)
        batches = trainer.next_micro_batches()
        ours = timed(lambda trainer=trainer, batches=batches: trainer.train_step(batches), repeats)

        torch.manual_seed(0)
        nets = [ResnetGenerator(config.generator), ResnetGenerator(config.generator),
                PatchDiscriminator(config.discriminator), PatchDiscriminator(config.discriminator)]
        optimizers = [torch.optim.Adam([*nets[0].parameters(), *nets[1].parameters()], lr=2e-4, betas=(0.5, 0.999)),
                      torch.optim.Adam([*nets[2].parameters(), *nets[3].parameters()], lr=2e-4, betas=(0.5, 0.999))]
        real_A, real_B = (b.float().cpu() for b in batches[0])
        reference = timed(partial(reference_train_step, nets, optimizers, real_A, real_B, config), repeats)
        rows.append({"config": name, "precision": precision, "reference_s": reference, "ours_s": ours,
                     "speedup": reference["median"] / ours["median"]})
    return {"rows": rows}


def case_tiling(repeats: int) -> dict:
    """Full-resolution translation of a 6000x4000 photo with the shipped model, tiled."""
    import torch

    from translate.inference import Translator

    image = photo_like(6000, 4000)
    translator = Translator(SHIPPED, full_resolution=True, mirror_average=False)
    result = timed(lambda: translator(image), max(1, repeats - 2))
    return {"seconds": result, "size": [6000, 4000], "tile": translator.tile_plan.tile,
            "overlap": translator.tile_plan.overlap, "threads": torch.get_num_threads(),
            "precision": translator.precision_name}


def case_onnx(repeats: int) -> dict:
    """onnxruntime on the exported shipped generator at 512x512, against our PyTorch path."""
    import onnxruntime
    import torch

    from translate.image_io import to_tensor
    from translate.inference import Translator
    from translate.onnx_export import export_onnx

    ours = Translator(SHIPPED, full_resolution=True, tiling="never", mirror_average=False)
    batch = to_tensor(photo_like(512, 512)).unsqueeze(0)
    # PyTorch first: onnxruntime's worker threads keep spinning after a run and would slow it.
    our_time = timed(partial(ours.translate_tensor, batch), repeats)
    path = export_onnx(Translator(SHIPPED, precision="fp32").generator, Path(tempfile.mkdtemp()) / "g.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    array = batch.numpy()
    onnx_time = timed(lambda: session.run(["translated"], {"image": array}), repeats)
    (onnx_output,) = session.run(["translated"], {"image": array})
    with torch.no_grad():
        exact = ours.generator.float()(batch)
    return {"size": 512, "onnxruntime_s": onnx_time, "ours_s": our_time,
            "ours_over_onnx": onnx_time["median"] / our_time["median"],
            "onnx_max_abs_difference": float(abs(onnx_output - exact.numpy()).max()),
            "onnxruntime_version": onnxruntime.__version__}


def case_processes(repeats: int) -> dict:
    """Seconds per training step of the emoji config through the real command: fp32 and bf16, 1 and 2 processes.

    Uses ``data/emoji`` when it exists (``scripts/prepare_emoji.py``), else generated 64x64 images.
    Each run trains 60 steps. The figure is the median step time of steps 21-60 from the run's
    own images-per-second log, so start-up is left out.
    """
    data = REPO / "data" / "emoji"
    if not (data / "trainA").is_dir():
        data = Path(tempfile.mkdtemp()) / "emoji"
        for domain in ("trainA", "trainB"):
            (data / domain).mkdir(parents=True)
            for index in range(64):
                photo_like(64, 64, seed=index).save(data / domain / f"{index}.png")
    rows = []
    for processes in (1, 2):
        for precision in ("no", "bf16"):
            output = Path(tempfile.mkdtemp()) / "run"
            env = dict(os.environ, ACCELERATE_USE_CPU="1")
            if processes == 1:
                launch = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1"]
            else:
                launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--dynamo_backend", "no"]
                env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
            command = [*launch, "--mixed_precision", precision, "-m", "translate.cli.train",
                       "--config", str(REPO / "configs" / "emoji.yaml"), "--data", str(data),
                       "--output_dir", str(output), "--steps", "60", "--decay_steps", "30", "--log_every", "20",
                       "--checkpoint_every", "1000", "--sample_every", "1000", "--trackers", "none",
                       "--mixed_precision", precision, "--num_workers", "1"]
            completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
            if completed.returncode != 0:
                raise RuntimeError(f"training run failed:\n{completed.stderr[-3000:]}")
            lines = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
            rates = [line["images_per_second"] for line in lines if "images_per_second" in line][1:]
            images_per_step = 4 * processes
            seconds = statistics.median(images_per_step / rate for rate in rates)
            rows.append({"processes": processes, "precision": precision, "seconds_per_step": seconds,
                         "images_per_step": images_per_step, "images_per_second": images_per_step / seconds})
    return {"rows": rows, "data": str(data)}


CASES = {"processes": case_processes, "latency": case_latency, "batch": case_batch, "train": case_train,
         "tiling": case_tiling, "onnx": case_onnx, "compile": case_compile, "fast": case_fast}


# ----------------------------------------------------------------------------- report
def run_case(name: str, repeats: int) -> dict:
    """Run one case in a child process, which reports its results and its own peak resident memory."""
    command = [sys.executable, __file__, "--child", name, "--repeats", str(repeats)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = result.pop("child_peak_rss_kib") / 1024  # Linux reports ru_maxrss in KiB
    return result


def machine() -> dict:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from translate.inference import cpu_has_native_bf16

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (GPU figures not measured)"
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "gpu": gpu,
            "python": platform.python_version(), "native_bf16": cpu_has_native_bf16()}


def spread(figure: dict, scale: float = 1.0, digits: int = 3) -> str:
    return (f"{figure['median'] * scale:.{digits}f} ({figure['min'] * scale:.{digits}f}-"
            f"{figure['max'] * scale:.{digits}f})")


def where(data: dict) -> str:
    """Name the machine that measured one section."""
    info = data.get("machine") or {}
    bf16 = {True: ", native bf16", False: ", no native bf16"}.get(info.get("native_bf16"), "")
    return f"{info.get('cpu', 'an unrecorded CPU')} ({info.get('cores', '?')} cores{bf16})"


def markdown(results: dict, info: dict) -> str:
    machines = sorted({where(data) for data in results.values()})
    lines = [
        "# Benchmarks",
        "",
        "Written by `scripts/benchmark.py`; the raw figures are in `benchmarks.json` next to this file.",
        "",
        f"- Machine of the latest run: {info['cpu']}, {info['cores']} cores; torch {info['torch']}; "
        f"Python {info['python']}; GPU: {info['gpu']}.",
    ]
    if len(machines) > 1:
        lines.append(f"- The sections were measured on different machines ({'; '.join(machines)}), each named in "
                     "its section: compare ratios within a section, not times across sections.")
    lines += [
        "- Command: `python scripts/benchmark.py` (each section names the invocation that measured it).",
        "- Times are medians of several runs after a warm-up, with (min-max). Ratios are reference / ours from "
        "the same invocation. Peak memory is the peak resident memory of the case's own process.",
        "- Reference path: what the official CycleGAN scripts do (fp32 eager, one image at a time, no autocast, "
        "plain file handling, six separate generator passes per training step).",
        "",
    ]
    if "latency" in results:
        data = results["latency"]
        lines += [
            "## Generator latency (one image)",
            "",
            f"Measured by `{data['command']}` on {where(data)}.",
            "",
            f"Threads: {data['threads']}. Measured matrix-multiply throughput: "
            + ", ".join(f"{k} {v / 1e9:.0f} GMAC/s" for k, v in data["matmul_macs_per_s"].items())
            + ". The floor is the model's multiply-accumulates divided by that throughput in the same precision.",
            "",
            "Ours runs on a bf16 copy of the weights. Where that copy differs from fp32 by more than half a level "
            "on a probe image, the layers before the first residual block stay in fp32. They do so only where that "
            "removes at least a quarter of the difference (`translate/inference.py`), and the precision cell says "
            "so. The autocast column "
            "is plain `torch.autocast` in bf16, the usual way to add mixed precision, for comparison. Faithfulness "
            "is the mean absolute difference to the fp32 "
            "output, in levels of 255.",
            "",
            "| model | size | GMACs | reference fp32, s | ours, s | speed-up | ours vs floor | ours vs fp32, levels "
            "| bf16 autocast, s | autocast vs fp32, levels | ours channels-last, s |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            autocast = (f"{spread(row['autocast_s'])} | {row['autocast_mean_abs_levels']:.2f}"
                        if row.get("autocast_s") else "- | -")
            lines.append(
                f"| {row['model']} | {row['size']}² | {row['macs'] / 1e9:.1f} | {spread(row['reference_s'])} | "
                f"{spread(row['ours_s'])} ({row['ours_precision_description']}) | **{row['speedup']:.2f}x** | "
                f"{row['ours_s']['median'] / row['floor_s']:.1f}x floor | {row['mean_abs_levels']:.2f} | "
                f"{autocast} | {spread(row['ours_channels_last_s'])} |")
        lines += [f"\nPeak memory of the latency process: {data['peak_rss_mib']:.0f} MiB.", ""]
    if "batch" in results:
        data = results["batch"]
        lines += [
            "## Folder conversion (64 photos of 512x384, JPEG in and out, shipped model, full resolution)",
            "",
            f"Measured by `{data['command']}` on {where(data)}.",
            "",
            "| path | images/s | seconds per folder |",
            "|---|---|---|",
            f"| reference: one at a time, fp32, no threads | {data['reference_images_per_s']:.2f} | "
            f"{spread(data['reference_s'], digits=1)} |",
            f"| ours: `convert_folder`, threads, `batch_size=4` (one 512x384 photo fits the batch pixel budget), "
            f"{data.get('precision', 'bf16')} | "
            f"{data['ours_images_per_s']:.2f} | "
            f"{spread(data['ours_s'], digits=1)} |",
            f"| ours with `batch_size=1` | {64 / data['ours_batch_1_s']['median']:.2f} | "
            f"{spread(data['ours_batch_1_s'], digits=1)} |",
            "",
            f"Speed-up: **{data['speedup']:.2f}x**. Mean absolute difference of the two outputs after JPEG "
            f"encoding: {data['mean_abs_levels_after_jpeg']:.2f} levels. Peak memory: {data['peak_rss_mib']:.0f} MiB.",
            "",
        ]
    if "train" in results:
        data = results["train"]
        lines += ["## Training step", "", f"Measured by `{data['command']}` on {where(data)}.", "",
                  "| config | reference fp32, s | ours, s | speed-up |", "|---|---|---|---|"]
        for row in data["rows"]:
            lines.append(f"| {row['config']} | {spread(row['reference_s'])} | {spread(row['ours_s'])} "
                         f"({row['precision']}) | **{row['speedup']:.2f}x** |")
        lines += ["", f"Peak memory of the training process: {data['peak_rss_mib']:.0f} MiB.", ""]
    if "processes" in results:
        data = results["processes"]
        lines += [
            "## Training speed by processes and precision (emoji config, real `accelerate launch`)",
            "",
            f"Measured by `{data['command']}` on {where(data)}, data `{data['data']}`: 60 steps per run, the median "
            "over steps 21-60. "
            "Batch size 4 per process; two processes share the two cores (one thread each).",
            "",
            "| processes | precision | seconds per step | images per step | images per second |",
            "|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            lines.append(f"| {row['processes']} | {row['precision']} | {row['seconds_per_step']:.3f} | "
                         f"{row['images_per_step']} | {row['images_per_second']:.1f} |")
        lines.append("")
    if "onnx" in results:
        data = results["onnx"]
        lines += [
            "## ONNX Runtime (shipped model, 512x512)",
            "",
            f"Measured by `{data['command']}` on {where(data)}, onnxruntime {data['onnxruntime_version']}, "
            "CPU execution provider.",
            "",
            f"- onnxruntime fp32: {spread(data['onnxruntime_s'])} s; our PyTorch path: {spread(data['ours_s'])} s; "
            f"ours is **{data['ours_over_onnx']:.2f}x** the speed of onnxruntime.",
            f"- Largest difference of the ONNX output to PyTorch fp32: {data['onnx_max_abs_difference']:.1e} "
            "(on [-1, 1] values).",
            "",
        ]
    if "tiling" in results:
        data = results["tiling"]
        lines += [
            "## Full-resolution translation of a 6000x4000 photo",
            "",
            f"Measured by `{data['command']}` on {where(data)}.",
            "",
            f"Shipped model, `Translator(full_resolution=True)`: tiles of {data['tile']} px with {data['overlap']} "
            f"px overlap, {data['precision']}, {data['threads']} threads.",
            "",
            f"- Wall time: {spread(data['seconds'], digits=1)} s",
            f"- Peak resident memory of the process: **{data['peak_rss_mib']:.0f} MiB** (input, output and "
            "model included)",
            "",
        ]
    if "compile" in results:
        data = results["compile"]
        break_even = data["break_even_images"]
        lines += [
            "## torch.compile (ResNet-9 ngf 64, 512x512)",
            "",
            f"Measured by `{data['command']}` on {where(data)}: inductor with frozen weights, compiling our "
            f"{data['precision']} "
            "network.",
            "",
            f"- Eager: {spread(data['eager_s'])} s; compiled: {spread(data['compiled_s'])} s, "
            f"**{data['speedup']:.2f}x**, {data['mean_abs_levels_to_eager']:.2f} levels from eager.",
            f"- First call (compilation): {data['first_call_s']:.1f} s; the first call at a new size "
            f"(512x384) compiles again: {data['new_size_first_call_s']:.1f} s.",
            f"- Break-even: {break_even:.0f} images of one size." if break_even else "- No saving at all.",
            "",
            "Not used by default: the app and the converter see images of many sizes, and each new size pays "
            "the compilation again.",
            "",
        ]
    fast = fast_variant_summary(results)
    if fast:
        lines += fast
    if "fast" in results:
        data = results["fast"]
        rows = {row["model"]: row for row in data["rows"]}
        columns = [name for name in ("best", "best, one pass", "fast") if name in rows]
        fast_row = rows["fast"]

        def ratio(key: str, name: str) -> str:
            if key == "macs":
                return f"{rows[name]['macs'] / fast_row['macs']:.2f}x fewer"
            return f"{rows[name][key]['median'] / fast_row[key]['median']:.2f}x faster"

        against = [name for name in columns if name != "fast"]
        heading = [f"{name} ({rows[name].get('passes', 1)} pass{'es' if rows[name].get('passes', 1) > 1 else ''})"
                   for name in columns]
        lines += [
            "## Distilled fast variant in the app's precision (512x512)",
            "",
            f"Measured by `{data['command']}` on {where(data)}, {data['threads']} threads: the shipped models "
            "through the `Translator`, in the precision it picks on that machine and in fp32. The best model as "
            "shipped averages its translations of the image and of its mirror image (two passes); \"best, one "
            "pass\" is its generator alone. The fast model learned the two-pass output in one pass.",
            "",
            "| | " + " | ".join(heading) + " | " + " | ".join(f"fast against {name}" for name in against) + " |",
            "|---|" + "---|" * (len(columns) + len(against)),
            "| GMACs | " + " | ".join(f"{rows[name]['macs'] / 1e9:.1f}" for name in columns) + " | "
            + " | ".join(f"**{ratio('macs', name)}**" for name in against) + " |",
            f"| auto precision ({fast_row['precision']}), s | "
            + " | ".join(spread(rows[name]["ours_s"]) for name in columns) + " | "
            + " | ".join(f"**{ratio('ours_s', name)}**" for name in against) + " |",
            "| fp32, s | " + " | ".join(spread(rows[name]["fp32_s"]) for name in columns) + " | "
            + " | ".join(ratio("fp32_s", name) for name in against) + " |",
            "",
        ]
    return "\n".join(lines)


def fast_variant_summary(results: dict) -> list[str]:
    """Compare the distilled fast variant with its teacher: MACs and latency from this run, PSNR from its card."""
    rows = {row["model"]: row for row in results.get("latency", {}).get("rows", [])}
    best, fast = rows.get("shipped emoji (best)"), rows.get("shipped emoji (fast)")
    evaluation = SHIPPED_FAST / "evaluation.json"
    if not (best and fast and evaluation.is_file()):
        return []
    scores = json.loads(evaluation.read_text())
    psnr = scores["psnr_to_teacher"]
    one_pass = scores.get("psnr_to_teacher_one_pass")
    return [
        "## Distilled fast variant against its teacher (512x512)",
        "",
        "MACs and latency from the latency table above, where the best model runs one pass of its generator; "
        "PSNR of the fast model's output against the best model's on the held-out test split, from "
        "`weights/emoji-fast/evaluation.json` (`scripts/package_emoji_fast_model.py`).",
        "",
        "| | best (teacher), one pass | fast (student) | ratio |",
        "|---|---|---|---|",
        f"| GMACs | {best['macs'] / 1e9:.1f} | {fast['macs'] / 1e9:.1f} | "
        f"**{best['macs'] / fast['macs']:.2f}x fewer** |",
        f"| ours, s | {best['ours_s']['median']:.3f} | {fast['ours_s']['median']:.3f} | "
        f"**{best['ours_s']['median'] / fast['ours_s']['median']:.2f}x faster** |",
        "",
        "PSNR against the teacher: " + ", ".join(f"{d} **{v:.2f} dB**" for d, v in psnr.items())
        + (" against its output as shipped (averaged with the mirror image's translation); "
           + ", ".join(f"{d} {v:.2f} dB" for d, v in one_pass.items()) + " against one pass of its generator, "
           "which this table times" if one_pass else "") + ".",
        "",
    ]


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1 for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give a whole number of at least 1")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only these cases")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs of each figure, after one warm-up")
    parser.add_argument("--render-only", action="store_true",
                        help="time nothing: rewrite docs/benchmarks.md from docs/benchmarks.json, for example after "
                             "weights/emoji-fast/evaluation.json changed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = CASES[args.child](args.repeats)
        result["child_peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
        return 0

    names = args.only or list(CASES)
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    json_path = docs / "benchmarks.json"
    stored = json.loads(json_path.read_text()) if json_path.is_file() else {}
    results = stored.get("results", {})
    for data in results.values():
        data.setdefault("machine", stored.get("machine"))  # results written before sections named their machine
    if args.render_only:
        if not results:
            print(f"benchmark: error: no results found in {json_path}. Run the benchmark first.", file=sys.stderr)
            return 2
        (docs / "benchmarks.md").write_text(markdown(results, stored["machine"]))
        print(f"Rewrote {docs / 'benchmarks.md'} from {json_path}")
        return 0
    command = "python scripts/benchmark.py" + "".join(f" --only {n}" for n in args.only or []) + (
        f" --repeats {args.repeats}" if args.repeats != 3 else "")
    info = machine()
    for name in names:
        print(f"running {name} ...", file=sys.stderr)
        results[name] = run_case(name, args.repeats)
        results[name]["command"] = command
        results[name]["machine"] = info
    json_path.write_text(json.dumps({"machine": info, "command": command, "results": results}, indent=2) + "\n")
    (docs / "benchmarks.md").write_text(markdown(results, info))
    print((docs / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
