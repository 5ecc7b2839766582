"""Paired evaluation: translations against their true counterparts, with the untranslated input as baseline.

A paired test set has the same file names in ``testA/`` and ``testB/`` (the emoji dataset does).
Images are composited on white and compared at the size of the target image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kornia
import torch
import torch.nn.functional as F

from translate.image_io import composite_on_white, list_images, open_image, to_tensor


@dataclass
class PairedScores:
    """Mean L1 (on [0, 1] pixel values), PSNR (dB) and SSIM (11x11 Gaussian window) over a test set."""

    l1: float
    psnr: float
    ssim: float
    count: int

    def as_dict(self) -> dict:
        return {"l1": self.l1, "psnr": self.psnr, "ssim": self.ssim, "count": self.count}


def find_pairs(source_dir: Path, target_dir: Path) -> list[tuple[Path, Path]]:
    """Match images of two folders by relative path without extension; raise if none match."""
    for folder in (source_dir, target_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"Test folder not found: {folder}")
    targets = {p.relative_to(target_dir).with_suffix("").as_posix(): p for p in list_images(target_dir)}
    pairs = []
    for source in list_images(source_dir):
        key = source.relative_to(source_dir).with_suffix("").as_posix()
        if key in targets:
            pairs.append((source, targets[key]))
    if not pairs:
        raise ValueError(
            f"No paired images: no file name in {source_dir} also appears in {target_dir}. "
            "Paired evaluation needs the same names in testA/ and testB/."
        )
    return pairs


def load_pair_tensors(pairs: list[tuple[Path, Path]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    sources, targets = [], []
    for source, target in pairs:
        sources.append(to_tensor(composite_on_white(open_image(source))))
        targets.append(to_tensor(composite_on_white(open_image(target))))
    return sources, targets


def score_images(outputs: list[torch.Tensor], targets: list[torch.Tensor]) -> PairedScores:
    """Score ``[3, H, W]`` tensors in [-1, 1] against targets; outputs are resized to the target size."""
    l1_total = psnr_total = ssim_total = 0.0
    for output, target in zip(outputs, targets, strict=True):
        output = output.float().unsqueeze(0)
        target = target.float().unsqueeze(0)
        if output.shape[-2:] != target.shape[-2:]:
            output = F.interpolate(output, size=target.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
        output01 = ((output.clamp(-1, 1) + 1) / 2)
        target01 = (target.clamp(-1, 1) + 1) / 2
        l1_total += (output01 - target01).abs().mean().item()
        mse = F.mse_loss(output01, target01).item()
        psnr_total += 10 * math.log10(1.0 / max(mse, 1e-10))
        ssim_total += kornia.metrics.ssim(output01, target01, window_size=11).mean().item()
    count = len(outputs)
    if count == 0:
        raise ValueError("score_images needs at least one image")
    return PairedScores(l1_total / count, psnr_total / count, ssim_total / count, count)


@torch.no_grad()
def evaluate_paired(
    translate_fn: Callable[[torch.Tensor], torch.Tensor],
    source_dir: Path,
    target_dir: Path,
    *,
    limit: int | None = None,
    batch_size: int = 16,
) -> tuple[PairedScores, PairedScores]:
    """Return (translation scores, identity-baseline scores) for a paired test set.

    ``translate_fn`` maps a batch ``[N, 3, H, W]`` in [-1, 1] to the same shape; images of one
    size are batched together.
    """
    pairs = find_pairs(source_dir, target_dir)[:limit]
    sources, targets = load_pair_tensors(pairs)
    outputs: list[torch.Tensor | None] = [None] * len(sources)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(sources):
        by_size.setdefault(tuple(image.shape), []).append(index)
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            translated = translate_fn(torch.stack([sources[i] for i in chunk]))
            for i, image in zip(chunk, translated, strict=True):
                outputs[i] = image.float().cpu()
    return score_images(outputs, targets), score_images(sources, targets)
