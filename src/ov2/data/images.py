"""Synthetic images with questions: coloured shapes on a textured scene, for the recipe's image share.

Each image is a muted, softly lit surface (no objects of its own) with 1-4
saturated shapes (ball, square, triangle; colours of :data:`ov2.data.grounding.COLOURS`), each
in its own cell of a 3x3 grid, so "where" has an exact answer ("top left" ... "bottom right").
No two shapes share both colour and shape. Every sample asks 2-3 questions about count,
colour, shape and position (a multi-turn conversation); every 8th sample shows two images and
asks which has more shapes. The answers are exact by construction.

Writes ``OUT/images/<id>.png`` and ``OUT/images.jsonl`` in the LLaVA manifest form
(``image`` / ``images``, ``conversations``, ``source``). Deterministic: sample ``i`` depends
only on ``(seed, i, size)``. Re-running rewrites nothing that is already identical on disk;
files are written atomically and the jsonl last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import render
from .grounding import COLOURS

JSONL_NAME = "images.jsonl"
SOURCE = "images"
SHAPES = ("ball", "square", "triangle")
PLURALS = {"ball": "balls", "square": "squares", "triangle": "triangles"}
CELLS = (("top left", "top", "top right"), ("left", "centre", "right"), ("bottom left", "bottom", "bottom right"))
PAIR_EVERY = 8  # every 8th sample compares two images


@dataclass(frozen=True)
class Shape:
    colour: str
    shape: str
    row: int  # grid cell, 0..2
    col: int
    x: float  # centre, pixels
    y: float
    r: float  # radius / half side, pixels

    @property
    def where(self) -> str:
        return CELLS[self.row][self.col]

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


def plan_scene(rng: np.random.Generator, size: int, n_shapes: int | None = None) -> tuple[int, list[Shape]]:
    """(scene seed, shapes) for one image of ``size`` x ``size`` pixels."""
    n = int(rng.integers(1, 5)) if n_shapes is None else n_shapes
    cells = rng.choice(9, size=n, replace=False)
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    chosen = rng.choice(len(pairs), size=n, replace=False)
    cell = size / 3
    shapes = []
    for k, idx in zip(cells, chosen):
        row, col = divmod(int(k), 3)
        r = float(rng.uniform(0.2, 0.32) * cell)
        slack = cell / 2 - r - 2
        x = (col + 0.5) * cell + float(rng.uniform(-slack, slack))
        y = (row + 0.5) * cell + float(rng.uniform(-slack, slack))
        colour, shape = pairs[int(idx)]
        shapes.append(Shape(colour, shape, row, col, x, y, r))
    return int(rng.integers(2**31)), shapes


def plain_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted, softly lit surface with fine grain and no objects of its own (nothing to miscount)."""
    base = rng.uniform(80, 200) + rng.uniform(-render.MAX_CHROMA, render.MAX_CHROMA, size=3) * 0.8
    light = render.value_noise(rng, size, size, size / 2)[..., None] * 20
    grain = rng.normal(0, 3, size=(size, size, 1))
    return np.clip(base + light + grain, 0, 255).astype(np.uint8)


def render_scene(size: int, scene_seed: int, shapes: list[Shape]) -> np.ndarray:
    """uint8 RGB image: the textured scene and the shapes drawn on it."""
    img = plain_background(np.random.default_rng(scene_seed), size)
    for s in shapes:
        colour = COLOURS[s.colour]
        if s.shape == "ball":
            render.disc(img, (s.x, s.y), s.r, colour)
        elif s.shape == "square":
            render.polygon(img, np.array([(s.x - s.r, s.y - s.r), (s.x + s.r, s.y - s.r),
                                          (s.x + s.r, s.y + s.r), (s.x - s.r, s.y + s.r)]), colour)
        else:
            render.polygon(img, np.array([(s.x, s.y - s.r), (s.x + s.r, s.y + s.r), (s.x - s.r, s.y + s.r)]), colour)
    return img


def _count_text(n: int, noun: str) -> str:
    return f"There {'is' if n == 1 else 'are'} {n} {noun if n == 1 else PLURALS.get(noun, noun + 's')}."


def questions(rng: np.random.Generator, shapes: list[Shape]) -> list[tuple[str, str]]:
    """2-3 distinct (question, answer) pairs about one image, answers exact by construction."""
    pool: list[tuple[str, str]] = [("How many shapes are in the image?", _count_text(len(shapes), "shape"))]
    kinds = [s.shape for s in shapes]
    colours = [s.colour for s in shapes]
    for shape in SHAPES:
        pool.append((f"How many {PLURALS[shape]} are there?", _count_text(kinds.count(shape), shape)))
    for s in shapes:
        if kinds.count(s.shape) == 1:
            pool.append((f"What colour is the {s.shape}?", f"The {s.shape} is {s.colour}."))
        if colours.count(s.colour) == 1:
            pool.append((f"What shape is the {s.colour} object?", f"The {s.colour} object is a {s.shape}."))
        pool.append((f"Where is the {s.name} in the image?", f"The {s.name} is at the {s.where}."))
    picks = rng.choice(len(pool), size=min(len(pool), int(rng.integers(2, 4))), replace=False)
    return [pool[int(i)] for i in picks]


def plan_sample(seed: int, index: int, size: int) -> dict[str, Any]:
    """Everything about sample ``index``: scenes (seed + shapes) and the conversation."""
    rng = np.random.default_rng([int(seed), 4099, int(index)])  # 4099: keeps streams apart from the clips'
    sid = f"images_s{seed}_{index:05d}"
    if index % PAIR_EVERY == PAIR_EVERY - 1:
        n_a = int(rng.integers(1, 5))
        n_b = int(rng.choice([n for n in range(1, 5) if n != n_a]))
        scenes = [plan_scene(rng, size, n_a), plan_scene(rng, size, n_b)]
        answer = "The first image." if n_a > n_b else "The second image."
        turns = [("<image>\n<image>\nWhich image shows more shapes, the first or the second?", answer)]
        names = [f"{sid}_a.png", f"{sid}_b.png"]
    else:
        scenes = [plan_scene(rng, size)]
        qa = questions(rng, scenes[0][1])
        turns = [("<image>\n" + qa[0][0], qa[0][1])] + qa[1:]
        names = [f"{sid}.png"]
    return {"id": sid, "scenes": scenes, "names": names, "turns": turns}


def _write_png(path: Path, rgb: np.ndarray) -> bool:
    """Write ``rgb`` as PNG atomically unless identical bytes are already there; True if written."""
    import cv2

    from ..fileio import atomic_write_bytes

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise RuntimeError(f"could not encode {path}")
    data = buf.tobytes()
    if path.is_file() and path.read_bytes() == data:
        return False
    atomic_write_bytes(path, data)
    return True


def record(plan: dict[str, Any]) -> dict[str, Any]:
    """The sample's manifest line (paths relative to the jsonl's folder)."""
    paths = [f"images/{name}" for name in plan["names"]]
    conversations = []
    for q, a in plan["turns"]:
        conversations += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    media = {"image": paths[0]} if len(paths) == 1 else {"images": paths}
    return {"id": plan["id"], **media, "conversations": conversations, "source": SOURCE}


def generate(out_dir: str | Path, n: int, seed: int = 0, *, size: int = 336, progress: bool = True) -> Path:
    """Write ``n`` image samples and ``images.jsonl`` under ``out_dir``; return the jsonl path."""
    from tqdm import tqdm

    from ..fileio import atomic_write_jsonl

    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if int(size) < 84:
        raise ValueError(f"size must be >= 84 pixels, got {size}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in tqdm(range(int(n)), desc="images", unit="image", disable=not progress):
        plan = plan_sample(seed, i, int(size))
        for name, (scene_seed, shapes) in zip(plan["names"], plan["scenes"]):
            _write_png(out / "images" / name, render_scene(int(size), scene_seed, shapes))
        records.append(record(plan))
    path = out / JSONL_NAME
    atomic_write_jsonl(path, records)
    return path
