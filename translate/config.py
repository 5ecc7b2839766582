"""Training configuration: one typed dataclass, loadable from YAML or JSON, overridable from the command line.

The whole config is stored in every checkpoint, so a checkpoint alone rebuilds its run.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from translate.networks import DiscriminatorConfig, GeneratorConfig

MIXED_PRECISION_CHOICES = ("no", "fp32", "auto", "bf16", "fp16")
MIXED_PRECISION_HELP = (
    "no (fp32, unless accelerate launch sets bf16 or fp16), fp32 (always), auto (bf16 where the GPU or CPU runs "
    "it natively, else fp32), bf16, or fp16 (GPU only)"
)
GAN_MODES = ("lsgan", "vanilla")


class ConfigFile:
    """Loading and saving for config dataclasses: plain dicts, YAML and JSON files."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Build the config from plain values, raising ``ValueError`` that names any unknown or mistyped field."""
        return cls(**_checked_values(cls, values, cls.__name__))

    @classmethod
    def from_file(cls, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        try:
            values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise ValueError(f"Config file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                             f"{error}") from error
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
        return cls.from_dict(values)


@dataclass
class TrainConfig(ConfigFile):
    """Everything a training run needs. Defaults follow the published CycleGAN recipe."""

    # Data: a folder with trainA/ and trainB/ (optionally testA/ and testB/).
    data: str = ""
    output_dir: str = "runs/cyclegan"
    domain_a: str = "A"
    domain_b: str = "B"
    load_size: int = 286  # shorter image side after resizing, in pixels, before the random crop
    crop_size: int = 256  # square training crop, in pixels
    flip: bool = True
    num_workers: int = 2

    # Networks.
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    # Losses: least-squares GAN, cycle L1 weighted lambda_cycle in each direction, identity L1
    # weighted lambda_identity * lambda_cycle.
    gan_mode: str = "lsgan"
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50  # generated images kept for the discriminators; 0 disables the pool

    # Optimisation: Adam at a constant rate for (steps - decay_steps) steps, then linear decay to 0.
    batch_size: int = 1  # per process and micro-batch
    gradient_accumulation_steps: int = 1  # micro-batches per update: effective batch = batch_size x this x processes
    steps: int = 10000
    decay_steps: int = 5000
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    ema_decay: float = 0.999  # exponential moving average of generator weights; 0 disables it

    # Runtime.
    mixed_precision: str = "no"
    seed: int = 0
    log_every: int = 50  # steps between logged scalars
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 3  # newest checkpoints kept; older ones are deleted
    trackers: str = "tensorboard"  # comma-separated Accelerate tracker names, or "none"

    HELP: ClassVar[dict[str, str]] = {
        "data": "folder with trainA/ and trainB/ (optionally testA/ and testB/)",
        "output_dir": "checkpoints, samples, logs and the exported weights go here",
        "load_size": "shorter image side after resizing, in pixels, before the random crop",
        "crop_size": "square training crop, in pixels",
        "flip": "random horizontal flips",
        "generator.ngf": "generator width: filters in its first layer",
        "generator.n_blocks": "residual blocks in the generator",
        "lambda_cycle": "weight of the cycle-consistency L1 loss",
        "lambda_identity": "identity L1 weight, as a fraction of lambda_cycle",
        "pool_size": "generated images kept for the discriminators; 0 disables the pool",
        "batch_size": "images per process and micro-batch",
        "gradient_accumulation_steps": "micro-batches per update",
        "decay_steps": "final steps over which the learning rate falls linearly to 0",
        "ema_decay": "moving average of the generator weights, used for samples and export; 0 disables it",
        "mixed_precision": MIXED_PRECISION_HELP,
        "checkpoint_every": "steps between checkpoints",
        "keep_checkpoints": "newest checkpoints kept; older ones are deleted",
        "trackers": "comma-separated Accelerate tracker names, or none",
    }

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            self.generator = GeneratorConfig(**self.generator)
        if isinstance(self.discriminator, dict):
            self.discriminator = DiscriminatorConfig(**self.discriminator)
        self.validate()

    def validate(self) -> None:
        def require(condition: bool, message: str) -> None:
            if not condition:
                raise ValueError(f"Invalid training config: {message}")

        require(self.crop_size >= 16, f"crop_size must be at least 16 pixels, got {self.crop_size}")
        require(self.crop_size % 4 == 0, f"crop_size must be a multiple of 4, got {self.crop_size}")
        require(
            self.load_size >= self.crop_size,
            f"load_size ({self.load_size}) must be at least crop_size ({self.crop_size})",
        )
        require(self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}")
        require(
            self.gradient_accumulation_steps >= 1,
            f"gradient_accumulation_steps must be at least 1, got {self.gradient_accumulation_steps}",
        )
        require(self.steps >= 1, f"steps must be at least 1, got {self.steps}")
        require(
            0 <= self.decay_steps <= self.steps,
            f"decay_steps must be between 0 and steps ({self.steps}), got {self.decay_steps}",
        )
        require(self.lr > 0, f"lr must be positive, got {self.lr}")
        require(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}")
        require(self.pool_size >= 0, f"pool_size must be 0 or more, got {self.pool_size}")
        require(
            self.mixed_precision in MIXED_PRECISION_CHOICES,
            f"mixed_precision must be one of {MIXED_PRECISION_CHOICES}, got {self.mixed_precision!r}",
        )
        require(self.gan_mode in GAN_MODES, f"gan_mode must be one of {GAN_MODES}, got {self.gan_mode!r}")
        require(self.num_workers >= 0, f"num_workers must be 0 or more, got {self.num_workers}")
        for name in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
            require(getattr(self, name) >= 1, f"{name} must be at least 1, got {getattr(self, name)}")
        require(
            self.generator.in_channels == self.discriminator.in_channels,
            "generator.in_channels and discriminator.in_channels must be equal",
        )


def _checked_values(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Check ``values`` against the fields of dataclass ``cls``: names, nested sections and value types."""
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping of fields, got {values!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"Unknown {where} fields: {', '.join(unknown)}. Valid fields: {', '.join(sorted(known))}")
    checked = {}
    for name, value in values.items():
        f = known[name]
        nested = f.default_factory() if f.default_factory is not MISSING else None
        if is_dataclass(nested):
            if is_dataclass(value):
                value = asdict(value)
            checked[name] = _checked_values(type(nested), value, f"{where}.{name}")
            continue
        default = f.default if f.default is not MISSING else nested
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if default is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            raise ValueError(f"{where}.{name} must be of type {expected.__name__}, got {value!r}")
        checked[name] = value
    return checked


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested config sections into dotted keys: ``{"generator": {"ngf": 8}}`` -> ``{"generator.ngf": 8}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flat_fields(cls: type) -> list[tuple[str, type, Any]]:
    """List every config field as (dotted name, type, default), nested network fields included."""
    result: list[tuple[str, type, Any]] = []
    for f in fields(cls):
        nested = f.default_factory() if f.default_factory is not MISSING else None
        if is_dataclass(nested):
            for g in fields(nested):
                value = getattr(nested, g.name)
                result.append((f"{f.name}.{g.name}", type(value), value))
        else:
            default = f.default if f.default is not MISSING else None
            result.append((f.name, type(default), default))
    return result


def _default_section(cls: type, name: str) -> Any:
    """Return the default value of the nested config section ``name`` of ``cls``."""
    section = next(f for f in fields(cls) if f.name == name)
    return section.default_factory()


def add_config_arguments(parser: argparse.ArgumentParser, cls: type = None) -> None:
    """Add ``--config FILE`` and one ``--FIELD`` option per config field (``--generator.ngf 32``)."""
    cls = cls or TrainConfig
    parser.add_argument("--config", help="YAML or JSON file with config fields; options below override it")
    group = parser.add_argument_group("config fields (override the file)")
    descriptions = getattr(cls, "HELP", {})
    for name, kind, default in _flat_fields(cls):
        converter = _parse_bool if kind is bool else kind
        described = f"{descriptions[name]}; " if name in descriptions else ""
        group.add_argument(f"--{name}", type=converter, default=None, metavar=kind.__name__.upper(),
                           help=f"{described}default: {default!r}")


def config_from_args(args: argparse.Namespace, cls: type = None, base: dict[str, Any] | None = None):
    """Merge ``base`` (or the defaults), the ``--config`` file and command-line overrides, in that order."""
    cls = cls or TrainConfig
    values: dict[str, Any] = {key: dict(value) if isinstance(value, dict) else value
                              for key, value in (base or {}).items()}
    if args.config:
        for key, value in cls.from_file(args.config).to_dict().items():
            if isinstance(value, dict):
                values.setdefault(key, {}).update(value)
            else:
                values[key] = value
    for name, _, _ in _flat_fields(cls):
        value = getattr(args, name, None)
        if value is None:
            continue
        if "." in name:
            section, key = name.split(".", 1)
            if section not in values:
                # Start from the config's own default section (a distillation student is smaller than
                # a generator's defaults), so one option changes one field.
                values[section] = asdict(_default_section(cls, section))
            values[section][key] = value
        else:
            values[name] = value
    return cls.from_dict(values)
