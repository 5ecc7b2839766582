"""``cyclegan-download-pretrained`` and ``cyclegan-download-dataset``: the official CycleGAN releases.

    cyclegan-download-pretrained horse2zebra               # -> ~/.cache/cyclegan-translate/models/horse2zebra
    cyclegan-download-pretrained horse2zebra --output weights/horse2zebra
    cyclegan-download-dataset horse2zebra --output data/horse2zebra
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from translate.zoo import DATASETS, PRETRAINED


def pretrained_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cyclegan-download-pretrained",
        description="Download an official pretrained CycleGAN generator and convert it to a weights folder.",
    )
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(PRETRAINED)}")
    parser.add_argument("--output", type=Path, help="weights folder to write (default: the cache)")
    parser.add_argument("--list", action="store_true", help="list the available names and exit")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for entry in PRETRAINED.values():
            print(f"{entry.name:<26} {entry.source} -> {entry.target}")
        return 0 if args.list else 2
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO)
    from translate.download import DownloadError
    from translate.pretrained import fetch_pretrained

    try:
        folder = fetch_pretrained(args.name, args.output)
    except (DownloadError, ValueError, FileNotFoundError) as error:
        print(f"cyclegan-download-pretrained: error: {error}", file=sys.stderr)
        return 1
    print(f"Ready: {folder} (use it with --model {folder})")
    return 0


def dataset_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cyclegan-download-dataset",
        description="Download an official CycleGAN dataset and unpack it as trainA/, trainB/, testA/, testB/.",
    )
    parser.add_argument("name", choices=DATASETS, metavar="NAME", help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument("--output", type=Path, help="dataset folder to create (default: data/NAME)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO)
    from translate.download import DownloadError
    from translate.pretrained import UnsafeArchiveError, fetch_dataset

    output = args.output or Path("data") / args.name
    try:
        folder = fetch_dataset(args.name, output)
    except (DownloadError, UnsafeArchiveError, ValueError, OSError) as error:
        print(f"cyclegan-download-dataset: error: {error}", file=sys.stderr)
        return 1
    print(f"Ready: {folder} (train with: cyclegan-train --data {folder})")
    return 0
