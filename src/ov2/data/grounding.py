"""Synthetic temporal-grounding clips: one distinct event on a still scene, a query and its span.

Each clip is a static textured scene with light sensor noise (see
:mod:`ov2.data.render`). Exactly once, a saturated object pops into view at
``span[0]``, moves (slides across, falls, bounces or grows) and vanishes at
``span[1]``; the object is drawn in exactly the frames whose time lies in
``[span[0], span[1])``. Span ends are on a 0.01 s grid, so the annotation is
exact, not rounded. The query describes the event ("a red ball appears on the
left and slides to the right"); the records also carry the evaluation
prompt of the grounding spec as ``question``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import render
from .encode import PlanMixin
from .runner import generate_clips, is_clip_done, write_clip

JSONL_NAME = "grounding.jsonl"
QUESTION_TEMPLATE = (
    "Please find the visual event described by the sentence '{query}', determining its starting and ending "
    "times. The format should be: 'The event happens in <start time> - <end time> seconds'."
)
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 30, 30),
    "green": (30, 200, 45),
    "blue": (30, 60, 235),
    "yellow": (240, 215, 20),
    "orange": (250, 130, 15),
}
SHAPES = ("ball", "square", "triangle")
KINDS = ("slide", "fall", "bounce", "grow")


def is_event_colour(rgb: np.ndarray, margin: int = 100) -> np.ndarray:
    """Mask of strongly saturated pixels (the event object's; backgrounds never get this saturated)."""
    rgb = rgb.astype(np.int16)
    return rgb.max(axis=-1) - rgb.min(axis=-1) > margin


@dataclass
class Event:
    """The one event of a clip: what, where, and when (seconds, ``start`` inclusive, ``end`` exclusive)."""

    kind: str
    colour: str
    shape: str
    start: float
    end: float
    size: float  # object radius / half side, pixels
    x0: float  # start and end positions of the object's centre (pixels)
    y0: float
    x1: float
    y1: float

    def query(self) -> str:
        c, s = self.colour, self.shape
        left_to_right = self.x1 > self.x0
        a, b = ("left", "right") if left_to_right else ("right", "left")
        if self.kind == "slide":
            return f"a {c} {s} appears on the {a} and slides to the {b}"
        if self.kind == "fall":
            return f"a {c} {s} falls from the top of the picture to the floor"
        if self.kind == "bounce":
            return f"a {c} {s} bounces across the floor from {a} to {b}"
        return f"a {c} {s} appears in the middle and grows larger"

    def pose(self, t: float) -> tuple[float, float, float] | None:
        """Centre (x, y) and size at time ``t``, or None when the object is not in view."""
        if not self.start <= t < self.end:
            return None
        u = (t - self.start) / (self.end - self.start)
        x = self.x0 + (self.x1 - self.x0) * u
        y = self.y0 + (self.y1 - self.y0) * u
        size = self.size
        if self.kind == "fall":
            u_fall = min(1.0, (u / 0.6) ** 2)  # accelerates, then rests on the floor
            y = self.y0 + (self.y1 - self.y0) * u_fall
        elif self.kind == "bounce":
            hops = 3
            y = self.y1 - abs(math.sin(math.pi * hops * u)) * (self.y1 - self.y0)
        elif self.kind == "grow":
            size = self.size * (0.4 + 1.2 * u)
        return x, y, size


@dataclass
class GroundingPlan(PlanMixin):
    """Everything needed to render one grounding clip deterministically (JSON-able)."""

    id: str
    index: int
    seed: int
    width: int
    height: int
    fps: int
    n_frames: int
    codec: str
    scene_seed: int
    noise_sigma: float
    event: Event

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GroundingPlan:
        d = dict(d)
        d["event"] = Event(**d["event"])
        return cls(**d)


def plan_clip(
    seed: int,
    index: int,
    *,
    width: int = 1280,
    height: int = 720,
    duration: tuple[float, float] = (15.0, 40.0),
    fps: int = 30,
    hevc_every: int = 4,
) -> GroundingPlan:
    """Plan grounding clip ``index`` for ``seed``: event of 10-40 % of the clip, never at its very ends."""
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 64, got {width}x{height}")
    lo, hi = duration
    if not 2.0 <= lo <= hi:
        raise ValueError(f"duration range must satisfy 2 <= lo <= hi, got {(lo, hi)}")
    rng = np.random.default_rng([int(seed), 7919, int(index)])  # 7919: keeps streams apart from jumprope's
    n_frames = int(round(rng.uniform(lo, hi) * fps))
    dur = n_frames / fps
    length = round(max(1.0, rng.uniform(0.1, 0.4) * dur), 2)
    start = round(rng.uniform(0.1 * dur, 0.9 * dur - length), 2)
    kind = str(rng.choice(KINDS))
    shape = "ball" if kind == "bounce" else str(rng.choice(SHAPES))
    colour = str(rng.choice(list(COLOURS)))
    size = float(rng.uniform(0.04, 0.07) * height)
    floor = float(rng.uniform(0.8, 0.88) * height)
    margin = 2 * size
    if rng.random() < 0.5:
        xa, xb = margin, width - margin
    else:
        xa, xb = width - margin, margin
    if kind == "slide":
        y = float(rng.uniform(0.3, 0.75) * height)
        pos = (xa, y, xb, y)
    elif kind == "fall":
        x = float(rng.uniform(0.2, 0.8) * width)
        pos = (x, size * 1.5, x, floor - size)
    elif kind == "bounce":
        pos = (xa, floor - 0.45 * height, xb, floor - size)
    else:
        cx, cy = width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.1, 0.1) * height
        pos = (cx, cy, cx, cy)
    event = Event(kind, colour, shape, float(start), round(start + length, 2), size, *map(float, pos))
    return GroundingPlan(
        id=f"grounding_s{seed}_{index:04d}",
        index=int(index),
        seed=int(seed),
        width=int(width),
        height=int(height),
        fps=int(fps),
        n_frames=n_frames,
        codec="hevc" if hevc_every and index % hevc_every == hevc_every - 1 else "h264",
        scene_seed=int(rng.integers(2**31)),
        noise_sigma=float(rng.uniform(0.8, 1.6)),
        event=event,
    )


def _object_box(pose: tuple[float, float, float], width: int, height: int) -> list[int]:
    x, y, r = pose
    return [
        int(np.clip(math.floor(x - r) - 1, 0, width)),
        int(np.clip(math.floor(y - r) - 1, 0, height)),
        int(np.clip(math.ceil(x + r) + 2, 0, width)),
        int(np.clip(math.ceil(y + r) + 2, 0, height)),
    ]


class GroundingScene:
    """Renders the frames of one grounding clip; ``render(i)`` -> (RGB frame, object box or None)."""

    def __init__(self, plan: GroundingPlan) -> None:
        self.plan = plan
        rng = np.random.default_rng(plan.scene_seed)
        self.world = render.textured_background(rng, plan.height, plan.width, rng.uniform(0.55, 0.75) * plan.height)
        self.noise = render.NoiseBank(rng, plan.height, plan.width, plan.noise_sigma)
        self.times = np.arange(plan.n_frames) / plan.fps
        self._buffer = np.empty_like(self.world)

    def render(self, i: int, noise: bool = True) -> tuple[np.ndarray, list[int] | None]:
        """Frame ``i`` (a reused buffer: copy it to keep it) and the event object's box (None if absent)."""
        img = self._buffer
        np.copyto(img, self.world)
        ev = self.event
        pose = ev.pose(float(self.times[i]))
        box = None
        if pose is not None:
            x, y, r = pose
            colour = COLOURS[ev.colour]
            if ev.shape == "ball":
                render.disc(img, (x, y), r, colour)
            elif ev.shape == "square":
                render.polygon(img, np.array([(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]), colour)
            else:
                render.polygon(img, np.array([(x, y - r), (x + r, y + r), (x - r, y + r)]), colour)
            box = _object_box(pose, self.plan.width, self.plan.height)
        if noise:
            self.noise.apply(img)
        return img, box

    @property
    def event(self) -> Event:
        return self.plan.event


def _is_done(job: tuple[dict[str, Any], str]) -> bool:
    return is_clip_done(GroundingPlan.from_json(job[0]), Path(job[1]))


def render_clip(job: tuple[dict[str, Any], str], threads: int = 1) -> str:
    """Render, encode and write one clip (mp4, then boxes.json); returns the clip id."""
    plan = GroundingPlan.from_json(job[0])
    return write_clip(plan, GroundingScene(plan), Path(job[1]), threads)


def record(plan: GroundingPlan) -> dict[str, Any]:
    """The clip's jsonl record (paths relative to the jsonl's folder)."""
    query = plan.event.query()
    return {
        "id": plan.id,
        "video_path": f"clips/{plan.id}.mp4",
        "query": query,
        "span": [plan.event.start, plan.event.end],
        "duration": round(plan.duration, 6),
        "question": QUESTION_TEMPLATE.format(query=query),
        "codec": plan.codec,
        "boxes_path": f"clips/{plan.id}.boxes.json",
        "fps": plan.fps,
        "width": plan.width,
        "height": plan.height,
    }


def generate(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    *,
    width: int = 1280,
    height: int = 720,
    duration: tuple[float, float] = (15.0, 40.0),
    fps: int = 30,
    hevc_every: int = 4,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``n`` grounding clips, per-frame object boxes and ``grounding.jsonl``; return the jsonl path.

    Deterministic for ``seed`` and the sizes; complete clips on disk are kept (resumable).
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    plans = [
        plan_clip(seed, i, width=width, height=height, duration=duration, fps=fps, hevc_every=hevc_every)
        for i in range(int(n))
    ]
    return generate_clips(Path(out_dir), plans, render_clip, _is_done, record, JSONL_NAME, workers, progress, "grounding")
