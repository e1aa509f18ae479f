"""Pixel helpers: reading images, CLIP mean/std normalisation of canvas patches, 2x2-block positions.

Images themselves are resized and normalised by transformers' ``Qwen2VLImageProcessorPil``
(see :mod:`ov2.processing.processor`); canvas patches use the same formula here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import VideoError

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


def load_image(image: Any) -> np.ndarray:
    """uint8 [H, W, 3] RGB from a path, a PIL image or an array (gray, RGBA and other PIL modes are converted)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, np.ndarray):
        arr = image
    elif isinstance(image, Image.Image):  # what transformers' own processors and vLLM hand over
        arr = np.asarray(image.convert("RGB"))
    else:
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


def normalise(pixels: np.ndarray, settings: PixelSettings) -> np.ndarray:
    """uint8 [..., 3] -> float32 (x/255 - mean) / std."""
    return (pixels.astype(np.float32) / 255.0 - settings.mean) / settings.std


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
