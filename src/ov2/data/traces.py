"""Synthetic manipulation traces: one object moved along a curved path; the answer is 5-10 waypoints.

Each clip shows a still textured scene with 1-3 static distractors and one object of another
kind that rests, is moved along a cubic Bezier path (eased in and out) while its depth
changes (it shrinks as it moves away: radius proportional to 1 / depth), and rests again. The
question is the release's TraceSpatial prompt ("Point the 3D object-centric visual trace for
the task ... Output 5 to 10 waypoints"); the answer is ``K`` (5-10, per clip) waypoints
``[[x, y, d], ...]`` taken at equal steps of the path parameter from start to end: x, y the
object's exact centre on 0-1000, d its depth in metres (2 decimals). Files as
:mod:`ov2.data.tracking` (mp4, exact per-frame label maps, boxes json written last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encode import PlanMixin
from .runner import generate_clips, write_clip
from .scene import MovingScene, check_sizes, frame_objects, is_done
from .shapes import GroundTruthError, Obj, label_map, pick_kinds, place_apart

JSONL_NAME = "traces.jsonl"
QUESTION_TEMPLATE = (
    "Point the 3D object-centric visual trace for the task \"move the {name}\". Output 5 to 10 waypoints "
    "[(x, y, d), ...] with x, y in [0, 1000] and d in meters."
)
REF_DEPTH = 2.0  # metres at which the mover has its nominal radius


@dataclass
class TracePlan(PlanMixin):
    """Everything needed to render one trace clip deterministically (JSON-able)."""

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
    mover: Obj
    control: list[list[float]]  # 4 Bezier control points (x, y), pixels
    depth: list[float]  # [start, end] metres
    move: list[float]  # [t0, t1] seconds: rests before t0 and after t1
    n_waypoints: int
    static: list[Obj] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TracePlan:
        return cls(**{**d, "mover": Obj(**d["mover"]), "static": [Obj(**o) for o in d["static"]]})

    def question(self) -> str:
        return QUESTION_TEMPLATE.format(name=self.mover.name)

    def path(self, u: np.ndarray) -> np.ndarray:
        """``[N, 3]``: centre x, y (pixels) and depth (metres) at path parameters ``u`` in [0, 1]."""
        u = np.asarray(u, dtype=np.float64)[:, None]
        p = np.asarray(self.control)
        xy = (1 - u) ** 3 * p[0] + 3 * (1 - u) ** 2 * u * p[1] + 3 * (1 - u) * u**2 * p[2] + u**3 * p[3]
        d = self.depth[0] + (self.depth[1] - self.depth[0]) * u
        return np.concatenate([xy, d], axis=1)

    def progress(self, t: np.ndarray) -> np.ndarray:
        """Path parameter at times ``t``: 0 before the move, 1 after, smoothstep-eased in between."""
        s = np.clip((np.asarray(t, dtype=np.float64) - self.move[0]) / (self.move[1] - self.move[0]), 0.0, 1.0)
        return s * s * (3 - 2 * s)

    def waypoints(self) -> np.ndarray:
        """``[K, 3]`` ground truth: x, y on 0-1000 (rounded) and depth (2 decimals)."""
        pts = self.path(np.linspace(0.0, 1.0, self.n_waypoints))
        return np.stack([np.round(pts[:, 0] / self.width * 1000), np.round(pts[:, 1] / self.height * 1000),
                         np.round(pts[:, 2], 2)], axis=1)


def poses(plan: TracePlan) -> np.ndarray:
    """``[n_objects, T, 3]`` (x, y, r) per frame: the static objects, then the mover (drawn on top)."""
    t = np.arange(plan.n_frames) / plan.fps
    out = np.zeros((len(plan.static) + 1, plan.n_frames, 3))
    for k, o in enumerate(plan.static):
        out[k] = (o.x, o.y, o.r)
    path = plan.path(plan.progress(t))
    out[-1, :, :2] = path[:, :2]
    out[-1, :, 2] = plan.mover.r * REF_DEPTH / path[:, 2]
    return out


def plan_clip(seed: int, index: int, *, width: int = 640, height: int = 360, duration: tuple[float, float] = (4.0, 8.0),
              fps: int = 30, hevc_every: int = 4) -> TracePlan:
    """Plan trace clip ``index`` for ``seed``."""
    check_sizes(width, height, duration)
    lo, hi = duration
    rng = np.random.default_rng([int(seed), 32452843, int(index)])
    n_frames = int(round(rng.uniform(lo, hi) * fps))
    dur = n_frames / fps
    (colour, shape), others = pick_kinds(rng, int(rng.integers(1, 4)))
    side = min(width, height)
    r = float(rng.uniform(0.06, 0.08) * side)
    depth = [round(float(rng.uniform(1.5, 2.5)), 2), round(float(rng.uniform(1.5, 2.5)), 2)]
    margin = r * REF_DEPTH / min(depth) + 2  # the largest the mover gets stays inside the frame
    pts = np.stack([rng.uniform(margin, width - margin, 4), rng.uniform(margin, height - margin, 4)], axis=1)
    # Start and end far apart (at least 40 % of the frame's width) so the trace is not a dot.
    if abs(pts[3, 0] - pts[0, 0]) < 0.4 * width:
        pts[0, 0], pts[3, 0] = margin, width - margin
        if rng.random() < 0.5:
            pts[[0, 3], 0] = pts[[3, 0], 0]
    radii = [float(rng.uniform(0.05, 0.08) * side) for _ in others]
    centres = place_apart(rng, len(others), radii, width, height)
    static = [Obj(s, c, x, y, rr) for (c, s), rr, (x, y) in zip(others, radii, centres)]
    t0 = float(rng.uniform(0.1, 0.25) * dur)
    t1 = float(rng.uniform(0.75, 0.9) * dur)
    return TracePlan(
        id=f"traces_s{seed}_{index:04d}", index=int(index), seed=int(seed), width=int(width), height=int(height),
        fps=int(fps), n_frames=n_frames, codec="hevc" if hevc_every and index % hevc_every == hevc_every - 1 else "h264",
        scene_seed=int(rng.integers(2**31)), noise_sigma=float(rng.uniform(0.8, 1.6)),
        mover=Obj(shape, colour, 0.0, 0.0, r), control=pts.round(3).tolist(), depth=depth,
        move=[round(t0, 3), round(t1, 3)], n_waypoints=int(rng.integers(5, 11)), static=static)


def check(plan: TracePlan, pose: np.ndarray | None = None) -> None:
    """Raise :class:`GroundTruthError` unless the mover is visible where the trace starts and ends."""
    pose = poses(plan) if pose is None else pose
    kinds = plan.static + [plan.mover]
    for i in (0, plan.n_frames - 1):
        labels = label_map(frame_objects(kinds, pose, i), plan.height, plan.width)
        if not (labels == len(kinds)).any():
            raise GroundTruthError(f"{plan.id}: the moved {plan.mover.name} is not visible in frame {i} (off the "
                                   "frame); its trace has no ground truth there")


def _is_done(job: tuple[dict[str, Any], str]) -> bool:
    return is_done(TracePlan.from_json(job[0]), Path(job[1]))


def render_clip(job: tuple[dict[str, Any], str], threads: int = 1) -> str:
    """Check the ground truth, then render, encode and write one clip (mp4, masks, then boxes.json)."""
    plan = TracePlan.from_json(job[0])
    pose = poses(plan)
    check(plan, pose)
    return write_clip(plan, MovingScene(plan, plan.static + [plan.mover], pose, None), Path(job[1]), threads)


def record(plan: TracePlan) -> dict[str, Any]:
    """The clip's jsonl record (paths relative to the jsonl's folder)."""
    from ..eval.points import format_trace

    check(plan)
    waypoints = plan.waypoints()
    return {
        "id": plan.id,
        "video_path": f"clips/{plan.id}.mp4",
        "masks_path": f"clips/{plan.id}.masks.npz",
        "boxes_path": f"clips/{plan.id}.boxes.json",
        "query": f"move the {plan.mover.name}",
        "question": plan.question(),
        "answer": format_trace(waypoints, decimals=2),
        "waypoints": waypoints.tolist(),
        "mover": len(plan.static),  # the moved object's label in the masks is this + 1
        "move": plan.move,
        **plan.clip_facts(),
    }


def generate(out_dir: str | Path, n: int, seed: int = 0, *, width: int = 640, height: int = 360,
             duration: tuple[float, float] = (4.0, 8.0), fps: int = 30, hevc_every: int = 4,
             workers: int | None = None, progress: bool = True) -> Path:
    """Write ``n`` trace clips, their masks and ``traces.jsonl`` under ``out_dir``; return the jsonl path."""
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    plans = [plan_clip(seed, i, width=width, height=height, duration=duration, fps=fps, hevc_every=hevc_every)
             for i in range(int(n))]
    return generate_clips(Path(out_dir), plans, render_clip, _is_done, record, JSONL_NAME, workers, progress, "traces")
