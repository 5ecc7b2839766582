#!/usr/bin/env python
"""Build the unpaired Noto -> Twemoji emoji dataset from the npm packages emoji-datasource-*.

Domain A is Google's Noto Color Emoji (``emoji-datasource-google``, images Apache-2.0), domain B
is Twitter's Twemoji (``emoji-datasource-twitter``, graphics CC-BY 4.0). Each 64x64 PNG is
composited on white. The split is by emoji, with every skin-tone variant of one emoji kept
together so near-duplicates never straddle two splits:

- ``testA/`` and ``testB/``: the same held-out emoji in both styles, under the same file names,
  so every test image has its true counterpart;
- ``trainA/`` and ``trainB/``: the remaining emoji, divided into two disjoint halves, so that
  no emoji appears in both training domains and training is truly unpaired;
- ``extraA/`` and ``extraB/``: the training emoji in the style their training folder does not
  hold (the Noto drawings of ``trainB/``'s emoji, the Twemoji drawings of ``trainA/``'s). Training
  never reads them, because they would pair the domains. Distillation feeds them to the teacher
  as extra inputs. The held-out emoji are only in the test folders.

The split depends only on the emoji code points (a SHA-256 of each group's key), so it is the
same on every machine. A ``manifest.json`` lists the source packages, counts and every file.

Usage::

    python scripts/prepare_emoji.py data/emoji             # fetches the packages with `npm pack`
    python scripts/prepare_emoji.py data/emoji --packages DIR   # uses .tgz files already in DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from PIL import Image

VERSION = "16.0.0"
PACKAGES = {"A": ("emoji-datasource-google", "google", "Noto Color Emoji"),
            "B": ("emoji-datasource-twitter", "twitter", "Twemoji")}
REGISTRY = "https://registry.npmjs.org"
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}
TEST_FRACTION = 0.10
LICENSES = {
    "A": "Noto Color Emoji images: Apache License 2.0, Copyright Google Inc.",
    "B": "Twemoji graphics: CC-BY 4.0, Copyright Twitter, Inc. and other contributors "
         "(https://creativecommons.org/licenses/by/4.0/)",
}


def fetch_package(name: str, dest: Path) -> Path:
    """Download ``name@VERSION`` as a tarball with ``npm pack``, or over HTTPS from the registry without npm."""
    tarball = dest / f"{name}-{VERSION}.tgz"
    if tarball.is_file():
        return tarball
    npm = shutil.which("npm")
    if npm:
        subprocess.run([npm, "pack", f"{name}@{VERSION}", "--silent"], cwd=dest, check=True,
                       stdout=subprocess.DEVNULL)
    else:
        url = f"{REGISTRY}/{name}/-/{name}-{VERSION}.tgz"
        print(f"npm not found; downloading {url}", file=sys.stderr)
        partial = tarball.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as stream:
            shutil.copyfileobj(response, stream)
        partial.replace(tarball)
    if not tarball.is_file():
        raise FileNotFoundError(f"npm pack did not produce {tarball}")
    return tarball


def read_images(tarball: Path, style: str) -> dict[str, bytes]:
    """Return {file name: PNG bytes} of the package's 64x64 images."""
    prefix = f"package/img/{style}/64/"
    images = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith(prefix) and member.name.endswith(".png"):
                images[member.name[len(prefix):]] = archive.extractfile(member).read()
    if not images:
        raise ValueError(f"{tarball}: no images under {prefix}; is this {style}'s emoji-datasource package?")
    return images


def group_key(filename: str) -> str:
    """Return the emoji's code points without skin-tone modifiers, e.g. '1f44b-1f3fd.png' -> '1f44b'."""
    return "-".join(cp for cp in filename[: -len(".png")].split("-") if cp not in SKIN_TONES)


def split_of(key: str) -> str:
    """Assign a group to 'test', 'trainA' or 'trainB' from a hash of its key."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    if value < TEST_FRACTION:
        return "test"
    return "trainA" if value < TEST_FRACTION + (1 - TEST_FRACTION) / 2 else "trainB"


def on_white(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return white


def build(output: Path, packages_dir: Path) -> dict:
    sources = {domain: read_images(fetch_package(name, packages_dir), style)
               for domain, (name, style, _) in PACKAGES.items()}
    common = sorted(set(sources["A"]) & set(sources["B"]))
    if not common:
        raise ValueError("The two packages share no emoji file names")

    folders = ("trainA", "trainB", "testA", "testB", "extraA", "extraB")
    for folder in folders:
        shutil.rmtree(output / folder, ignore_errors=True)
        (output / folder).mkdir(parents=True)

    files: dict[str, list[str]] = {folder: [] for folder in folders}
    other = {"A": "B", "B": "A"}
    for name in common:
        split = split_of(group_key(name))
        if split == "test":
            targets = [("testA", "A"), ("testB", "B")]
        else:
            domain = split[-1]
            targets = [(split, domain), (f"extra{other[domain]}", other[domain])]
        for folder, domain in targets:
            on_white(sources[domain][name]).save(output / folder / name, format="PNG", optimize=True)
            files[folder].append(name)

    manifest = {
        "description": "Unpaired emoji style dataset: domain A Noto Color Emoji, domain B Twemoji, 64x64 on white.",
        "packages": {domain: f"{name}@{VERSION}" for domain, (name, _, _) in PACKAGES.items()},
        "domains": {domain: label for domain, (_, _, label) in PACKAGES.items()},
        "licenses": LICENSES,
        "split": f"by emoji without skin tones, SHA-256 of the code points; test fraction {TEST_FRACTION}",
        "counts": {folder: len(names) for folder, names in files.items()},
        "files": files,
    }
    (output / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def write_sample(dataset: Path, sample: Path, count: int) -> int:
    """Copy ``count`` evenly spaced held-out pairs of ``dataset`` into ``sample``/testA and testB."""
    names = sorted(p.name for p in (dataset / "testA").iterdir())
    if not names:
        raise ValueError(f"{dataset / 'testA'} is empty; build the dataset first")
    stride = max(1, len(names) // count)
    chosen = names[::stride][:count]
    for folder in ("testA", "testB"):
        shutil.rmtree(sample / folder, ignore_errors=True)
        (sample / folder).mkdir(parents=True)
        for name in chosen:
            shutil.copy2(dataset / folder / name, sample / folder / name)
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path,
                        help="dataset folder to create (trainA/, trainB/, testA/, testB/, extraA/, extraB/)")
    parser.add_argument("--packages", type=Path,
                        help="folder with the npm .tgz files; they are fetched into it when missing "
                             "(default: a temporary folder)")
    parser.add_argument("--sample", type=Path,
                        help="also copy a small set of held-out pairs into this folder (testA/, testB/)")
    parser.add_argument("--sample-size", type=int, default=48, help="number of held-out pairs for --sample")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        packages_dir = args.packages or Path(temporary)
        packages_dir.mkdir(parents=True, exist_ok=True)
        try:
            manifest = build(args.output, packages_dir)
        except (subprocess.CalledProcessError, OSError, ValueError) as error:
            print(f"prepare_emoji: error: {error}", file=sys.stderr)
            return 1
    counts = manifest["counts"]
    print(f"Wrote {args.output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.sample:
        copied = write_sample(args.output, args.sample, args.sample_size)
        print(f"Wrote {copied} held-out pairs to {args.sample}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
