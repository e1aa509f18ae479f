"""Image pointing metrics: points-in-mask accuracy (lmms-eval pointbench) and Hungarian point P/R/F1 (Molmo2).

Points are in **pixels** here; :func:`to_pixels` converts the 0-1000 answers of :mod:`ov2.eval.points`.
A point hits a mask when the pixel at ``(int(round(y)), int(round(x)))`` is set; Python's ``round`` is
the references' (half to even), and a point outside the image never hits.

* :func:`points_in_mask_accuracy` follows lmms-eval ``tasks/pointbench/utils.py``: the mean over the
  predicted points of "inside the mask"; no predicted point scores 0.
* :func:`hungarian_prf` follows Molmo2 ``olmo/eval/evaluators.py`` (``PointingEval``): predicted and GT
  points are matched one-to-one by the Hungarian method on Euclidean distance; a matched pair is a hit
  only when the predicted point lies inside *that* GT object's mask. P = hits / #pred, R = hits / #GT,
  F1 = 2PR / (P + R + 1e-10) (Molmo2's epsilon, kept so numbers agree). No GT: 1 if nothing was
  predicted, else 0; GT but no prediction: 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["PRF", "to_pixels", "point_in_mask", "points_in_mask_accuracy", "hungarian_prf", "mask_points"]


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 of one image or frame, and how many points were matched inside a mask."""

    precision: float
    recall: float
    f1: float
    hits: int = 0


def to_pixels(points: np.ndarray | Sequence[Sequence[float]], width: int, height: int) -> np.ndarray:
    """0-1000 points ``[N, 2]`` to pixel coordinates (x / 1000 * W, y / 1000 * H), float64 ``[N, 2]``."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return arr * np.array([width / 1000.0, height / 1000.0])


def point_in_mask(x: float, y: float, mask: np.ndarray) -> bool:
    """Whether pixel point (x, y), rounded half to even, lies inside the 2D ``mask`` (False outside it)."""
    h, w = mask.shape[:2]
    xi, yi = int(round(float(x))), int(round(float(y)))
    if xi < 0 or xi >= w or yi < 0 or yi >= h:
        return False
    return bool(mask[yi, xi])


def points_in_mask_accuracy(points_px: np.ndarray | Sequence[Sequence[float]], mask: np.ndarray) -> float:
    """pointbench accuracy: share of predicted pixel points inside ``mask``; 0 when there are none."""
    pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return 0.0
    return float(np.mean([point_in_mask(x, y, mask) for x, y in pts]))


def mask_points(masks: Sequence[np.ndarray]) -> np.ndarray:
    """One reference point per GT mask, for matching when the data gives masks only: the mask pixel
    nearest to the mask's centroid (so it lies inside even for a ring or a crescent). ``[M, 2]`` x, y."""
    out = np.zeros((len(masks), 2))
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(np.asarray(m))
        if len(xs) == 0:
            out[i] = np.nan
            continue
        cx, cy = xs.mean(), ys.mean()
        k = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
        out[i] = (xs[k], ys[k])
    return out


def _f1(precision: float, recall: float) -> float:
    if precision == 0 or recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall + 1e-10)


def hungarian_prf(
    pred_px: np.ndarray | Sequence[Sequence[float]],
    gt_px: np.ndarray | Sequence[Sequence[float]] | None,
    gt_masks: Sequence[np.ndarray],
) -> PRF:
    """Molmo2's point P/R/F1 for one image or frame.

    ``pred_px`` ``[N, 2]`` and ``gt_px`` ``[M, 2]`` are pixel points; ``gt_masks`` holds the M objects'
    masks in the same order. ``gt_px=None`` takes :func:`mask_points` of the masks. The matching
    minimises total distance (``scipy.optimize.linear_sum_assignment``), not hits, exactly as Molmo2:
    a prediction matched to the wrong object's point is a miss even when it lies in another mask.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    pred = np.asarray(pred_px, dtype=np.float64).reshape(-1, 2)
    masks = list(gt_masks)
    if gt_px is None and any(not np.any(m) for m in masks):
        raise ValueError("a GT mask is empty, so it has no reference point; drop absent objects first")
    gt = mask_points(masks) if gt_px is None else np.asarray(gt_px, dtype=np.float64).reshape(-1, 2)
    if len(gt) != len(masks):
        raise ValueError(f"{len(gt)} GT points but {len(masks)} GT masks")
    if len(gt) == 0:
        v = float(len(pred) == 0)
        return PRF(v, v, v, 0)
    if len(pred) == 0:
        return PRF(0.0, 0.0, 0.0, 0)
    rows, cols = linear_sum_assignment(cdist(pred, gt))
    hits = sum(point_in_mask(pred[i, 0], pred[i, 1], masks[j]) for i, j in zip(rows, cols))
    p, r = hits / len(pred), hits / len(gt)
    return PRF(p, r, _f1(p, r), int(hits))
