"""Converting a folder of images: planning, safety checks and the per-file loop.

Guarantees: the output tree mirrors the input tree; no input file is ever written to; an
existing output is kept unless ``overwrite`` is set, so an interrupted run resumes where it
stopped; outputs are written atomically; one bad file is recorded and the rest continue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from translate.image_io import ImageReadError, has_image_extension, list_files, save_image

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What a folder conversion did, file by file."""

    converted: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.converted)} converted, {len(self.existing)} already done, "
            f"{len(self.failed)} failed, {len(self.ignored)} non-image files ignored"
        )


def check_folders(input_dir: Path, output_dir: Path) -> None:
    """Raise unless ``input_dir`` exists and ``output_dir`` is neither it nor inside it."""
    if not input_dir.is_dir():
        raise FileNotFoundError(f"Input folder not found: {input_dir}")
    source = input_dir.resolve()
    target = output_dir.resolve()
    if target == source or target.is_relative_to(source):
        raise ValueError(
            f"Output folder {output_dir} is inside the input folder {input_dir}; its results would be read back "
            "as inputs on the next run. Choose an output folder outside the input folder."
        )


def plan(input_dir: Path, output_dir: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Pair each input image with its output path; return (pairs, ignored non-image files)."""
    pairs, ignored = [], []
    for path in list_files(input_dir):
        if has_image_extension(path):
            pairs.append((path, output_dir / path.relative_to(input_dir)))
        else:
            ignored.append(path)
    return pairs, ignored


def convert_folder(
    input_dir: Path,
    output_dir: Path,
    translate_fn: Callable[[Path], Image.Image],
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> BatchResult:
    """Translate every image under ``input_dir`` into the mirrored path under ``output_dir``."""
    check_folders(input_dir, output_dir)
    pairs, ignored = plan(input_dir, output_dir)
    result = BatchResult(ignored=ignored)
    input_files = {source.resolve() for source, _ in pairs}

    for source, target in tqdm(pairs, desc="converting", unit="image", disable=not progress):
        if target.resolve() in input_files:
            result.failed.append((source, f"output path {target} is an input file; refusing to overwrite it"))
            continue
        if target.exists() and not overwrite:
            result.existing.append(target)
            continue
        try:
            image = translate_fn(source)
            save_image(image, target)
        except ImageReadError as error:
            result.failed.append((source, str(error)))
            logger.warning("Failed: %s", error)
        except (OSError, ValueError, RuntimeError) as error:
            # One bad file must not stop a batch of thousands: record it and go on.
            result.failed.append((source, f"{type(error).__name__}: {error}"))
            logger.warning("Failed: %s: %s", source, error)
        else:
            result.converted.append(target)
    return result
