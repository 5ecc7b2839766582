"""Unpaired image-to-image translation with CycleGAN: training, conversion and a web app."""

__version__ = "0.1.0"

from translate.config import TrainConfig
from translate.inference import Translator
from translate.networks import DiscriminatorConfig, GeneratorConfig, PatchDiscriminator, ResnetGenerator
from translate.official import load_official_generator
from translate.weights import load_generator, save_weights

__all__ = [
    "DiscriminatorConfig",
    "GeneratorConfig",
    "PatchDiscriminator",
    "ResnetGenerator",
    "TrainConfig",
    "Translator",
    "__version__",
    "load_generator",
    "load_official_generator",
    "save_weights",
]
