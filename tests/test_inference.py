"""The Translator API: sizes, orientation, alpha, input types, precision, and weights folders."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO, draw_shapes
from translate.image_io import ImageReadError, to_pil, to_uint8
from translate.inference import (
    PROBE_TOLERANCE_LEVELS,
    ChannelsLastConv,
    MixedPrecisionGenerator,
    Translator,
    cpu_has_native_bf16,
    low_precision_network,
    probe_image,
    resolve_precision,
    run_generator,
)
from translate.networks import GeneratorConfig, ResnetBlock, ResnetGenerator
from translate.weights import load_generator, read_model_info, save_weights


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=8, n_blocks=1)
    folder = tmp_path / "model"
    save_weights(folder, {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)},
                 domain_a="Horse", domain_b="Zebra", image_size=32, model_card="# test model\n")
    return folder


@pytest.mark.parametrize("size", [(333, 257), (31, 17), (32, 32), (1200, 40)])
def test_output_has_input_size(weights, tmp_path, size):
    path = tmp_path / "input.png"
    draw_shapes(path, size, 0)
    for full_resolution in (False, True):
        translator = Translator(weights, full_resolution=full_resolution, precision="fp32")
        assert translator(path).size == size


def test_model_scale_resizes_shorter_side(weights):
    translator = Translator(weights)
    assert translator.working_size(400, 200) == (64, 32)
    assert translator.working_size(200, 400) == (32, 64)
    assert Translator(weights, full_resolution=True).working_size(400, 200) == (400, 200)


def test_exif_orientation_is_applied(weights, tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.new("RGB", (60, 20), (200, 10, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(path, exif=exif.tobytes())
    assert Translator(weights)(path).size == (20, 60)


def test_alpha_channel_is_kept_exactly(weights):
    array = np.zeros((24, 30, 4), dtype=np.uint8)
    array[..., 0] = 200
    array[..., 3] = np.arange(30, dtype=np.uint8)[None, :] * 8
    result = Translator(weights)(Image.fromarray(array, "RGBA"))
    assert result.mode == "RGBA"
    assert np.array_equal(np.asarray(result)[..., 3], array[..., 3])


@pytest.mark.parametrize("mode", ["L", "P", "LA", "RGB", "CMYK"])
def test_image_modes(weights, tmp_path, mode):
    path = tmp_path / f"input_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    draw_shapes(path, (20, 14), 0, mode=mode)
    result = Translator(weights)(path)
    assert result.size == (20, 14)
    assert result.mode == ("RGBA" if mode == "LA" else "RGB")


def test_palette_with_transparency_keeps_alpha(weights):
    image = Image.new("P", (10, 10), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    result = Translator(weights)(image)
    assert result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 0
    assert result.getpixel((0, 0))[3] == 255


def test_numpy_input(weights):
    array = np.full((16, 12, 3), 128, dtype=np.uint8)
    assert Translator(weights)(array).size == (12, 16)
    with pytest.raises(ValueError, match="uint8"):
        Translator(weights)(np.full((4, 4, 3), 300, dtype=np.int32))


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    from translate.image_io import split_alpha

    array = np.full((4, 4), 32768, dtype=np.uint16)
    rgb, alpha = split_alpha(Image.fromarray(array))
    assert alpha is None
    assert rgb.getpixel((0, 0)) == (128, 128, 128)


def test_unreadable_file_names_the_file(weights, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("just text")
    with pytest.raises(ImageReadError, match="notes.png"):
        Translator(weights)(path)


def test_bf16_output_is_close_to_fp32(weights, tmp_path):
    path = tmp_path / "input.png"
    draw_shapes(path, (64, 48), 1)
    exact = np.asarray(Translator(weights, precision="fp32")(path), dtype=np.float64)
    fast = np.asarray(Translator(weights, precision="bf16")(path), dtype=np.float64)
    assert np.abs(exact - fast).mean() <= 1.5


def test_mixed_precision_keeps_the_first_layers_exact(tmp_path):
    torch.manual_seed(0)
    generator = ResnetGenerator(GeneratorConfig(ngf=16, n_blocks=3)).eval()
    save_weights(tmp_path / "m", {"AtoB": generator}, image_size=64)
    translator = Translator(tmp_path / "m", precision="bf16")
    network = translator.network
    assert isinstance(network, MixedPrecisionGenerator)
    # Stem and both downsamplings (10 layers) in fp32, shared with the generator; the rest in bf16.
    assert len(network.exact) == 10
    assert all(p.dtype == torch.float32 for p in network.exact.parameters())
    assert network.exact[1].weight.data_ptr() == translator.generator.model[1].weight.data_ptr()
    assert {p.dtype for p in network.fast.parameters()} == {torch.bfloat16}
    assert isinstance(network.fast[0], ResnetBlock)
    assert isinstance(network.fast[-2], ChannelsLastConv)  # the 3-channel output convolution
    assert sum(isinstance(layer, ChannelsLastConv) for layer in network.fast) == 1

    batch = torch.rand(2, 3, 96, 80) * 2 - 1
    with torch.no_grad():
        exact = generator(batch)
    output = translator.translate_tensor(batch)
    assert output.dtype == torch.float32
    assert output.shape == exact.shape
    mixed_levels = float((output - exact).abs().mean() * 127.5)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        autocast_levels = float((generator(batch).float() - exact).abs().mean() * 127.5)
    assert 0 < mixed_levels < 1.0
    assert mixed_levels < autocast_levels  # the exact first layers are what makes it closer

    assert Translator(tmp_path / "m", precision="fp32").network is not None
    assert Translator(tmp_path / "m", precision="fp32").precision_name == "fp32"
    assert translator.precision_name == "bf16"
    assert translator.precision_description == "bf16, first 10 layers fp32"
    assert Translator(REPO / "weights" / "emoji", precision="bf16").precision_description == "bf16"


def test_emulated_bf16_warning(tmp_path, caplog):
    save_weights(tmp_path / "m", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1))}, image_size=32)
    with caplog.at_level("WARNING", logger="translate.inference"):
        Translator(tmp_path / "m", precision="bf16", device="cpu")
    warned = "--precision bf16 is emulated and several times slower than fp32" in caplog.text
    assert warned == (not cpu_has_native_bf16())


def test_cpu_fp32_output_layer_channels_last(tmp_path):
    torch.manual_seed(0)
    generator = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=2)).eval()
    save_weights(tmp_path / "m", {"AtoB": generator}, image_size=64)
    translator = Translator(tmp_path / "m", precision="fp32", device="cpu")
    wrapped = [layer for layer in translator.network.modules() if isinstance(layer, ChannelsLastConv)]
    assert len(wrapped) == 1
    assert wrapped[0].conv.out_channels == 3
    # Nothing copied: the wrapper runs the generator's own parameters.
    shared = {id(p) for p in translator.generator.parameters()}
    assert {id(p) for p in translator.network.parameters()} == shared
    batch = torch.rand(2, 3, 40, 56) * 2 - 1
    with torch.no_grad():
        exact = run_generator(translator.generator, batch)
    output = translator.translate_tensor(batch)
    assert output.shape == (2, 3, 40, 56)
    assert torch.allclose(output, exact, atol=1e-5)
    assert translator.precision_description == "fp32"


def test_low_precision_form_follows_probe(monkeypatch):
    import translate.inference

    torch.manual_seed(0)
    wide = ResnetGenerator(GeneratorConfig(ngf=16, n_blocks=3)).eval()  # 0.71 levels in plain bf16, 0.36 mixed
    assert len(low_precision_network(wide, torch.bfloat16).exact) == 10
    # Where fp32 first layers would cut the deviation by less than the required part, the whole
    # network runs in bf16. Here they cut about half, short of a required 0.6.
    monkeypatch.setattr(translate.inference, "EXACT_LAYERS_MIN_GAIN", 0.6)
    assert len(low_precision_network(wide, torch.bfloat16).exact) == 0
    monkeypatch.undo()
    # The fast models measure 0.40 (AtoB) and 0.32 levels (BtoA) in plain bf16, within the
    # tolerance, so they run entirely in bf16.
    probe = probe_image(3)
    for direction in ("AtoB", "BtoA"):
        fast = load_generator(REPO / "weights" / "emoji-fast", direction)[0].float().eval()
        with torch.no_grad():
            plain = float((MixedPrecisionGenerator(fast, torch.bfloat16, exact_layers=0)(probe) - fast(probe))
                          .abs().mean())
        assert plain * 127.5 <= PROBE_TOLERANCE_LEVELS
        assert len(low_precision_network(fast, torch.bfloat16).exact) == 0
    shipped = load_generator(REPO / "weights" / "emoji", "AtoB")[0].eval()  # 0.21 levels in plain bf16
    network = low_precision_network(shipped, torch.bfloat16)
    assert len(network.exact) == 0
    assert {p.dtype for p in network.fast.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        assert float((network(probe) - shipped(probe)).abs().mean() * 127.5) <= PROBE_TOLERANCE_LEVELS
    assert probe_image(1).shape == (1, 1, 128, 128)
    assert torch.equal(probe_image(3), probe_image(3))


def test_mixed_precision_without_residual_blocks():
    generator = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=0)).eval()
    network = MixedPrecisionGenerator(generator, torch.bfloat16)
    assert isinstance(network.fast[0], torch.nn.ConvTranspose2d)
    batch = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert float((network(batch) - generator(batch)).abs().mean()) < 0.02


def test_precision_names():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="fp64"):
        resolve_precision("fp64", cpu)


def test_uint8_conversion_rounds_and_clips():
    tensor = torch.tensor([[[-2.0, -1.0, 0.0, 0.999, 1.5]]])
    assert to_uint8(tensor)[0, :, 0].tolist() == [0, 0, 128, 255, 255]
    assert to_pil(torch.zeros(1, 2, 2)).mode == "L"


def test_weights_folder_round_trip(weights):
    info = read_model_info(weights)
    assert info.describe("AtoB") == "Horse to Zebra"
    assert info.image_size == 32
    generator, _ = load_generator(weights, "BtoA")
    assert generator.config == GeneratorConfig(ngf=8, n_blocks=1)
    assert (weights / "README.md").read_text() == "# test model\n"


def test_weights_folder_mismatch_is_explained(weights):
    config_path = weights / "config.json"
    values = json.loads(config_path.read_text())
    values["generator"]["n_blocks"] = 3
    config_path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match="Missing keys"):
        load_generator(weights, "AtoB")


def test_one_direction_model_names_what_it_offers(tmp_path):
    folder = tmp_path / "one"
    save_weights(folder, {"AtoB": ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1))})
    with pytest.raises(ValueError, match="offers AtoB"):
        load_generator(folder, "BtoA")


def test_missing_weights_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        Translator(tmp_path)


def test_translated_png_encodes(weights):
    result = Translator(weights)(Image.new("RGB", (9, 9), (1, 2, 3)))
    buffer = io.BytesIO()
    result.save(buffer, format="PNG")
    assert buffer.tell() > 0


def test_config_json_without_directions_is_explained(weights):
    config_path = weights / "config.json"
    values = json.loads(config_path.read_text())
    del values["directions"]
    config_path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match="missing or invalid 'directions'"):
        load_generator(weights, "AtoB")


def test_max_pixels_above_pillow_limit_is_rejected():
    from translate.image_io import ImageLimits

    with pytest.raises(ValueError, match="max_pixels must be between 1 and 178,956,970"):
        ImageLimits(max_pixels=500_000_000)


def test_repository_paths_are_not_hub_ids():
    from translate.hub import is_repo_id

    assert not is_repo_id("weights/emoji")
    assert not is_repo_id("runs/horse2zebra")
    assert not is_repo_id("./someone/model")
    assert is_repo_id("someone/horse2zebra-cyclegan")


@pytest.mark.parametrize("width", [44, 45, 46, 47])
def test_mirror_average_is_symmetric(weights, width):
    # Widths that are not multiples of 4 are padded, and each orientation must be padded alike.
    image = torch.rand(1, 3, 37, width) * 2 - 1
    plain = Translator(weights, precision="fp32")
    averaged = Translator(weights, precision="fp32", mirror_average=True)
    assert not plain.mirror_average
    assert averaged.mirror_average
    single, mirrored = plain.translate_tensor(image), plain.translate_tensor(image.flip(-1))
    output = averaged.translate_tensor(image)
    # The average of both orientations: the same for an image and its mirror image, mirrored back.
    assert torch.allclose(output, (single + mirrored.flip(-1)) / 2, atol=1e-5)
    assert torch.allclose(averaged.translate_tensor(image.flip(-1)).flip(-1), output, atol=1e-5)
    # A random generator is far from symmetric, so the average differs from one pass.
    assert float((output - single).abs().mean()) > 0.01


def test_mirror_average_follows_the_config(weights):
    config_path = weights / "config.json"
    values = json.loads(config_path.read_text())
    values["mirror_average"] = True
    config_path.write_text(json.dumps(values))
    assert read_model_info(weights).mirror_average
    assert Translator(weights).mirror_average
    assert not Translator(weights, mirror_average=False).mirror_average
    values["mirror_average"] = "yes"
    config_path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match=r"config\.json: mirror_average must be true or false, got 'yes'"):
        read_model_info(weights)
    with pytest.raises(ValueError, match="mirror_average must be true or false, got 'yes'"):
        save_weights(weights.parent / "other", {"AtoB": load_generator(weights, "AtoB")[0]},
                     extra={"mirror_average": "yes"})


def test_mirror_average_argument_must_be_bool(weights):
    with pytest.raises(TypeError, match="mirror_average must be True, False or None .* got 'off'"):
        Translator(weights, mirror_average="off")
    translator = Translator(weights, mirror_average=True)
    with pytest.raises(AttributeError):
        translator.mirror_average = False  # fixed when built: the network would not change


def test_mirror_average_in_tiles_matches_whole_image(weights):
    image = torch.rand(1, 3, 96, 128) * 2 - 1
    whole = Translator(weights, precision="fp32", full_resolution=True, tiling="never", mirror_average=True)
    tiled = Translator(weights, precision="fp32", full_resolution=True, tiling="always", tile_size=64,
                       tile_overlap=16, mirror_average=True)
    expected = whole.run(image)
    # The two passes replay their own recorded norm statistics, so the tiles match the whole image.
    assert float((tiled.run(image) - expected).abs().mean() * 127.5) < 2.0
    one_pass = Translator(weights, precision="fp32", full_resolution=True, tiling="never").run(image)
    assert float((one_pass - expected).abs().mean() * 127.5) > 2.0
