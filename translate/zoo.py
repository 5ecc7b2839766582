"""The official CycleGAN releases: 18 pretrained one-direction generators and 11 datasets.

Both are served by the CycleGAN authors over HTTP. ``CYCLEGAN_ZOO_URL`` replaces the server
(a mirror, or a local server in tests); converted models are cached under ``CYCLEGAN_HOME``
(default ``~/.cache/cyclegan-translate``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan"


@dataclass(frozen=True)
class Pretrained:
    """One released generator: it translates ``source`` images into ``target`` images."""

    name: str
    source: str
    target: str


PRETRAINED = {
    item.name: item
    for item in (
        Pretrained("apple2orange", "apple", "orange"),
        Pretrained("orange2apple", "orange", "apple"),
        Pretrained("summer2winter_yosemite", "Yosemite summer", "Yosemite winter"),
        Pretrained("winter2summer_yosemite", "Yosemite winter", "Yosemite summer"),
        Pretrained("horse2zebra", "horse", "zebra"),
        Pretrained("zebra2horse", "zebra", "horse"),
        Pretrained("monet2photo", "Monet painting", "photo"),
        Pretrained("style_monet", "photo", "Monet painting"),
        Pretrained("style_cezanne", "photo", "Cezanne painting"),
        Pretrained("style_ukiyoe", "photo", "Ukiyo-e print"),
        Pretrained("style_vangogh", "photo", "Van Gogh painting"),
        Pretrained("sat2map", "satellite photo", "map"),
        Pretrained("map2sat", "map", "satellite photo"),
        Pretrained("cityscapes_photo2label", "street photo", "label map"),
        Pretrained("cityscapes_label2photo", "label map", "street photo"),
        Pretrained("facades_photo2label", "facade photo", "label map"),
        Pretrained("facades_label2photo", "label map", "facade photo"),
        Pretrained("iphone2dslr_flower", "iPhone flower photo", "DSLR flower photo"),
    )
}

DATASETS = (
    "apple2orange",
    "summer2winter_yosemite",
    "horse2zebra",
    "monet2photo",
    "cezanne2photo",
    "ukiyoe2photo",
    "vangogh2photo",
    "maps",
    "facades",
    "iphone2dslr_flower",
    "ae_photos",
)


def base_url() -> str:
    return os.environ.get("CYCLEGAN_ZOO_URL", OFFICIAL_URL).rstrip("/")


def cache_dir() -> Path:
    return Path(os.environ.get("CYCLEGAN_HOME", Path.home() / ".cache" / "cyclegan-translate"))


def pretrained_url(name: str) -> str:
    return f"{base_url()}/pretrained_models/{check_pretrained_name(name)}.pth"


def dataset_url(name: str) -> str:
    return f"{base_url()}/datasets/{check_dataset_name(name)}.zip"


def check_pretrained_name(name: str) -> str:
    if name not in PRETRAINED:
        raise ValueError(f"Unknown pretrained model {name!r}. Available: {', '.join(PRETRAINED)}")
    return name


def check_dataset_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(DATASETS)}")
    return name
