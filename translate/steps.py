"""The loss computations of one CycleGAN step, as functions of the networks and a batch.

``G_AB`` translates A to B, ``G_BA`` B to A; ``D_A`` judges domain A and ``D_B`` domain B.
Names follow the field: ``fake_B = G_AB(real_A)``, ``rec_A = G_BA(fake_B)``, and the identity
image ``idt_A = G_BA(real_A)``, which should equal ``real_A``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from translate.config import TrainConfig
from translate.losses import discriminator_loss, gan_loss, l1_loss


@dataclass
class Translations:
    fake_A: torch.Tensor
    fake_B: torch.Tensor


def generator_losses(
    G_AB: nn.Module, G_BA: nn.Module, D_A: nn.Module, D_B: nn.Module,
    real_A: torch.Tensor, real_B: torch.Tensor, config: TrainConfig,
) -> tuple[dict[str, torch.Tensor], Translations]:
    """Translate both ways and return the generator loss terms (weighted) and the translations.

    The discriminators must be frozen by the caller; they only pass gradients to their inputs.
    """
    n = real_A.shape[0]
    use_identity = config.lambda_identity > 0

    # Identity inputs share a batch with the translations, since instance norm treats each
    # image on its own and one larger batch runs faster.
    if use_identity:
        fake_B, idt_B = G_AB(torch.cat([real_A, real_B])).split(n)
        fake_A, idt_A = G_BA(torch.cat([real_B, real_A])).split(n)
    else:
        fake_B, fake_A = G_AB(real_A), G_BA(real_B)
    rec_A = G_BA(fake_B)
    rec_B = G_AB(fake_A)

    losses = {
        "G_adv_AB": gan_loss(D_B(fake_B), True, config.gan_mode),
        "G_adv_BA": gan_loss(D_A(fake_A), True, config.gan_mode),
        "cycle_A": l1_loss(rec_A, real_A) * config.lambda_cycle,
        "cycle_B": l1_loss(rec_B, real_B) * config.lambda_cycle,
    }
    if use_identity:
        weight = config.lambda_identity * config.lambda_cycle
        losses["identity_A"] = l1_loss(idt_A, real_A) * weight
        losses["identity_B"] = l1_loss(idt_B, real_B) * weight
    return losses, Translations(fake_A=fake_A, fake_B=fake_B)


def discriminator_losses(
    D_A: nn.Module, D_B: nn.Module, real_A: torch.Tensor, real_B: torch.Tensor,
    pooled_A: torch.Tensor, pooled_B: torch.Tensor, config: TrainConfig,
) -> dict[str, torch.Tensor]:
    """Return each discriminator's halved loss on real images and pooled generated images.

    Real and generated images go through the discriminator as one batch, which instance norm
    allows because it normalises each image on its own.
    """
    n = real_A.shape[0]
    scores_A = D_A(torch.cat([real_A, pooled_A]))
    scores_B = D_B(torch.cat([real_B, pooled_B]))
    return {
        "D_A": discriminator_loss(*scores_A.split(n), config.gan_mode),
        "D_B": discriminator_loss(*scores_B.split(n), config.gan_mode),
    }
