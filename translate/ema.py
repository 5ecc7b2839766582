"""Exponential moving average of a network's weights, used for samples, evaluation and export."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keep ``module`` as a moving average of another network's parameters.

    The decay ramps up as ``min(decay, (1 + step) / (10 + step))``, so the average follows the
    network closely in the first steps instead of staying near the random initialisation.
    """

    def __init__(self, network: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(network).eval().requires_grad_(False)

    def to(self, device: torch.device | str) -> EMA:
        self.module.to(device)
        return self

    @torch.no_grad()
    def update(self, network: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        averaged = list(self.module.parameters())
        current = [p.detach().to(a.dtype) for p, a in zip(network.parameters(), averaged, strict=True)]
        torch._foreach_lerp_(averaged, current, 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state, strict=True)
