"""Reading and writing image files, shared by training, the batch converter and the app.

Images enter the networks as float tensors in [-1, 1] and leave them the same way;
``to_uint8`` rounds and clips when converting back to 8-bit.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
# Image formats people have but this package does not decode: converting them is reported as a
# failure with an "unsupported format" message instead of silently ignoring the file.
UNSUPPORTED_IMAGE_EXTENSIONS = (".heic", ".heif", ".avif", ".svg", ".jxl", ".psd", ".dng", ".cr2", ".nef", ".arw")
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store"}
_SYSTEM_FOLDERS = {"__macosx", "@eadir", ".ipynb_checkpoints"}


class ImageReadError(ValueError):
    """An image file that is missing, unreadable or not an image; the message names the file."""


class UnsupportedFormatError(ImageReadError):
    """A file in a format this package cannot decode (HEIC, AVIF, SVG, a non-image...)."""


class ImageSizeError(ImageReadError):
    """An image smaller than the minimum or larger than the maximum number of pixels."""


@dataclass(frozen=True)
class ImageLimits:
    """Size guards applied when an image is opened.

    ``max_pixels`` is checked from the file header, before any pixel is decoded, so a
    decompression bomb (a small file that expands to billions of pixels) costs nothing. Pillow's
    own global limit is left unchanged. Pillow refuses files over twice that limit (about 179
    million pixels) by itself, so ``max_pixels`` may not exceed it.
    """

    min_side: int = 8
    max_pixels: int = 150_000_000

    def __post_init__(self) -> None:
        hard_limit = 2 * Image.MAX_IMAGE_PIXELS
        if not 0 < self.max_pixels <= hard_limit:
            raise ValueError(
                f"max_pixels must be between 1 and {hard_limit:,} (twice Pillow's MAX_IMAGE_PIXELS, above which "
                f"Pillow refuses to open files), got {self.max_pixels:,}"
            )
        if self.min_side < 1:
            raise ValueError(f"min_side must be at least 1 pixel, got {self.min_side}")


DEFAULT_LIMITS = ImageLimits()

# Magic bytes of formats users often have but Pillow cannot decode without plugins.
_KNOWN_UNSUPPORTED = (
    (4, b"ftypheic", "HEIC"), (4, b"ftypheix", "HEIC"), (4, b"ftypmif1", "HEIF"), (4, b"ftypavif", "AVIF"),
    (0, b"<svg", "SVG"), (0, b"<?xml", "SVG or XML"), (0, b"%PDF", "PDF"),
)


def is_hidden_or_system(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _SYSTEM_FILES


def has_image_extension(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def list_files(root: Path) -> list[Path]:
    """List every regular file under ``root`` recursively, sorted, without hidden or system files and folders."""
    found: list[Path] = []
    for folder, subfolders, filenames in os.walk(root):
        subfolders[:] = sorted(
            d for d in subfolders if not d.startswith(".") and d.lower() not in _SYSTEM_FOLDERS
        )
        for name in sorted(filenames):
            path = Path(folder) / name
            if not is_hidden_or_system(path) and path.is_file():
                found.append(path)
    return found


def list_images(root: Path) -> list[Path]:
    """List image files (by case-insensitive extension) under ``root`` recursively, sorted."""
    return [path for path in list_files(root) if has_image_extension(path)]


def _sniff_unsupported(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            head = stream.read(32)
    except OSError:
        return None
    for offset, magic, name in _KNOWN_UNSUPPORTED:
        if head[offset : offset + len(magic)].lower() == magic.lower():
            return name
    return None


def _check_size(size: tuple[int, int], limits: ImageLimits, name: str) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageSizeError(
            f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of {limits.max_pixels:,}. "
            "Downscale it first, or raise the maximum number of pixels (--max-pixels)."
        )
    if min(width, height) < limits.min_side:
        raise ImageSizeError(
            f"{name} is {width}x{height} pixels; images need at least {limits.min_side} pixels on each side."
        )


def to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image with an embedded ICC profile to sRGB; images without one are returned as they are."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
        return image
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return image  # a damaged profile: keep the pixels as they are rather than fail the image
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert({"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode))
    try:
        converted = ImageCms.profileToProfile(base, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except ImageCms.PyCMSError:
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    converted.info = {k: v for k, v in image.info.items() if k != "icc_profile"}
    return converted


def open_image(
    source: str | Path | Image.Image | np.ndarray, *, limits: ImageLimits = DEFAULT_LIMITS
) -> Image.Image:
    """Open a path, PIL image or HxW / HxWxC uint8 array as a fully decoded, upright PIL image.

    The EXIF orientation tag is applied, so a portrait phone photo comes out portrait, and an
    embedded ICC profile is converted to sRGB. Animated files give their first frame. Raises
    ``ImageReadError`` (or its subclasses for unsupported formats and size limits) naming the
    file when it is missing or cannot be decoded.
    """
    if isinstance(source, np.ndarray):
        image = _image_from_array(source)
        _check_size(image.size, limits, "The array")
        return image
    if isinstance(source, Image.Image):
        _check_size(source.size, limits, "The image")
        source.load()
        return to_srgb(ImageOps.exif_transpose(source))
    path = Path(source)
    if not path.is_file():
        raise ImageReadError(f"Image file not found: {path}")
    unsupported = _sniff_unsupported(path)
    if unsupported is None and path.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS:
        unsupported = path.suffix.lstrip(".").upper()
    if unsupported:
        raise UnsupportedFormatError(
            f"Unsupported format: {path} is a {unsupported} file. Convert it to JPEG or PNG first "
            f"(supported: {', '.join(ext.lstrip('.') for ext in IMAGE_EXTENSIONS)})."
        )
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below replaces Pillow's warning for large images.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _check_size(opened.size, limits, str(path))
                opened.load()
                image = ImageOps.exif_transpose(opened)
                if image is opened:
                    image = opened.copy()
                # Animated GIF/WebP: the first frame is decoded; callers read the count from here.
                image.info["frames"] = int(getattr(opened, "n_frames", 1))
    except ImageSizeError:
        raise
    except Image.DecompressionBombError as error:
        # Pillow refuses images over twice its global limit inside Image.open, before our check.
        raise ImageSizeError(
            f"{path} is over the limit of {limits.max_pixels:,} pixels ({error}). Downscale it first."
        ) from error
    except UnidentifiedImageError as error:
        raise UnsupportedFormatError(
            f"Cannot read {path}: its content is not an image Pillow can identify, although its name says "
            f"{path.suffix or 'nothing'}. It may be damaged, truncated or another kind of file. Supported: "
            f"{', '.join(ext.lstrip('.') for ext in IMAGE_EXTENSIONS)}."
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(
            f"Cannot read image {path}: {error}. The file may be truncated or damaged; check that it opens in "
            "an image viewer."
        ) from error
    return to_srgb(image)


def _image_from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected an HxW, HxWx3 or HxWx4 array, got shape {array.shape}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.min() >= 0.0 and array.max() <= 1.0:
            array = np.rint(array * 255.0).astype(np.uint8)
        else:
            raise ValueError(
                f"Expected a uint8 array, or a float array in [0, 1], got dtype {array.dtype}"
            )
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    return Image.fromarray(array.squeeze(2) if mode == "L" else array, mode)


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Split an image into an RGB image and its alpha channel (``None`` when it has no transparency)."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale: scale to 8 bits rather than clip everything above 255 to white.
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        eight_bit = np.clip(np.rint(values * (255.0 / peak)), 0, 255).astype(np.uint8)
        return Image.fromarray(eight_bit, "L").convert("RGB"), None
    if image.mode == "RGB":
        return image, None
    return image.convert("RGB"), None


def composite_on_white(image: Image.Image) -> Image.Image:
    """Return the RGB image a viewer shows on a white page: transparent pixels become white."""
    rgb, alpha = split_alpha(image)
    if alpha is None:
        return rgb
    white = Image.new("RGB", rgb.size, (255, 255, 255))
    white.paste(rgb, mask=alpha)
    return white


def to_tensor(image: Image.Image) -> torch.Tensor:
    """Convert an RGB or L PIL image to a float tensor ``[C, H, W]`` in [-1, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """Convert ``[C, H, W]`` in [-1, 1] to an ``HxWxC`` uint8 array, rounding and clipping."""
    scaled = (tensor.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5
    return scaled.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def to_pil(tensor: torch.Tensor) -> Image.Image:
    array = to_uint8(tensor)
    if array.shape[2] == 1:
        return Image.fromarray(array[:, :, 0], "L")
    return Image.fromarray(array, "RGB")


@dataclass
class SaveOptions:
    """Encoder settings: JPEG and WebP quality (1-100), and whether GPS location metadata is kept."""

    jpeg_quality: int = 95
    webp_quality: int = 95
    keep_gps: bool = False

    def __post_init__(self) -> None:
        for name in ("jpeg_quality", "webp_quality"):
            value = getattr(self, name)
            if not 1 <= value <= 100:
                raise ValueError(f"{name} must be between 1 and 100, got {value}")


EXIF_ORIENTATION = 0x0112
EXIF_GPS_IFD = 0x8825


def clean_exif(exif: Image.Exif | None, keep_gps: bool) -> bytes | None:
    """Return EXIF bytes for an output: orientation reset (pixels are already upright), GPS dropped."""
    if exif is None or len(exif) == 0:
        return None
    # A copy built from bytes keeps the Exif and GPS sub-directories, which a copy of the
    # items cannot write back out.
    cleaned = Image.Exif()
    cleaned.load(exif.tobytes())
    if EXIF_ORIENTATION in cleaned:
        cleaned[EXIF_ORIENTATION] = 1
    if not keep_gps and EXIF_GPS_IFD in cleaned:
        del cleaned[EXIF_GPS_IFD]
    return cleaned.tobytes()


def _encoder_params(image: Image.Image, path: Path, options: SaveOptions) -> tuple[Image.Image, dict]:
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        image = composite_on_white(image) if image.mode in ("RGBA", "LA") else image
        return image, {"format": "JPEG", "quality": options.jpeg_quality}
    if suffix == ".webp":
        return image, {"format": "WEBP", "quality": options.webp_quality}
    if suffix == ".png":
        return image, {"format": "PNG"}
    if suffix == ".bmp":
        image = composite_on_white(image) if image.mode in ("RGBA", "LA") else image
        return image, {"format": "BMP"}
    if suffix in (".tif", ".tiff"):
        return image, {"format": "TIFF", "compression": "tiff_deflate"}
    if suffix == ".gif":
        return image, {"format": "GIF"}
    raise ValueError(f"Cannot write {path}: unsupported output extension {path.suffix!r}")


def current_umask() -> int:
    """Return the process's file-creation mask, read without changing it (Linux), else the common 0o022."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _write_atomically(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        # mkstemp creates the file readable by its owner only; give it the permissions open() would.
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_image(
    image: Image.Image, path: Path, options: SaveOptions | None = None, *, exif: Image.Exif | None = None
) -> None:
    """Write ``image`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A killed process therefore never leaves a half-written image under the final name. The format
    follows the extension. JPEG and BMP cannot store alpha, so transparent pixels are put on white
    there. ``exif`` from the input is copied without its GPS location unless ``keep_gps`` is set.
    """
    options = options or SaveOptions()
    image, params = _encoder_params(image, path, options)
    exif_bytes = clean_exif(exif, options.keep_gps)
    if exif_bytes and params["format"] in ("JPEG", "WEBP", "PNG", "TIFF"):
        params["exif"] = exif_bytes
    _write_atomically(path, lambda stream: image.save(stream, **params))


def save_animation(
    frames: list[Image.Image], path: Path, durations: list[int], loop: int = 0, options: SaveOptions | None = None
) -> None:
    """Write translated frames as an animated GIF or WebP (by extension), atomically."""
    options = options or SaveOptions()
    suffix = path.suffix.lower()
    if suffix == ".gif":
        params = {"format": "GIF", "disposal": 2}
    elif suffix == ".webp":
        params = {"format": "WEBP", "quality": options.webp_quality}
    else:
        raise ValueError(f"Cannot write an animation to {path}: use a .gif or .webp output")
    first, rest = frames[0], frames[1:]
    _write_atomically(path, lambda stream: first.save(
        stream, save_all=True, append_images=rest, duration=durations, loop=loop, **params
    ))
