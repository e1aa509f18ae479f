"""Canvases as PNG files (RGB in memory, written and read back with OpenCV's BGR order handled)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..fileio import atomic_write_bytes
from ..visual_input import VisualInput

CANVAS_PATTERN = "canvas_{:03d}.png"


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write a uint8 ``[H, W, 3]`` RGB image losslessly as PNG (atomically)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] RGB image, got {rgb.dtype} {rgb.shape}")
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:  # pragma: no cover - OpenCV only fails on impossible shapes
        raise ValueError(f"OpenCV could not encode an image of shape {rgb.shape}")
    return atomic_write_bytes(path, buf.tobytes())


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PNG back as uint8 RGB ``[H, W, 3]``."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: not a readable image")
    return bgr[:, :, ::-1].copy()


def save_canvases(vi: VisualInput, directory: str | os.PathLike[str]) -> list[Path]:
    """Write every canvas of ``vi`` as ``canvas_000.png``, ``canvas_001.png``... in ``directory``."""
    d = Path(directory)
    return [write_png(d / CANVAS_PATTERN.format(i), canvas) for i, canvas in enumerate(vi.canvases)]


def canvas_captions(vi: VisualInput) -> list[str]:
    """One short caption per canvas: kind, group and the time span of its source frames."""
    t = vi.tokens
    captions = []
    for c in range(vi.num_canvases):
        sel = (t.canvas == c) & t.valid
        kind = str(t.kind[t.canvas == c][0]) if (t.canvas == c).any() else "?"
        group = int(t.group[t.canvas == c][0]) if (t.canvas == c).any() else -1
        if not sel.any():
            captions.append(f"#{c} {kind} g{group} (padding)")
            continue
        times = t.time[sel]
        frames = np.unique(t.frame[sel])
        if len(frames) == 1:
            captions.append(f"#{c} {kind} g{group} t={times.min():.2f}s")
        else:
            captions.append(f"#{c} {kind} g{group} {times.min():.2f}-{times.max():.2f}s, {len(frames)} frames")
    return captions
