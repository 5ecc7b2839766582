"""Generator and discriminator layout, and loading state dicts in the official release's layout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from translate.inference import run_generator
from translate.networks import (
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    ResnetGenerator,
    count_parameters,
)
from translate.official import clean_state_dict, infer_generator_config, load_official_generator

OFFICIAL_GENERATOR_KEYS = (
    ["model.1", "model.4", "model.7"]
    + [f"model.{i}.conv_block.{j}" for i in range(10, 19) for j in (1, 5)]
    + ["model.19", "model.22", "model.26"]
)


def official_forward(state: dict[str, torch.Tensor], x: torch.Tensor, n_blocks: int, conv2: int = 5) -> torch.Tensor:
    """The official ResNet generator written as plain functional calls on its state dict keys.

    Independent of ``ResnetGenerator``: if a key were wired to the wrong layer, outputs would differ.
    """

    def conv(h, key, **kwargs):
        return F.conv2d(h, state[f"{key}.weight"], state[f"{key}.bias"], **kwargs)

    def norm(h):
        return F.instance_norm(h, eps=1e-5)

    h = F.relu(norm(conv(F.pad(x, (3, 3, 3, 3), mode="reflect"), "model.1")))
    h = F.relu(norm(conv(h, "model.4", stride=2, padding=1)))
    h = F.relu(norm(conv(h, "model.7", stride=2, padding=1)))
    for block in range(10, 10 + n_blocks):
        r = F.relu(norm(conv(F.pad(h, (1, 1, 1, 1), mode="reflect"), f"model.{block}.conv_block.1")))
        r = norm(conv(F.pad(r, (1, 1, 1, 1), mode="reflect"), f"model.{block}.conv_block.{conv2}"))
        h = h + r
    up = 10 + n_blocks
    for key in (f"model.{up}", f"model.{up + 3}"):
        h = F.conv_transpose2d(h, state[f"{key}.weight"], state[f"{key}.bias"], stride=2, padding=1, output_padding=1)
        h = F.relu(norm(h))
    h = conv(F.pad(h, (3, 3, 3, 3), mode="reflect"), f"model.{up + 7}")
    return torch.tanh(h)


def randomised(generator: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Give every parameter random values (biases included), so a miswired key cannot go unnoticed."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.05)
    return {k: v.clone() for k, v in generator.state_dict().items()}


def test_generator_keys_match_official_layout():
    generator = ResnetGenerator()
    expected = sorted(f"{name}.{kind}" for name in OFFICIAL_GENERATOR_KEYS for kind in ("weight", "bias"))
    assert sorted(generator.state_dict()) == expected
    assert len(expected) == 48
    assert count_parameters(generator) == 11_378_179


def test_generator_transposed_conv_shapes():
    state = ResnetGenerator().state_dict()
    assert tuple(state["model.19.weight"].shape) == (256, 128, 3, 3)
    assert tuple(state["model.22.weight"].shape) == (128, 64, 3, 3)
    assert tuple(state["model.1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["model.26.weight"].shape) == (3, 64, 7, 7)


def test_generator_initialisation():
    generator = ResnetGenerator()
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, torch.nn.Conv2d)])
    biases = torch.cat([m.bias.flatten() for m in generator.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.001
    assert abs(weights.mean().item()) < 0.001
    assert torch.count_nonzero(biases) == 0


def test_instance_norm_has_no_parameters_or_buffers():
    generator = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms
    assert all(not m.affine and not m.track_running_stats for m in norms)
    assert list(generator.buffers()) == []


def test_discriminator_keys_and_patch_output():
    discriminator = PatchDiscriminator()
    keys = sorted(discriminator.state_dict())
    assert keys == sorted(f"model.{i}.{kind}" for i in (0, 2, 5, 8, 11) for kind in ("weight", "bias"))
    with torch.no_grad():
        scores = discriminator(torch.zeros(1, 3, 256, 256))
    assert tuple(scores.shape) == (1, 1, 30, 30)


def test_discriminator_has_no_sigmoid():
    discriminator = PatchDiscriminator(DiscriminatorConfig(ndf=8))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in discriminator.modules())


@pytest.mark.parametrize("size", [(257, 333), (64, 64), (5, 7), (1, 1)])
def test_output_size_equals_input_size(size):
    generator = ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1)).eval()
    with torch.no_grad():
        output = run_generator(generator, torch.rand(1, 3, *size) * 2 - 1)
    assert tuple(output.shape) == (1, 3, *size)
    assert output.abs().max() <= 1.0


def test_default_generator_matches_functional_reference():
    generator = ResnetGenerator().eval()
    state = randomised(generator)
    x = torch.rand(1, 3, 32, 36) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(generator(x), official_forward(state, x, n_blocks=9), atol=1e-5)


def official_layout_file(tmp_path, state: dict[str, torch.Tensor], *, prefix: str = "module.", nested: bool = False):
    """Save a state dict the way released files look: stale norm buffers, a wrapper prefix, maybe nested."""
    dirty = {}
    for key, value in state.items():
        dirty[prefix + key] = value
        if key.endswith(".bias") and ".conv_block." in key:
            base = prefix + key[: -len("bias")]
            dirty[base.replace("conv_block.1.", "conv_block.2.") + "running_mean"] = torch.zeros(value.shape[0])
            dirty[base.replace("conv_block.1.", "conv_block.2.") + "running_var"] = torch.ones(value.shape[0])
            dirty[base.replace("conv_block.1.", "conv_block.2.") + "num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({"state_dict": dirty} if nested else dirty, path)
    return path


def test_official_state_dict_loads_strictly_and_reproduces_output(tmp_path):
    source = ResnetGenerator().eval()
    state = randomised(source, seed=1)
    path = official_layout_file(tmp_path, state)
    loaded = load_official_generator(path).eval()
    assert loaded.config == GeneratorConfig()
    x = torch.rand(2, 3, 40, 44) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
        assert torch.allclose(loaded(x), official_forward(state, x, n_blocks=9), atol=1e-5)


@pytest.mark.parametrize(
    ("config", "conv2"),
    [
        (GeneratorConfig(ngf=8, n_blocks=6), 5),
        (GeneratorConfig(ngf=8, n_blocks=3, use_dropout=True), 6),
        (GeneratorConfig(in_channels=1, out_channels=1, ngf=8, n_blocks=2), 5),
    ],
)
def test_official_variants_are_inferred(tmp_path, config, conv2):
    source = ResnetGenerator(config).eval()
    state = randomised(source, seed=2)
    path = official_layout_file(tmp_path, state, prefix="_orig_mod.", nested=True)
    loaded = load_official_generator(path).eval()
    assert loaded.config == config
    x = torch.rand(1, config.in_channels, 24, 28) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(x), official_forward(state, x, config.n_blocks, conv2), atol=1e-5)


def test_clean_state_dict_drops_buffers_and_prefixes():
    state = {
        "module.model.1.weight": torch.zeros(1),
        "module._orig_mod.model.2.running_mean": torch.zeros(1),
        "model.2.num_batches_tracked": torch.tensor(0),
    }
    assert list(clean_state_dict(state)) == ["model.1.weight"]


def test_mismatched_config_names_the_keys(tmp_path):
    state = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=2)).state_dict()
    with pytest.raises(ValueError, match=r"Missing: \['model\.12"):
        load_official_generator(state, GeneratorConfig(ngf=8, n_blocks=4))


def test_not_a_generator_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="missing key 'model.1.weight'"):
        infer_generator_config({"conv.weight": torch.zeros(1)})
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="garbage.pth: cannot be read"):
        load_official_generator(path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_official_generator(tmp_path / "missing.pth")
