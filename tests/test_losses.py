"""Loss terms and the image history pool."""

from __future__ import annotations

import pytest
import torch

from translate.losses import ImagePool, discriminator_loss, gan_loss, l1_loss


def test_lsgan_loss_is_mean_squared_error_to_target():
    scores = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    assert gan_loss(scores, True).item() == pytest.approx(((scores - 1) ** 2).mean().item())
    assert gan_loss(scores, False).item() == pytest.approx((scores**2).mean().item())


def test_vanilla_loss_is_binary_cross_entropy_on_logits():
    scores = torch.zeros(3)
    assert gan_loss(scores, True, "vanilla").item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_unknown_gan_mode_is_rejected():
    with pytest.raises(ValueError, match="wgan"):
        gan_loss(torch.zeros(1), True, "wgan")


def test_discriminator_loss_is_halved():
    real, fake = torch.full((2, 1, 4, 4), 0.5), torch.full((2, 1, 4, 4), 0.5)
    assert discriminator_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.25))


def test_l1_loss_value():
    assert l1_loss(torch.ones(2, 3), torch.zeros(2, 3)).item() == pytest.approx(1.0)


def test_pool_returns_inputs_until_full():
    pool = ImagePool(3, seed=0)
    first = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 1, 2, 2)
    assert torch.equal(pool.query(first), first)
    assert len(pool) == 2
    second = first + 100
    assert torch.equal(pool.query(second), second)
    assert len(pool) == 3


def test_full_pool_mixes_history_and_new_images():
    pool = ImagePool(50, seed=0)
    history = torch.arange(50, dtype=torch.float32).reshape(50, 1, 1, 1)
    pool.query(history)
    new = -torch.arange(1, 41, dtype=torch.float32).reshape(40, 1, 1, 1)
    returned = pool.query(new).flatten()
    stored = torch.cat(pool.images).flatten()
    # Nothing is lost or duplicated: what went in is what came out plus what is stored.
    before = torch.cat([history.flatten(), new.flatten()]).sort().values
    assert torch.equal(torch.cat([returned, stored]).sort().values, before)
    swapped = int((returned >= 0).sum())
    # Each new image is swapped with probability 1/2.
    assert 8 <= swapped <= 32
    assert len(pool) == 50


def test_pool_size_zero_passes_through():
    pool = ImagePool(0)
    images = torch.randn(3, 3, 4, 4)
    assert torch.equal(pool.query(images), images)
    assert len(pool) == 0


def test_pool_state_round_trip_continues_identically():
    pool = ImagePool(4, seed=3)
    pool.query(torch.randn(4, 1, 2, 2))
    saved = pool.state_dict()
    restored = ImagePool(4, seed=99)
    restored.load_state_dict(saved)
    batch = torch.randn(6, 1, 2, 2)
    assert torch.equal(pool.query(batch), restored.query(batch))
