"""Loading generators released by the official CycleGAN code (``*_net_G.pth``, ``latest_net_G_A.pth``).

Those files are plain state dicts whose keys match ``ResnetGenerator`` one to one, but users
meet three kinds of leftovers: instance-norm buffers written by old PyTorch versions
(``running_mean``, ``running_var``, ``num_batches_tracked``), ``module.`` or ``_orig_mod.``
prefixes from ``DataParallel``/DDP/``torch.compile`` wrappers, and a state dict nested in a
larger dict. ``clean_state_dict`` removes them; ``infer_generator_config`` reads the
architecture off the remaining keys and shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from translate.networks import GeneratorConfig, ResnetGenerator

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_NORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
_NESTED_KEYS = ("state_dict", "model", "generator", "netG", "G", "G_A", "G_AB")
_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.weight$")


def _find_state_dict(obj: object, source: str) -> Mapping[str, torch.Tensor]:
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, Mapping):
        for key in _NESTED_KEYS:
            if key in obj:
                return _find_state_dict(obj[key], source)
    raise ValueError(
        f"{source}: no generator state dict found. Expected a dict of tensors, or a dict with one of "
        f"the keys {', '.join(_NESTED_KEYS)} holding one."
    )


def clean_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes and drop instance-norm buffers that a non-affine norm does not have."""
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
                    changed = True
        if key.rsplit(".", 1)[-1] in _NORM_BUFFERS:
            continue
        cleaned[key] = value
    return cleaned


def infer_generator_config(state: Mapping[str, torch.Tensor], source: str = "state dict") -> GeneratorConfig:
    """Read channels, width, block count and dropout off the keys of a cleaned generator state dict."""
    if "model.1.weight" not in state:
        raise ValueError(
            f"{source}: missing key 'model.1.weight', so this is not a ResNet generator in the official "
            f"layout. Its first keys are: {', '.join(list(state)[:6])}"
        )
    stem = state["model.1.weight"]  # [ngf, in_channels, 7, 7]
    ngf, in_channels = int(stem.shape[0]), int(stem.shape[1])

    blocks: set[int] = set()
    second_conv_indices: set[int] = set()
    for key in state:
        match = _BLOCK_KEY.match(key)
        if match:
            blocks.add(int(match.group(1)))
            if int(match.group(2)) != 1:
                second_conv_indices.add(int(match.group(2)))
    if second_conv_indices - {5, 6} or len(second_conv_indices) > 1:
        raise ValueError(
            f"{source}: residual blocks have their second convolution at conv_block."
            f"{sorted(second_conv_indices)}; expected conv_block.5 (no dropout) or conv_block.6 (dropout)."
        )
    n_blocks = len(blocks)
    output_index = 10 + n_blocks + 6  # stem and downsampling take 0-9, upsampling 6 layers, then pad.
    output_key = f"model.{output_index + 1}.weight"
    if output_key not in state:
        raise ValueError(
            f"{source}: found {n_blocks} residual blocks, so the output convolution should be "
            f"'{output_key}', but that key is missing."
        )
    out_channels = int(state[output_key].shape[0])
    return GeneratorConfig(
        in_channels=in_channels,
        out_channels=out_channels,
        ngf=ngf,
        n_blocks=n_blocks,
        use_dropout=6 in second_conv_indices,
    )


def load_official_generator(
    path_or_state: str | Path | Mapping[str, torch.Tensor],
    config: GeneratorConfig | None = None,
) -> ResnetGenerator:
    """Build a ``ResnetGenerator`` from an official ``.pth`` file or state dict, with strict key checks.

    The file is read with ``torch.load(weights_only=True)``, which never runs pickled code. With
    ``config=None`` the architecture is inferred from the keys.
    """
    if isinstance(path_or_state, (str, Path)):
        path = Path(path_or_state)
        if not path.is_file():
            raise FileNotFoundError(f"Generator file not found: {path}")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for a damaged or hostile pickle.
            raise ValueError(
                f"{path}: cannot be read as a PyTorch state dict ({type(error).__name__}: {error}). "
                "Re-download it, or save it with torch.save(model.state_dict(), path)."
            ) from error
        source = str(path)
    else:
        raw, source = path_or_state, "state dict"

    state = clean_state_dict(_find_state_dict(raw, source))
    config = config or infer_generator_config(state, source)
    generator = ResnetGenerator(config)
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{source}: keys do not match a generator with {config}. "
            f"Missing: {missing[:8] or 'none'}; unexpected: {unexpected[:8] or 'none'}."
        )
    mismatched = [k for k in expected if expected[k].shape != state[k].shape]
    if mismatched:
        details = ", ".join(f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in mismatched[:4])
        raise ValueError(f"{source}: tensor shapes do not match a generator with {config}: {details}.")
    generator.load_state_dict(state, strict=True)
    return generator


def official_model_card(name: str, source: str, target: str, origin: str, config: GeneratorConfig) -> str:
    return f"""---
library_name: cyclegan-translate
tags: [cyclegan, image-to-image, unpaired-image-translation]
---

# {name} (official CycleGAN release)

Translates {source} images into {target} images (direction AtoB only). Converted without
changes from the generator released by the CycleGAN authors (Zhu, Park, Isola and Efros,
"Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017).

- Source file: {origin}
- Architecture: ResNet generator, ngf {config.ngf}, {config.n_blocks} residual blocks,
  {config.in_channels} input and {config.out_channels} output channels, dropout {config.use_dropout}
- Working resolution: 256 pixels (the released models were trained on 256x256 crops)
- Variant: best (the released generator)
"""


def convert_official_file(
    path: str | Path,
    output: str | Path,
    *,
    name: str | None = None,
    source: str = "A",
    target: str = "B",
    origin: str | None = None,
) -> Path:
    """Convert an official ``.pth`` generator into a weights folder (direction AtoB), once.

    The folder is written under a temporary name and renamed, so an interrupted conversion
    never leaves a folder that looks complete.
    """
    import shutil

    from translate.weights import save_weights

    path, output = Path(path), Path(output)
    generator = load_official_generator(path)
    name = name or path.stem
    temporary = output.with_name(f".tmp-{output.name}")
    shutil.rmtree(temporary, ignore_errors=True)
    save_weights(
        temporary, {"AtoB": generator}, domain_a=source, domain_b=target, image_size=256, variant="best",
        extra={"source": origin or str(path), "official_name": name},
        model_card=official_model_card(name, source, target, origin or path.name, generator.config),
    )
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary.rename(output)
    return output
