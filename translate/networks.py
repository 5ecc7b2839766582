"""CycleGAN generator and discriminator, laid out like the official PyTorch release.

Parameter names mirror the released ``*_net_G.pth`` files (``model.1.weight``,
``model.10.conv_block.5.weight``, ...), so an official state dict loads with strict checking
once its leftovers are removed (see ``translate.official``). The price is that layers live in
``nn.Sequential`` containers addressed by index; the comments below give each index its role.

Direction convention, used everywhere in this package: ``G_AB`` translates domain A to domain B,
``G_BA`` translates B to A, ``D_A`` judges whether an image belongs to domain A and ``D_B``
whether it belongs to domain B.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class GeneratorConfig:
    """Architecture of a ResNet generator; stored with every checkpoint and weights folder."""

    in_channels: int = 3
    out_channels: int = 3
    ngf: int = 64
    n_blocks: int = 9
    use_dropout: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "ngf"):
            if getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.n_blocks < 0:
            raise ValueError(f"GeneratorConfig.n_blocks must be 0 or more, got {self.n_blocks}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DiscriminatorConfig:
    """Architecture of a PatchGAN discriminator."""

    in_channels: int = 3
    ndf: int = 64
    n_layers: int = 3

    def __post_init__(self) -> None:
        if self.ndf < 1 or self.in_channels < 1:
            raise ValueError(f"DiscriminatorConfig needs ndf and in_channels of at least 1, got {self}")
        if self.n_layers < 1:
            raise ValueError(f"DiscriminatorConfig.n_layers must be at least 1, got {self.n_layers}")

    def to_dict(self) -> dict:
        return asdict(self)


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    # No affine parameters and no running statistics, as in the official release: every image
    # is normalised by its own statistics at training and at test time alike.
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Residual block: two 3x3 convolutions with reflection padding and instance norm.

    ``conv_block`` indices: 0 pad, 1 conv, 2 norm, 3 ReLU, [4 dropout], then pad, conv, norm.
    The second convolution is therefore ``conv_block.5`` without dropout and ``conv_block.6``
    with it, matching both kinds of official checkpoint.
    """

    def __init__(self, channels: int, *, use_dropout: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=True),
            _instance_norm(channels),
            nn.ReLU(inplace=True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=True),
            _instance_norm(channels),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """ResNet image-to-image generator (Johnson et al. 2016, as used by CycleGAN).

    Maps ``[N, in_channels, H, W]`` in [-1, 1] to ``[N, out_channels, H, W]`` in [-1, 1].
    H and W must be multiples of 4 (two stride-2 downsamplings); ``translate.inference``
    pads other sizes.

    ``model`` indices for the default 9 blocks: 1 stem conv 7x7, 4 and 7 stride-2 convs,
    10-18 residual blocks, 19 and 22 transposed convs, 26 output conv 7x7. With ``n_blocks``
    blocks the later indices shift by ``n_blocks - 9``.
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        ngf = self.config.ngf

        # Stem: 7x7 convolution at full resolution.
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(self.config.in_channels, ngf, kernel_size=7, bias=True),
            _instance_norm(ngf),
            nn.ReLU(inplace=True),
        ]

        # Two stride-2 downsamplings: ngf -> 2 ngf -> 4 ngf channels, H/4 x W/4.
        for factor in (1, 2):
            layers += [
                nn.Conv2d(ngf * factor, ngf * factor * 2, kernel_size=3, stride=2, padding=1, bias=True),
                _instance_norm(ngf * factor * 2),
                nn.ReLU(inplace=True),
            ]

        for _ in range(self.config.n_blocks):
            layers.append(ResnetBlock(ngf * 4, use_dropout=self.config.use_dropout))

        # Two transposed-convolution upsamplings back to full resolution.
        for factor in (4, 2):
            layers += [
                nn.ConvTranspose2d(
                    ngf * factor, ngf * factor // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True
                ),
                _instance_norm(ngf * factor // 2),
                nn.ReLU(inplace=True),
            ]

        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, self.config.out_channels, kernel_size=7, bias=True),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: scores overlapping 70x70 patches as real or fake (default 3 layers).

    Returns raw scores (no sigmoid) of shape ``[N, 1, H', W']``; a 256x256 input gives 30x30.
    ``model`` indices for 3 layers: 0 stride-2 conv without norm, 2 and 5 stride-2 convs,
    8 stride-1 conv, 11 the one-channel output conv.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorConfig()
        ndf = self.config.ndf
        layers: list[nn.Module] = [
            nn.Conv2d(self.config.in_channels, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = ndf
        for n in range(1, self.config.n_layers):
            out = ndf * min(2**n, 8)
            layers += [
                nn.Conv2d(channels, out, kernel_size=4, stride=2, padding=1, bias=True),
                _instance_norm(out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = out
        out = ndf * min(2**self.config.n_layers, 8)
        layers += [
            nn.Conv2d(channels, out, kernel_size=4, stride=1, padding=1, bias=True),
            _instance_norm(out),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(out, 1, kernel_size=4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@torch.no_grad()
def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Draw every convolution weight from N(0, std) and zero its bias, the CycleGAN initialisation."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
