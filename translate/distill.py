"""Distillation: train a small, fast student generator to reproduce a trained teacher's translations.

For each direction the teacher offers, a student ``ResnetGenerator`` of a smaller shape learns to
map the teacher's training images to the teacher's own translations of them. The loss is L1 plus
a structural term (1 - SSIM), both against the teacher's output. The teacher can label any image
of its source domain, so the images in ``extraA/`` and ``extraB/`` next to the training folders
are inputs too. More inputs narrow the gap between how well the student matches the teacher on
its inputs and on unseen images. ``init_from`` starts the students from an earlier student's weights.

When augmentation is only a horizontal flip (every image resizes to exactly the crop size), the
teacher's translations of each image and of its mirror are computed once, in fp32, and kept in
memory: the teacher's forward pass then costs nothing per step. On the emoji model that pass was
about three quarters of a step's work. Larger datasets than ``cache_limit_gb`` allows, and random
crops, fall back to running the teacher at every step. Runs use the same machinery as
training: Accelerate for devices and precision, atomic checkpoints with exact resume, tracking
and an exported weights folder (variant ``fast``) whose model card names its teacher.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import kornia
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.logging import get_logger
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from translate import __version__
from translate.checkpoint import check_new_run, load_checkpoint, resolve_resume, save_checkpoint
from translate.config import MIXED_PRECISION_CHOICES, MIXED_PRECISION_HELP, ConfigFile
from translate.data import ImageFolderDataset, augment, make_loader, resize_shorter, scan_domain
from translate.download import file_sha256
from translate.ema import EMA
from translate.flops import count_macs
from translate.image_io import list_images, save_image, to_pil
from translate.inference import MirrorAveraged, run_generator
from translate.models import resolve_model
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.training import StopRequest, agree_to_stop, precision_label, run_precision
from translate.weights import load_generator, read_model_info, save_weights

logger = get_logger(__name__)

SOURCE_FOLDER = {"AtoB": "trainA", "BtoA": "trainB"}
EXTRA_FOLDER = {"AtoB": "extraA", "BtoA": "extraB"}
OTHER_DIRECTION = {"AtoB": "BtoA", "BtoA": "AtoB"}


@dataclass
class DistillConfig(ConfigFile):
    """A distillation run: the teacher, the student's shape and the optimisation."""

    teacher: str = ""
    data: str = ""
    output_dir: str = "runs/distilled"
    student: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(ngf=12, n_blocks=6))
    load_size: int = 0  # 0: the teacher's image_size
    crop_size: int = 0  # 0: the teacher's image_size
    flip: bool = True
    batch_size: int = 8
    steps: int = 3000
    decay_steps: int = 1500
    lr: float = 1e-3
    ema_decay: float = 0.999
    lambda_l1: float = 1.0
    lambda_ssim: float = 0.5
    lambda_log_mse: float = 0.0
    mixed_precision: str = "no"
    seed: int = 0
    num_workers: int = 2
    log_every: int = 50
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    trackers: str = "tensorboard"
    cache_teacher: bool = True
    cache_limit_gb: float = 4.0  # GiB per direction for the cached inputs and teacher outputs
    extra_inputs: bool = True  # also learn from --data's extraA/ and extraB/ where they exist
    cycle_inputs: bool = False  # also learn from the teacher's translations of the other domain's inputs
    cycle_share: float = 0.25  # part of each batch drawn from the cycle inputs
    init_from: str = ""  # weights folder of an earlier student of the same shape to start from

    HELP: ClassVar[dict[str, str]] = {
        "teacher": "weights folder or model name of the trained model to reproduce",
        "data": "folder with the teacher's trainA/ and trainB/, and optionally extraA/ and extraB/",
        "output_dir": "checkpoints, logs and the exported weights/ folder go here",
        "student.ngf": "student width: filters in its first layer",
        "student.n_blocks": "residual blocks in the student",
        "load_size": "shorter image side after resizing; 0 uses the teacher's image size",
        "crop_size": "square training crop; 0 uses the teacher's image size",
        "decay_steps": "final steps over which the learning rate falls linearly to 0",
        "ema_decay": "moving average of the student weights, which is what gets exported; 0 disables it",
        "lambda_l1": "weight of the L1 loss against the teacher's output",
        "lambda_ssim": "weight of the (1 - SSIM) loss against the teacher's output",
        "lambda_log_mse": "weight of the mean over images of log10 of each image's MSE against the teacher's "
                          "output: minus a tenth of the mean PSNR, so it raises that directly (its logged value is "
                          "negative)",
        "mixed_precision": MIXED_PRECISION_HELP,
        "cache_teacher": "translate every input once and keep the results in memory, where crops allow",
        "cache_limit_gb": "GiB per direction the cache may take before the teacher runs at every step",
        "extra_inputs": "also feed the teacher the images in extraA/ and extraB/ where they exist",
        "cycle_inputs": "also feed each direction the teacher's translations of the other domain's inputs, made "
                        "once into OUTPUT_DIR/cycle_inputs/; this doubles the inputs and needs both directions",
        "cycle_share": "with cycle_inputs, the part of each batch drawn from them, above 0 and below 1 (rounded "
                       "to the nearest whole image, halves up)",
        "init_from": "weights folder or model name of an earlier student of the same shape to start from",
        "trackers": "comma-separated Accelerate tracker names, or none",
    }

    def __post_init__(self) -> None:
        if isinstance(self.student, dict):
            self.student = GeneratorConfig(**self.student)
        if self.steps < 1 or not 0 <= self.decay_steps <= self.steps:
            raise ValueError(f"Invalid distillation config: need steps >= 1 and 0 <= decay_steps <= steps, got "
                             f"steps {self.steps} and decay_steps {self.decay_steps}. Set --steps and --decay_steps "
                             "together.")
        if self.cache_limit_gb < 0:
            raise ValueError("Invalid distillation config: cache_limit_gb must be 0 or more, got "
                             f"{self.cache_limit_gb}")
        if self.mixed_precision not in MIXED_PRECISION_CHOICES:
            raise ValueError(f"Invalid distillation config: mixed_precision must be one of "
                             f"{', '.join(MIXED_PRECISION_CHOICES)}, got {self.mixed_precision!r}")
        if self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"Invalid distillation config: batch_size {self.batch_size}, lr {self.lr}")
        weights = {name: getattr(self, name) for name in ("lambda_l1", "lambda_ssim", "lambda_log_mse")}
        if (not all(math.isfinite(value) and value >= 0 for value in weights.values())
                or not any(value > 0 for value in weights.values())):
            listed = ", ".join(f"{name} {value}" for name, value in weights.items())
            raise ValueError(f"Invalid distillation config: the loss weights must be finite, 0 or more, and at "
                             f"least one above 0, got {listed}. The defaults are lambda_l1 1.0 and lambda_ssim 0.5; "
                             "for the PSNR-oriented loss alone use --lambda_l1 0 --lambda_ssim 0 --lambda_log_mse 1.")
        if not 0 < self.cycle_share < 1:
            raise ValueError(f"Invalid distillation config: cycle_share must be above 0 and below 1 (the part of each "
                             f"batch drawn from the cycle inputs), got {self.cycle_share}. The default is 0.25.")
        if self.cycle_inputs and not 1 <= self.cycle_batch <= self.batch_size - 1:
            raise ValueError(f"Invalid distillation config: cycle_share {self.cycle_share} of batch_size "
                             f"{self.batch_size} gives {self.cycle_batch} cycle inputs per batch; it must give at "
                             "least 1 and leave at least 1 other image. Raise batch_size, or move cycle_share "
                             "towards 0.5.")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"Invalid distillation config: ema_decay must be at least 0 and below 1, got "
                             f"{self.ema_decay}. Use 0.999 for long runs, or 0 to export the raw weights.")
        for name in ("log_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"Invalid distillation config: {name} must be at least 1, got {getattr(self, name)}")

    @property
    def cycle_batch(self) -> int:
        """Cycle inputs in each batch of a direction, with ``cycle_inputs``."""
        return math.floor(self.batch_size * self.cycle_share + 0.5)


class TeacherCache:
    """Training images and the teacher's translations of them and of their mirror images, in memory.

    ``inputs`` is ``[N, 3, S, S]`` float32 in [-1, 1]. ``targets`` is ``[N, 2, 3, S, S]`` float16,
    where index 1 is the translation of the mirrored input. Batches are drawn with replacement
    from a per-step generator, so a resumed run draws the same batches.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs = inputs
        self.targets = targets

    def __len__(self) -> int:
        return len(self.inputs)

    def sample(self, batch_size: int, generator: torch.Generator, *, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.inputs), (batch_size,), generator=generator)
        mirrored = torch.rand(batch_size, generator=generator) < 0.5
        if not flip:
            mirrored.zero_()
        index = index.to(self.inputs.device)
        mirrored = mirrored.to(self.inputs.device)
        real = self.inputs[index]
        real = torch.where(mirrored[:, None, None, None], real.flip(-1), real)
        target = self.targets[index, mirrored.long()].float()
        return real, target


def cache_bytes(count: int, size: int) -> int:
    """Memory a ``TeacherCache`` of ``count`` images of ``size``² needs: fp32 inputs and two fp16 targets."""
    return count * 3 * size * size * (4 + 2 * 2)


@torch.no_grad()
def build_teacher_cache(
    teacher: torch.nn.Module, files: list, *, size: int, device: torch.device, description: str,
    batch_size: int = 32, show_progress: bool = True, mirror_average: bool = False,
) -> TeacherCache | None:
    """Translate every file and its mirror image with ``teacher`` in fp32; ``None`` if any image is not square.

    With ``mirror_average`` the target for both is the average of the two translations (the
    mirrored one mirrored back), as ``MirrorAveraged`` computes it, at no extra cost.

    A non-square image would be randomly cropped after resizing, and a cached translation of
    one crop would not match the others, so such datasets run the teacher at every step.
    """
    dataset = ImageFolderDataset(files, size)
    generator = torch.Generator().manual_seed(0)  # unused: square images are never cropped
    inputs = []
    for index in range(len(dataset)):
        image = dataset[index]
        height, width = image.shape[-2:]
        if round(max(height, width) * size / min(height, width)) != size:
            logger.info("%s: %s is not square, so the teacher runs at every step instead of once",
                        description, files[index], main_process_only=True)
            return None
        inputs.append(augment(image[None], load_size=size, crop_size=size, flip=False, generator=generator,
                              device=device))
    inputs = torch.cat(inputs)
    targets = torch.empty((len(inputs), 2, *inputs.shape[1:]), dtype=torch.float16, device=device)
    for start in tqdm(range(0, len(inputs), batch_size), desc=description, disable=not show_progress,
                      dynamic_ncols=True):
        chunk = inputs[start : start + batch_size]
        plain, mirrored = teacher(chunk), teacher(chunk.flip(-1))
        if mirror_average:
            plain = (plain + mirrored.flip(-1)) / 2
            mirrored = plain.flip(-1)
        targets[start : start + batch_size, 0] = plain.to(torch.float16)
        targets[start : start + batch_size, 1] = mirrored.to(torch.float16)
    return TeacherCache(inputs, targets)


def distillation_losses(output: torch.Tensor, target: torch.Tensor, config: DistillConfig) -> dict[str, torch.Tensor]:
    """Return the weighted losses of a student output against the teacher's, both on [-1, 1] images.

    The losses are ``l1``, ``ssim_loss`` (1 - SSIM) and ``log_mse``. ``log_mse`` is the mean over
    images of log10 of each image's MSE on the [0, 1] scale: minus a tenth of the mean PSNR that
    the evaluation reports. A loss whose weight is 0 is left out.
    """
    output, target = output.float(), target.float()
    losses = {}
    if config.lambda_l1 > 0:
        losses["l1"] = F.l1_loss(output, target) * config.lambda_l1
    if config.lambda_log_mse > 0:
        mse = ((output - target) / 2).square().mean(dim=(1, 2, 3))
        losses["log_mse"] = torch.log10(mse + 1e-8).mean() * config.lambda_log_mse
    if config.lambda_ssim > 0:
        ssim = kornia.metrics.ssim((output + 1) / 2, (target + 1) / 2, window_size=11).mean()
        losses["ssim_loss"] = (1 - ssim) * config.lambda_ssim
    return losses


class Distiller:
    """Build and run a distillation from a ``DistillConfig``."""

    def __init__(self, config: DistillConfig, *, resume: str | None = None) -> None:
        self.config = config
        self.output_dir = Path(config.output_dir)
        if not resume:
            check_new_run(self.output_dir)
        trackers = [t.strip() for t in config.trackers.split(",") if t.strip() and t.strip() != "none"]
        self.precision = run_precision(config)
        self.accelerator = Accelerator(mixed_precision=self.precision, log_with=trackers or None,
                                       project_dir=str(self.output_dir))
        device = self.accelerator.device
        if not config.teacher:
            raise ValueError("No teacher given: pass --teacher with a weights folder or model name.")
        if not config.data:
            raise ValueError("Missing --data: pass the folder that contains the teacher's trainA/ and trainB/.")
        self.teacher_folder = resolve_model(config.teacher)
        self.teacher_info = read_model_info(self.teacher_folder)
        self.image_size = self.teacher_info.image_size
        self.load_size = config.load_size or self.image_size
        self.crop_size = config.crop_size or self.image_size
        self.directions = list(self.teacher_info.directions)
        self.teachers = {d: load_generator(self.teacher_folder, d)[0].to(device).eval().requires_grad_(False)
                         for d in self.directions}
        # What the Translator runs for the teacher, for batches that are not cached.
        self.teacher_networks = dict(self.teachers)
        if self.teacher_info.mirror_average:
            self.teacher_networks = {d: MirrorAveraged(t) for d, t in self.teachers.items()}
            logger.info("The teacher averages each translation with that of the mirror image (mirror_average in "
                        "its config.json), so the students learn that average", main_process_only=True)

        torch.manual_seed(config.seed)
        students = {d: ResnetGenerator(config.student) for d in self.directions}
        self.emas = {d: EMA(students[d], config.ema_decay) for d in self.directions}
        optimizer = torch.optim.Adam([p for s in students.values() for p in s.parameters()], lr=config.lr,
                                     betas=(0.9, 0.999))
        constant = config.steps - config.decay_steps
        self.scheduler = LambdaLR(optimizer, lambda step: 1.0 - max(0, step - constant) / (config.decay_steps + 1))
        self.step = 0
        self.last_losses: dict[str, float] = {}  # the latest logged losses and their step, for the model card
        if resume:
            self._load(resolve_resume(resume, self.output_dir), students, optimizer)
        elif config.init_from:
            self._start_from(config.init_from, students)

        prepared = self.accelerator.prepare(*students.values(), optimizer)
        self.students = dict(zip(self.directions, prepared[:-1], strict=True))
        self.optimizer = prepared[-1]
        for ema in self.emas.values():
            ema.to(device)
        root = Path(config.data)
        # Each direction draws from its own inputs and, with cycle_inputs, from the other direction's
        # translations. Each pool is cached where possible, else loaded with the teacher run per step.
        self.batch_split = {"own": config.batch_size}
        if config.cycle_inputs:
            self.batch_split = {"own": config.batch_size - config.cycle_batch, "cycle": config.cycle_batch}
        self.loaders: dict[tuple[str, str], object] = {}
        self.caches: dict[str, TeacherCache] = {}  # own inputs
        self.cycle_caches: dict[str, TeacherCache] = {}
        self.input_split: dict[str, tuple[int, int]] = {}  # training and extra images per direction
        inputs = {direction: self._inputs(root, direction) for direction in self.directions}
        cycled = self._cycle_inputs(inputs) if config.cycle_inputs else {}
        self.cycle_counts = {direction: len(files) for direction, files in cycled.items()}
        for index, direction in enumerate(self.directions):
            training, extra = inputs[direction]
            self.input_split[direction] = (len(training), len(extra))
            pools = {"own": (training + extra, self.caches, direction)}
            if direction in cycled:
                pools["cycle"] = (cycled[direction], self.cycle_caches, f"{direction} cycle inputs")
            for pool, (files, caches, label) in pools.items():
                cache = self._cache_for(direction, files, label)
                if cache is not None:
                    caches[direction] = cache
                    continue
                self.loaders[direction, pool] = iter(make_loader(
                    files, min_side=self.load_size, batch_size=self.batch_split[pool],
                    seed=config.seed * 2 + index + (1000 if pool == "cycle" else 0),
                    rank=self.accelerator.process_index, world_size=self.accelerator.num_processes,
                    start_batch=self.step, num_workers=config.num_workers,
                ))

    @property
    def input_counts(self) -> dict[str, int]:
        """Number of images the teacher translates for each direction."""
        return {direction: sum(split) + self.cycle_counts.get(direction, 0)
                for direction, split in self.input_split.items()}

    def _inputs(self, root: Path, direction: str) -> tuple[list[Path], list[Path]]:
        """List the images the teacher translates for ``direction``: its training folder and its extra folder."""
        training = self._readable(root / SOURCE_FOLDER[direction])
        extra = root / EXTRA_FOLDER[direction]
        if not (self.config.extra_inputs and extra.is_dir()):
            return training, []
        if not list_images(extra):
            logger.info("%s: %s has no images, so only the training images are inputs", direction, extra,
                        main_process_only=True)
            return training, []
        more = self._readable(extra)
        logger.info("%s: %d training images and %d extra inputs from %s", direction, len(training), len(more),
                    extra, main_process_only=True)
        return training, more

    def _cycle_inputs(self, inputs: dict[str, tuple[list[Path], list[Path]]]) -> dict[str, list[Path]]:
        """Translate each direction's inputs with the teacher into PNGs that the other direction learns from.

        The teacher's AtoB output of a domain A image looks like domain B, so it is one more input
        for the BtoA student, and back. The files go to ``OUTPUT_DIR/cycle_inputs/<direction>/``,
        made once at the load size (the processes share the work) and reused when the run resumes.
        """
        if len(self.directions) != 2:
            raise ValueError(f"cycle_inputs needs a teacher with both directions; {self.teacher_folder} has only "
                             f"{', '.join(self.directions)}. Set cycle_inputs to false.")
        accelerator, root = self.accelerator, self.output_dir / "cycle_inputs"
        weights = sorted(self.teacher_folder.glob("*.safetensors"))
        stamp = {"teacher": str(self.teacher_folder.resolve()), "mirror_average": self.teacher_info.mirror_average,
                 "load_size": self.load_size, "data": str(Path(self.config.data).resolve()),
                 "teacher_weights": {path.name: file_sha256(path) for path in weights}}
        # NOTE: the record names the --data folder but not its contents, so images replaced under
        # the same path keep their earlier translations until cycle_inputs/ is deleted.
        stamp_file = root / "made_by.json"
        recorded = json.loads(stamp_file.read_text(encoding="utf-8")) if stamp_file.is_file() else stamp
        if recorded != stamp:
            changed = ", ".join(key for key in stamp if recorded.get(key) != stamp[key])
            raise ValueError(f"{root} contains cycle inputs made with a different {changed} (recorded in "
                             f"{stamp_file.name}: {json.dumps(recorded)}). Delete that folder, or use a new "
                             "--output_dir.")
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            root.mkdir(parents=True, exist_ok=True)
            stamp_file.write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        data = Path(self.config.data)
        cycle_files: dict[str, list[Path]] = {}
        for source in self.directions:
            target = OTHER_DIRECTION[source]  # the student that learns from these translations
            files = inputs[source][0] + inputs[source][1]
            names = [root / target / path.relative_to(data).parent / f"{path.name}.png" for path in files]
            todo = [i for i in range(len(files)) if not names[i].is_file()]
            self._translate_files(self.teacher_networks[source], files, names,
                                  todo[accelerator.process_index :: accelerator.num_processes],
                                  description=f"teacher {source} for {target}")
            cycle_files[target] = names
            logger.info("%s: %d more inputs, the teacher's %s translations of the %s inputs, in %s (%d made now, "
                        "%d kept from before)", target, len(names), source, source, root / target, len(todo),
                        len(names) - len(todo), main_process_only=True)
        accelerator.wait_for_everyone()
        return cycle_files

    @torch.no_grad()
    def _translate_files(self, network: torch.nn.Module, files: list[Path], names: list[Path], todo: list[int], *,
                         description: str, batch_size: int = 32) -> None:
        """Translate ``files[i]`` at the load size into the PNG ``names[i]`` for each ``i`` in ``todo``, in fp32.

        Consecutive images of one size are translated together, up to ``batch_size`` at a time.
        """
        dataset = ImageFolderDataset(files, self.load_size)
        device = self.accelerator.device
        progress = tqdm(total=len(todo), desc=description, disable=not self.accelerator.is_main_process,
                        dynamic_ncols=True)
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> None:
            outputs = run_generator(network, torch.cat([image for _, image in pending]))
            for (index, _), output in zip(pending, outputs, strict=True):
                save_image(to_pil(output), names[index])
            progress.update(len(pending))
            pending.clear()

        for index in todo:
            image = resize_shorter(dataset[index], self.load_size, device=device)
            if pending and (len(pending) == batch_size or pending[-1][1].shape != image.shape):
                flush()
            pending.append((index, image))
        if pending:
            flush()
        progress.close()

    def _readable(self, folder: Path) -> list[Path]:
        """List the readable images of ``folder``, with a warning naming each file left out."""
        domain = scan_domain(folder)
        for path, reason in domain.unreadable:
            logger.warning("Skipping unreadable image %s (%s)", path, reason, main_process_only=True)
        return domain.images

    def _start_from(self, name: str, students: dict) -> None:
        """Initialise every student, and its moving average, from an earlier student's weights folder."""
        folder = resolve_model(name)
        for direction, student in students.items():
            earlier, info = load_generator(folder, direction)
            if info.generator.to_dict() != self.config.student.to_dict():
                raise ValueError(f"init_from {folder} contains a generator {info.generator.to_dict()}, but the "
                                 f"student is {self.config.student.to_dict()}. Give the same student shape, or drop "
                                 "init_from.")
            student.load_state_dict(earlier.state_dict(), strict=True)
            self.emas[direction].load_state_dict(earlier.state_dict())
        logger.info("Students start from %s", folder, main_process_only=True)

    def _cache_for(self, direction: str, files: list[Path], label: str) -> TeacherCache | None:
        """This process's share of ``files`` with the teacher's translations, when caching applies.

        ``label`` names the inputs in the log: the direction, or its cycle inputs.
        """
        config, accelerator = self.config, self.accelerator
        if not config.cache_teacher:
            logger.info("%s: cache_teacher is off, so the teacher runs at every step", label,
                        main_process_only=True)
            return None
        if self.load_size != self.crop_size:
            logger.info("%s: load_size %d differs from crop_size %d, so crops are random and the teacher runs at "
                        "every step", label, self.load_size, self.crop_size, main_process_only=True)
            return None
        shard = files[accelerator.process_index :: accelerator.num_processes]
        needed = cache_bytes(len(shard), self.crop_size)
        if needed > config.cache_limit_gb * 2**30:
            logger.info("%s: caching the teacher's translations would take %.2f GiB (limit cache_limit_gb=%g GiB); "
                        "the teacher runs at every step instead", label, needed / 2**30, config.cache_limit_gb,
                        main_process_only=True)
            return None
        started = time.perf_counter()
        cache = build_teacher_cache(self.teachers[direction], shard, size=self.crop_size, device=accelerator.device,
                                    description=f"teacher {label}",
                                    show_progress=accelerator.is_main_process,
                                    mirror_average=self.teacher_info.mirror_average)
        if cache is not None:
            logger.info("%s: cached the teacher's translations of %d images and their mirrors (%.0f MiB) in %.0f s",
                        label, len(cache), needed / 2**20, time.perf_counter() - started,
                        main_process_only=True)
        return cache

    def _load(self, folder: Path, students: dict, optimizer) -> None:
        networks, state = load_checkpoint(folder)
        saved = state["config"].get("student", {})
        if saved != self.config.student.to_dict():
            raise ValueError(f"Checkpoint {folder} has student {saved}, requested {self.config.student.to_dict()}. "
                             "Resume with the same student shape, or start a new --output_dir.")
        for direction, student in students.items():
            student.load_state_dict(networks[f"student_{direction}"], strict=True)
            self.emas[direction].load_state_dict(networks[f"ema_{direction}"])
        optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        logger.info("Resumed from %s at step %d", folder, self.step, main_process_only=True)

    @torch.no_grad()
    def teacher_output(self, direction: str, real: torch.Tensor) -> torch.Tensor:
        """Translate ``real`` with the teacher in the run's precision, mirror-averaged if the teacher averages."""
        with self.accelerator.autocast():
            return self.teacher_networks[direction](real).float()

    def _batch(self, direction: str, pool: str, count: int, generator: torch.Generator,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` inputs of ``direction`` from ``pool`` (own or cycle) and the teacher's translations of them."""
        cache = (self.caches if pool == "own" else self.cycle_caches).get(direction)
        if cache is not None:
            return cache.sample(count, generator, flip=self.config.flip)
        real = augment(next(self.loaders[direction, pool]), load_size=self.load_size, crop_size=self.crop_size,
                       flip=self.config.flip, generator=generator, device=self.accelerator.device)
        return real, self.teacher_output(direction, real)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One update of every student on a batch of its teacher's translations; returns the losses."""
        config, accelerator = self.config, self.accelerator
        step_seed = (config.seed * 1_000_003 + self.step) * 1024 + accelerator.process_index
        generator = torch.Generator().manual_seed(step_seed)
        torch.manual_seed(step_seed)
        totals: dict[str, torch.Tensor] = {}
        loss = 0
        for direction in self.directions:
            parts = [self._batch(direction, pool, count, generator) for pool, count in self.batch_split.items()]
            real = torch.cat([real for real, _ in parts])
            target = torch.cat([target for _, target in parts])
            with accelerator.autocast():
                output = self.students[direction](real)
            losses = distillation_losses(output, target, config)
            loss = loss + sum(losses.values())
            for name, value in losses.items():
                totals[f"{direction}_{name}"] = value.detach()
        self.optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        self.optimizer.step()
        self.scheduler.step()
        for direction, student in self.students.items():
            self.emas[direction].update(accelerator.unwrap_model(student), self.step)
        return totals

    def checkpoint(self) -> None:
        if self.accelerator.is_main_process:
            networks = {}
            for direction, student in self.students.items():
                networks[f"student_{direction}"] = self.accelerator.unwrap_model(student)
                networks[f"ema_{direction}"] = self.emas[direction].module
            state = {"step": self.step, "config": self.config.to_dict(), "version": __version__,
                     "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
            save_checkpoint(self.output_dir, self.step, networks, state, self.config.keep_checkpoints)
        self.accelerator.wait_for_everyone()

    def final_students(self) -> dict[str, ResnetGenerator]:
        if self.config.ema_decay > 0:
            return {d: ema.module for d, ema in self.emas.items()}
        return {d: self.accelerator.unwrap_model(s) for d, s in self.students.items()}

    def export(self) -> Path | None:
        """Write the students as a weights folder (variant ``fast``) with a model card naming the teacher."""
        if not self.accelerator.is_main_process:
            return None
        students = {d: s.cpu() for d, s in self.final_students().items()}
        teacher_macs = count_macs(load_generator(self.teacher_folder, self.directions[0])[0], 512, 512)
        student_macs = count_macs(students[self.directions[0]], 512, 512)
        info = self.teacher_info
        extra = {
            "teacher": str(self.config.teacher), "trained_steps": self.step, "package_version": __version__,
            "macs_512": student_macs, "teacher_macs_512": teacher_macs, "inputs": self.input_counts,
        }
        if info.mirror_average:
            extra["teacher_mirror_average"] = True
        if self.config.init_from:
            extra["init_from"] = self.config.init_from
        if self.last_losses:
            extra["last_losses"] = self.last_losses
        for key in ("training_data", "license"):
            if key in info.extra:
                extra[key] = info.extra[key]
        folder = self.output_dir / "weights"
        save_weights(folder, students, domain_a=info.domain_a, domain_b=info.domain_b, image_size=info.image_size,
                     variant="fast", extra=extra,
                     model_card=distilled_model_card(self.config, info, self.step, student_macs, teacher_macs,
                                                     cached=tuple(self.caches), input_split=self.input_split,
                                                     cycle_counts=self.cycle_counts,
                                                     precision=precision_label(self.precision),
                                                     last_losses=self.last_losses))
        for student in students.values():
            student.to(self.accelerator.device)
        return folder

    def fit(self) -> Path | None:
        """Distil until ``config.steps`` or a stop signal; return the exported folder (``None`` if stopped)."""
        config, accelerator = self.config, self.accelerator
        if accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        accelerator.init_trackers("distill")
        logger.info("Distilling %s (%s) into ngf %d, %d residual block(s): %d steps at batch size %d, mixed "
                    "precision %s", self.teacher_folder, ", ".join(self.directions), config.student.ngf,
                    config.student.n_blocks, config.steps, config.batch_size,
                    precision_label(self.precision, config.mixed_precision),
                    main_process_only=True)

        metrics = self.output_dir / "metrics.jsonl"
        progress = tqdm(total=config.steps, initial=self.step, desc="distilling",
                        disable=not accelerator.is_main_process, dynamic_ncols=True)
        started = time.perf_counter()
        stopped = False
        with StopRequest() as stop:
            while self.step < config.steps:
                losses = self.train_step()
                self.step += 1
                progress.update(1)

                if self.step % config.log_every == 0 or self.step == config.steps:
                    names = sorted(losses)
                    averaged = accelerator.reduce(torch.stack([losses[k] for k in names]), reduction="mean")
                    values = {f"loss/{k}": float(v) for k, v in zip(names, averaged.tolist(), strict=True)}
                    self.last_losses = {"step": self.step, **values}
                    values["lr"] = self.scheduler.get_last_lr()[0]
                    accelerator.log(values, step=self.step)
                    progress.set_postfix({k.split("/")[-1]: f"{v:.4f}" for k, v in values.items() if "loss" in k})
                    if accelerator.is_main_process:
                        with metrics.open("a", encoding="utf-8") as stream:
                            stream.write(json.dumps({"step": self.step, **values}) + "\n")

                requested = agree_to_stop(accelerator, stop.requested)
                if self.step % config.checkpoint_every == 0 or self.step == config.steps or requested:
                    self.checkpoint()
                if requested:
                    logger.info("Stop requested: saved step %d; resume with --resume latest", self.step,
                                main_process_only=True)
                    stopped = True
                    break
        progress.close()

        folder = None if stopped else self.export()
        if folder:
            logger.info("Exported the distilled model to %s after %.0f s of distillation", folder,
                        time.perf_counter() - started, main_process_only=True)
        accelerator.wait_for_everyone()
        accelerator.end_training()
        return folder


def distilled_model_card(
    config: DistillConfig, teacher, steps: int, student_macs: int, teacher_macs: int, *,
    cached: tuple[str, ...] = (), input_split: dict[str, tuple[int, int]] | None = None,
    cycle_counts: dict[str, int] | None = None,
    last_losses: dict[str, float] | None = None, precision: str = "fp32",
) -> str:
    """Describe a distilled student; ``cached`` names the directions whose teacher outputs were cached."""
    s = config.student
    once = "computed once in fp32 for every image and its mirror image"
    every_step = [d for d in teacher.directions if d not in cached]
    if not every_step:
        targets = once
    elif not cached:
        targets = "computed at every step"
    else:
        targets = f"{once} for {', '.join(cached)}, and at every step for {', '.join(every_step)}"
    if teacher.mirror_average:
        targets += (". The teacher averages its translations of each image and of the mirror image (mirrored "
                    "back), and the student learns that average in a single pass")
    blocks = f"{s.n_blocks} residual block" + ("" if s.n_blocks == 1 else "s")
    inputs = f"the images in trainA/ and trainB/ of `{config.data}`"
    cycle_counts = cycle_counts or {}
    if input_split:
        counts = []
        for direction, (training, extra) in input_split.items():
            cycled = cycle_counts.get(direction, 0)
            parts = [f"{training} training"]
            if extra:
                parts.append(f"{extra} extra")
            if cycled:
                parts.append(f"{cycled} cycle")
            detail = f" ({', '.join(parts)})" if len(parts) > 1 else ""
            counts.append(f"{training + extra + cycled} images for {direction}{detail}")
        inputs = (f"{', '.join(counts)}. They are the images in trainA/ and trainB/ of `{config.data}`, and any "
                  "in extraA/ and extraB/")
        if cycle_counts:
            inputs += (". The cycle inputs are the teacher's translations of the other direction's inputs (its "
                       f"AtoB outputs are inputs for BtoA, and back), {config.cycle_batch} of each batch of "
                       f"{config.batch_size}")
    start = f"\n- Started from the earlier student `{config.init_from}`" if config.init_from else ""
    losses = ""
    notes = [note for weight, note in (
        (config.lambda_ssim, "ssim_loss is the (1 - SSIM) term"),
        (config.lambda_log_mse, "log_mse is, before its weight, minus a tenth of the mean PSNR in dB"),
    ) if weight > 0]
    if last_losses:
        listed = ", ".join(f"{name.removeprefix('loss/')} {value:.4f}" for name, value in sorted(last_losses.items())
                          if name.startswith("loss/"))
        losses = (f"\n- Last logged training loss against the teacher (step {last_losses['step']}, one batch, "
                  f"before the moving average, times the loss weights above{''.join('; ' + n for n in notes)}): "
                  f"{listed}")
    described = [f"- {label}: {teacher.extra[key]}" for key, label in (("training_data", "Training data"),
                                                                      ("license", "Licence")) if key in teacher.extra]
    data = "\n".join(described) + "\n" if described else ""
    data += "\nThe teacher's model card describes its training data and licences, which apply here too.\n"
    return f"""---
library_name: cyclegan-translate
tags: [cyclegan, image-to-image, distillation]
---

# {teacher.domain_a} ↔ {teacher.domain_b}, fast variant (distilled)

A small generator trained to reproduce the translations of its teacher, `{config.teacher}`.
Variant: **fast**. Directions: {", ".join(teacher.directions)}.

- Student: ResNet generator, ngf {s.ngf}, {blocks}
- Cost at 512x512: {student_macs / 1e9:.1f}G multiply-accumulates, against {teacher_macs / 1e9:.1f}G for the
  teacher ({teacher_macs / student_macs:.1f}x fewer)
- Inputs: {inputs}
- Training: {steps} steps at batch size {config.batch_size}, {loss_terms(config)} against the teacher's output,
  Adam lr {config.lr}, exponential moving average of the weights (decay {config.ema_decay}),
  mixed precision {precision}{start}{losses}
- Teacher outputs: {targets}
- Working resolution: {teacher.image_size} px, as the teacher
{data}"""


def loss_terms(config: DistillConfig) -> str:
    """Name the losses a run uses, with their weights, for its model card."""
    terms = [(config.lambda_l1, "L1"), (config.lambda_ssim, "(1 - SSIM)"),
             (config.lambda_log_mse, "mean log10 MSE per image")]
    return " plus ".join(f"{label} weight {weight}" for weight, label in terms if weight > 0)


def distill(config: DistillConfig, *, resume: str | None = None) -> Path | None:
    """Run a distillation from ``config``; return the exported weights folder."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    return Distiller(config, resume=resume).fit()
