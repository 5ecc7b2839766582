"""Dataset scanning and checks, sampling order, augmentation and the training config."""

from __future__ import annotations

import argparse

import pytest
import torch
from PIL import Image

from tests.conftest import draw_shapes
from translate.config import TrainConfig, add_config_arguments, config_from_args
from translate.data import ImageFolderDataset, StreamSampler, augment, scan_domain
from translate.image_io import composite_on_white, list_images


def test_scan_is_recursive_case_insensitive_and_skips_hidden(tmp_path):
    folder = tmp_path / "trainA"
    draw_shapes(folder / "a.PNG", (16, 16), 0)
    draw_shapes(folder / "nested" / "deeper" / "b.JpEg", (16, 16), 1)
    draw_shapes(folder / ".hidden.png", (16, 16), 2)
    draw_shapes(folder / ".cache" / "c.png", (16, 16), 3)
    draw_shapes(folder / "__MACOSX" / "d.png", (16, 16), 4)
    (folder / "notes.txt").write_text("not an image")
    (folder / "Thumbs.db").write_bytes(b"\0" * 10)
    names = [p.relative_to(folder).as_posix() for p in scan_domain(folder).images]
    assert names == ["a.PNG", "nested/deeper/b.JpEg"]


def test_missing_domain_folder_names_folder_and_extensions(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        scan_domain(tmp_path / "trainB")
    assert "trainB" in str(error.value)
    assert "jpg" in str(error.value)
    assert "webp" in str(error.value)


def test_empty_domain_folder_is_rejected(tmp_path):
    folder = tmp_path / "trainA"
    folder.mkdir()
    (folder / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"No readable images in .*trainA.*\.png"):
        scan_domain(folder)


def test_unreadable_files_are_listed_not_loaded(tmp_path):
    folder = tmp_path / "trainA"
    draw_shapes(folder / "good.png", (16, 16), 0)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (folder / "text.jpg").write_text("hello")
    domain = scan_domain(folder)
    assert [p.name for p in domain.images] == ["good.png"]
    assert sorted(p.name for p, _ in domain.unreadable) == ["broken.png", "text.jpg"]


def test_only_unreadable_files_is_an_error(tmp_path):
    folder = tmp_path / "trainA"
    folder.mkdir()
    (folder / "text.jpg").write_text("hello")
    with pytest.raises(ValueError, match="1 files were unreadable"):
        scan_domain(folder)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "RGB"])
def test_dataset_converts_modes_to_rgb(tmp_path, mode):
    path = tmp_path / f"image_{mode}.png"
    draw_shapes(path, (20, 12), 0, mode=mode)
    item = ImageFolderDataset([path], min_side=8)[0]
    assert item.dtype == torch.uint8
    assert tuple(item.shape) == (3, 12, 20)


def test_rgba_is_composited_on_white():
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    rgb = composite_on_white(image)
    assert rgb.getpixel((1, 1)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) == (255, 0, 0)


def test_dataset_skips_a_file_that_fails_late(tmp_path):
    good = tmp_path / "good.png"
    draw_shapes(good, (16, 16), 0)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    dataset = ImageFolderDataset([bad, good], min_side=16)
    assert tuple(dataset[0].shape) == (3, 16, 16)


def test_dataset_reduces_large_images(tmp_path):
    path = tmp_path / "big.png"
    draw_shapes(path, (400, 300), 0)
    item = ImageFolderDataset([path], min_side=64)[0]
    assert min(item.shape[1:]) >= 64
    assert tuple(item.shape) == (3, 75, 100)


def take(iterator, count):
    return [next(iterator) for _ in range(count)]


def test_sampler_ranks_are_disjoint_and_cover_epoch():
    rank0 = take(iter(StreamSampler(10, seed=1, rank=0, world_size=2)), 5)
    rank1 = take(iter(StreamSampler(10, seed=1, rank=1, world_size=2)), 5)
    assert set(rank0).isdisjoint(rank1)
    assert sorted(rank0 + rank1) == list(range(10))


def test_sampler_start_continues_the_same_stream():
    full = take(iter(StreamSampler(7, seed=4)), 20)
    resumed = take(iter(StreamSampler(7, seed=4, start=9)), 11)
    assert resumed == full[9:]
    assert full[:7] != full[7:14]  # each epoch has its own order


def test_sampler_needs_an_image_per_process():
    with pytest.raises(ValueError, match="2 processes"):
        StreamSampler(1, seed=0, world_size=2)


def test_augment_crops_flips_and_scales():
    batch = torch.randint(0, 256, (2, 3, 30, 40), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    out = augment(batch, load_size=36, crop_size=32, flip=True, generator=generator, device=torch.device("cpu"))
    assert tuple(out.shape) == (2, 3, 32, 32)
    assert out.min() >= -1
    assert out.max() <= 1
    again = augment(batch, load_size=36, crop_size=32, flip=True, generator=torch.Generator().manual_seed(0),
                    device=torch.device("cpu"))
    assert torch.equal(out, again)


def test_augment_without_resize_keeps_pixels():
    batch = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8)
    out = augment(batch, load_size=16, crop_size=16, flip=False, generator=torch.Generator(),
                  device=torch.device("cpu"))
    assert torch.equal(((out + 1) * 127.5).round().to(torch.uint8), batch)


def test_augment_mixed_sizes():
    batch = [torch.zeros(3, 20, 30, dtype=torch.uint8), torch.zeros(3, 50, 40, dtype=torch.uint8)]
    out = augment(batch, load_size=24, crop_size=20, flip=False, generator=torch.Generator(),
                  device=torch.device("cpu"))
    assert tuple(out.shape) == (2, 3, 20, 20)


def parse(argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("crop_size: 64\nload_size: 72\ngenerator:\n  ngf: 16\n  n_blocks: 4\nflip: false\n")
    config = parse(["--config", str(path), "--generator.ngf", "8", "--lr", "0.001", "--flip", "true"])
    assert config.crop_size == 64
    assert config.generator.ngf == 8
    assert config.generator.n_blocks == 4
    assert config.lr == 0.001
    assert config.flip is True


def test_config_defaults_follow_published_recipe():
    config = TrainConfig()
    assert (config.gan_mode, config.lambda_cycle, config.lambda_identity) == ("lsgan", 10.0, 0.5)
    assert (config.lr, config.beta1, config.beta2, config.pool_size) == (2e-4, 0.5, 0.999, 50)
    assert (config.generator.ngf, config.generator.n_blocks) == (64, 9)


def test_config_json_round_trip(tmp_path):
    path = tmp_path / "config.json"
    import json

    path.write_text(json.dumps(TrainConfig(crop_size=32, load_size=32).to_dict()))
    assert TrainConfig.from_file(path).crop_size == 32


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"crop_size": 300}, "load_size"),
        ({"crop_size": 30, "load_size": 30}, "multiple of 4"),
        ({"mixed_precision": "fp8"}, "mixed_precision"),
        ({"decay_steps": 20000}, "decay_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"generator": {"ngf": 0}}, "ngf"),
    ],
)
def test_invalid_config_values_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_unknown_config_field_lists_valid_ones():
    with pytest.raises(ValueError, match="Unknown TrainConfig fields: lamda_cycle"):
        TrainConfig.from_dict({"lamda_cycle": 5})


def test_list_images_sorted(tmp_path):
    for name in ("b.png", "a.png", "c.webp"):
        draw_shapes(tmp_path / name, (8, 8), 0)
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.png", "c.webp"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"generator": {"ngff": 32}}, r"Unknown TrainConfig.generator fields: ngff"),
        ({"steps": "100"}, r"TrainConfig.steps must be of type int, got '100'"),
        ({"flip": 1}, r"TrainConfig.flip must be of type bool"),
        ({"generator": 5}, r"TrainConfig.generator must be a mapping"),
    ],
)
def test_config_types_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_integer_is_accepted_for_float_field():
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0


def test_malformed_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("steps: 4\n lr: [\n")
    with pytest.raises(ValueError, match=r"Config file .*broken.yaml is not valid YAML"):
        TrainConfig.from_file(path)
