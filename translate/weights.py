"""Weights folders: the format inference loads, one generator per direction.

A weights folder contains ``config.json``, one safetensors file per direction it supports and a
model card ``README.md``::

    config.json          {"format": ..., "generator": {...}, "directions": {"AtoB": "G_AB.safetensors", ...},
                          "domain_a": "Noto", "domain_b": "Twemoji", "image_size": 64, ...}
    G_AB.safetensors     domain A -> B
    G_BA.safetensors     domain B -> A (absent for one-direction models)
    README.md            model card

``image_size`` is the shorter image side, in pixels, the model was trained at; by default the
Translator runs the network at that scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from translate.networks import GeneratorConfig, ResnetGenerator

FORMAT = "cyclegan-translate/1"
DIRECTIONS = ("AtoB", "BtoA")
_FILENAMES = {"AtoB": "G_AB.safetensors", "BtoA": "G_BA.safetensors"}


@dataclass
class ModelInfo:
    """The contents of a weights folder's ``config.json``."""

    generator: GeneratorConfig
    directions: dict[str, str]
    domain_a: str = "A"
    domain_b: str = "B"
    image_size: int = 256
    variant: str = "best"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "generator": self.generator.to_dict(),
            "directions": self.directions,
            "domain_a": self.domain_a,
            "domain_b": self.domain_b,
            "image_size": self.image_size,
            "variant": self.variant,
            **self.extra,
        }

    @property
    def mirror_average(self) -> bool:
        """Whether the model's output is the average of its translations of the image and of its mirror image.

        Set by ``"mirror_average": true`` in ``config.json``. The ``Translator`` then runs the
        generator twice per image, and a distillation from such a teacher learns the averaged output.
        """
        return bool(self.extra.get("mirror_average", False))

    def describe(self, direction: str) -> str:
        source, target = (self.domain_a, self.domain_b) if direction == "AtoB" else (self.domain_b, self.domain_a)
        return f"{source} to {target}"


def read_model_info(folder: str | Path) -> ModelInfo:
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"No config.json in {folder}. A weights folder is made by `cyclegan-export` or "
            "`translate.weights.save_weights`; for an official .pth file use translate.official."
        )
    try:
        values = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path} is not valid JSON: {error}") from error
    if values.get("format") != FORMAT:
        raise ValueError(f"{config_path}: format is {values.get('format')!r}, expected {FORMAT!r}")
    known = {"format", "generator", "directions", "domain_a", "domain_b", "image_size", "variant"}
    for key in ("generator", "directions"):
        if not isinstance(values.get(key), dict):
            raise ValueError(f"{config_path}: missing or invalid {key!r}; re-export the folder with cyclegan-export")
    directions = dict(values["directions"])
    for direction in directions:
        if direction not in DIRECTIONS:
            raise ValueError(f"{config_path}: unknown direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
    try:
        generator = GeneratorConfig(**values["generator"])
    except TypeError as error:
        raise ValueError(f"{config_path}: invalid 'generator' section: {error}") from error
    if not isinstance(values.get("mirror_average", False), bool):
        raise ValueError(f"{config_path}: mirror_average must be true or false, got {values['mirror_average']!r}")
    return ModelInfo(
        generator=generator,
        directions=directions,
        domain_a=values.get("domain_a", "A"),
        domain_b=values.get("domain_b", "B"),
        image_size=int(values.get("image_size", 256)),
        variant=values.get("variant", "best"),
        extra={k: v for k, v in values.items() if k not in known},
    )


def save_weights(
    folder: str | Path,
    generators: dict[str, ResnetGenerator],
    *,
    domain_a: str = "A",
    domain_b: str = "B",
    image_size: int = 256,
    variant: str = "best",
    extra: dict | None = None,
    model_card: str | None = None,
    storage_dtype: torch.dtype = torch.float32,
) -> ModelInfo:
    """Write a weights folder from ``{"AtoB": G_AB, "BtoA": G_BA}`` (either key may be absent).

    ``storage_dtype=torch.float16`` halves the files; loading casts the weights back to float32.
    """
    if not generators:
        raise ValueError("save_weights needs at least one generator")
    if not isinstance((extra or {}).get("mirror_average", False), bool):
        raise ValueError(f"mirror_average must be true or false, got {extra['mirror_average']!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = {direction: g.config for direction, g in generators.items()}
    first = next(iter(configs.values()))
    if any(c != first for c in configs.values()):
        raise ValueError(f"Both directions must share one architecture, got {configs}")

    directions = {}
    for direction, generator in generators.items():
        if direction not in DIRECTIONS:
            raise ValueError(f"Unknown direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
        state = {k: v.detach().cpu().to(storage_dtype).contiguous() for k, v in generator.state_dict().items()}
        save_file(state, str(folder / _FILENAMES[direction]), metadata={"direction": direction, "format": FORMAT})
        directions[direction] = _FILENAMES[direction]

    info = ModelInfo(first, directions, domain_a, domain_b, image_size, variant, dict(extra or {}))
    (folder / "config.json").write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    if model_card is not None:
        (folder / "README.md").write_text(model_card, encoding="utf-8")
    return info


def load_generator(folder: str | Path, direction: str = "AtoB") -> tuple[ResnetGenerator, ModelInfo]:
    """Load one direction's generator from a weights folder, with strict key and shape checks."""
    folder = Path(folder)
    info = read_model_info(folder)
    if direction not in info.directions:
        raise ValueError(
            f"{folder} has no {direction} generator; it offers {', '.join(info.directions)}."
        )
    path = folder / info.directions[direction]
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path} (named in {folder / 'config.json'})")
    state = load_file(str(path))
    generator = ResnetGenerator(info.generator)
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{path} does not match the architecture in config.json ({info.generator}). "
            f"Missing keys: {missing[:6] or 'none'}; unexpected keys: {unexpected[:6] or 'none'}."
        )
    for key, tensor in expected.items():
        if tensor.shape != state[key].shape:
            raise ValueError(
                f"{path}: {key} has shape {tuple(state[key].shape)}, config.json implies {tuple(tensor.shape)}."
            )
    generator.load_state_dict(state, strict=True)
    generator.eval()
    return generator, info


def generator_state(generator: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
