"""CycleGAN training loop on Hugging Face Accelerate: one CPU, one GPU or many processes alike.

Accelerate owns the device, mixed precision and the process group; this module never moves a
model by hand. Each step is fully determined by the seed and the step number (data order, crops,
flips, dropout), and the image pools are saved with the checkpoint, so a resumed run continues
exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import gather_object, parse_flag_from_env
from torch.optim.lr_scheduler import LambdaLR
from torchvision.utils import make_grid, save_image
from tqdm.auto import tqdm

from translate import __version__
from translate.checkpoint import (
    architecture_differences,
    check_new_run,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from translate.config import TrainConfig, flatten
from translate.data import augment, make_loader, scan_domain
from translate.ema import EMA
from translate.evaluation import evaluate_paired, find_pairs
from translate.image_io import ImageReadError
from translate.inference import cpu_has_native_bf16, run_generator
from translate.losses import ImagePool
from translate.model_card import training_model_card
from translate.networks import PatchDiscriminator, ResnetGenerator, count_parameters
from translate.steps import discriminator_losses, generator_losses
from translate.weights import save_weights

logger = get_logger(__name__)
# The precision is chosen before Accelerate's state exists, which its logger needs.
precision_logger = logging.getLogger(__name__)

SAMPLE_COUNT = 4


@dataclass
class Networks:
    G_AB: torch.nn.Module
    G_BA: torch.nn.Module
    D_A: torch.nn.Module
    D_B: torch.nn.Module


def linear_decay(config: TrainConfig):
    """Learning-rate factor: 1 for the first ``steps - decay_steps`` steps, then linearly down towards 0."""
    constant = config.steps - config.decay_steps

    def factor(step: int) -> float:
        return 1.0 - max(0, step - constant) / float(config.decay_steps + 1)

    return factor


def set_requires_grad(modules: list[torch.nn.Module], flag: bool) -> None:
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(flag)


class StopRequest:
    """Record SIGTERM/SIGINT so the loop can save a checkpoint and exit at the end of the step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            # signal.signal raises ValueError outside the main thread (for example in a notebook
            # worker); training then simply ignores the signals.
            with contextlib.suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# Seconds per distillation step of the ngf 12 student at batch 16 on a 2-core AMD EPYC without
# AVX-512: 0.133 in fp32 and 1.40 under bf16 autocast, where every bf16 operation is emulated.
EMULATED_BF16_SLOWDOWN = 10


def training_device() -> torch.device:
    """Return the kind of device Accelerate will train on, without creating its state.

    Creating ``PartialState`` early would fix its settings before the ``Accelerator`` reads
    ``ACCELERATE_USE_CPU``, which turns multi-process CPU launches into one process.
    """
    if parse_flag_from_env("ACCELERATE_USE_CPU"):
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def first_process() -> bool:
    """Return whether this is the first (or only) process of a launch, before Accelerate starts.

    ``accelerate launch`` and ``torchrun`` set ``RANK`` in each process's environment.
    """
    return os.environ.get("RANK", "0") == "0"


def training_precision(requested: str, device: torch.device, *, native_bf16: bool | None = None) -> str:
    """Return the Accelerate mixed-precision mode (``no``, ``bf16`` or ``fp16``) a run should use.

    ``auto`` is bf16 on GPUs that support it and on CPUs with native bf16, else fp32. ``fp32`` is
    always fp32. ``no``, the default, is fp32 unless the run is started by ``accelerate launch``
    with ``--mixed_precision bf16`` or ``fp16`` (or with that in ``accelerate config``), which
    reaches the script as ``ACCELERATE_MIXED_PRECISION``. An explicit bf16 on a CPU that emulates
    bf16 is kept, with a warning about its speed. fp16 on a CPU raises ``ValueError``.
    ``native_bf16`` overrides the check of this machine's CPU.
    """
    source = "--mixed_precision"
    if requested == "no":
        launcher = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
        if launcher in ("bf16", "fp16"):
            if first_process():
                precision_logger.info("Mixed precision %s, as accelerate launch sets it", launcher)
            requested, source = launcher, "accelerate launch --mixed_precision"
    if requested == "fp32":
        return "no"
    if device.type == "cpu" and requested == "fp16":
        raise ValueError(f"fp16 mixed precision ({source} fp16) needs a GPU. On a CPU use --mixed_precision auto, "
                         "bf16 or fp32.")
    if device.type == "cpu" and requested in ("auto", "bf16"):
        native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
        if requested == "auto":
            return "bf16" if native else "no"
        if not native and first_process():
            precision_logger.warning("This CPU has no native bf16 (neither AVX-512 BF16 nor AMX), so bf16 mixed "
                                     "precision (%s bf16) is emulated and about %dx slower than fp32 here. Use "
                                     "--mixed_precision auto or fp32.", source, EMULATED_BF16_SLOWDOWN)
        return requested
    if requested == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    return requested


def precision_label(mode: str, requested: str = "") -> str:
    """Return the name of an Accelerate mixed-precision mode for logs and cards: ``fp32`` for ``no``.

    With ``requested`` ``auto``, the label ends in ``(auto)``, for example ``bf16 (auto)``.
    """
    label = "fp32" if mode == "no" else mode
    return f"{label} (auto)" if requested == "auto" else label


def run_precision(config) -> str:
    """Return the Accelerate mixed-precision mode for a train or distill config on this machine.

    A choice made by ``accelerate launch`` is written into ``config.mixed_precision``, so the
    checkpoints save it and a resumed run keeps it.
    """
    mode = training_precision(config.mixed_precision, training_device())
    if config.mixed_precision == "no" and mode != "no":
        config.mixed_precision = mode
    return mode



class Trainer:
    """Build everything a run needs from a ``TrainConfig`` and run it; see ``train`` for the entry point."""

    def __init__(self, config: TrainConfig, *, resume: str | None = None) -> None:
        self.config = config
        self.output_dir = Path(config.output_dir)
        if not resume:
            check_new_run(self.output_dir)
        trackers = [t.strip() for t in config.trackers.split(",") if t.strip() and t.strip() != "none"]
        self.precision = run_precision(config)
        self.accelerator = Accelerator(
            mixed_precision=self.precision,
            log_with=trackers or None,
            project_dir=str(self.output_dir),
        )
        self.step = 0
        self._scan_data()

        torch.manual_seed(config.seed)
        generators = (ResnetGenerator(config.generator), ResnetGenerator(config.generator))
        discriminators = (PatchDiscriminator(config.discriminator), PatchDiscriminator(config.discriminator))
        self.ema_AB = EMA(generators[0], config.ema_decay)
        self.ema_BA = EMA(generators[1], config.ema_decay)
        optimizer_G = torch.optim.Adam(
            [*generators[0].parameters(), *generators[1].parameters()], lr=config.lr, betas=(config.beta1, config.beta2)
        )
        optimizer_D = torch.optim.Adam(
            [*discriminators[0].parameters(), *discriminators[1].parameters()],
            lr=config.lr, betas=(config.beta1, config.beta2),
        )
        # Schedulers stay outside accelerator.prepare: Accelerate would step them once per process.
        self.scheduler_G = LambdaLR(optimizer_G, linear_decay(config))
        self.scheduler_D = LambdaLR(optimizer_D, linear_decay(config))
        rank = self.accelerator.process_index
        self.pool_A = ImagePool(config.pool_size, seed=config.seed * 1000 + 2 * rank)
        self.pool_B = ImagePool(config.pool_size, seed=config.seed * 1000 + 2 * rank + 1)

        if resume:
            self._load(resolve_resume(resume, self.output_dir), generators, discriminators, optimizer_G, optimizer_D)

        prepared = self.accelerator.prepare(*generators, *discriminators, optimizer_G, optimizer_D)
        self.nets = Networks(*prepared[:4])
        self.optimizer_G, self.optimizer_D = prepared[4:]
        self.ema_AB.to(self.accelerator.device)
        self.ema_BA.to(self.accelerator.device)
        self.pool_A.images = [image.to(self.accelerator.device) for image in self.pool_A.images]
        self.pool_B.images = [image.to(self.accelerator.device) for image in self.pool_B.images]
        self.loader_A = self._make_loader(self.domain_A.images, stream=0)
        self.loader_B = self._make_loader(self.domain_B.images, stream=1)

    # ----------------------------------------------------------------- setup
    def _scan_data(self) -> None:
        if not self.config.data:
            raise ValueError("No dataset given: pass --data FOLDER (a folder with trainA/ and trainB/).")
        root = Path(self.config.data)
        if not root.is_dir():
            raise FileNotFoundError(f"Dataset folder not found: {root}")
        self.domain_A = scan_domain(root / "trainA")
        self.domain_B = scan_domain(root / "trainB")
        for domain in (self.domain_A, self.domain_B):
            for path, reason in domain.unreadable:
                logger.warning("Skipping unreadable image %s (%s)", path, reason, main_process_only=True)
        test_A, test_B = root / "testA", root / "testB"
        self.paired_test = None
        if test_A.is_dir() and test_B.is_dir():
            try:
                find_pairs(test_A, test_B)
                self.paired_test = (test_A, test_B)
            except ValueError:
                self.paired_test = None
        self.sample_paths = (
            self._sample_sources(test_A, self.domain_A.images),
            self._sample_sources(test_B, self.domain_B.images),
        )

    @staticmethod
    def _sample_sources(test_folder: Path, fallback: list[Path]) -> list[Path]:
        """Return the first readable test images (at least 8 pixels a side), else the first training images."""
        candidates: list[Path] = []
        if test_folder.is_dir():
            try:
                found = scan_domain(test_folder)
                candidates = [p for p, size in zip(found.images, found.sizes, strict=True) if min(size) >= 8]
            except ValueError:
                candidates = []
        return (candidates or fallback)[:SAMPLE_COUNT]

    def _make_loader(self, files: list[Path], stream: int):
        config = self.config
        return iter(
            make_loader(
                files, min_side=config.load_size, batch_size=config.batch_size, seed=config.seed * 2 + stream,
                rank=self.accelerator.process_index, world_size=self.accelerator.num_processes,
                start_batch=self.step * config.gradient_accumulation_steps, num_workers=config.num_workers,
            )
        )

    def _load(self, folder: Path, generators, discriminators, optimizer_G, optimizer_D) -> None:
        networks, state = load_checkpoint(folder)
        differences = architecture_differences(state["config"], self.config)
        if differences:
            raise ValueError(
                f"Checkpoint {folder} was trained with a different architecture: " + "; ".join(differences)
                + ". Resume with the same generator/discriminator settings, or start a new --output_dir."
            )
        for module, name in zip((*generators, *discriminators), ("G_AB", "G_BA", "D_A", "D_B"), strict=True):
            module.load_state_dict(networks[name], strict=True)
        self.ema_AB.load_state_dict(networks["ema_G_AB"])
        self.ema_BA.load_state_dict(networks["ema_G_BA"])
        optimizer_G.load_state_dict(state["optimizer_G"])
        optimizer_D.load_state_dict(state["optimizer_D"])
        self.scheduler_G.load_state_dict(state["scheduler_G"])
        self.scheduler_D.load_state_dict(state["scheduler_D"])
        pools = state["pools"]
        rank = self.accelerator.process_index
        own = pools[rank] if rank < len(pools) else pools[0]
        self.pool_A.load_state_dict(own["A"])
        self.pool_B.load_state_dict(own["B"])
        self.step = int(state["step"])
        logger.info("Resumed from %s at step %d", folder, self.step, main_process_only=True)

    # ----------------------------------------------------------------- one step
    def _no_sync(self, modules: list[torch.nn.Module], sync: bool) -> contextlib.ExitStack:
        """Skip the gradient all-reduce of ``modules`` unless ``sync``: only the last micro-batch syncs."""
        stack = contextlib.ExitStack()
        if not sync:
            for module in modules:
                stack.enter_context(self.accelerator.no_sync(module))
        return stack

    def train_step(self, micro_batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Run one generator update and one discriminator update over ``micro_batches``.

        Gradients of all micro-batches are accumulated before each update, so K micro-batches
        of size B give the update of one batch of size K x B. Returns the detached loss terms,
        averaged over the micro-batches.
        """
        config, nets, accelerator = self.config, self.nets, self.accelerator
        count = len(micro_batches)
        totals: dict[str, torch.Tensor] = {}
        translations = []

        # 1-2. Translate and compute the generator losses, micro-batch by micro-batch. The
        #      discriminators are frozen and called without their process-group wrapper, so
        #      these backward passes neither update nor sync them.
        set_requires_grad([nets.D_A, nets.D_B], False)
        D_A_plain = accelerator.unwrap_model(nets.D_A)
        D_B_plain = accelerator.unwrap_model(nets.D_B)
        self.optimizer_G.zero_grad(set_to_none=True)
        for index, (real_A, real_B) in enumerate(micro_batches):
            with self._no_sync([nets.G_AB, nets.G_BA], sync=index == count - 1):
                with accelerator.autocast():
                    losses, fakes = generator_losses(nets.G_AB, nets.G_BA, D_A_plain, D_B_plain, real_A, real_B,
                                                     config)
                accelerator.backward(sum(losses.values()) / count)
            translations.append(fakes)
            for name, value in losses.items():
                totals[name] = totals.get(name, 0) + value.detach().float() / count

        # 3. Generator update.
        self.optimizer_G.step()

        # 4. Discriminator losses, on real images and on generated ones drawn from the history pools.
        set_requires_grad([nets.D_A, nets.D_B], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        for index, ((real_A, real_B), fakes) in enumerate(zip(micro_batches, translations, strict=True)):
            pooled_A = self.pool_A.query(fakes.fake_A.detach().float())
            pooled_B = self.pool_B.query(fakes.fake_B.detach().float())
            with self._no_sync([nets.D_A, nets.D_B], sync=index == count - 1):
                with accelerator.autocast():
                    losses = discriminator_losses(nets.D_A, nets.D_B, real_A, real_B, pooled_A, pooled_B, config)
                accelerator.backward((losses["D_A"] + losses["D_B"]) / count)
            for name, value in losses.items():
                totals[name] = totals.get(name, 0) + value.detach().float() / count

        # 5. Discriminator update.
        self.optimizer_D.step()

        # 6. Bookkeeping: schedules and the moving average of generator weights.
        self.scheduler_G.step()
        self.scheduler_D.step()
        self.ema_AB.update(accelerator.unwrap_model(nets.G_AB), self.step)
        self.ema_BA.update(accelerator.unwrap_model(nets.G_BA), self.step)
        return totals

    def next_micro_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Draw this step's ``gradient_accumulation_steps`` micro-batches of both domains."""
        return [self.next_batch(index) for index in range(self.config.gradient_accumulation_steps)]

    def next_batch(self, micro_index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        config = self.config
        # Per-step randomness: crops, flips and dropout depend only on (seed, step, micro-batch, rank).
        step_seed = ((config.seed * 1_000_003 + self.step) * 64 + micro_index) * 1024 + self.accelerator.process_index
        torch.manual_seed(step_seed)
        generator = torch.Generator().manual_seed(step_seed)
        device = self.accelerator.device
        real_A = augment(next(self.loader_A), load_size=config.load_size, crop_size=config.crop_size,
                         flip=config.flip, generator=generator, device=device)
        real_B = augment(next(self.loader_B), load_size=config.load_size, crop_size=config.crop_size,
                         flip=config.flip, generator=generator, device=device)
        return real_A, real_B

    # ----------------------------------------------------------------- outputs
    def check_in_sync(self) -> None:
        """Raise unless every process has the same parameters, as all-reduced updates guarantee."""
        if self.accelerator.num_processes == 1:
            return
        unwrap = self.accelerator.unwrap_model
        sums = torch.stack([
            parameter.detach().double().sum()
            for net in (self.nets.G_AB, self.nets.G_BA, self.nets.D_A, self.nets.D_B)
            for parameter in unwrap(net).parameters()
        ])
        gathered = self.accelerator.gather(sums[None].to(self.accelerator.device))
        if not all(torch.equal(gathered[0], row) for row in gathered[1:]):
            raise RuntimeError(
                f"Parameters differ between the {self.accelerator.num_processes} processes at step {self.step}; "
                "the process group is out of sync. Check that every process runs the same code and config."
            )
        logger.info("Step %d: parameters identical on all %d processes", self.step, self.accelerator.num_processes,
                    main_process_only=True)

    def checkpoint(self) -> Path | None:
        self.check_in_sync()
        pools = gather_object([{"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()}])
        path = None
        if self.accelerator.is_main_process:
            unwrap = self.accelerator.unwrap_model
            networks = {
                "G_AB": unwrap(self.nets.G_AB), "G_BA": unwrap(self.nets.G_BA),
                "D_A": unwrap(self.nets.D_A), "D_B": unwrap(self.nets.D_B),
                "ema_G_AB": self.ema_AB.module, "ema_G_BA": self.ema_BA.module,
            }
            state = {
                "step": self.step,
                "config": self.config.to_dict(),
                "version": __version__,
                "optimizer_G": self.optimizer_G.state_dict(),
                "optimizer_D": self.optimizer_D.state_dict(),
                "scheduler_G": self.scheduler_G.state_dict(),
                "scheduler_D": self.scheduler_D.state_dict(),
                "pools": pools,
            }
            path = save_checkpoint(self.output_dir, self.step, networks, state, self.config.keep_checkpoints)
            logger.info("Saved checkpoint %s", path, main_process_only=True)
        self.accelerator.wait_for_everyone()
        return path

    def inference_generators(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Generators used for samples, evaluation and export: the EMA copies when EMA is on."""
        if self.config.ema_decay > 0:
            return self.ema_AB.module, self.ema_BA.module
        unwrap = self.accelerator.unwrap_model
        return unwrap(self.nets.G_AB), unwrap(self.nets.G_BA)

    @torch.no_grad()
    def write_samples(self) -> Path | None:
        if not self.accelerator.is_main_process:
            return None
        from translate.image_io import composite_on_white, open_image, to_tensor

        G_AB, G_BA = self.inference_generators()
        size = self.config.crop_size
        rows = []
        for paths, forward, backward in ((self.sample_paths[0], G_AB, G_BA), (self.sample_paths[1], G_BA, G_AB)):
            for path in paths:
                image = to_tensor(composite_on_white(open_image(path).resize((size, size))))
                real = image.unsqueeze(0).to(self.accelerator.device)
                was_training = (forward.training, backward.training)
                forward.eval(), backward.eval()
                fake = run_generator(forward, real)
                rec = run_generator(backward, fake)
                forward.train(was_training[0]), backward.train(was_training[1])
                rows += [real[0], fake[0], rec[0]]
        grid = make_grid(torch.stack(rows).float().cpu(), nrow=3, normalize=True, value_range=(-1, 1))
        path = self.output_dir / "samples" / f"step-{self.step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        for tracker in self.accelerator.trackers:
            if tracker.name == "tensorboard":
                tracker.writer.add_image("samples/real_fake_rec", grid, self.step)
        return path

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Score both directions on the paired test set (main process only); empty without one."""
        if self.paired_test is None or not self.accelerator.is_main_process:
            return {}
        test_A, test_B = self.paired_test
        results = {}
        for name, generator, source, target in (
            ("AtoB", self.inference_generators()[0], test_A, test_B),
            ("BtoA", self.inference_generators()[1], test_B, test_A),
        ):
            was_training = generator.training
            generator.eval()
            device = self.accelerator.device

            def translate_fn(batch: torch.Tensor, generator=generator, device=device) -> torch.Tensor:
                with self.accelerator.autocast():
                    return run_generator(generator, batch.to(device)).float()

            scores, baseline = evaluate_paired(translate_fn, source, target)
            generator.train(was_training)
            results.update({f"eval/{name}_l1": scores.l1, f"eval/{name}_ssim": scores.ssim,
                            f"eval/{name}_psnr": scores.psnr, f"eval/{name}_baseline_ssim": baseline.ssim,
                            f"eval/{name}_baseline_l1": baseline.l1})
        return results

    def export(self) -> Path | None:
        """Write the inference generators as a weights folder under ``output_dir/weights``."""
        if not self.accelerator.is_main_process:
            return None
        G_AB, G_BA = self.inference_generators()
        folder = self.output_dir / "weights"
        config = self.config
        save_weights(
            folder, {"AtoB": G_AB, "BtoA": G_BA}, domain_a=config.domain_a, domain_b=config.domain_b,
            image_size=config.load_size,
            extra={"trained_steps": self.step, "package_version": __version__, "ema_decay": config.ema_decay},
            model_card=training_model_card(config, self.step, precision=precision_label(self.precision)),
        )
        return folder

    # ----------------------------------------------------------------- loop
    def log_header(self) -> None:
        config, accelerator = self.config, self.accelerator
        lines = [
            f"Domain A ({config.domain_a}): {len(self.domain_A.images)} images in {self.domain_A.folder}",
            f"Domain B ({config.domain_b}): {len(self.domain_B.images)} images in {self.domain_B.folder}",
            f"Processes: {accelerator.num_processes} on {accelerator.device}, mixed precision "
            f"{precision_label(self.precision, config.mixed_precision)}",
            f"Batch size: {config.batch_size} per process, {config.batch_size * accelerator.num_processes} in all"
            + (f", {config.gradient_accumulation_steps} micro-batches per update: "
               f"{config.batch_size * accelerator.num_processes * config.gradient_accumulation_steps} images per update"
               if config.gradient_accumulation_steps > 1 else ""),
            f"Steps: {config.steps} ({config.steps - config.decay_steps} at lr {config.lr}, "
            f"then {config.decay_steps} decaying to 0); starting at step {self.step}",
            f"Crop: {config.crop_size}x{config.crop_size} from images resized to a shorter side of {config.load_size}",
            f"Generator: {count_parameters(self.ema_AB.module):,} parameters each; "
            f"discriminator: {count_parameters(self.accelerator.unwrap_model(self.nets.D_A)):,}",
        ]
        counts = sorted((len(self.domain_A.images), len(self.domain_B.images)))
        if counts[1] >= 2 * counts[0]:
            lines.append(
                f"Unbalanced domains ({len(self.domain_A.images)} vs {len(self.domain_B.images)} images): each domain "
                f"is drawn on its own, so the smaller one repeats about {counts[1] / counts[0]:.1f} times per pass "
                "over the larger one"
            )
        for domain in (self.domain_A, self.domain_B):
            small = domain.count_smaller_than(config.crop_size)
            if small:
                logger.warning(
                    "%d images in %s are smaller than crop_size %d and are upscaled; lower --crop_size and "
                    "--load_size to train at their size", small, domain.folder, config.crop_size,
                    main_process_only=True,
                )
        skipped = len(self.domain_A.unreadable) + len(self.domain_B.unreadable)
        if skipped:
            lines.append(f"Unreadable images skipped: {skipped} (listed above)")
        if self.paired_test:
            lines.append(f"Paired test set: {self.paired_test[0]} and {self.paired_test[1]}")
        for line in lines:
            logger.info(line, main_process_only=True)

    def fit(self) -> Path | None:
        config, accelerator = self.config, self.accelerator
        if accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        accelerator.init_trackers("cyclegan", config=flatten(config.to_dict()))
        self.log_header()

        metrics_path = self.output_dir / "metrics.jsonl"
        progress = tqdm(total=config.steps, initial=self.step, disable=not accelerator.is_main_process,
                        desc="training", dynamic_ncols=True)
        window_start, window_images = time.perf_counter(), 0
        stopped_early = False
        with StopRequest() as stop:
            while self.step < config.steps:
                micro_batches = self.next_micro_batches()
                losses = self.train_step(micro_batches)
                self.step += 1
                window_images += config.batch_size * len(micro_batches) * accelerator.num_processes
                progress.update(1)

                if self.step % config.log_every == 0 or self.step == config.steps:
                    names = sorted(losses)
                    averaged = accelerator.reduce(torch.stack([losses[k] for k in names]), reduction="mean")
                    values = {f"loss/{k}": float(v) for k, v in zip(names, averaged.tolist(), strict=True)}
                    if not all(math.isfinite(v) for v in values.values()):
                        raise FloatingPointError(
                            f"Non-finite loss at step {self.step}: {values}. Lower --lr, or use "
                            "--mixed_precision no if fp16 overflowed."
                        )
                    elapsed = time.perf_counter() - window_start
                    values["lr"] = self.scheduler_G.get_last_lr()[0]
                    values["images_per_second"] = window_images / max(elapsed, 1e-9)
                    window_start, window_images = time.perf_counter(), 0
                    accelerator.log(values, step=self.step)
                    postfix = {k.split("/")[-1]: f"{v:.3f}" for k, v in values.items() if k.startswith("loss/")}
                    progress.set_postfix(postfix)
                    if accelerator.is_main_process:
                        with metrics_path.open("a", encoding="utf-8") as stream:
                            stream.write(json.dumps({"step": self.step, **values}) + "\n")

                if self.step % config.sample_every == 0:
                    self.safely("sample grid", self.write_samples)
                last = self.step == config.steps
                stop_now = self._agree_to_stop(stop.requested)
                if self.step % config.checkpoint_every == 0 or last or stop_now:
                    self.checkpoint()
                    scores = self.safely("evaluation", self.evaluate) or {}
                    if scores:
                        accelerator.log(scores, step=self.step)
                        summary = ", ".join(f"{k.split('/')[-1]} {v:.4f}" for k, v in scores.items())
                        logger.info("Step %d evaluation: %s", self.step, summary, main_process_only=True)
                        if accelerator.is_main_process:
                            with metrics_path.open("a", encoding="utf-8") as stream:
                                stream.write(json.dumps({"step": self.step, **scores}) + "\n")
                if stop_now:
                    logger.info("Stop requested: saved step %d; resume with --resume latest", self.step,
                                main_process_only=True)
                    stopped_early = True
                    break
        progress.close()

        folder = None
        if not stopped_early:
            self.safely("sample grid", self.write_samples)
            folder = self.export()
            if folder:
                logger.info("Exported weights to %s", folder, main_process_only=True)
        accelerator.wait_for_everyone()
        accelerator.end_training()
        return folder

    def safely(self, what: str, function):
        """Run a side task (samples, evaluation); log its failure instead of ending hours of training."""
        try:
            return function()
        except (ImageReadError, OSError, ValueError, RuntimeError) as error:
            logger.warning("Skipped the %s at step %d: %s", what, self.step, error, main_process_only=True)
            return None

    def _agree_to_stop(self, requested: bool) -> bool:
        return agree_to_stop(self.accelerator, requested)


def agree_to_stop(accelerator: Accelerator, requested: bool) -> bool:
    """True on every process when any process received a stop signal, so all stop at the same step."""
    if accelerator.num_processes == 1:
        return requested
    flag = torch.tensor([1.0 if requested else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="sum").item() > 0)


def train(config: TrainConfig, *, resume: str | None = None) -> Path | None:
    """Train a CycleGAN from ``config``, optionally resuming; return the exported weights folder.

    ``resume`` is a checkpoint folder or ``"latest"``. Returns ``None`` on processes other than
    the main one, and when a stop signal ended the run early.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    return Trainer(config, resume=resume).fit()
