"""Built-in sample videos: clips where we know exactly when and where things move.

``make_bursts_clip`` renders a textured still scene in which one object moves
in short bursts separated by still pauses, and encodes it with PyAV. It is the
demo's input and the tests' ground truth: the bursts' times and the object's
box per frame are returned with the clip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .io.encode import VideoWriter

# fast settings: the samples are for demos and tests, not for quality
SAMPLE_OPTIONS = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=none"},
    "libsvtav1": {"preset": "12"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}
PIX_FMT = {"libx264": "yuv420p", "libx265": "yuv420p", "libvpx-vp9": "yuv420p", "libsvtav1": "yuv420p",
           "mpeg4": "yuv420p", "mpeg2video": "yuv420p", "mjpeg": "yuvj420p"}


@dataclass
class ClipTruth:
    """Where and when the sample clip moves."""

    path: Path
    width: int
    height: int
    fps: float
    bursts: list[tuple[float, float]]
    times: np.ndarray = field(repr=False)  # pts of every frame, seconds
    boxes: np.ndarray = field(repr=False)  # [frames, 4] x0, y0, x1, y1 of the moving object

    def moving(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.bursts)


def default_bursts(duration: float) -> list[tuple[float, float]]:
    """A few short bursts of unequal length spread over the clip."""
    marks = [(0.12, 0.06), (0.40, 0.04), (0.63, 0.08), (0.86, 0.05)]
    return [(round(duration * a, 2), round(duration * (a + d), 2)) for a, d in marks]


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Static textured scene: smooth colour blobs plus fine detail (so intra frames cost bits)."""
    small = rng.integers(40, 200, size=(max(2, h // 40), max(2, w // 40), 3)).astype(np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    bg += rng.integers(-12, 13, size=(h, w, 1), dtype=np.int16)
    return np.clip(bg, 0, 255).astype(np.uint8)


def make_bursts_clip(
    path: str | os.PathLike[str],
    duration: float = 20.0,
    width: int = 480,
    height: int = 272,
    fps: float = 25,
    codec: str = "libx264",
    bursts: list[tuple[float, float]] | None = None,
    seed: int = 0,
    vfr: bool = False,
    rotation: int = 0,
    options: dict[str, str] | None = None,
) -> ClipTruth:
    """Encode a clip with a ball moving only during ``bursts`` (seconds) over a still textured scene.

    ``vfr`` gives frames irregular timestamps (alternating 1x and 2x the
    nominal interval, with jitter); ``rotation`` stores a display rotation
    (degrees counter-clockwise) in the container while the pixels are written
    in the coded orientation, as phones do: the upright picture is ``height``
    x ``width``... after rotation.
    """
    rng = np.random.default_rng(seed)
    bursts = default_bursts(duration) if bursts is None else bursts
    path = Path(path)
    bg = _background(height, width, rng)
    r = max(4, min(width, height) // 10)
    n_max = int(duration * fps) + 1
    # presentation times
    if vfr:
        steps = np.where(np.arange(n_max) % 3 == 2, 2.0, 1.0) / fps
        steps *= rng.uniform(0.9, 1.1, size=n_max)
        times = np.concatenate([[0.0], np.cumsum(steps)])[:n_max]
        times = times[times < duration]
    else:
        times = np.arange(n_max) / fps
        times = times[times < duration - 1e-9]
    # the ball's path: it only advances while inside a burst
    moving_time = np.array([sum(max(0.0, min(t, b) - a) for a, b in bursts) for t in times])
    phase = moving_time * 2.5
    cx = (width / 2 + (width / 2 - 2 * r) * np.sin(phase)).astype(int)
    cy = (height / 2 + (height / 2 - 2 * r) * np.sin(phase * 1.7)).astype(int)
    boxes = np.stack([cx - r, cy - r, cx + r, cy + r], axis=1).clip(0, [width, height, width, height])
    noise = rng.integers(-2, 3, size=(4, height, width, 1), dtype=np.int16)
    with VideoWriter(path, width, height, fps=fps, encoder=codec, pix_fmt=PIX_FMT.get(codec, "yuv420p"),
                     options={**SAMPLE_OPTIONS.get(codec, {}), **(options or {})}, rotation=rotation, vfr=vfr) as out:
        for n, t in enumerate(times):
            img = np.clip(bg.astype(np.int16) + noise[n % 4], 0, 255).astype(np.uint8)
            cv2.circle(img, (int(cx[n]), int(cy[n])), r, (230, 40, 30), -1)
            cv2.circle(img, (int(cx[n]) - r // 3, int(cy[n]) - r // 3), r // 3, (250, 220, 60), -1)
            out.write(img, time=float(t))
    return ClipTruth(path, width, height, fps, list(bursts), times, boxes)

