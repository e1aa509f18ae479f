"""A video of flat objects moving over a still textured scene, with exact per-frame label maps.

Shared by the tracking and trace generators: they differ only in how the objects move
(``poses[k, i] = (x, y, r)`` of object ``k`` in frame ``i``). Each frame's label map comes
from :func:`ov2.data.shapes.label_map` and is painted exactly, then light sensor noise is
added; the label maps of all frames are written to ``clips/<id>.masks.npz`` (key ``labels``,
uint8 ``[T, H, W]``) by :meth:`MovingScene.finish`, before the clip's boxes file marks it done.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import render
from .shapes import Obj, label_map, paint


def masks_path(clips_dir: Path, clip_id: str) -> Path:
    """Where a clip's label maps live."""
    return Path(clips_dir) / f"{clip_id}.masks.npz"


def load_labels(path: str | Path) -> np.ndarray:
    """uint8 ``[T, H, W]`` label maps of a clip (0 = background, ``k + 1`` = object ``k``)."""
    with np.load(path) as doc:
        return doc["labels"]


def check_sizes(width: int, height: int, duration: tuple[float, float]) -> None:
    """ValueError unless the frame is even and >= 64 a side and the duration range is 1 <= lo <= hi."""
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 64, got {width}x{height}")
    if not 1.0 <= duration[0] <= duration[1]:
        raise ValueError(f"duration range must satisfy 1 <= lo <= hi, got {tuple(duration)}")


def is_done(plan, clips_dir: Path) -> bool:
    """True if the clip is complete: boxes file with the plan's signature (written last) and its masks."""
    from .runner import is_clip_done

    return is_clip_done(plan, Path(clips_dir)) and masks_path(Path(clips_dir), plan.id).is_file()


def frame_objects(kinds: list[Obj], poses: np.ndarray, i: int) -> list[Obj]:
    """The objects of frame ``i``: each kind at its pose."""
    return [Obj(o.shape, o.colour, float(poses[k, i, 0]), float(poses[k, i, 1]), float(poses[k, i, 2]))
            for k, o in enumerate(kinds)]


def _box(mask: np.ndarray) -> list[int] | None:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]


class MovingScene:
    """Renders ``render(i)`` -> (RGB frame, per-object visible boxes or None) and keeps the label maps."""

    def __init__(self, plan, kinds: list[Obj], poses: np.ndarray, occluder: tuple[int, int] | None) -> None:
        self.plan = plan
        self.kinds = kinds
        self.poses = poses
        self.occluder = occluder
        rng = np.random.default_rng(plan.scene_seed)
        self.world = render.textured_background(rng, plan.height, plan.width, rng.uniform(0.6, 0.8) * plan.height)
        self.noise = render.NoiseBank(rng, plan.height, plan.width, plan.noise_sigma)
        self.times = np.arange(plan.n_frames) / plan.fps
        self.labels = np.zeros((plan.n_frames, plan.height, plan.width), np.uint8)
        self._buffer = np.empty_like(self.world)

    def labels_at(self, i: int) -> np.ndarray:
        """Label map of frame ``i`` (computed, not rendered)."""
        return label_map(frame_objects(self.kinds, self.poses, i), self.plan.height, self.plan.width, self.occluder)

    def render(self, i: int, noise: bool = True) -> tuple[np.ndarray, list[list[int] | None]]:
        """Frame ``i`` (a reused buffer: copy it to keep it) and each object's visible box."""
        labels = self.labels_at(i)
        self.labels[i] = labels
        img = paint(self.world, labels, self.kinds, self.occluder, out=self._buffer)
        if noise:
            self.noise.apply(img)
        return img, [_box(labels == k + 1) for k in range(len(self.kinds))]

    def finish(self, clips_dir: Path) -> None:
        """Write the label maps of every frame (atomically)."""
        from ..fileio import atomic_write_bytes

        buf = io.BytesIO()
        np.savez_compressed(buf, labels=self.labels)
        atomic_write_bytes(masks_path(clips_dir, self.plan.id), buf.getvalue())
