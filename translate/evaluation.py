"""Paired evaluation: translations against their true counterparts, with the untranslated input as baseline.

A paired test set has the same file names in ``testA/`` and ``testB/`` (the emoji dataset does).
Images are composited on white and compared at the size of the target image.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kornia
import torch
import torch.nn.functional as F

from translate.image_io import ImageReadError, composite_on_white, list_images, open_image, to_tensor

logger = logging.getLogger(__name__)


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
    """Load both images of each pair; pairs with an unreadable image are logged and left out."""
    sources, targets = [], []
    for source, target in pairs:
        try:
            source_tensor = to_tensor(composite_on_white(open_image(source)))
            target_tensor = to_tensor(composite_on_white(open_image(target)))
        except ImageReadError as error:
            logger.warning("Leaving an unreadable test pair out of the evaluation: %s", error)
            continue
        sources.append(source_tensor)
        targets.append(target_tensor)
    if not sources:
        raise ValueError(f"No readable test pair among {len(pairs)} pairs")
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
    outputs = map_batched(translate_fn, sources, batch_size)
    return score_images(outputs, targets), score_images(sources, targets)


def map_batched(
    function: Callable[[torch.Tensor], torch.Tensor], images: list[torch.Tensor], batch_size: int = 16
) -> list[torch.Tensor]:
    """Apply a batch function to ``[C, H, W]`` images, batching images of equal size; keep the order."""
    outputs: list[torch.Tensor | None] = [None] * len(images)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_size.setdefault(tuple(image.shape), []).append(index)
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            results = function(torch.stack([images[i] for i in chunk]))
            for i, result in zip(chunk, results, strict=True):
                outputs[i] = result.float().cpu()
    return outputs


@torch.no_grad()
def evaluate_unpaired(
    translate_fn: Callable[[torch.Tensor], torch.Tensor],
    source_dir: Path,
    target_dir: Path,
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    limit: int | None = None,
    batch_size: int = 16,
    kid_subset_size: int = 1000,
) -> dict[str, float]:
    """FID and KID of translated ``source_dir`` images against real ``target_dir`` images.

    The untranslated source images are scored the same way, as the baseline a translation
    should beat. Lower is better for both.
    """
    from translate.fid import frechet_distance, kernel_inception_distance

    def load(folder: Path) -> list[torch.Tensor]:
        if not folder.is_dir():
            raise FileNotFoundError(f"Test folder not found: {folder}")
        paths = list_images(folder)[:limit]
        if len(paths) < 2:
            raise ValueError(f"FID and KID need at least 2 images in {folder}, found {len(paths)}")
        return [to_tensor(composite_on_white(open_image(path))) for path in paths]

    sources, targets = load(source_dir), load(target_dir)
    translated = map_batched(translate_fn, sources, batch_size)
    features = {
        name: torch.cat([f[None] for f in map_batched(feature_fn, images, batch_size)])
        for name, images in (("translated", translated), ("source", sources), ("target", targets))
    }
    kid, kid_std = kernel_inception_distance(features["translated"], features["target"], subset_size=kid_subset_size)
    baseline_kid, _ = kernel_inception_distance(features["source"], features["target"], subset_size=kid_subset_size)
    return {
        "fid": frechet_distance(features["translated"], features["target"]),
        "kid": kid,
        "kid_std": kid_std,
        "baseline_fid": frechet_distance(features["source"], features["target"]),
        "baseline_kid": baseline_kid,
        "count_source": len(sources),
        "count_target": len(targets),
    }
