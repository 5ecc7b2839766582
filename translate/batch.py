"""Converting a folder of images: planning, safety checks and a pipelined per-file loop.

The output tree mirrors the input tree, and no input file is ever written to. An existing output
is kept unless ``overwrite`` is set, so an interrupted run resumes where it stopped. Outputs are
written atomically, so a killed run never leaves a half-written file that a later run would take
as done. One bad file is recorded and the rest continue.

Decoding and encoding run in worker threads while the model works on the main thread, and
consecutive images of the same working size are translated as one batch.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, ImageSequence
from tqdm.auto import tqdm

from translate.image_io import (
    UNSUPPORTED_IMAGE_EXTENSIONS,
    ImageReadError,
    SaveOptions,
    has_image_extension,
    list_files,
    save_animation,
    save_image,
)
from translate.inference import PreparedImage, Translator

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = {"keep": None, "png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@dataclass
class Job:
    source: Path
    target: Path


@dataclass
class BatchResult:
    """Outcome of a folder conversion, file by file."""

    converted: list[Job] = field(default_factory=list)
    existing: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    notices: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.converted)} converted, {len(self.existing)} already done, "
            f"{len(self.failed)} failed, {len(self.ignored)} non-image files ignored"
        )

    def rows(self) -> list[dict[str, str]]:
        rows = [{"input": str(j.source), "output": str(j.target), "status": "converted", "reason": ""}
                for j in self.converted]
        rows += [{"input": str(j.source), "output": str(j.target), "status": "already done", "reason": ""}
                 for j in self.existing]
        # A failed file has no output: the reason names the planned path where that matters.
        rows += [{"input": str(j.source), "output": "", "status": "failed", "reason": reason}
                 for j, reason in self.failed]
        rows += [{"input": str(p), "output": "", "status": "ignored", "reason": "not an image file extension"}
                 for p in self.ignored]
        return sorted(rows, key=lambda row: row["input"])

    def write_report(self, path: Path, settings: dict | None = None) -> Path:
        """Write every file's outcome as CSV (``.csv``) or JSON (any other extension), and return the path written.

        An existing file is kept, and the report goes to the first free name ``NAME-2.csv``,
        ``NAME-3.csv``, ... instead. JSON reports also record ``settings`` (the model and how it ran).
        """
        path = free_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.rows()
        if path.suffix.lower() == ".csv":
            with path.open("x", newline="", encoding="utf-8") as stream:
                writer = csv.DictWriter(stream, fieldnames=["input", "output", "status", "reason"])
                writer.writeheader()
                writer.writerows(rows)
        else:
            summary = {"converted": len(self.converted), "already_done": len(self.existing),
                       "failed": len(self.failed), "ignored": len(self.ignored)}
            report = {"summary": summary, "settings": settings or {}, "files": rows}
            with path.open("x", encoding="utf-8") as stream:
                stream.write(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        return path


def free_path(path: Path, taken: Callable[[Path], bool] = Path.exists) -> Path:
    """Return ``path``, or else the first of ``NAME-2.EXT``, ``NAME-3.EXT``, ... beside it that is not ``taken``."""
    candidate, number = path, 1
    while taken(candidate):
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


# Batching pays only while a batch's activations stay small. On a 2-core CPU, 64 photos of
# 512x384 took 24.0 s in batches of 4 and 18.1 s one at a time (scripts/benchmark.py, shipped
# model, full resolution). So a batch contains at most this many pixels, even when ``batch_size``
# allows more images.
MAX_BATCH_PIXELS = 512 * 512


def check_folders(input_dir: Path, output_dir: Path) -> None:
    """Raise unless ``input_dir`` exists and ``output_dir`` is neither it nor inside it."""
    if input_dir.is_file():
        raise ValueError(
            f"Input {input_dir} is a file; the converter takes a folder. Put the image in a folder, or translate "
            "a single file from Python with translate.Translator."
        )
    if not input_dir.is_dir():
        raise FileNotFoundError(f"Input folder not found: {input_dir}")
    source = input_dir.resolve()
    target = output_dir.resolve()
    if target == source or target.is_relative_to(source):
        raise ValueError(
            f"Output folder {output_dir} is inside the input folder {input_dir}; its results would be read back "
            "as inputs on the next run. Choose an output folder outside the input folder."
        )


def plan(input_dir: Path, output_dir: Path, output_format: str = "keep") -> tuple[list[Job], list[Path]]:
    """Pair each input image with its output path; return (jobs, ignored non-image files).

    Outputs whose names would collide, ignoring case (``photo.jpg``, ``photo.png`` and
    ``Photo.JPG`` written as PNG, or on a case-insensitive disk), get the source extension
    added to their name: ``photo_jpg.png``, ``photo_png.png``, ``Photo_JPG-2.png``.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"Unknown output format {output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    suffix = OUTPUT_FORMATS[output_format]
    sources, ignored = [], []
    for path in list_files(input_dir):
        is_image = has_image_extension(path) or path.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS
        (sources if is_image else ignored).append(path)

    natural = {}
    for source in sources:
        relative = source.relative_to(input_dir)
        natural[source] = output_dir / (relative.with_suffix(suffix) if suffix else relative)
    groups: dict[str, list[Path]] = {}
    for source, target in natural.items():
        groups.setdefault(str(target).casefold(), []).append(source)

    jobs, used_names = [], set()
    for source in sources:
        target = natural[source]
        if len(groups[str(target).casefold()]) > 1:
            target = target.with_name(f"{source.stem}_{source.suffix.lstrip('.')}{target.suffix}")
        candidate = free_path(target, lambda name: str(name).casefold() in used_names)
        used_names.add(str(candidate).casefold())
        jobs.append(Job(source, candidate))
    return jobs, ignored


def _translate_animation(translator: Translator, path: Path) -> tuple[list[Image.Image], list[int], int]:
    frames, durations = [], []
    with Image.open(path) as animation:
        loop = int(animation.info.get("loop", 0))
        for frame in ImageSequence.Iterator(animation):
            durations.append(int(frame.info.get("duration", 100)))
            frames.append(translator.translate(frame.convert("RGBA")))
    return frames, durations, loop


def convert_folder(
    input_dir: Path,
    output_dir: Path,
    translator: Translator,
    *,
    overwrite: bool = False,
    output_format: str = "keep",
    save_options: SaveOptions | None = None,
    all_frames: bool = False,
    batch_size: int = 4,
    workers: int = 2,
    progress: bool = True,
) -> BatchResult:
    """Translate every image under ``input_dir`` into the mirrored path under ``output_dir``."""
    check_folders(input_dir, output_dir)
    if batch_size < 1 or workers < 1:
        raise ValueError(f"batch_size and workers must be at least 1, got {batch_size} and {workers}")
    jobs, ignored = plan(input_dir, output_dir, output_format)
    result = BatchResult(ignored=ignored)
    input_files = {job.source.resolve() for job in jobs}
    save_options = save_options or SaveOptions()

    pending = []
    for job in jobs:
        if job.target.resolve() in input_files:
            result.failed.append((job, f"output path {job.target} is an input file; refusing to overwrite it"))
        elif job.target.exists() and not overwrite:
            result.existing.append(job)
        else:
            pending.append(job)

    bar = tqdm(total=len(pending), desc="converting", unit="image", disable=not progress)
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as readers, \
            ThreadPoolExecutor(workers, thread_name_prefix="encode") as writers:
        saves: list[tuple[Job, Future]] = []

        def fail(job: Job, error: BaseException) -> None:
            reason = str(error) if isinstance(error, ImageReadError) else f"{type(error).__name__}: {error}"
            result.failed.append((job, reason))
            logger.warning("Failed: %s: %s", job.source, reason)
            bar.update(1)

        def finish_and_save(job: Job, output: torch.Tensor, prepared: PreparedImage) -> None:
            save_image(translator.finish(output, prepared), job.target, save_options, exif=prepared.exif)

        def collect(limit: int) -> None:
            """Wait for the oldest saves until at most ``limit`` are pending, recording each outcome."""
            while len(saves) > limit:
                job, future = saves.pop(0)
                try:
                    future.result()
                    result.converted.append(job)
                except Exception as error:  # noqa: BLE001 - one file's encoder error must not end the batch
                    result.failed.append((job, f"could not write {job.target}: {type(error).__name__}: {error}"))
                    logger.warning("Failed to write %s: %s", job.target, error)

        def flush(batch: list[tuple[Job, PreparedImage]]) -> None:
            try:
                outputs = translator.run(torch.stack([prepared.tensor for _, prepared in batch]))
            except Exception as error:  # noqa: BLE001 - e.g. out of memory on one huge image
                for job, _ in batch:
                    fail(job, error)
                return
            for (job, prepared), output in zip(batch, outputs, strict=True):
                saves.append((job, writers.submit(finish_and_save, job, output, prepared)))
            bar.update(len(batch))
            # Bound the results waiting for the encoder, so memory does not grow with the folder.
            collect(workers * 2)

        batch: list[tuple[Job, PreparedImage]] = []
        # At full resolution each decoded image can be hundreds of MB: decode only a little ahead.
        depth = max(2, workers) if translator.full_resolution else workers * 2 + batch_size
        for job, decoded in _prefetch(readers, translator, pending, depth):
            if isinstance(decoded, BaseException):
                fail(job, decoded)
                continue
            frames = decoded.frames
            if frames > 1 and all_frames:
                try:
                    images, durations, loop = _translate_animation(translator, job.source)
                    save_animation(images, job.target, durations, loop, save_options)
                    result.converted.append(job)
                except Exception as error:  # noqa: BLE001 - one bad animation must not end the batch
                    fail(job, error)
                else:
                    bar.update(1)
                continue
            if frames > 1:
                result.notices.append((job.source, f"animated ({frames} frames): translated the first frame only; "
                                                   "use --all-frames to translate every frame"))
            height, width = decoded.tensor.shape[-2:]
            fits = (
                (not batch or batch[0][1].tensor.shape == decoded.tensor.shape)
                and not translator.uses_tiles(height, width)
                and (len(batch) + 1) * height * width <= MAX_BATCH_PIXELS
            )
            if batch and (not fits or len(batch) >= batch_size):
                flush(batch)
                batch = []
            batch.append((job, decoded))
        if batch:
            flush(batch)
        collect(0)
    bar.close()
    return result


def _prefetch(
    pool: ThreadPoolExecutor, translator: Translator, jobs: list[Job], depth: int
) -> Iterator[tuple[Job, PreparedImage | BaseException]]:
    """Decode jobs ``depth`` ahead in ``pool``; yield each job with its prepared image or its error."""

    def prepare(job: Job) -> PreparedImage | BaseException:
        try:
            return translator.prepare(job.source)
        except Exception as error:  # noqa: BLE001 - returned and recorded as this file's failure
            return error

    queue: list[tuple[Job, Future]] = []
    position = 0
    while position < len(jobs) or queue:
        while position < len(jobs) and len(queue) < depth:
            queue.append((jobs[position], pool.submit(prepare, jobs[position])))
            position += 1
        job, future = queue.pop(0)
        yield job, future.result()
