"""Turn one :class:`~ov2.VisualInput` into model rows and prompt text.

A :class:`VisualBlock` carries everything the processor needs for one video:
normalised patch rows, (t, h, w) positions, grid rows, attention-window lengths,
and the prompt text with ``<|image_pad|>`` already expanded (one pad per 2x2 block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..visual_input import VisualInput
from .pixels import ImageInputError, PixelSettings, patches_to_rows

VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"


@dataclass
class VisualBlock:
    rows: np.ndarray  # float32 [N, 3*p*p]
    positions: np.ndarray  # int64 [N, 3]
    grid: list[tuple[int, int, int]]
    windows: list[int]  # attention-window lengths, sum = N
    text: str
    kind: str = "image"
    timestamps: list[float] = field(default_factory=list)


def timestamp_text(seconds: float, decimals: int = 1) -> str:
    """``<X.X seconds>`` (1 decimal by default, 2 for fine temporal tasks)."""
    if decimals not in (1, 2):
        raise ValueError(f"timestamp_decimals must be 1 or 2, got {decimals}")
    return f"<{float(seconds):.{decimals}f} seconds>"


def video_block(vi: VisualInput, settings: PixelSettings, frame_windows_size: int = 4, decimals: int = 1) -> VisualBlock:
    """Frames backend -> one image per frame; codec/fixed -> one grid row of all canvases."""
    if vi.patch_size != settings.patch_size:
        raise ImageInputError(f"VisualInput patch size {vi.patch_size} != model patch size {settings.patch_size}")
    h, w = vi.grid_hw
    m = settings.merge_size
    if h % m or w % m:
        raise ImageInputError(f"canvas grid {h}x{w} patches is not a multiple of the {m}x{m} merge")
    if vi.backend == "frames":
        return _frames_block(vi, settings, decimals)
    return _codec_block(vi, settings, frame_windows_size, decimals)


def _valid_blocks(vi: VisualInput, merge: int) -> np.ndarray:
    """Check padding and source frames come in whole 2x2 blocks; return the valid-token mask."""
    valid = vi.tokens.valid
    k = merge * merge
    if len(valid) % k:
        raise ImageInputError(f"VisualInput has {len(valid)} tokens, not a whole number of {merge}x{merge} blocks")
    blocks_valid = valid.reshape(-1, k)
    if not np.all(blocks_valid.all(1) | ~blocks_valid.any(1)):
        raise ImageInputError("VisualInput padding does not cover whole 2x2 blocks")
    frames = vi.tokens.frame.reshape(-1, k)
    if not np.all(frames == frames[:, :1]):
        raise ImageInputError("a 2x2 block of the VisualInput mixes source frames")
    return valid


def _frames_block(vi: VisualInput, settings: PixelSettings, decimals: int) -> VisualBlock:
    m = settings.merge_size
    valid = _valid_blocks(vi, m)
    tok = vi.tokens
    rows = patches_to_rows(vi.patch_pixels(), settings)
    h, w = vi.grid_hw
    canv = tok.canvas[valid]
    positions = np.stack([np.zeros(len(canv), np.int64), tok.src_row[valid], tok.src_col[valid]], axis=1).astype(np.int64)
    grid, windows, parts, stamps = [], [], [], []
    for c in range(vi.num_canvases):
        sel = canv == c
        count = int(sel.sum())
        if count == 0:
            continue
        if count != h * w:
            raise ImageInputError(f"frames-backend canvas {c} has {count} valid patches, expected {h * w}")
        t = float(tok.time[valid][sel][0])
        stamps.append(t)
        grid.append((1, h, w))
        windows.append(count)
        # Frames backend: `<X.X seconds>` before each frame block, no newline between frames.
        parts.append(timestamp_text(t, decimals) + VISION_START + IMAGE_PAD * (count // (m * m)) + VISION_END)
    # Rows come canvas by canvas already (token order); keep that order.
    return VisualBlock(rows, positions, grid, windows, "".join(parts), kind="frames", timestamps=stamps)


def _codec_block(vi: VisualInput, settings: PixelSettings, frame_windows_size: int, decimals: int) -> VisualBlock:
    m = settings.merge_size
    k = m * m
    valid = _valid_blocks(vi, m)
    tok = vi.tokens
    rows = patches_to_rows(vi.patch_pixels(), settings)
    positions = vi.positions
    h, w = vi.grid_hw
    # Windows follow canvases (canvas // frame_windows_size), counting only real patches,
    # so dropped padding shortens a window instead of shifting later ones.
    fws = frame_windows_size if frame_windows_size and frame_windows_size > 0 else vi.num_canvases
    win_of_token = tok.canvas[valid] // fws
    n_windows = (vi.num_canvases + fws - 1) // fws
    counts = np.bincount(win_of_token, minlength=n_windows)
    windows = [int(c) for c in counts if c > 0]
    # Prompt: one block per run of 2x2 blocks with the same source frame.
    frames = tok.frame[valid][::k]
    times = tok.time[valid][::k]
    parts, stamps = [], []
    start = 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[start]:
            t = float(times[start])
            stamps.append(t)
            parts.append(timestamp_text(t, decimals) + VISION_START + IMAGE_PAD * (i - start) + VISION_END + "\n")
            start = i
    return VisualBlock(
        rows, positions, [(vi.num_canvases, h, w)], windows, "".join(parts), kind="codec", timestamps=stamps
    )
