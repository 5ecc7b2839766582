"""MAC counting against hand-computed figures."""

from __future__ import annotations

import torch

from translate.flops import count_macs
from translate.networks import GeneratorConfig, ResnetGenerator


def test_single_convolution():
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
    assert count_macs(conv, 10, 12, channels=3) == 8 * 10 * 12 * 3 * 3 * 3


def test_transposed_convolution():
    layer = torch.nn.ConvTranspose2d(8, 4, kernel_size=3, stride=2, padding=1, output_padding=1)
    # Every input pixel is multiplied into a 3x3 footprint of every output channel.
    assert count_macs(layer, 5, 6, channels=8) == 5 * 6 * 8 * 4 * 9


def test_resnet9_at_256():
    # GAN Compression (Li et al., CVPR 2020) quotes 56.8G MACs for this generator at 256x256. That
    # figure counts each transposed convolution like a dense convolution over its output grid
    # (4 times its true cost). Counted by the multiplications actually done, it is 7.2G less.
    macs = count_macs(ResnetGenerator(GeneratorConfig()), 256, 256)
    assert 49.5e9 < macs < 49.6e9


def test_macs_scale_with_pixels_and_width():
    small = ResnetGenerator(GeneratorConfig(ngf=16, n_blocks=3))
    assert count_macs(small, 128, 128) == 4 * count_macs(small, 64, 64)
