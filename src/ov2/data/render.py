"""Cheap building blocks for synthetic clips: textured backgrounds, sensor noise, camera pans.

Everything here is precomputed once per clip so the per-frame cost is a crop,
a few OpenCV drawing calls and two saturating adds (a few milliseconds at
1280x720). The looks are approximate: the aim is what matters to a video
codec (texture for the I-frames, light temporal noise, static stretches,
occasional global motion), not photorealism.

Colour budget: backgrounds are desaturated so that no background pixel has
two channels more than ``MAX_CHROMA * 2`` apart. Saturated colours
(:data:`ROPE_RGB`, :data:`SHOE_RGB`, the grounding objects) are therefore
findable by simple channel-difference thresholds in decoded frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Reserved saturated colours (RGB). Nothing in a background or in the clothes palette
# comes close, so tests can find these pixels in decoded frames.
ROPE_RGB = (235, 15, 225)  # magenta rope
SHOE_RGB = (15, 225, 235)  # neon cyan sneakers
MAX_CHROMA = 28  # background pixels: |channel - luma| <= MAX_CHROMA


def is_rope(rgb: np.ndarray, margin: int = 100) -> np.ndarray:
    """Mask of pixels with the rope's hue (R and B well above G), for decoded RGB frames."""
    r, g, b = (rgb[..., k].astype(np.int16) for k in range(3))
    return (r - g > margin) & (b - g > margin)


def is_shoe(rgb: np.ndarray, margin: int = 100) -> np.ndarray:
    """Mask of pixels with the shoes' hue (G and B well above R), for decoded RGB frames."""
    r, g, b = (rgb[..., k].astype(np.int16) for k in range(3))
    return (g - r > margin) & (b - r > margin)


def value_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth random field in roughly [-1, 1]: a coarse Gaussian grid upsampled bicubically."""
    gh = max(2, int(np.ceil(height / cell)) + 2)
    gw = max(2, int(np.ceil(width / cell)) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:height, :width] * 0.6, -1.5, 1.5)


def _desaturate(img: np.ndarray) -> np.ndarray:
    """Clamp every pixel's chroma so reserved saturated colours stay unique."""
    luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    chroma = np.clip(img - luma[..., None], -MAX_CHROMA, MAX_CHROMA)
    return np.clip(luma[..., None] + chroma, 0, 255)


def _muted_colour(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    base = rng.uniform(lo, hi)
    tint = rng.uniform(-25, 25, size=3)
    return np.clip(base + tint, 0, 255).astype(np.float32)


def textured_background(rng: np.random.Generator, height: int, width: int, floor_y: float) -> np.ndarray:
    """A static scene: a wall (paint, bricks or tiles, a few rectangles) above a textured floor.

    ``floor_y`` is the row (in this image) where the wall meets the floor. Returns uint8 RGB.
    """
    h, w = height, width
    img = np.empty((h, w, 3), np.float32)
    fy = int(np.clip(floor_y, 1, h - 1))
    scale = h / 720.0

    # Wall: base colour, large soft light variation, mid-frequency blotches.
    wall = _muted_colour(rng, 90, 200)
    light = value_noise(rng, fy, w, 260 * scale)[..., None] * 18
    blotch = value_noise(rng, fy, w, 40 * scale)[..., None] * 8
    img[:fy] = wall + light + blotch
    pattern = rng.choice(["paint", "bricks", "tiles"])
    if pattern != "paint":
        bh = max(4, int(rng.uniform(20, 36) * scale))
        bw = bh * (2 if pattern == "bricks" else 1)
        mortar = np.zeros((fy, w), np.float32)
        mortar[::bh] = 1
        for r0 in range(0, fy, bh):
            shift = (bw // 2) if (pattern == "bricks" and (r0 // bh) % 2) else 0
            mortar[r0 : r0 + bh, shift::bw] = 1
        mortar = cv2.GaussianBlur(mortar, (0, 0), 0.8)
        img[:fy] -= mortar[..., None] * rng.uniform(18, 35)
        # Per-brick shade variation.
        shade = rng.uniform(-8, 8, size=(fy // bh + 1, w // bw + 2)).astype(np.float32)
        img[:fy] += cv2.resize(shade, (shade.shape[1] * bw, shade.shape[0] * bh), interpolation=cv2.INTER_NEAREST)[
            :fy, :w, None
        ]
    # Windows, posters, doors: muted rectangles with a darker frame.
    for _ in range(int(rng.integers(2, 6))):
        rw, rh = int(rng.uniform(0.05, 0.18) * w), int(rng.uniform(0.12, 0.4) * fy)
        x0, y0 = int(rng.uniform(0, w - rw)), int(rng.uniform(0.05, 0.9) * max(1, fy - rh))
        colour = _muted_colour(rng, 40, 230)
        img[y0 : y0 + rh, x0 : x0 + rw] = colour + value_noise(rng, rh, rw, 30 * scale)[..., None] * 10
        edge = max(2, int(4 * scale))
        frame_colour = colour * 0.5
        img[y0 : y0 + edge, x0 : x0 + rw] = frame_colour
        img[y0 + rh - edge : y0 + rh, x0 : x0 + rw] = frame_colour
        img[y0 : y0 + rh, x0 : x0 + edge] = frame_colour
        img[y0 : y0 + rh, x0 + rw - edge : x0 + rw] = frame_colour

    # Floor: planks or a grainy surface, darker towards the camera.
    fh = h - fy
    floor = _muted_colour(rng, 70, 170)
    img[fy:] = floor + value_noise(rng, fh, w, 60 * scale)[..., None] * 12
    if rng.random() < 0.6:
        plank = max(4, int(rng.uniform(14, 30) * scale))
        rows = np.arange(fh)
        seam = ((rows % plank) < max(1, int(2 * scale))).astype(np.float32)
        img[fy:] -= seam[:, None, None] * 20
        grain = value_noise(rng, fh, w, 6 * scale)
        img[fy:] += cv2.GaussianBlur(grain, (0, 0), sigmaX=12 * scale, sigmaY=0.5)[..., None] * 14
    img[fy:] *= np.linspace(1.0, 0.8, fh, dtype=np.float32)[:, None, None]
    img[max(0, fy - 2) : fy + 2] *= 0.7  # skirting line

    # Fine static grain: texture the encoder must spend bits on in intra frames only.
    img += rng.normal(0, 3.0, size=(h, w, 1)).astype(np.float32)
    return _desaturate(img).astype(np.uint8)


class NoiseBank:
    """Light, temporally varying sensor noise from a small precomputed bank.

    Luma-only Gaussian noise of standard deviation ``sigma`` (grey levels).
    At ordinary CRF it is mostly quantised away in P/B frames, so still
    stretches stay cheap, as in real footage. Stored as separate positive and
    negative uint8 parts so applying it is two saturating OpenCV adds.
    """

    def __init__(self, rng: np.random.Generator, height: int, width: int, sigma: float, size: int = 8) -> None:
        self.rng = rng
        self.pos: list[np.ndarray] = []
        self.neg: list[np.ndarray] = []
        for _ in range(size):
            n = np.rint(rng.normal(0.0, sigma, size=(height, width, 1))).astype(np.int16)
            n = np.repeat(n, 3, axis=2)
            self.pos.append(np.clip(n, 0, 255).astype(np.uint8))
            self.neg.append(np.clip(-n, 0, 255).astype(np.uint8))

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Add one randomly chosen noise field to ``frame`` in place and return it."""
        k = int(self.rng.integers(len(self.pos)))
        cv2.add(frame, self.pos[k], dst=frame)
        cv2.subtract(frame, self.neg[k], dst=frame)
        return frame


@dataclass(frozen=True)
class Pan:
    """A slow back-and-forth camera pan: offset(t) = amp * (1 - cos(2 pi t / period + phase)) / 2."""

    amp_x: float
    amp_y: float
    period: float
    phase: float

    def offset(self, t: float) -> tuple[int, int]:
        """Integer crop offset (x, y) of the frame inside the world background at time ``t``."""
        u = (1.0 - np.cos(2 * np.pi * t / self.period + self.phase)) / 2.0
        return int(round(self.amp_x * u)), int(round(self.amp_y * u))


NO_PAN = Pan(0.0, 0.0, 1.0, 0.0)


FIXED_SHIFT = 4  # OpenCV fixed-point bits: drawing at 1/16 pixel keeps slow motion smooth


def fixed(v: float) -> int:
    """A coordinate in OpenCV's fixed-point form (``shift=FIXED_SHIFT``) for sub-pixel drawing."""
    return int(round(v * (1 << FIXED_SHIFT)))


def line(img: np.ndarray, p: tuple[float, float], q: tuple[float, float], colour, thickness: int) -> None:
    """Anti-aliased line between float points."""
    cv2.line(img, (fixed(p[0]), fixed(p[1])), (fixed(q[0]), fixed(q[1])), colour, thickness, cv2.LINE_AA, FIXED_SHIFT)


def disc(img: np.ndarray, c: tuple[float, float], radius: float, colour) -> None:
    """Anti-aliased filled circle at a float centre."""
    cv2.circle(img, (fixed(c[0]), fixed(c[1])), fixed(radius), colour, -1, cv2.LINE_AA, FIXED_SHIFT)


def ellipse(img: np.ndarray, c: tuple[float, float], axes: tuple[float, float], colour) -> None:
    """Anti-aliased filled axis-aligned ellipse at a float centre."""
    cv2.ellipse(
        img, (fixed(c[0]), fixed(c[1])), (fixed(axes[0]), fixed(axes[1])), 0, 0, 360, colour, -1, cv2.LINE_AA,
        FIXED_SHIFT,
    )


def polyline(img: np.ndarray, pts: np.ndarray, colour, thickness: int) -> None:
    """Anti-aliased open polyline through float points ``[N, 2]``."""
    p = np.rint(pts * (1 << FIXED_SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [p], False, colour, thickness, cv2.LINE_AA, FIXED_SHIFT)


def polygon(img: np.ndarray, pts: np.ndarray, colour) -> None:
    """Anti-aliased filled polygon through float points ``[N, 2]``."""
    p = np.rint(pts * (1 << FIXED_SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(img, [p], colour, cv2.LINE_AA, FIXED_SHIFT)
