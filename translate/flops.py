"""Counting multiply-accumulates (MACs) of convolutional generators with forward hooks."""

from __future__ import annotations

import torch
from torch import nn


def count_macs(model: nn.Module, height: int, width: int, channels: int | None = None) -> int:
    """Multiply-accumulates of one forward pass on a ``channels x height x width`` image.

    Counts convolutions and transposed convolutions, which are nearly all of a ResNet
    generator's work; normalisation, activations and padding are left out.
    """
    if channels is None:
        channels = getattr(getattr(model, "config", None), "in_channels", 3)
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * (module.in_channels // module.groups)
        total += output.numel() * kernel

    def transposed_hook(module: nn.ConvTranspose2d, inputs, output) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * (module.out_channels // module.groups)
        total += inputs[0].numel() * kernel

    handles = []
    for module in model.modules():
        if isinstance(module, nn.ConvTranspose2d):
            handles.append(module.register_forward_hook(transposed_hook))
        elif isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, height, width, device=next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    return total
