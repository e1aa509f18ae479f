"""Qwen2-VL style ``smart_resize``: the processed-frame size for a given input size."""

from __future__ import annotations

import math

from ..errors import InvalidOptionError

DEFAULT_MIN_PIXELS = 3136
DEFAULT_MAX_PIXELS = 150_000


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """Return (h, w), each a multiple of ``factor``, with min_pixels <= h*w <= max_pixels.

    Each side is rounded to the nearest multiple of ``factor``; if the area is
    above ``max_pixels`` both sides are scaled down (floor), if below
    ``min_pixels`` scaled up (ceil), keeping the aspect ratio as far as the
    rounding allows.
    """
    if height <= 0 or width <= 0:
        raise InvalidOptionError(f"frame size must be positive, got {height}x{width}")
    if min_pixels <= 0 or max_pixels < min_pixels:
        raise InvalidOptionError(f"need 0 < min_pixels <= max_pixels, got {min_pixels}, {max_pixels}")
    if max_pixels < factor * factor:
        raise InvalidOptionError(f"max_pixels={max_pixels} is below one {factor}x{factor} block")
    if max(height, width) / min(height, width) > 200:
        raise InvalidOptionError(f"aspect ratio of {height}x{width} is above 200")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar
