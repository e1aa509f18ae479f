"""Images to normalised patch rows: smart_resize, CLIP mean/std, 2x2-block patch order."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import VideoError
from ..io.resize import smart_resize

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
# The release's wrappers resize images to this pixel range.
IMAGE_MIN_PIXELS = 200_704
IMAGE_MAX_PIXELS = 1_605_632


class ImageInputError(VideoError, ValueError):
    """An image that cannot be read or used."""


@dataclass
class PixelSettings:
    patch_size: int = 14
    merge_size: int = 2
    mean: np.ndarray = field(default_factory=lambda: CLIP_MEAN.copy())
    std: np.ndarray = field(default_factory=lambda: CLIP_STD.copy())
    min_pixels: int = IMAGE_MIN_PIXELS
    max_pixels: int = IMAGE_MAX_PIXELS


def load_image(image: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB from a path or an array (gray and RGBA are converted)."""
    if isinstance(image, np.ndarray):
        arr = image
    else:
        from PIL import Image, UnidentifiedImageError

        path = os.fspath(image)
        if not os.path.isfile(path):
            raise ImageInputError(f"image not found: {path}")
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise ImageInputError(f"cannot read image {path}: {exc}") from exc
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageInputError(f"image must be HxWx3 (or HxWx4), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ImageInputError(f"image array must be uint8, got {arr.dtype}")
    return np.ascontiguousarray(arr[:, :, :3])


def resize_image(image: np.ndarray, settings: PixelSettings) -> np.ndarray:
    """Bicubic resize (PIL, as the release's Qwen2-VL image processor) to the smart_resize size."""
    from PIL import Image

    factor = settings.patch_size * settings.merge_size
    h, w = smart_resize(image.shape[0], image.shape[1], factor, settings.min_pixels, settings.max_pixels)
    if (h, w) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), resample=Image.BICUBIC))


def normalise(pixels: np.ndarray, settings: PixelSettings) -> np.ndarray:
    """uint8 [..., 3] -> float32 (x/255 - mean) / std."""
    return (pixels.astype(np.float32) / 255.0 - settings.mean) / settings.std


def image_to_patch_rows(image: np.ndarray, settings: PixelSettings) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
    """Resized+normalised image -> (rows [N, 3*p*p] in 2x2-block order, (gh, gw), positions [N, 3]).

    Each row is channel-major (C, then p rows, then p cols); positions are (0, row, col).
    """
    img = resize_image(image, settings)
    p, m = settings.patch_size, settings.merge_size
    gh, gw = img.shape[0] // p, img.shape[1] // p
    x = normalise(img, settings).reshape(gh // m, m, p, gw // m, m, p, 3)
    # -> (block row, block col, in-block row, in-block col, C, py, px)
    rows = x.transpose(0, 3, 1, 4, 6, 2, 5).reshape(gh * gw, 3 * p * p)
    return np.ascontiguousarray(rows), (gh, gw), block_positions(gh, gw, m)


def block_positions(gh: int, gw: int, merge: int = 2, t: int = 0) -> np.ndarray:
    """(t, row, col) of every patch of a gh x gw grid, in 2x2-block order."""
    r, c = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    r = r.reshape(gh // merge, merge, gw // merge, merge).transpose(0, 2, 1, 3).reshape(-1)
    c = c.reshape(gh // merge, merge, gw // merge, merge).transpose(0, 2, 1, 3).reshape(-1)
    return np.stack([np.full_like(r, t), r, c], axis=1).astype(np.int64)


def patches_to_rows(patches: np.ndarray, settings: PixelSettings) -> np.ndarray:
    """uint8 [N, p, p, 3] patch pixels -> normalised float32 rows [N, 3*p*p] (channel-major)."""
    x = normalise(patches, settings).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x.reshape(patches.shape[0], -1))
