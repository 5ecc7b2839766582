"""Full-resolution inference in overlapping tiles with bounded memory and no visible seams.

Running each tile on its own fails in two ways: every tile's instance norm computes its own
statistics, which shows as brightness steps between tiles, and reflection padding at tile
edges draws lines. Both are handled here:

1. Thumbnail instance normalization: the generator first runs once on a downscaled copy of the
   whole image (at most ``thumbnail_size`` pixels on the longer side), and each instance-norm
   layer records the mean and variance it computed there. Every tile is then normalised with
   those same statistics, so all tiles share one brightness and contrast. When the image fits
   within ``thumbnail_size``, the statistics are exactly those of the whole image.
2. Tiles overlap by ``overlap`` pixels and are blended with weights that fall smoothly to
   near zero at each tile's inner edges, so edge effects are averaged away.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from translate.inference import run_generator

# Memory per tile pixel of a ResNet generator, per unit of ngf. An estimate from the 6000x4000
# case of scripts/benchmark.py (CPU, bf16, ngf 32, 1024-px tiles): about 1.5 GB of the 2.7 GB peak
# went to running one tile, roughly 47 bytes per pixel per ngf. Used to choose tile sizes only.
BYTES_PER_PIXEL_PER_NGF = 50.0


@dataclass(frozen=True)
class TilePlan:
    """Tile side and overlap in pixels (multiples of 4), and the thumbnail's longer side."""

    tile: int
    overlap: int
    thumbnail_size: int


def available_memory_bytes() -> int:
    """Memory this process may use now: free GPU memory on CUDA, else the system's available RAM."""
    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return 4 << 30


def plan_tiles(
    ngf: int, *, tile: int | None = None, overlap: int | None = None, thumbnail_size: int = 1024,
    memory_budget: int | None = None,
) -> TilePlan:
    """Choose the tile side from the memory budget (a quarter of available memory by default).

    Explicit ``tile`` and ``overlap`` override the automatic choice.
    """
    if tile is None:
        budget = memory_budget if memory_budget is not None else available_memory_bytes() // 4
        side = int(math.sqrt(budget / (BYTES_PER_PIXEL_PER_NGF * ngf)))
        tile = max(128, min(1024, side))
    tile = max(16, tile - tile % 4)
    if overlap is None:
        overlap = max(16, tile // 8)
    overlap = min(overlap - overlap % 4, tile // 2)
    if overlap < 0:
        raise ValueError(f"overlap must be 0 or more pixels, got {overlap}")
    return TilePlan(tile, overlap, thumbnail_size)


class _NormStatistics:
    """Recorded (mean, variance) of each instance-norm layer, in call order."""

    def __init__(self) -> None:
        self.values: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.recording = True
        self.position = 0


@contextmanager
def shared_instance_norm(generator: nn.Module) -> Iterator[_NormStatistics]:
    """Make every ``InstanceNorm2d`` of ``generator`` record its statistics, then reuse them.

    Inside the context, the first forward pass records; after ``stats.recording = False`` each
    later pass normalises with the recorded statistics (``stats.position`` is reset per pass).
    """
    stats = _NormStatistics()
    norms = [m for m in generator.modules() if isinstance(m, nn.InstanceNorm2d)]

    def forward(module: nn.InstanceNorm2d, x: torch.Tensor) -> torch.Tensor:
        if stats.recording:
            variance, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
            stats.values.append((mean, variance))
        else:
            mean, variance = stats.values[stats.position]
            stats.position += 1
        return ((x.float() - mean) * torch.rsqrt(variance + module.eps)).to(x.dtype)

    for norm in norms:
        norm.forward = types.MethodType(forward, norm)
    try:
        yield stats
    finally:
        for norm in norms:
            del norm.forward


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blending weights: a raised-cosine rise over ``overlap`` pixels on inner edges, flat elsewhere."""
    weights = torch.ones(length)
    if overlap > 0:
        rise = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, overlap + 2)[1:-1])
        if not at_start:
            weights[:overlap] = rise
        if not at_end:
            weights[-overlap:] = rise.flip(0)
    return weights


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return sorted(set(starts))


@torch.inference_mode()
def translate_tiled(generator: nn.Module, image: torch.Tensor, plan: TilePlan) -> torch.Tensor:
    """Translate ``[1, C, H, W]`` in [-1, 1] tile by tile; returns ``[1, C_out, H, W]`` float32 on the CPU.

    Only one tile at a time is on the generator's device, so device memory is bounded by the
    tile size whatever the image size. The input and output stay on the CPU.
    """
    device = next(generator.parameters()).device
    _, _, height, width = image.shape
    out_channels = generator.config.out_channels if hasattr(generator, "config") else image.shape[1]

    def run(batch: torch.Tensor) -> torch.Tensor:
        return run_generator(generator, batch.to(device)).float().cpu()

    with shared_instance_norm(generator) as stats:
        scale = min(1.0, plan.thumbnail_size / max(height, width))
        thumbnail = image
        if scale < 1.0:
            size = (max(8, round(height * scale)), max(8, round(width * scale)))
            thumbnail = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
        run(thumbnail)
        stats.recording = False

        output = torch.zeros(1, out_channels, height, width)
        total = torch.zeros(1, 1, height, width)
        rows = _starts(height, plan.tile, plan.overlap)
        columns = _starts(width, plan.tile, plan.overlap)
        for top in rows:
            for left in columns:
                bottom, right = min(top + plan.tile, height), min(left + plan.tile, width)
                stats.position = 0
                tile = run(image[..., top:bottom, left:right])
                weight = (
                    _ramp(bottom - top, plan.overlap, top == 0, bottom == height)[:, None]
                    * _ramp(right - left, plan.overlap, left == 0, right == width)[None, :]
                )
                output[..., top:bottom, left:right] += tile * weight
                total[..., top:bottom, left:right] += weight
    return output / total
