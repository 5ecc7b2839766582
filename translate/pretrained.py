"""Fetching the official pretrained generators and datasets, and unpacking archives safely."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from translate.download import download
from translate.official import convert_official_file
from translate.zoo import PRETRAINED, cache_dir, check_dataset_name, check_pretrained_name, dataset_url, pretrained_url

logger = logging.getLogger(__name__)


def fetch_pretrained(name: str, output: str | Path | None = None, *, progress: bool = True) -> Path:
    """Download an official generator (once) and convert it to a weights folder; return the folder.

    The ``.pth`` file is kept under ``CYCLEGAN_HOME/pretrained`` and the weights folder goes to
    ``output`` (default ``CYCLEGAN_HOME/models/NAME``). An existing converted folder is reused.
    """
    check_pretrained_name(name)
    folder = Path(output) if output else cache_dir() / "models" / name
    if (folder / "config.json").is_file():
        return folder
    url = pretrained_url(name)
    file = download(url, cache_dir() / "pretrained" / f"{name}.pth", progress=progress)
    entry = PRETRAINED[name]
    return convert_official_file(file, folder, name=name, source=entry.source, target=entry.target, origin=url)


class UnsafeArchiveError(ValueError):
    """An archive entry that would be written outside the target folder."""


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a zip file into ``target``, rejecting absolute paths, ``..`` and links; return the files."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    written = []
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
            destination = (root / Path(*name.parts)).resolve() if name.parts else root
            if name.is_absolute() or ".." in name.parts or is_link or not destination.is_relative_to(root):
                raise UnsafeArchiveError(
                    f"{archive}: entry {member.filename!r} would be written outside {target}; nothing was extracted "
                    "from it. The archive is damaged or malicious."
                )
        for member in members:
            if member.is_dir():
                continue
            destination = root / Path(*PurePosixPath(member.filename.replace("\\", "/")).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, destination.open("wb") as stream:
                shutil.copyfileobj(source, stream)
            written.append(destination)
    return written


def fetch_dataset(name: str, output: str | Path, *, progress: bool = True) -> Path:
    """Download an official dataset zip and unpack it as ``output/trainA``, ``trainB``, ``testA``, ``testB``."""
    check_dataset_name(name)
    output = Path(output)
    if (output / "trainA").is_dir() and (output / "trainB").is_dir():
        logger.info("%s already has trainA/ and trainB/; nothing to do", output)
        return output
    archive = download(dataset_url(name), cache_dir() / "datasets" / f"{name}.zip", progress=progress)
    staging = output.with_name(f".tmp-{output.name}")
    shutil.rmtree(staging, ignore_errors=True)
    safe_extract(archive, staging)
    # The official zips hold one top-level folder named after the dataset; use its contents.
    entries = [p for p in staging.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    content = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    output.mkdir(parents=True, exist_ok=True)
    for item in content.iterdir():
        if item.name == "__MACOSX":
            continue
        destination = output / item.name
        if destination.exists():
            shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
        shutil.move(str(item), destination)
    shutil.rmtree(staging, ignore_errors=True)
    return output
