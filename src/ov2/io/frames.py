"""Converting decoded frames to upright arrays at a target size (swscale does the resize)."""

from __future__ import annotations

import av
import numpy as np


def _coded_size(height: int, width: int, rotation: int) -> tuple[int, int]:
    """The (h, w) to scale the coded frame to so that, once rotated, it is (height, width)."""
    return (width, height) if rotation in (90, 270) else (height, width)


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an image decoded in coded orientation by ``rotation`` degrees counter-clockwise."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def to_rgb(frame: av.VideoFrame, height: int, width: int, rotation: int = 0) -> np.ndarray:
    """uint8 [height, width, 3] RGB of ``frame``, resized (area filter) and rotated upright."""
    ch, cw = _coded_size(height, width, rotation)
    rgb = frame.reformat(width=cw, height=ch, format="rgb24", interpolation="AREA").to_ndarray()
    return upright(rgb, rotation)


def to_luma(frame: av.VideoFrame, height: int, width: int) -> np.ndarray:
    """uint8 [height, width] luma in coded orientation (analysis stays unrotated)."""
    return np.ascontiguousarray(frame.reformat(width=width, height=height, format="gray", interpolation="AREA").to_ndarray())
