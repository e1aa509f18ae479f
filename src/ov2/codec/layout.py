"""Laying selected blocks onto canvases and writing their token rows.

A canvas of ``bh x bw`` blocks is filled block-raster; each block contributes
four token rows in 2x2-block order (r, c), (r, c+1), (r+1, c), (r+1, c+1).
Unfilled blocks are padding (frame -1, black pixels).
"""

from __future__ import annotations

import numpy as np

from ..visual_input import PADDING_FRAME, Tokens

_DR = np.array([0, 0, 1, 1])
_DC = np.array([0, 1, 0, 1])


def canvas_tokens(
    canvas: int,
    grid: tuple[int, int],
    frames: np.ndarray,
    times: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    group: int,
    kind: str,
) -> Tokens:
    """Token rows of one canvas whose blocks come, in fill order, from (frames, rows, cols).

    ``grid`` is the canvas size in blocks; ``rows``/``cols`` are source block
    coordinates; fewer sources than blocks leaves padding at the end.
    """
    bh, bw = grid
    nb = bh * bw
    k = len(frames)
    slot = np.arange(nb)
    crow, ccol = slot // bw, slot % bw
    f = np.full(nb, PADDING_FRAME, dtype=np.int64)
    t = np.full(nb, np.nan)
    sr = np.full(nb, -1, dtype=np.int64)
    sc = np.full(nb, -1, dtype=np.int64)
    f[:k], t[:k], sr[:k], sc[:k] = frames, times, rows, cols
    pad = f == PADDING_FRAME
    src_row = np.where(pad[:, None], -1, 2 * sr[:, None] + _DR)
    src_col = np.where(pad[:, None], -1, 2 * sc[:, None] + _DC)
    n = nb * 4
    return Tokens(
        canvas=np.full(n, canvas),
        canvas_row=(2 * crow[:, None] + _DR).ravel(),
        canvas_col=(2 * ccol[:, None] + _DC).ravel(),
        frame=np.repeat(f, 4),
        time=np.repeat(t, 4),
        src_row=src_row.ravel(),
        src_col=src_col.ravel(),
        group=np.full(n, group),
        kind=np.full(n, kind),
    )


def full_frame_tokens(canvas: int, grid: tuple[int, int], frame: int, time: float, group: int, kind: str) -> Tokens:
    """Tokens of a canvas that is one whole frame (I-canvas, or a frames-backend frame)."""
    bh, bw = grid
    slot = np.arange(bh * bw)
    return canvas_tokens(canvas, grid, np.full(len(slot), frame), np.full(len(slot), time),
                         slot // bw, slot % bw, group, kind)


def paste_blocks(canvases: np.ndarray, spots: list[tuple[int, int, int, int]], source: np.ndarray,
                 block: int) -> None:
    """Copy blocks of one source frame onto canvases: each spot is (canvas, slot, source block row, col).

    Slots fill a canvas block-raster; ``canvases`` is uint8 [C, H, W, 3].
    """
    bw = canvases.shape[2] // block
    for j, slot, r, c in spots:
        y, x = (slot // bw) * block, (slot % bw) * block
        canvases[j, y : y + block, x : x + block] = source[r * block : (r + 1) * block, c * block : (c + 1) * block]
