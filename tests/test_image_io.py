"""Faithful image I/O on every kind of input the tests can generate, through the batch converter."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import unicodedata
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from tests.conftest import PYTHON, REPO, draw_shapes, subprocess_env
from translate.batch import MAX_BATCH_PIXELS, convert_folder
from translate.image_io import (
    ImageLimits,
    ImageReadError,
    ImageSizeError,
    SaveOptions,
    UnsupportedFormatError,
    open_image,
    save_image,
    split_alpha,
)
from translate.inference import Translator
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import save_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "model"
    save_weights(folder, {"AtoB": ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))}, image_size=32)
    return folder


def digests(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def convert(*args):
    return subprocess.run([PYTHON, "-m", "translate.cli.convert", *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def test_exif_orientation_applied_on_open(tmp_path):
    path = tmp_path / "portrait.jpg"
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 20))  # blue stripe on the left before rotation
    exif = image.getexif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise to display
    image.save(path, exif=exif.tobytes(), quality=100)
    opened = open_image(path)
    assert opened.size == (20, 40)
    assert opened.getpixel((10, 38))[2] > 200  # the stripe is now at the bottom


def rgb_profile(red, green, blue, gamma: float = 2.2) -> bytes:
    """A minimal ICC v2 RGB display profile with the given primaries (D50 XYZ) and a gamma curve."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(values) -> bytes:
        return b"XYZ " + b"\0" * 4 + b"".join(s15(v) for v in values)

    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    text = b"test profile\0"
    description = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 12 + b"\0" * 67
    tags = [(b"desc", description), (b"wtpt", xyz((0.9642, 1.0, 0.8249))), (b"rXYZ", xyz(red)),
            (b"gXYZ", xyz(green)), (b"bXYZ", xyz(blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + data


def test_icc_profile_is_converted_to_srgb(tmp_path):
    array = np.full((8, 8, 3), (200, 30, 30), dtype=np.uint8)
    # sRGB's primaries with red and green swapped: a pixel stored as red is displayed green.
    swapped = rgb_profile(red=(0.3851, 0.7169, 0.0971), green=(0.4361, 0.2225, 0.0139), blue=(0.1431, 0.0606, 0.7141))
    tagged = tmp_path / "tagged.png"
    Image.fromarray(array).save(tagged, icc_profile=swapped)
    converted = open_image(tagged)
    assert "icc_profile" not in converted.info
    red, green, _ = converted.getpixel((0, 0))
    assert green > red

    srgb = tmp_path / "srgb.png"
    Image.fromarray(array).save(srgb, icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    assert np.abs(np.asarray(open_image(srgb), dtype=int) - array).max() <= 2


def test_grayscale_alpha_and_palette_transparency():
    gray_alpha = Image.new("LA", (4, 4), (100, 50))
    rgb, alpha = split_alpha(gray_alpha)
    assert rgb.getpixel((0, 0)) == (100, 100, 100)
    assert alpha.getpixel((0, 0)) == 50
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.info["transparency"] = 1
    rgb, alpha = split_alpha(palette)
    assert alpha.getpixel((0, 0)) == 0


def test_cmyk_and_sixteen_bit(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(cmyk, quality=100)
    red = split_alpha(open_image(cmyk))[0].getpixel((8, 8))
    assert red[0] > 240
    assert red[1] < 20
    sixteen = tmp_path / "deep.png"
    Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16)).save(sixteen)
    assert split_alpha(open_image(sixteen))[0].getpixel((0, 0)) == (255, 255, 255)


def test_unsupported_formats_are_named(tmp_path):
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    with pytest.raises(UnsupportedFormatError, match=r"Unsupported format: .*IMG_0001.HEIC is a HEIC file"):
        open_image(heic)
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormatError, match=r"Cannot read .*notes.png: its content is not an image") as caught:
        open_image(text)
    assert "may be damaged" in str(caught.value)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "cut.png"
    draw_shapes(path, (64, 64), 0)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="cut.png"):
        open_image(path)


def test_size_guards(tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 30)).save(tiny)
    with pytest.raises(ImageSizeError, match=r"4x30 pixels; images need at least 8"):
        open_image(tiny)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(huge_png_header(100_000, 100_000))
    with pytest.raises(ImageSizeError, match=r"bomb.png is over the limit of 150,000,000 pixels"):
        open_image(bomb)
    medium = tmp_path / "medium.png"
    medium.write_bytes(huge_png_header(12_000, 12_600))  # 151 million: under Pillow's hard limit, over ours
    with pytest.raises(ImageSizeError, match="12000x12600 = 151,200,000 pixels, over the limit of 150,000,000"):
        open_image(medium)
    limited = ImageLimits(max_pixels=1000)
    big = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(big)
    with pytest.raises(ImageSizeError, match="1,600 pixels, over the limit of 1,000"):
        open_image(big, limits=limited)
    assert Image.MAX_IMAGE_PIXELS == 89478485, "Pillow's global limit must stay unchanged"


def test_gps_stripped_by_default_and_kept_on_request(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    image = Image.new("RGB", (16, 16))
    stripped, kept = tmp_path / "stripped.jpg", tmp_path / "kept.jpg"
    save_image(image, stripped, exif=exif)
    save_image(image, kept, SaveOptions(keep_gps=True), exif=exif)
    with Image.open(stripped) as opened:
        assert opened.getexif().get(0x010F) == "PhoneMaker"
        assert 0x8825 not in opened.getexif()
    with Image.open(kept) as opened:
        assert 0x8825 in opened.getexif()


def test_quality_setting_changes_jpeg_size(tmp_path):
    image = Image.effect_noise((64, 64), 60).convert("RGB")
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpg"
    save_image(image, low, SaveOptions(jpeg_quality=20))
    save_image(image, high, SaveOptions(jpeg_quality=95))
    assert low.stat().st_size < high.stat().st_size
    with pytest.raises(ValueError, match="jpeg_quality must be between 1 and 100"):
        SaveOptions(jpeg_quality=0)


def make_inputs(root):
    """One file of every kind the converter must handle, under awkward names."""
    draw_shapes(root / "plain.png", (50, 40), 0)
    portrait = Image.new("RGB", (60, 30), (10, 200, 10))
    exif = portrait.getexif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N"}
    (root / "phone").mkdir(parents=True)
    portrait.save(root / "phone" / "IMG 0001.jpg", exif=exif.tobytes())
    rgba = Image.new("RGBA", (30, 30), (200, 10, 10, 0))
    rgba.paste((200, 10, 10, 255), (10, 10, 20, 20))
    rgba.save(root / "transparent.png")
    Image.new("LA", (20, 20), (90, 128)).save(root / "gray alpha.png")
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(root / "print.jpg")
    Image.fromarray(np.full((20, 20), 40000, dtype=np.uint16)).save(root / "deep.png")
    frames = [Image.new("RGB", (24, 24), (i * 60, 0, 0)) for i in range(3)]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=[50, 60, 70], loop=0)
    (root / "IMG_0002.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    for name in ("caf\u00e9 #1 & 50%.png", unicodedata.normalize("NFD", "na\u00efve \u00e9t\u00e9.png"),
                 "-leading-dash.png"):
        draw_shapes(root / "names" / name, (16, 16), 1)
    for name in ("photo.jpg", "photo.png", "Photo.JPG"):
        draw_shapes(root / "same" / name, (16, 16), 2)


def test_converter_keeps_everything(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    make_inputs(root)
    before = digests(root)
    report = tmp_path / "report.json"
    completed = convert(root, out, "--model", weights, "--quiet", "--report", report)
    assert completed.returncode == 1, completed.stderr
    assert digests(root) == before

    with Image.open(out / "phone" / "IMG 0001.jpg") as image:
        assert image.size == (30, 60)
        assert 0x8825 not in image.getexif()
        assert image.getexif().get(0x0112, 1) == 1
    with Image.open(out / "transparent.png") as image:
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0
        assert image.getpixel((15, 15))[3] == 255
    with Image.open(out / "gray alpha.png") as image:
        assert image.getpixel((5, 5))[3] == 128
    with Image.open(out / "anim.gif") as image:
        assert getattr(image, "n_frames", 1) == 1
    assert "anim.gif: animated (3 frames): translated the first frame only" in completed.stderr
    assert "IMG_0002.heic" not in {p.name for p in out.rglob("*")}
    assert "is a HEIC file" in completed.stderr

    names = sorted(p.name for p in (out / "names").iterdir())
    assert names == sorted(p.name for p in (root / "names").iterdir())

    data = json.loads(report.read_text())
    # With the input formats kept, photo.jpg and Photo.JPG would clash on a case-insensitive disk.
    assert sorted(p.name for p in (out / "same").iterdir()) == ["Photo_JPG.JPG", "photo.png", "photo_jpg-2.jpg"]
    assert data["summary"] == {"converted": 13, "already_done": 0, "failed": 1, "ignored": 0}
    failed = [row for row in data["files"] if row["status"] == "failed"]
    assert [row["input"].rsplit("/", 1)[-1] for row in failed] == ["IMG_0002.heic"]
    assert failed[0]["output"] == ""
    assert "HEIC" in failed[0]["reason"]


def test_colliding_names_get_distinct_outputs(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    for name in ("photo.jpg", "photo.png", "Photo.JPG"):
        draw_shapes(root / name, (16, 16), 2)
    completed = convert(root, out, "--model", weights, "--quiet", "--format", "png")
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in out.iterdir()) == ["Photo_JPG.png", "photo_jpg-2.png", "photo_png.png"]


def test_all_frames_translates_animations(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    # Distinct frames: Pillow merges identical consecutive frames when writing a GIF.
    frames = []
    for index in range(3):
        draw_shapes(tmp_path / f"frame{index}.png", (24, 24), 40 + index)
        frames.append(Image.open(tmp_path / f"frame{index}.png").convert("RGB"))
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=[50, 60, 70], loop=0)
    completed = convert(root, out, "--model", weights, "--quiet", "--all-frames")
    assert completed.returncode == 0, completed.stderr
    with Image.open(out / "anim.gif") as image:
        assert image.n_frames == 3
        assert image.size == (24, 24)


def test_dry_run_writes_nothing(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    draw_shapes(root / "a.png", (16, 16), 0)
    draw_shapes(root / "b.png", (16, 16), 1)
    (root / "c.txt").write_text("x")
    completed = convert(root, out, "--dry-run")
    assert completed.returncode == 0, completed.stderr
    assert "Dry run: 2 to convert, 0 already done, 1 ignored." in completed.stderr
    assert f"{root / 'a.png'} -> {out / 'a.png'}" in completed.stdout
    assert not out.exists()


def test_leftover_temporary_file_is_not_taken_as_done(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    draw_shapes(root / "a.png", (16, 16), 0)
    out.mkdir()
    (out / ".tmp-abc.png").write_bytes(b"half written by a killed run")
    completed = convert(root, out, "--model", weights, "--quiet", "--report", tmp_path / "r.csv")
    assert completed.returncode == 0, completed.stderr
    assert "1 converted" in completed.stderr
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "input,output,status,reason"


def test_output_format_and_quality(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    draw_shapes(root / "a.png", (64, 64), 0)
    completed = convert(root, out, "--model", weights, "--quiet", "--format", "webp", "--webp-quality", "50")
    assert completed.returncode == 0, completed.stderr
    with Image.open(out / "a.webp") as image:
        assert image.format == "WEBP"
        assert image.size == (64, 64)


def test_max_pixels_option(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    draw_shapes(root / "big.png", (100, 100), 0)
    completed = convert(root, out, "--model", weights, "--quiet", "--max-pixels", "5000")
    assert completed.returncode == 1
    assert "10,000 pixels, over the limit of 5,000" in completed.stderr


def test_batched_and_unbatched_outputs_agree(weights, tmp_path):
    root = tmp_path / "in"
    for index in range(5):
        draw_shapes(root / f"{index}.png", (32, 32), index)
    one, four = tmp_path / "one", tmp_path / "four"
    assert convert(root, one, "--model", weights, "--quiet", "--batch-size", "1", "--precision", "fp32").returncode == 0
    assert convert(root, four, "--model", weights, "--quiet", "--batch-size", "4", "--precision",
                   "fp32").returncode == 0
    for index in range(5):
        a = np.asarray(Image.open(one / f"{index}.png"), dtype=int)
        b = np.asarray(Image.open(four / f"{index}.png"), dtype=int)
        assert np.abs(a - b).max() <= 1


def test_in_memory_png_round_trip():
    image = Image.new("RGBA", (8, 8), (1, 2, 3, 4))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert open_image(Image.open(buffer)).getpixel((0, 0)) == (1, 2, 3, 4)


def test_camera_exif_with_sub_directories_survives(weights, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    image = Image.new("RGB", (32, 24), (120, 40, 40))
    exif = image.getexif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"  # DateTimeOriginal, in the Exif sub-directory
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    image.save(root / "camera.jpg", exif=exif.tobytes())
    completed = convert(root, out, "--model", weights, "--quiet")
    assert completed.returncode == 0, completed.stderr
    with Image.open(out / "camera.jpg") as result:
        saved = result.getexif()
        assert saved.get(0x010F) == "CameraMaker"
        assert saved.get_ifd(0x8769).get(0x9003) == "2024:05:01 10:00:00"
        assert 0x8825 not in saved


def test_outputs_get_normal_file_permissions(tmp_path):
    import os
    import stat as stat_module

    previous = os.umask(0o022)
    try:
        save_image(Image.new("RGB", (8, 8)), tmp_path / "out.png")
    finally:
        os.umask(previous)
    assert stat_module.S_IMODE((tmp_path / "out.png").stat().st_mode) == 0o644


def test_batches_stay_within_pixel_budget(weights, tmp_path):
    root = tmp_path / "in"
    for index in range(4):
        draw_shapes(root / f"small{index}.png", (256, 256), index)  # 4 x 65,536 pixels fit one batch
    for index in range(2):
        draw_shapes(root / f"wide{index}.png", (600, 500), index)  # 300,000 pixels: over the budget alone

    class RecordingTranslator(Translator):
        batch_sizes: list[int] = []

        def run(self, batch):
            self.batch_sizes.append(len(batch))
            return super().run(batch)

    translator = RecordingTranslator(weights, full_resolution=True, tiling="never")
    result = convert_folder(root, tmp_path / "out", translator, progress=False, batch_size=8)
    assert len(result.converted) == 6
    assert sorted(translator.batch_sizes) == [1, 1, 4]
    assert MAX_BATCH_PIXELS == 512 * 512
