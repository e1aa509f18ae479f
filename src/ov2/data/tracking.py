"""Synthetic video object tracking: 1-3 moving targets, same-kind distractors, occlusion, speed changes.

Each clip (H.264/HEVC through PyAV, as :mod:`ov2.data.jumprope`) shows 3-6 flat objects moving
over a still textured scene: 1-3 targets of the queried kind ("red ball") and distractors
sharing its shape or colour (``targets`` and ``distractors`` change both counts). Objects bounce
off the frame edges and change speed 1-3 times (slowing to a crawl or speeding up); in most clips a
grey pillar hides whatever passes behind it, and objects may cover one another. The query is
"Track the red balls."; the answer gives each target's point at every answer time
(``answer_fps``, default 2 per second) in the OV2 tracks format (two-decimal times, ids from 0,
x/y on 0-1000), omitting a target where it is fully hidden (as Molmo2 omits occluded points).

Files per clip: ``clips/<id>.mp4``, ``clips/<id>.masks.npz`` (exact label maps of every frame,
object ``k`` = ``k + 1``; ``targets`` in the record lists the tracked objects, track id ``j``
is object ``targets[j]``) and ``clips/<id>.boxes.json`` (per-frame visible boxes of every
object, the plan, written last). Resumable and deterministic as the other generators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encode import PlanMixin
from .runner import generate_clips, write_clip
from .scene import MovingScene, check_sizes, frame_objects, is_done
from .shapes import GroundTruthError, Obj, describe, label_map, pick_kinds, place_apart, point_of

JSONL_NAME = "tracking.jsonl"
QUESTION_TEMPLATE = (
    "Track the {label}. Answer with <tracks coords=\"T ID X Y;T ID X Y ...\">label</tracks>: one ';' segment "
    "per timestamp every {step} seconds, times in seconds with {decimals} decimals, ids from 0, x and y "
    "integers in [0, 1000]."
)


@dataclass
class Mover:
    """One object's motion: start (x, y), velocity (pixels/s), and speed factors from given times on."""

    shape: str
    colour: str
    r: float
    x: float
    y: float
    vx: float
    vy: float
    changes: list[list[float]] = field(default_factory=list)  # [[t, factor], ...] ascending in t


@dataclass
class TrackingPlan(PlanMixin):
    """Everything needed to render one tracking clip deterministically (JSON-able)."""

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
    answer_fps: float
    movers: list[Mover] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    occluder: list[int] | None = None  # [x0, x1): a full-height pillar

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrackingPlan:
        return cls(**{**d, "movers": [Mover(**m) for m in d["movers"]]})

    def kinds(self) -> list[Obj]:
        return [Obj(m.shape, m.colour, m.x, m.y, m.r) for m in self.movers]

    def label(self) -> str:
        m = self.movers[self.targets[0]]
        return describe(m.colour, m.shape, len(self.targets))

    def question(self) -> str:
        return QUESTION_TEMPLATE.format(label=self.label(), step=f"{1 / self.answer_fps:g}", decimals="two")

    def answer_frames(self) -> list[tuple[float, int]]:
        """(time, frame index) of every answer step: times k / answer_fps inside the clip."""
        last = (self.n_frames - 1) / self.fps
        steps = int(np.floor(last * self.answer_fps + 1e-9))
        return [(round(k / self.answer_fps, 6), int(round(k / self.answer_fps * self.fps))) for k in range(steps + 1)]


def poses(plan: TrackingPlan) -> np.ndarray:
    """``[n_objects, T, 3]``: each object's (x, y, r) per frame (stepped per frame, bouncing off the edges)."""
    out = np.zeros((len(plan.movers), plan.n_frames, 3))
    dt = 1.0 / plan.fps
    for k, m in enumerate(plan.movers):
        x, y, vx, vy = m.x, m.y, m.vx, m.vy
        lo_x, hi_x, lo_y, hi_y = m.r, plan.width - m.r, m.r, plan.height - m.r
        for i in range(plan.n_frames):
            out[k, i] = (x, y, m.r)
            t = i * dt
            factor = 1.0
            for t_change, f in m.changes:
                if t >= t_change:
                    factor = f
            x, y = x + vx * factor * dt, y + vy * factor * dt
            if not lo_x <= x <= hi_x:  # reflect off the edge
                x = 2 * (lo_x if x < lo_x else hi_x) - x
                vx = -vx
            if not lo_y <= y <= hi_y:
                y = 2 * (lo_y if y < lo_y else hi_y) - y
                vy = -vy
    return out


def plan_clip(seed: int, index: int, *, width: int = 640, height: int = 360, duration: tuple[float, float] = (6.0, 10.0),
              fps: int = 30, answer_fps: float = 2.0, hevc_every: int = 4,
              targets: tuple[int, int] = (1, 3), distractors: tuple[int, int] = (2, 3)) -> TrackingPlan:
    """Plan tracking clip ``index`` for ``seed`` (independent of how many clips are made); ``targets`` and
    ``distractors``: inclusive ranges of tracked and other objects per clip."""
    check_sizes(width, height, duration)
    check_count_range("targets", targets, 1, 3)
    check_count_range("distractors", distractors, 0, 3)
    lo, hi = duration
    if not 0 < answer_fps <= fps:
        raise ValueError(f"answer_fps must be in (0, fps={fps}], got {answer_fps}")
    rng = np.random.default_rng([int(seed), 15485863, int(index)])  # keeps streams apart from the others
    n_frames = int(round(rng.uniform(lo, hi) * fps))
    n_targets = int(rng.integers(targets[0], targets[1] + 1))
    target, others = pick_kinds(rng, int(rng.integers(distractors[0], distractors[1] + 1)))
    kinds = [target] * n_targets + others
    order = rng.permutation(len(kinds))
    side = min(width, height)
    radii = [float(rng.uniform(0.06, 0.09) * side) for _ in kinds]
    centres = place_apart(rng, len(kinds), radii, width, height)
    dur = n_frames / fps
    movers = []
    for k in order:
        speed = float(rng.uniform(0.15, 0.35) * width)  # pixels per second
        angle = float(rng.uniform(-0.6, 0.6) + (np.pi if rng.random() < 0.5 else 0.0))  # mostly sideways
        n_changes = int(rng.integers(1, 4))
        times = np.sort(rng.uniform(0.15 * dur, 0.9 * dur, n_changes))
        factors = rng.choice([0.15, 0.5, 1.8, 2.5], n_changes)
        movers.append(Mover(kinds[k][1], kinds[k][0], radii[k], centres[k][0], centres[k][1],
                            speed * float(np.cos(angle)), speed * float(np.sin(angle)),
                            [[round(float(t), 3), float(f)] for t, f in zip(times, factors)]))
    targets = sorted(i for i, k in enumerate(order) if k < n_targets)
    occluder = None
    if rng.random() < 0.7:  # a pillar that hides no target at the start
        pillar = max(4, int(0.1 * width))
        for _ in range(20):
            x0 = int(rng.integers(0, width - pillar))
            if all(movers[t].x + movers[t].r < x0 or movers[t].x - movers[t].r > x0 + pillar for t in targets):
                occluder = [x0, x0 + pillar]
                break
    return TrackingPlan(
        id=f"tracking_s{seed}_{index:04d}", index=int(index), seed=int(seed), width=int(width), height=int(height),
        fps=int(fps), n_frames=n_frames, codec="hevc" if hevc_every and index % hevc_every == hevc_every - 1 else "h264",
        scene_seed=int(rng.integers(2**31)), noise_sigma=float(rng.uniform(0.8, 1.6)), answer_fps=float(answer_fps),
        movers=movers, targets=targets, occluder=occluder)


def check_count_range(name: str, counts: tuple[int, int], lowest: int, highest: int) -> None:
    """``counts`` is an inclusive (MIN, MAX) within [lowest, highest] (more objects do not fit small frames apart)."""
    if len(counts) != 2 or not lowest <= counts[0] <= counts[1] <= highest:
        raise ValueError(f"{name} must be a range MIN MAX with {lowest} <= MIN <= MAX <= {highest}, "
                         f"got {tuple(counts)}")


def ground_truth(plan: TrackingPlan, pose: np.ndarray | None = None) -> list[list[float]]:
    """The answer records ``[t, track id, x, y]`` (0-1000) at every answer time where a target is visible.

    Raises :class:`GroundTruthError` if a target is hidden (or off the frame) at every answer time.
    """
    pose = poses(plan) if pose is None else pose
    occ = tuple(plan.occluder) if plan.occluder else None
    kinds = plan.kinds()
    records: list[list[float]] = []
    for t, i in plan.answer_frames():
        objs = frame_objects(kinds, pose, i)
        labels = label_map(objs, plan.height, plan.width, occ)
        for j, k in enumerate(plan.targets):
            pt = point_of(labels, k, objs[k])
            if pt is not None:
                records.append([t, j, *pt])
    for j, k in enumerate(plan.targets):
        if not any(r[1] == j for r in records):
            raise GroundTruthError(f"{plan.id}: target {k} ({kinds[k].name}) never appears at an answer time "
                                   "(hidden or off the frame throughout); a track needs at least one point")
    return records


def answer(plan: TrackingPlan, records: list[list[float]], decimals: int = 2) -> str:
    """The answer text in the OV2 tracks format."""
    from ..eval.points import PointRecord, format_points

    return format_points([PointRecord(*r) for r in records], plan.label(), kind="tracks", style="ov2",
                         decimals=decimals)


def _is_done(job: tuple[dict[str, Any], str]) -> bool:
    return is_done(TrackingPlan.from_json(job[0]), Path(job[1]))


def render_clip(job: tuple[dict[str, Any], str], threads: int = 1) -> str:
    """Check the ground truth, then render, encode and write one clip (mp4, masks, then boxes.json)."""
    plan = TrackingPlan.from_json(job[0])
    pose = poses(plan)
    ground_truth(plan, pose)  # a target that never appears fails here, before anything is written
    occ = tuple(plan.occluder) if plan.occluder else None
    return write_clip(plan, MovingScene(plan, plan.kinds(), pose, occ), Path(job[1]), threads)


def record(plan: TrackingPlan) -> dict[str, Any]:
    """The clip's jsonl record (paths relative to the jsonl's folder)."""
    points = ground_truth(plan)
    return {
        "id": plan.id,
        "video_path": f"clips/{plan.id}.mp4",
        "masks_path": f"clips/{plan.id}.masks.npz",
        "boxes_path": f"clips/{plan.id}.boxes.json",
        "query": plan.label(),
        "question": plan.question(),
        "answer": answer(plan, points),
        "points": points,
        "targets": plan.targets,
        "objects": [{"shape": m.shape, "colour": m.colour} for m in plan.movers],
        "answer_fps": plan.answer_fps,
        **plan.clip_facts(),
    }


def generate(out_dir: str | Path, n: int, seed: int = 0, *, width: int = 640, height: int = 360,
             duration: tuple[float, float] = (6.0, 10.0), fps: int = 30, answer_fps: float = 2.0,
             hevc_every: int = 4, targets: tuple[int, int] = (1, 3), distractors: tuple[int, int] = (2, 3),
             workers: int | None = None, progress: bool = True) -> Path:
    """Write ``n`` tracking clips, their masks and ``tracking.jsonl`` under ``out_dir``; return the jsonl path."""
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    plans = [plan_clip(seed, i, width=width, height=height, duration=duration, fps=fps, answer_fps=answer_fps,
                       hevc_every=hevc_every, targets=targets, distractors=distractors) for i in range(int(n))]
    return generate_clips(Path(out_dir), plans, render_clip, _is_done, record, JSONL_NAME, workers, progress, "tracking")
