"""FID and KID: the formulas, and the unpaired evaluation path with a small feature network."""

from __future__ import annotations

import subprocess

import pytest
import torch

from tests.conftest import PYTHON, REPO, draw_shapes, subprocess_env
from translate.cli.evaluate import evaluate_model
from translate.fid import frechet_distance, inception_features, kernel_inception_distance
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import save_weights


def test_frechet_distance_closed_form():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=generator, dtype=torch.float64)
    b = torch.randn(20000, 4, generator=generator, dtype=torch.float64) * 2 + torch.tensor([1.0, 0, 0, 2.0])
    # N(0, I) vs N(m, 4I) in d dimensions: |m|^2 + d (1 + 4 - 2 * 2) = 5 + 4.
    assert frechet_distance(a, b) == pytest.approx(9.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution():
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(400, 8, generator=generator)
    b = torch.randn(400, 8, generator=generator)
    shifted = b + 1.5
    same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=200)
    different, _ = kernel_inception_distance(a, shifted, subsets=20, subset_size=200)
    assert abs(same) < 0.05
    assert different > 10 * max(abs(same), 1e-3)


def test_too_few_images_are_explained():
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))


def small_feature_network():
    """A fixed random conv net standing in for Inception: deterministic 16-d features of any image size."""
    torch.manual_seed(123)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, stride=2),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ).eval()

    def features(batch):
        with torch.no_grad():
            return net(batch.float())

    return features


def test_unpaired_evaluation_path(tmp_path):
    data = tmp_path / "data"
    for index in range(6):
        draw_shapes(data / "testA" / f"horse{index}.png", (40, 32), index)
        draw_shapes(data / "testB" / f"zebra{index}.png", (40, 32), 100 + index)
    torch.manual_seed(0)
    save_weights(tmp_path / "model", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))}, image_size=32)
    results = evaluate_model(tmp_path / "model", data, feature_fn=small_feature_network())
    scores = results["AtoB"]["unpaired"]
    assert "model" not in results["AtoB"]
    assert scores["count_source"] == 6
    assert scores["fid"] > 0
    assert scores["baseline_fid"] > 0
    assert scores["fid"] != scores["baseline_fid"]


def test_unpaired_without_weights_says_what_is_missing(tmp_path):
    data = tmp_path / "data"
    for index in range(3):
        draw_shapes(data / "testA" / f"a{index}.png", (16, 16), index)
        draw_shapes(data / "testB" / f"b{index}.png", (16, 16), index)
    save_weights(tmp_path / "model", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1))}, image_size=16)
    completed = subprocess.run([PYTHON, "-m", "translate.cli.evaluate", "--model", str(tmp_path / "model"),
                                "--data", str(data)], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 2
    assert "need Inception-v3 weights: pass --inception-weights" in completed.stderr
    with pytest.raises(FileNotFoundError, match="inception_v3_google-0cc3c7bd.pth"):
        inception_features(tmp_path / "missing.pth")


@pytest.mark.slow
def test_inception_weights_file_is_loaded(tmp_path):
    import torchvision

    path = tmp_path / "inception_v3_google-0cc3c7bd.pth"
    torch.save(torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    features = inception_features(path)(torch.rand(2, 3, 40, 50) * 2 - 1)
    assert tuple(features.shape) == (2, 2048)
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="not a torchvision Inception-v3 state dict"):
        inception_features(wrong)
