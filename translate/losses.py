"""CycleGAN losses and the history pool of generated images."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gan_loss(scores: torch.Tensor, target_is_real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Adversarial loss of discriminator scores against an all-real or all-fake target.

    ``lsgan`` is the least-squares loss CycleGAN uses, ``vanilla`` the binary cross-entropy of
    the original GAN (on raw scores, since the discriminator has no sigmoid).
    """
    scores = scores.float()
    target = torch.ones_like(scores) if target_is_real else torch.zeros_like(scores)
    if mode == "lsgan":
        return F.mse_loss(scores, target)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(scores, target)
    raise ValueError(f"Unknown gan_mode {mode!r}; use 'lsgan' or 'vanilla'")


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, mode: str = "lsgan") -> torch.Tensor:
    """Half the sum of the real and fake terms, which slows D relative to G as in the published recipe."""
    return 0.5 * (gan_loss(real_scores, True, mode) + gan_loss(fake_scores, False, mode))


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output.float(), target.float())


class ImagePool:
    """History of generated images fed to a discriminator (Shrivastava et al. 2017).

    While not full, each query stores the new images and returns them. Once full, each image is
    returned as is with probability 1/2, or else swapped with a random stored image, which is
    returned instead. Randomness comes from the pool's own generator, so its state is saved
    and restored with the pool.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"ImagePool size must be 0 or more, got {size}")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()
        returned = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                returned.append(image)
                continue
            if torch.rand((), generator=self.generator).item() < 0.5:
                returned.append(image)
                continue
            index = int(torch.randint(len(self.images), (), generator=self.generator))
            returned.append(self.images[index].clone())
            self.images[index] = image.clone()
        return torch.stack(returned)

    def state_dict(self) -> dict:
        stored = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [image.to(device) for image in state["images"]] if state["images"].numel() else []
        self.generator.set_state(state["generator"])
