"""Flat-coloured objects with exact masks, for the pointing, tracking and trace benchmarks.

Objects are drawn with hard edges (no anti-aliasing), so the pixels an object covers are
exactly its mask. Objects later in drawing order cover earlier ones, and an optional
occluder (a grey pillar) covers them all; :func:`label_map` gives the *visible* pixels of
each object as one label image (0 = background, ``k + 1`` = object ``k``).

Ground-truth points are pixel centres chosen well inside the visible mask (a pixel whose
3x3 neighbourhood is all visible), nearest to the object's true centre, then written on
the 0-1000 scale, and only where mapping them back to pixels (floor or round of
``x / 1000 * W``) lands inside the mask; an object too thin for that counts as hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import VideoError
from .grounding import COLOURS

SHAPES = ("ball", "square", "triangle", "diamond")
PLURALS = {"ball": "balls", "square": "squares", "triangle": "triangles", "diamond": "diamonds"}
OCCLUDER_RGB = (118, 112, 104)  # a muted grey-brown pillar: never confused with an object colour


class GroundTruthError(VideoError, ValueError):
    """Generated ground truth is unusable (an object with an empty mask, a target that never appears)."""


@dataclass(frozen=True)
class Obj:
    """One object: what it is, and its centre and radius (half side) in pixels."""

    shape: str
    colour: str
    x: float
    y: float
    r: float

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


def describe(colour: str | None, shape: str, count: int) -> str:
    """``"red ball"``, ``"red balls"`` or ``"triangles"`` (colour None: any colour)."""
    noun = shape if count == 1 else PLURALS[shape]
    return f"{colour} {noun}" if colour else noun


def _outline(shape: str, x: float, y: float, r: float) -> np.ndarray:
    if shape == "square":
        return np.array([(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)])
    if shape == "triangle":
        return np.array([(x, y - r), (x + r, y + r), (x - r, y + r)])
    if shape == "diamond":
        return np.array([(x, y - r), (x + r, y), (x, y + r), (x - r, y)])
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def shape_mask(shape: str, x: float, y: float, r: float, height: int, width: int) -> np.ndarray:
    """Boolean ``[H, W]`` mask of one object drawn with hard edges (1/16-pixel vertex precision)."""
    canvas = np.zeros((height, width), np.uint8)
    shift = 4
    if shape == "ball":
        cv2.circle(canvas, (int(round(x * 16)), int(round(y * 16))), int(round(r * 16)), 1, -1, cv2.LINE_8, shift)
    else:
        pts = np.rint(_outline(shape, x, y, r) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [pts], 1, cv2.LINE_8, shift)
    return canvas.astype(bool)


def label_map(objects: list[Obj], height: int, width: int, occluder: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 ``[H, W]``: ``k + 1`` where object ``k`` is visible (drawing order), 0 elsewhere.

    ``occluder`` = (x0, x1): a full-height pillar over columns ``[x0, x1)`` hides every object.
    """
    labels = np.zeros((height, width), np.uint8)
    for k, o in enumerate(objects):
        labels[shape_mask(o.shape, o.x, o.y, o.r, height, width)] = k + 1
    if occluder is not None:
        labels[:, occluder[0]:occluder[1]] = 0
    return labels


def paint(background: np.ndarray, labels: np.ndarray, objects: list[Obj],
          occluder: tuple[int, int] | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """The picture: ``background`` with each object's visible pixels in its flat colour, and the pillar."""
    if out is None:
        img = background.copy()
    else:
        img = out
        np.copyto(img, background)
    table = np.array([(0, 0, 0)] + [COLOURS[o.colour] for o in objects], np.uint8)
    hit = labels > 0
    img[hit] = table[labels[hit]]
    if occluder is not None:
        img[:, occluder[0]:occluder[1]] = OCCLUDER_RGB
    return img


def to_thousandths(pixel: int | np.ndarray, size: int) -> int | np.ndarray:
    """A pixel index as an integer on the 0-1000 scale (its centre, rounded)."""
    v = np.rint((np.asarray(pixel) + 0.5) / size * 1000).astype(np.int64)
    return int(v) if v.ndim == 0 else v


def _lands_inside(mask: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which pixels, written on 0-1000 and mapped back (x / 1000 * W, by round and by floor), stay in ``mask``."""
    h, w = mask.shape
    ok = np.ones(cols.shape, bool)
    xs = to_thousandths(cols, w) / 1000 * w
    ys = to_thousandths(rows, h) / 1000 * h
    for back in (np.rint, np.floor):
        c = np.clip(back(xs).astype(np.int64), 0, w - 1)
        r = np.clip(back(ys).astype(np.int64), 0, h - 1)
        ok &= mask[r, c]
    return ok


def interior_point(mask: np.ndarray, centre: tuple[float, float]) -> tuple[int, int] | None:
    """The pixel (col, row) of ``mask`` nearest ``centre`` that is safely inside it, or None.

    Prefers pixels whose 3x3 neighbourhood is all in the mask; for slivers, any pixel whose
    0-1000 round trip stays in the mask. None when the mask is empty or too thin for that.
    """
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
    rows, cols = np.nonzero(inner if inner.any() else mask)
    keep = _lands_inside(mask, cols, rows)
    rows, cols = rows[keep], cols[keep]
    if rows.size == 0:
        return None
    k = int(np.argmin((cols + 0.5 - centre[0]) ** 2 + (rows + 0.5 - centre[1]) ** 2))
    return int(cols[k]), int(rows[k])


def point_of(labels: np.ndarray, k: int, obj: Obj) -> tuple[int, int] | None:
    """Object ``k``'s ground-truth point (x, y on 0-1000) in a label map, or None where it is hidden."""
    px = interior_point(labels == k + 1, (obj.x, obj.y))
    if px is None:
        return None
    h, w = labels.shape
    return to_thousandths(px[0], w), to_thousandths(px[1], h)


def place_apart(rng: np.random.Generator, n: int, radii: list[float], width: int, height: int,
                margin: float = 2.0, tries: int = 400) -> list[tuple[float, float]]:
    """Centres for ``n`` objects of ``radii`` inside the frame, no two overlapping (rejection sampling)."""
    centres: list[tuple[float, float]] = []
    for k in range(n):
        r = radii[k]
        for _ in range(tries):
            x = float(rng.uniform(r + margin, width - r - margin))
            y = float(rng.uniform(r + margin, height - r - margin))
            if all(np.hypot(x - cx, y - cy) > r + radii[j] * 1.42 + margin for j, (cx, cy) in enumerate(centres)):
                centres.append((x, y))
                break
        else:
            raise ValueError(f"cannot place {n} objects apart in {width}x{height}; use a larger frame")
    return centres


def pick_kinds(rng: np.random.Generator, n_others: int) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """The queried (colour, shape) and ``n_others`` distractor kinds, most sharing its shape or its colour."""
    colours = list(COLOURS)
    target = (colours[int(rng.integers(len(colours)))], SHAPES[int(rng.integers(len(SHAPES)))])
    others = []
    for _ in range(n_others):
        mode = rng.random()
        while True:
            if mode < 0.45:  # same shape, another colour: the query's colour word matters
                kind = (colours[int(rng.integers(len(colours)))], target[1])
            elif mode < 0.8:  # same colour, another shape: the shape word matters
                kind = (target[0], SHAPES[int(rng.integers(len(SHAPES)))])
            else:
                kind = (colours[int(rng.integers(len(colours)))], SHAPES[int(rng.integers(len(SHAPES)))])
            if kind != target:
                break
        others.append(kind)
    return target, others
