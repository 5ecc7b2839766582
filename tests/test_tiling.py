"""Tiled full-resolution inference: agreement with whole-image output, no seams, bounded tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import REPO, draw_shapes
from translate.image_io import to_tensor
from translate.inference import Translator, run_generator
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.tiling import TilePlan, _starts, plan_tiles, shared_instance_norm, translate_tiled


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=2)).eval()


def photo_like(width: int, height: int, seed: int) -> torch.Tensor:
    """A [1, 3, H, W] image in [-1, 1] with what photos have: gradients, many edges and grain."""
    rng = np.random.default_rng(seed)
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 97.0 + y / 53.0)], axis=-1) * 200
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(8, 160))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + size, y0 + size], fill=colour)
    array = np.asarray(image, dtype=np.float64) + rng.normal(0, 4, (height, width, 3))
    return to_tensor(Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))).unsqueeze(0)


@pytest.fixture(scope="module")
def photo():
    return photo_like(1024, 768, 11)


def levels(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference in 8-bit levels (0-255) of two [-1, 1] images."""
    return float((a - b).abs().mean() * 127.5)


def seam_ratio(image: torch.Tensor, plan: TilePlan, width: int) -> float:
    """Mean horizontal gradient at tile boundaries divided by the mean gradient everywhere."""
    gradient = (image[..., 1:] - image[..., :-1]).abs().mean(dim=(0, 1, 2))
    starts = _starts(width, plan.tile, plan.overlap)[1:]
    boundaries = [s + offset for s in starts for offset in (0, plan.overlap // 2, plan.overlap - 1)]
    ends = [s + plan.tile - 1 for s in _starts(width, plan.tile, plan.overlap)[:-1]]
    positions = [p for p in boundaries + ends if 0 <= p < gradient.numel()]
    return float(gradient[positions].mean() / gradient.mean())


def test_shared_norm_reproduces_plain_forward(generator, photo):
    small = photo[..., :96, :128]
    with torch.no_grad():
        expected = generator(small)
        with shared_instance_norm(generator) as stats:
            recorded = generator(small)
            stats.recording = False
            reused = generator(small)
    assert torch.allclose(recorded, expected, atol=1e-5)
    assert torch.allclose(reused, expected, atol=1e-5)
    assert len(stats.values) == 1 + 2 + 2 * 2 + 2  # stem, down, 2 per block, up


def test_norm_layers_restored_after_context(generator, photo):
    with shared_instance_norm(generator):
        pass
    assert all("forward" not in vars(m) for m in generator.modules())


def test_tiled_matches_whole_image(generator, photo):
    plan = TilePlan(tile=256, overlap=32, thumbnail_size=1024)
    with torch.no_grad():
        whole = run_generator(generator, photo)
    tiled = translate_tiled(generator, photo, plan)
    assert tiled.shape == whole.shape
    assert levels(tiled, whole) <= 2.0


def test_thumbnail_statistics_beat_per_tile_statistics(generator, photo):
    plan = TilePlan(tile=256, overlap=32, thumbnail_size=512)
    with torch.no_grad():
        whole = run_generator(generator, photo)
        naive = torch.zeros_like(whole)
        for top in range(0, 768, 256):
            for left in range(0, 1024, 256):
                naive[..., top:top + 256, left:left + 256] = generator(photo[..., top:top + 256, left:left + 256])
    tiled = translate_tiled(generator, photo, plan)
    # Statistics from a half-size thumbnail are approximate, but far closer than each tile's own.
    assert levels(tiled, whole) < 0.5 * levels(naive, whole)


def test_tile_borders_are_not_visible(generator, photo):
    plan = TilePlan(tile=256, overlap=32, thumbnail_size=512)
    tiled = translate_tiled(generator, photo, plan)
    with torch.no_grad():
        whole = run_generator(generator, photo)
    # Borders may be no sharper than the same columns of the whole-image output, within 10%.
    assert seam_ratio(tiled, plan, 1024) <= seam_ratio(whole, plan, 1024) * 1.10


def test_odd_sizes_and_single_tile(generator):
    image = torch.rand(1, 3, 301, 203) * 2 - 1
    out = translate_tiled(generator, image, TilePlan(tile=128, overlap=16, thumbnail_size=256))
    assert out.shape == (1, 3, 301, 203)
    small = torch.rand(1, 3, 40, 60) * 2 - 1
    single = translate_tiled(generator, small, TilePlan(tile=128, overlap=16, thumbnail_size=256))
    with torch.no_grad():
        assert torch.allclose(single, run_generator(generator, small), atol=1e-5)


def test_plan_from_memory_budget():
    small = plan_tiles(64, memory_budget=64 << 20)
    large = plan_tiles(64, memory_budget=4 << 30)
    assert small.tile < large.tile
    assert small.tile % 4 == 0
    assert large.tile <= 1024
    assert small.overlap % 4 == 0
    assert small.tile // 8 - 4 < small.overlap <= small.tile // 8
    explicit = plan_tiles(64, tile=301, overlap=33)
    assert (explicit.tile, explicit.overlap) == (300, 32)


def test_translator_tiles_large_images(tmp_path):
    from translate.weights import save_weights

    torch.manual_seed(0)
    save_weights(tmp_path / "m", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))}, image_size=32)
    path = tmp_path / "wide.png"
    draw_shapes(path, (700, 300), 4)
    tiled = Translator(tmp_path / "m", full_resolution=True, tile_size=128, precision="fp32")
    assert tiled.uses_tiles(300, 700)
    whole = Translator(tmp_path / "m", full_resolution=True, tiling="never", precision="fp32")
    a = np.asarray(tiled(path), dtype=np.float64)
    b = np.asarray(whole(path), dtype=np.float64)
    assert a.shape == (300, 700, 3)
    assert np.abs(a - b).mean() <= 2.0


@pytest.mark.slow
def test_shipped_model_tiled_matches_whole(photo):
    translator = Translator(REPO / "weights" / "emoji", full_resolution=True, tiling="never", precision="fp32")
    plan = TilePlan(tile=256, overlap=32, thumbnail_size=1024)
    whole = translator.translate_tensor(photo)
    # The network as the Translator runs it: the shipped model averages both mirror orientations.
    tiled = translate_tiled(translator.network, photo, plan)
    assert levels(tiled, whole) <= 2.0
    assert seam_ratio(tiled, plan, 1024) <= seam_ratio(whole, plan, 1024) * 1.10
