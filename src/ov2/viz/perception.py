"""Pictures of points, tracks, traces and jump starts, after the paper's figures 10-13 and 15.

* :func:`save_frame_strip`: a row of frames with predicted points (filled, one colour per object id),
  GT points (rings) and, when given, predicted masks (translucent red) and GT masks (green outline),
  like figures 10-11.
* :func:`save_trajectory`: a predicted trace over an image, start to end with arrows, the GT trace
  dashed, 3D waypoints coloured by depth, like figures 12 and 15.
* :func:`save_jumpscore_timeline`: predicted cycle starts on a time axis, green when within ``tau``
  (0.1 s) of a GT start, red otherwise, GT starts as grey ticks, like figure 13.

The data drawn is computed by small functions (:func:`strip_frames`, :func:`jump_marks`) that tests
check without looking at pixels. All coordinates in 0-1000 are mapped to pixels as x / 1000 * W.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..eval.points import PointRecord
from .figures import save_figure

__all__ = [
    "strip_frames",
    "save_frame_strip",
    "save_trajectory",
    "jump_marks",
    "save_jumpscore_timeline",
]

HIT = "#1a9850"
MISS = "#d73027"
GT_COLOUR = "#1a9850"
PRED_MASK = (215, 48, 39)
ID_COLOURS = ("#e7298a", "#1b6ec2", "#d95f02", "#7570b3", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def _records_by_frame(records: Iterable[PointRecord] | None, times: np.ndarray, fps: float) -> dict[int, list[PointRecord]]:
    """Records grouped by the frame index ``round(t * fps)`` within ``times``' range."""
    out: dict[int, list[PointRecord]] = {}
    if records is None:
        return out
    n = len(times)
    for r in records:
        f = min(max(int(round(r.t * fps)), 0), n - 1)
        out.setdefault(f, []).append(r)
    return out


def strip_frames(n_frames: int, marked: Iterable[int], count: int = 6) -> list[int]:
    """Which frames a strip shows: the frames that carry points or masks first (evenly spaced among
    them), topped up with evenly spaced others, at most ``count``, in time order."""
    marked = sorted({int(f) for f in marked if 0 <= f < n_frames})
    if len(marked) >= count:
        pick = [marked[int(round(i))] for i in np.linspace(0, len(marked) - 1, count)]
        return sorted(set(pick))
    rest = [f for f in range(n_frames) if f not in set(marked)]
    need = min(count - len(marked), len(rest))
    extra = [rest[int(round(i))] for i in np.linspace(0, len(rest) - 1, need)] if need > 0 else []
    return sorted(set(marked) | set(extra))


def save_frame_strip(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    *,
    times: Sequence[float] | None = None,
    fps: float = 1.0,
    pred_points: Iterable[PointRecord] | None = None,
    gt_points: Iterable[PointRecord] | None = None,
    pred_masks: np.ndarray | None = None,
    gt_masks: np.ndarray | None = None,
    count: int = 6,
    title: str = "",
    time_labels: bool = True,
) -> Path:
    """A strip of up to ``count`` frames (``[T, H, W, 3]`` uint8) with points and masks; returns the path.

    Points are :class:`PointRecord` (t in seconds, x, y on 0-1000), placed on frame round(t * fps).
    Masks are bool ``[T, H, W]``. ``time_labels=False`` drops the per-frame times (a single image).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_all = np.arange(len(frames)) / fps if times is None else np.asarray(times, dtype=np.float64)
    pred_by = _records_by_frame(pred_points, t_all, fps)
    gt_by = _records_by_frame(gt_points, t_all, fps)
    marked = set(pred_by) | set(gt_by)
    for m in (pred_masks, gt_masks):
        if m is not None:
            marked |= set(np.flatnonzero(np.asarray(m).any(axis=(1, 2))).tolist())
    shown = strip_frames(len(frames), marked, count)
    h, w = frames.shape[1:3]
    width = max(2.6 * len(shown) * w / max(h, w) + 0.2, 6.0)  # room for the legend line
    fig, axes = plt.subplots(1, len(shown), figsize=(width, 2.9), squeeze=False)
    for ax, f in zip(axes[0], shown):
        img = frames[f].astype(np.float32)
        if pred_masks is not None and pred_masks[f].any():
            m = pred_masks[f]
            img[m] = 0.55 * img[m] + 0.45 * np.asarray(PRED_MASK, dtype=np.float32)
        ax.imshow(img.astype(np.uint8))
        if gt_masks is not None and gt_masks[f].any():
            ax.contour(gt_masks[f].astype(float), levels=[0.5], colors=[GT_COLOUR], linewidths=1.2)
        for r in gt_by.get(f, []):
            ax.scatter([r.x / 1000 * w], [r.y / 1000 * h], s=70, facecolors="none", edgecolors=GT_COLOUR, linewidths=2)
        for r in pred_by.get(f, []):
            ax.scatter([r.x / 1000 * w], [r.y / 1000 * h], s=28, c=ID_COLOURS[int(r.id) % len(ID_COLOURS)],
                       edgecolors="white", linewidths=0.8, zorder=3)
        if time_labels:
            ax.set_title(f"{t_all[f]:.2f} s", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
    legend = "filled: predicted points (colour = object id)"
    if gt_points is not None:
        legend += "; rings: GT points"
    if pred_masks is not None:
        legend += "; red: predicted mask"
    if gt_masks is not None:
        legend += "; green line: GT mask"
    fig.suptitle((title + "\n" if title else "") + legend, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def save_trajectory(
    path: str | os.PathLike[str],
    image: np.ndarray | None,
    pred: np.ndarray | Sequence[Sequence[float]] | None,
    gt: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    title: str = "",
    size: tuple[int, int] = (640, 480),
) -> Path:
    """A trace overlay: waypoints ``[K, 2]`` or ``[K, 3]`` (x, y on 0-1000, + depth in metres) over
    ``image`` (``[H, W, 3]`` uint8, or a blank ``size`` canvas). Predicted trace solid with arrows and
    start/end markers; GT dashed green; 3D predictions coloured by depth with a colour bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if image is None:
        image = np.full((size[1], size[0], 3), 235, dtype=np.uint8)
    h, w = image.shape[:2]
    fig, ax = plt.subplots(figsize=(6.0, 6.0 * h / w + 0.4))
    ax.imshow(image)

    def px(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a[:, 0] / 1000 * w, a[:, 1] / 1000 * h

    if gt is not None and len(gt):
        g = np.asarray(gt, dtype=np.float64)
        gx, gy = px(g)
        ax.plot(gx, gy, "--", color=GT_COLOUR, lw=2, label="GT")
        ax.scatter(gx, gy, s=18, color=GT_COLOUR)
    if pred is not None and len(pred):
        p = np.asarray(pred, dtype=np.float64)
        x, y = px(p)
        ax.plot(x, y, "-", color="#e7298a", lw=2, label="predicted")
        for i in range(len(p) - 1):
            ax.annotate("", xy=(x[i + 1], y[i + 1]), xytext=(x[i], y[i]),
                        arrowprops={"arrowstyle": "->", "color": "#e7298a", "lw": 1.6})
        if p.shape[1] == 3:
            sc = ax.scatter(x, y, c=p[:, 2], cmap="viridis", s=55, edgecolors="white", zorder=3)
            fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.02, label="depth (m)")
        else:
            ax.scatter(x, y, s=40, color="#e7298a", edgecolors="white", zorder=3)
        ax.scatter([x[0]], [y[0]], marker="o", s=140, facecolors="none", edgecolors="black", lw=2, zorder=4, label="start")
        ax.scatter([x[-1]], [y[-1]], marker="*", s=200, color="black", zorder=4, label="end")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def jump_marks(pred: Sequence[float], gt: Sequence[float], tau: float = 0.1) -> list[tuple[float, bool]]:
    """Each predicted start and whether a GT start lies within ``tau`` seconds of it (float64
    ``abs(p - g) <= tau``, as JumpScore compares; one GT start may justify several predictions here,
    unlike the one-to-one matching of the metric)."""
    g = np.asarray(sorted(gt), dtype=np.float64)
    out = []
    for p in sorted(float(x) for x in pred):
        out.append((p, bool(len(g)) and bool(np.any(np.abs(p - g) <= tau))))
    return out


def save_jumpscore_timeline(
    path: str | os.PathLike[str],
    pred: Sequence[float] | Mapping[str, Sequence[float]],
    gt: Sequence[float],
    *,
    duration: float | None = None,
    tau: float = 0.1,
    title: str = "",
) -> Path:
    """Predicted cycle starts on a time axis, green within ``tau`` of a GT start and red otherwise,
    GT starts as grey ticks (figure 13). ``pred`` may map arm names (codec, frames...) to start lists,
    one row each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = dict(pred) if isinstance(pred, Mapping) else {"predicted": list(pred)}
    end = duration if duration is not None else max([*gt, *[t for v in rows.values() for t in v], 1.0]) + 0.5
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.55 * (len(rows) + 1)))
    ax.vlines(list(gt), len(rows) - 0.35, len(rows) + 0.35, color="#888888", lw=2)
    labels = []
    for i, (name, starts) in enumerate(rows.items()):
        marks = jump_marks(starts, gt, tau)
        y = len(rows) - 1 - i
        hits = sum(ok for _, ok in marks)
        for t, ok in marks:
            ax.vlines(t, y - 0.35, y + 0.35, color=HIT if ok else MISS, lw=2)
        labels.append((y, f"{name} ({hits}/{len(marks)} within {tau:g} s)"))
    labels.append((len(rows), f"GT starts ({len(gt)})"))
    ax.set_yticks([y for y, _ in labels], [s for _, s in labels], fontsize=8)
    ax.set_xlim(0, end)
    ax.set_ylim(-0.6, len(rows) + 0.6)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
