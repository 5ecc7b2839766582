"""Translating images with a trained generator: the ``Translator`` Python API.

The output always has the input's exact width and height. By default the network runs at the
scale the model was trained at, ``image_size`` in its ``config.json``. The input is resized to
that shorter side with its aspect ratio kept, translated, and resized back.
``full_resolution=True`` runs the network on the input's own pixels instead. Either way the
image is reflect-padded to a multiple of 4 and cropped back, never stretched.

Precision: in bf16 (the default where the CPU or GPU runs it natively) or fp16, the network runs
on a low-precision copy of the weights. That saves the cast of every activation and weight at
every layer that autocast makes (about 15% of the time on a 2-core CPU). When the copy differs
from fp32 by more than half a level on a probe image, the layers up to the first residual block
run in fp32 instead, where that removes at least a quarter of the difference. They hold about 6%
of the work, but a rounding error there is carried through every residual block: keeping them
exact brings a random-weight ResNet-9 from 1.2 to 0.7 levels of mean absolute difference to fp32
at 512x512. ``scripts/benchmark.py`` measures both speed and faithfulness.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from translate.image_io import DEFAULT_LIMITS, ImageLimits, open_image, split_alpha, to_pil, to_tensor
from translate.models import resolve_model
from translate.networks import ResnetBlock, ResnetGenerator
from translate.weights import ModelInfo, load_generator

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TILING_MODES = ("auto", "always", "never")
# --mirror-average of the command-line tools, as the Translator's mirror_average argument.
MIRROR_AVERAGE_CHOICES = {"auto": None, "on": True, "off": False}
MIRROR_AVERAGE_HELP = ("average each translation with that of the mirror image, at twice the cost (auto: as the "
                       "model's config.json says; the best emoji model does)")


def pad_to_multiple(
    batch: torch.Tensor, multiple: int = 4, minimum: int = 8
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``[N, C, H, W]`` on the bottom and right to multiples of ``multiple``; return it and the old size.

    Sides are padded to at least ``minimum`` pixels, because instance norm needs more than one
    value per channel at the generator's H/4 x W/4 bottleneck. Reflection padding needs the pad
    to be smaller than the side, so tiny images are padded by repeating their edge pixels instead.
    """
    height, width = batch.shape[-2:]
    pad_h = max(minimum, height + (-height) % multiple) - height
    pad_w = max(minimum, width + (-width) % multiple) - width
    if pad_h == 0 and pad_w == 0:
        return batch, (height, width)
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(batch, (0, pad_w, 0, pad_h), mode=mode), (height, width)


def run_generator(generator: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Run ``generator`` on ``[N, C, H, W]`` of any size, padding to a multiple of 4 and cropping back."""
    if isinstance(generator, MirrorAveraged):
        return generator(batch)  # it pads each orientation on its own right side
    padded, (height, width) = pad_to_multiple(batch)
    return generator(padded)[..., :height, :width]


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """Return the low-precision dtype for a precision name, or ``None`` for plain fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    # auto: bf16 where the hardware runs it natively, else fp32 on CPU and fp16 on older GPUs.
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Return whether this CPU has bf16 instructions (AVX-512 BF16 or AMX). Elsewhere bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class ChannelsLastConv(torch.nn.Module):
    """Run a convolution in channels-last memory format; for the output layer with its few channels.

    oneDNN's bf16 kernels for a 7x7 convolution to 3 channels run 1.2-1.5x faster on channels-last
    input (measured on a 2-core AVX-512 BF16 CPU; the whole network is faster in the default layout).
    In fp32 the gain is larger: 21.6 ms against 50.5 ms for the ngf 12 student's output layer at
    512x512, conversions included, on a 2-core AMD EPYC without AVX-512.
    """

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.contiguous(memory_format=torch.channels_last)).contiguous()


class MixedPrecisionGenerator(torch.nn.Module):
    """A generator whose first ``exact_layers`` layers run in fp32 and the rest in ``dtype``.

    ``exact_layers`` defaults to the layers before the first residual block. The fp32 layers are
    the generator's own modules (shared, not copied), and the later layers are a copy cast to
    ``dtype``, whose output convolution runs in channels-last. Input and output are float32. Load
    new weights by building a new wrapper. With ``dtype`` float32 nothing is copied: the wrapper is
    then the generator with its output convolution in channels-last, which the ``Translator`` runs
    on CPUs in fp32.
    """

    def __init__(self, generator: ResnetGenerator, dtype: torch.dtype, exact_layers: int | None = None) -> None:
        super().__init__()
        layers = list(generator.model)
        if exact_layers is None:
            exact_layers = next((i for i, layer in enumerate(layers) if isinstance(layer, ResnetBlock)), None)
        if exact_layers is None:  # no residual blocks: the stem and downsampling, up to the first upsampling
            exact_layers = next(i for i, layer in enumerate(layers) if isinstance(layer, torch.nn.ConvTranspose2d))
        self.config = generator.config
        self.dtype = dtype
        self.exact = torch.nn.Sequential(*layers[:exact_layers])
        later = torch.nn.Sequential(*layers[exact_layers:])
        self.fast = later if dtype == torch.float32 else copy.deepcopy(later).to(dtype)
        for index, layer in enumerate(self.fast):
            if isinstance(layer, torch.nn.Conv2d) and layer.out_channels <= 4:
                self.fast[index] = ChannelsLastConv(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fast(self.exact(x.float()).to(self.dtype)).float()


class MirrorAveraged(torch.nn.Module):
    """Average a network's translation of an image with its translation of the mirror image, mirrored back.

    A CycleGAN generator does not commute with a left-right flip: the emoji model's translation
    of a mirrored emoji, mirrored back, is only 23.7 dB (Noto to Twemoji) and 22.8 dB (back)
    PSNR from its translation of the emoji. The average of the two is closer to the true
    counterparts (see ``weights/emoji/README.md``) and mirror-symmetric, which makes it easier
    for a distilled student to copy. Each orientation is padded to a multiple of 4 on its own
    right side, so the two see the same pixel grid and the average is symmetric at any width.
    The two passes run one after the other, so memory stays that of one pass, and tiling's
    recorded norm statistics are replayed in the same order.
    """

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    @property
    def config(self):
        return self.network.config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (run_generator(self.network, x) + run_generator(self.network, x.flip(-1)).flip(-1)) / 2


# Mean absolute difference to fp32 on the probe image, in levels of 255, up to which a generator
# runs entirely in low precision. Above it the first layers stay in fp32. Half of the 1-level
# budget, because the difference on photos is somewhat larger than on the probe (an estimate
# from scripts/benchmark.py: 0.69 levels at 256x256 and 0.72 at 1024x1024 for the same network).
PROBE_TOLERANCE_LEVELS = 0.5
# Share of that difference the fp32 first layers must remove to be worth their time: they make
# the distilled emoji model 14-18% slower at 512x512 on a 2-core CPU.
EXACT_LAYERS_MIN_GAIN = 0.25


def dtype_name(dtype: torch.dtype | None) -> str:
    """Return the precision name (``fp32``, ``bf16``, ``fp16``) of a low-precision dtype or ``None``."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def probe_image(channels: int, size: int = 128) -> torch.Tensor:
    """Return a fixed ``[1, channels, size, size]`` test image in [-1, 1]: gradients, a wave and grain."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    planes = torch.stack([x, y, torch.sin(6 * x + 4 * y)])
    grain = torch.randn((channels, size, size), generator=torch.Generator().manual_seed(0)) * 0.1
    return (0.8 * planes[torch.arange(channels) % 3] + grain).clamp(-1, 1)[None]


def low_precision_network(generator: ResnetGenerator, dtype: torch.dtype) -> MixedPrecisionGenerator:
    """Return the fastest low-precision form of ``generator`` that stays faithful on the probe image.

    The whole network runs in ``dtype`` when its output on ``probe_image`` is within
    ``PROBE_TOLERANCE_LEVELS`` of fp32. Otherwise the layers before the first residual block stay
    in fp32, provided that cuts the deviation by at least ``EXACT_LAYERS_MIN_GAIN``: a
    random-weight ResNet-9 deviates 1.2 levels in plain bf16 and 0.7 with those layers exact.
    Where they gain less, they would cost time for little gain. The shipped models measure 0.20
    to 0.40 levels and all run entirely in bf16. The check costs one fp32 and up to two
    low-precision passes at 128x128 when the network is built.
    """
    device = next(generator.parameters()).device
    probe = probe_image(generator.config.in_channels).to(device)
    whole = MixedPrecisionGenerator(generator, dtype, exact_layers=0).eval()
    with torch.inference_mode():
        exact = generator(probe)
        deviation = float((whole(probe) - exact).abs().mean() * 127.5)
        if deviation <= PROBE_TOLERANCE_LEVELS:
            return whole
        mixed = MixedPrecisionGenerator(generator, dtype).eval()
        mixed_deviation = float((mixed(probe) - exact).abs().mean() * 127.5)
    if mixed_deviation > deviation * (1 - EXACT_LAYERS_MIN_GAIN):
        logger.info("%s differs from fp32 by %.2f levels on the probe image, and by %.2f with its first layers in "
                    "fp32; running it all in %s", dtype_name(dtype), deviation, mixed_deviation, dtype_name(dtype))
        return whole
    logger.info("%s differs from fp32 by %.2f levels on the probe image; keeping its first layers in fp32 "
                "(%.2f levels)", dtype_name(dtype), deviation, mixed_deviation)
    return mixed


def inference_network(generator: ResnetGenerator, dtype: torch.dtype | None) -> torch.nn.Module:
    """Return the module that runs ``generator`` in ``dtype`` (``None``: fp32), as the ``Translator`` does.

    In low precision that is ``low_precision_network``. In fp32 on a CPU it is the generator with
    its output convolution in channels-last (the distilled emoji model runs 1.16x faster), and on
    other devices the generator itself.
    """
    if dtype is not None:
        return low_precision_network(generator, dtype)
    if next(generator.parameters()).device.type == "cpu":
        return MixedPrecisionGenerator(generator, torch.float32, exact_layers=0).eval()
    return generator


class Translator:
    """Translate images with one direction of a model.

    ``weights`` is anything ``--model`` accepts: a weights folder, an official ``.pth`` file,
    a shipped or official pretrained model name, or a Hugging Face Hub id.

    >>> translator = Translator("weights/emoji", direction="AtoB")
    >>> result = translator("photo.png")   # PIL image, same size as the input, alpha kept

    ``precision`` is ``auto`` (bf16 where the hardware supports it natively, fp16 on GPUs without
    bf16, else fp32), ``fp32`` (exact), ``bf16`` or ``fp16``; see the module docstring for how the
    low precisions are applied.

    ``mirror_average`` averages the translations of the image and of its mirror image, in two
    passes (see ``MirrorAveraged``). ``None`` takes the model's own setting, ``mirror_average``
    in its ``config.json``; the shipped best emoji model has it on.
    """

    def __init__(
        self,
        weights: str | Path,
        direction: str = "AtoB",
        *,
        device: str | torch.device | None = None,
        precision: str = "auto",
        full_resolution: bool = False,
        tiling: str = "auto",
        tile_size: int | None = None,
        tile_overlap: int | None = None,
        thumbnail_size: int = 1024,
        limits: ImageLimits = DEFAULT_LIMITS,
        mirror_average: bool | None = None,
    ) -> None:
        if tiling not in TILING_MODES:
            raise ValueError(f"Unknown tiling mode {tiling!r}; choose one of {', '.join(TILING_MODES)}")
        self.device = torch.device(device) if device is not None else _default_device()
        generator, info = load_generator(resolve_model(weights), direction)
        self.generator: ResnetGenerator = generator.to(self.device).eval()
        self.info: ModelInfo = info
        self.direction = direction
        self.low_precision = resolve_precision(precision, self.device)
        if self.low_precision is torch.bfloat16 and self.device.type == "cpu" and not cpu_has_native_bf16():
            logger.warning("This CPU has no native bf16 (neither AVX-512 BF16 nor AMX), so --precision bf16 is "
                           "emulated and several times slower than fp32 here. Use --precision auto or fp32.")
        if mirror_average is not None and not isinstance(mirror_average, bool):
            raise TypeError(f"mirror_average must be True, False or None (the model's setting), got {mirror_average!r}")
        self.single_pass: torch.nn.Module = inference_network(self.generator, self.low_precision)
        if mirror_average is None:
            mirror_average = info.mirror_average
        self.network: torch.nn.Module = MirrorAveraged(self.single_pass) if mirror_average else self.single_pass
        self.full_resolution = full_resolution
        self.tiling = tiling
        self.limits = limits
        self._tiling_lock = threading.Lock()
        from translate.tiling import plan_tiles

        self.tile_plan = plan_tiles(
            info.generator.ngf, tile=tile_size, overlap=tile_overlap, thumbnail_size=thumbnail_size
        )

    @property
    def description(self) -> str:
        return self.info.describe(self.direction)

    @property
    def mirror_average(self) -> bool:
        """Whether each translation is averaged with that of the mirror image, fixed when the Translator is built."""
        return isinstance(self.network, MirrorAveraged)

    @property
    def precision_name(self) -> str:
        return dtype_name(self.low_precision)

    @property
    def precision_description(self) -> str:
        """The precision as it runs, for example ``bf16`` or ``bf16, first 10 layers fp32``."""
        exact_layers = len(getattr(self.single_pass, "exact", ()))
        if self.low_precision is None or not exact_layers:
            return self.precision_name
        return f"{self.precision_name}, first {exact_layers} layers fp32"

    @torch.inference_mode()
    def translate_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """Translate ``[N, C, H, W]`` in [-1, 1] in one pass at its own resolution; returns float32 on the CPU."""
        output = run_generator(self.network, batch.to(self.device))
        return output.float().cpu()

    def uses_tiles(self, height: int, width: int) -> bool:
        if self.tiling == "never":
            return False
        if self.tiling == "always":
            return True
        return height * width > self.tile_plan.tile**2

    def run(self, batch: torch.Tensor) -> torch.Tensor:
        """Translate ``[N, C, H, W]``, in tiles when the images are larger than one tile (``tiling="auto"``)."""
        if not self.uses_tiles(*batch.shape[-2:]):
            return self.translate_tensor(batch)
        from translate.tiling import translate_tiled

        # Tiling patches the generator's norm layers for the duration of a call, so calls that share
        # this Translator (app requests, converter threads) take turns.
        with self._tiling_lock:
            return torch.cat([
                translate_tiled(self.network, item[None], self.tile_plan)
                for item in batch
            ])

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        """Return the (width, height) the network runs at for an input of that size."""
        if self.full_resolution:
            return width, height
        scale = self.info.image_size / min(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def prepare(self, image: str | Path | Image.Image | np.ndarray) -> PreparedImage:
        """Decode an image and bring it to the working size, with its alpha set aside."""
        picture = open_image(image, limits=self.limits)
        rgb, alpha = split_alpha(picture)
        if self.generator.config.in_channels == 1:
            rgb = rgb.convert("L")
        width, height = rgb.size
        work_width, work_height = self.working_size(width, height)
        if (work_width, work_height) != (width, height):
            rgb = rgb.resize((work_width, work_height), Image.Resampling.LANCZOS)
        return PreparedImage(to_tensor(rgb), (width, height), alpha, picture.getexif(),
                             int(picture.info.get("frames", 1)))

    def finish(self, output: torch.Tensor, prepared: PreparedImage) -> Image.Image:
        """Turn a translated ``[C, h, w]`` tensor back into an image of the input's size, alpha restored."""
        result = to_pil(output)
        if result.size != prepared.size:
            result = result.resize(prepared.size, Image.Resampling.LANCZOS)
        if prepared.alpha is not None:
            result = result.convert("RGBA" if result.mode == "RGB" else "LA")
            result.putalpha(prepared.alpha)
        return result

    def __call__(self, image: str | Path | Image.Image | np.ndarray) -> Image.Image:
        return self.translate(image)

    def translate(self, image: str | Path | Image.Image | np.ndarray) -> Image.Image:
        """Translate a path, PIL image or uint8 array; returns a PIL image of the input's size.

        The EXIF orientation is applied first. An alpha channel is set aside, the colour is
        translated, and the alpha is put back unchanged.
        """
        prepared = self.prepare(image)
        return self.finish(self.run(prepared.tensor[None])[0], prepared)


@dataclass
class PreparedImage:
    """An image ready for the network: ``tensor`` ``[C, h, w]`` at the working size, plus what ``finish`` needs."""

    tensor: torch.Tensor
    size: tuple[int, int]  # the input's (width, height)
    alpha: Image.Image | None
    exif: Image.Exif | None = None
    frames: int = 1  # frames in the source file; only the first is in ``tensor``


def _default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
