"""Reading and writing image files, shared by training, the batch converter and the app.

Images enter the networks as float tensors in [-1, 1] and leave them the same way;
``to_uint8`` rounds and clips when converting back to 8-bit.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store"}
_SYSTEM_FOLDERS = {"__macosx", "@eadir", ".ipynb_checkpoints"}


class ImageReadError(ValueError):
    """An image file that is missing, unreadable or not an image; the message names the file."""


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


def open_image(source: str | Path | Image.Image | np.ndarray) -> Image.Image:
    """Open a path, PIL image or HxW / HxWxC uint8 array as a fully decoded, upright PIL image.

    The EXIF orientation tag is applied, so a portrait phone photo comes out portrait.
    Raises ``ImageReadError`` naming the file when it is missing or cannot be decoded.
    """
    if isinstance(source, np.ndarray):
        return _image_from_array(source)
    if isinstance(source, Image.Image):
        image = source
        image.load()
        return ImageOps.exif_transpose(image)
    path = Path(source)
    if not path.is_file():
        raise ImageReadError(f"Image file not found: {path}")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image is opened:
                image = opened.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(
            f"Cannot read image {path}: {error}. Check that it is a complete image in one of these formats: "
            f"{', '.join(ext.lstrip('.') for ext in IMAGE_EXTENSIONS)}."
        ) from error
    return image


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
    jpeg_quality: int = 95
    webp_quality: int = 95


def save_image(image: Image.Image, path: Path, options: SaveOptions | None = None) -> None:
    """Write ``image`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A killed process therefore never leaves a half-written image under the final name. The format
    follows the extension; JPEG cannot store alpha, so transparent pixels are put on white there.
    """
    options = options or SaveOptions()
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    params: dict = {}
    if suffix in (".jpg", ".jpeg"):
        image = composite_on_white(image) if image.mode in ("RGBA", "LA") else image
        params = {"format": "JPEG", "quality": options.jpeg_quality}
    elif suffix == ".webp":
        params = {"format": "WEBP", "quality": options.webp_quality}
    elif suffix == ".png":
        params = {"format": "PNG"}
    elif suffix == ".bmp":
        image = composite_on_white(image) if image.mode in ("RGBA", "LA") else image
        params = {"format": "BMP"}
    elif suffix in (".tif", ".tiff"):
        params = {"format": "TIFF", "compression": "tiff_deflate"}
    else:
        raise ValueError(f"Cannot write {path}: unsupported output extension {path.suffix!r}")

    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, **params)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
