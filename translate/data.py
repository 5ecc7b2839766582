"""Unpaired image folders for training: scanning, checking, loading and on-device augmentation.

A dataset root contains ``trainA/`` and ``trainB/`` (optionally ``testA/`` and ``testB/``), read
recursively. Each domain is an endless stream of images in an order fixed by the seed and the
epoch, so any step of a run can be reproduced after a resume without saving loader state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kornia
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from translate.image_io import IMAGE_EXTENSIONS, ImageReadError, composite_on_white, list_images, open_image

logger = logging.getLogger(__name__)


@dataclass
class DomainFiles:
    """Readable images of one domain folder, and the files that failed the check with their reasons."""

    folder: Path
    images: list[Path]
    unreadable: list[tuple[Path, str]]
    sizes: list[tuple[int, int]] | None = None  # (width, height) of each image, when checked

    def count_smaller_than(self, side: int) -> int:
        return sum(min(size) < side for size in self.sizes or [])


def scan_domain(folder: Path, *, check: bool = True) -> DomainFiles:
    """List and check the images of one domain folder; raise if there are none.

    With ``check`` each file's header is verified, so damaged files are found and listed before
    training starts rather than crashing it hours later.
    """
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Domain folder not found: {folder}. A dataset root needs trainA/ and trainB/ folders of images "
            f"({', '.join(ext.lstrip('.') for ext in IMAGE_EXTENSIONS)})."
        )
    candidates = list_images(folder)
    readable: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    sizes: list[tuple[int, int]] = []
    for path in candidates:
        if not check:
            readable.append(path)
            continue
        try:
            with Image.open(path) as image:
                size = image.size
                image.verify()
            readable.append(path)
            sizes.append(size)
        except Exception as error:  # Pillow raises many types for damaged files.
            unreadable.append((path, f"{type(error).__name__}: {error}"))
    if not readable:
        found = f" ({len(unreadable)} files were unreadable)" if unreadable else ""
        raise ValueError(
            f"No readable images in {folder}{found}. Put images with one of the extensions "
            f"{', '.join(IMAGE_EXTENSIONS)} in it (subfolders are searched too)."
        )
    return DomainFiles(folder, readable, unreadable, sizes if check else None)


class ImageFolderDataset(Dataset):
    """Decode images to uint8 tensors ``[3, H, W]``, composited on white, reduced towards ``min_side``.

    Large images are shrunk here by an integer factor (cheap, in the loader workers) while their
    shorter side stays at least ``min_side``. The exact resize happens on the device. A file that
    fails to decode at this point is logged and replaced by the next file, so one bad image never
    stops a run.
    """

    def __init__(self, files: list[Path], min_side: int) -> None:
        self.files = files
        self.min_side = min_side

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> torch.Tensor:
        image = composite_on_white(open_image(path))
        factor = min(image.size) // self.min_side
        if factor >= 2:
            image = image.reduce(factor)
        array = np.asarray(image, dtype=np.uint8).copy()
        return torch.from_numpy(array).permute(2, 0, 1).contiguous()

    def __getitem__(self, index: int) -> torch.Tensor:
        for attempt in range(len(self.files)):
            path = self.files[(index + attempt) % len(self.files)]
            try:
                return self._load(path)
            except ImageReadError as error:
                logger.warning("Skipping unreadable training image: %s", error)
        raise RuntimeError("No training image could be decoded; check the dataset folders.")


class StreamSampler(Sampler[int]):
    """Endless index stream over ``length`` items for one process of ``world_size``.

    Epoch ``e`` is a permutation drawn from ``seed + e``; process ``rank`` takes every
    ``world_size``-th index of it, so processes see disjoint images. ``start`` skips that many
    indices of this process's stream, which is how a resumed run continues in the same order.
    """

    def __init__(self, length: int, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        if length < world_size:
            raise ValueError(
                f"A domain has {length} images but training uses {world_size} processes; "
                "each process needs at least one image."
            )
        self.length = length
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start = start
        self.per_epoch = length // world_size

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.per_epoch)
        while True:
            order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + epoch))
            shard = order[self.rank :: self.world_size][: self.per_epoch].tolist()
            yield from shard[offset:]
            epoch, offset = epoch + 1, 0


def _collate(batch: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    if all(item.shape == batch[0].shape for item in batch):
        return torch.stack(batch)
    return batch  # mixed sizes: resized one by one on the device


def make_loader(
    files: list[Path], *, min_side: int, batch_size: int, seed: int, rank: int, world_size: int,
    start_batch: int, num_workers: int,
) -> DataLoader:
    dataset = ImageFolderDataset(files, min_side)
    sampler = StreamSampler(
        len(files), seed=seed, rank=rank, world_size=world_size, start=start_batch * batch_size
    )
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, collate_fn=_collate,
        persistent_workers=num_workers > 0, pin_memory=False, drop_last=True,
    )


def resize_shorter(image: torch.Tensor, size: int, *, device: torch.device, minimum: int = 0) -> torch.Tensor:
    """Resize a uint8 ``[3, H, W]`` image so its shorter side is ``size``, as ``[1, 3, H', W']`` in [-1, 1].

    Neither side ends up below ``minimum``.
    """
    image = image.to(device, non_blocking=True).float().div_(127.5).sub_(1.0).unsqueeze(0)
    height, width = image.shape[-2:]
    scale = size / min(height, width)
    target = (max(minimum, round(height * scale)), max(minimum, round(width * scale)))
    if target != (height, width):
        image = kornia.geometry.transform.resize(image, target, interpolation="bilinear", antialias=True)
    return image


def augment(
    batch: torch.Tensor | list[torch.Tensor], *, load_size: int, crop_size: int, flip: bool,
    generator: torch.Generator, device: torch.device,
) -> torch.Tensor:
    """Resize (shorter side to ``load_size``), random-crop and randomly flip uint8 images on ``device``.

    Returns float ``[N, 3, crop, crop]`` in [-1, 1]. Random parameters come from ``generator``,
    which the trainer seeds per step, so a resumed run draws the same crops and flips.
    """
    images = list(batch) if isinstance(batch, list) else list(batch.unbind(0))
    results = []
    for image in images:
        image = resize_shorter(image, load_size, device=device, minimum=crop_size)
        size = image.shape[-2:]
        top = int(torch.randint(0, size[0] - crop_size + 1, (), generator=generator))
        left = int(torch.randint(0, size[1] - crop_size + 1, (), generator=generator))
        image = image[..., top : top + crop_size, left : left + crop_size]
        if flip and torch.rand((), generator=generator).item() < 0.5:
            image = kornia.geometry.transform.hflip(image)
        results.append(image)
    return torch.cat(results).clamp_(-1.0, 1.0)
