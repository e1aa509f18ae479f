"""Mask metrics J (region IoU) and F (boundary F-measure), as the DAVIS 2017 reference computes them.

Reference: davisvideochallenge/davis2017-evaluation ``davis2017/metrics.py`` (``db_eval_iou``,
``db_eval_boundary``, ``f_measure``, ``_seg2bmap``) and ``davis2017/utils.py`` (``db_statistics``);
Perazzi et al., CVPR 2016. Written from the definitions; values agree with the reference on every input
it accepts, including its conventions for empty masks:

* J of a frame whose union is empty is 1;
* F: both boundaries empty gives P = R = 1; only a predicted boundary gives P = 0, R = 1; only a GT
  boundary gives P = 1, R = 0; F = 0 when P + R = 0.

The reference dilates with OpenCV and scikit-image's ``disk``; we build the same disk (x^2 + y^2 <= r^2)
ourselves so scikit-image is not needed. Importable without scipy.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

__all__ = ["jaccard", "boundary_f", "boundary_map", "davis_statistics", "j_and_f"]


def _check(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} masks must have the same shape")
    if pred.ndim not in (2, 3):
        raise ValueError(f"masks must be [H, W] or [T, H, W], got {pred.ndim} dimensions")
    if void is None:
        v = np.zeros(gt.shape, dtype=bool)
    else:
        v = np.asarray(void).astype(bool)
        if v.shape != gt.shape:
            raise ValueError(f"void {v.shape} must have the masks' shape {gt.shape}")
    return pred.astype(bool), gt.astype(bool), v


def jaccard(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> np.ndarray | float:
    """Region similarity J: per-frame IoU of boolean masks ``[T, H, W]`` (array ``[T]``) or ``[H, W]`` (float).

    Pixels set in ``void`` are ignored. An empty union scores 1 (nothing to find, nothing found).
    """
    p, g, v = _check(pred, gt, void)
    keep = ~v
    inter = np.sum(p & g & keep, axis=(-2, -1))
    union = np.sum((p | g) & keep, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        j = inter / union
    if np.ndim(j) == 0:
        return 1.0 if union == 0 else float(j)
    j = np.asarray(j, dtype=np.float64)
    j[union == 0] = 1.0
    return j


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel-wide boundary of a 2D mask, as DAVIS's ``_seg2bmap``.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour (pixels
    beyond the image count as background). On the last row only the east neighbour is compared, on the
    last column only the south one, and the bottom-right pixel is never a boundary pixel. The boundary
    therefore sits half a pixel towards the origin from the true edge.
    """
    seg = np.asarray(mask).astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: float) -> np.ndarray:
    """scikit-image's ``disk(radius)``: the points of the (2r+1)^2 grid with x^2 + y^2 <= r^2."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return ((x**2 + y**2) <= radius**2).astype(np.uint8)


def _f_frame(pred: np.ndarray, gt: np.ndarray, void: np.ndarray, bound_th: float) -> float:
    # bound_th >= 1 is a radius in pixels; below 1 a share of the image diagonal, rounded up.
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*pred.shape))
    keep = ~void
    fg_b = boundary_map(pred & keep)
    gt_b = boundary_map(gt & keep)
    disk = _disk(radius)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), disk).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), disk).astype(bool)
    n_fg = int(fg_b.sum())
    n_gt = int(gt_b.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = int((fg_b & gt_dil).sum()) / n_fg
        recall = int((gt_b & fg_dil).sum()) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008, void: np.ndarray | None = None
) -> np.ndarray | float:
    """Contour accuracy F per frame of boolean masks ``[T, H, W]`` (array ``[T]``) or ``[H, W]`` (float).

    Boundaries come from :func:`boundary_map`; each is dilated by a disk of radius
    ``ceil(bound_th * image diagonal)`` (or ``bound_th`` pixels when it is >= 1). Precision is the share
    of predicted boundary pixels within the dilated GT boundary, recall the share of GT boundary pixels
    within the dilated predicted one, F their harmonic mean (empty-boundary rules in the module doc).
    """
    p, g, v = _check(pred, gt, void)
    if p.ndim == 2:
        return _f_frame(p, g, v, bound_th)
    return np.array([_f_frame(p[i], g[i], v[i], bound_th) for i in range(p.shape[0])], dtype=np.float64)


def davis_statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """DAVIS's (mean, recall, decay) of per-frame values.

    Recall is the share of frames above 0.5; decay is the mean of the first quarter of frames minus
    the mean of the last quarter, with DAVIS's bin edges. Departure: the reference casts the bin edges
    to uint8, which wraps for sequences over 255 frames; we keep them as integers.
    """
    x = np.asarray(per_frame, dtype=np.float64).ravel()
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(x))
        recall = float(np.nanmean(x > 0.5))
        ids = (np.round(np.linspace(1, len(x), 5) + 1e-10) - 1).astype(np.int64)
        bins = [x[ids[i] : ids[i + 1] + 1] for i in range(4)]
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def j_and_f(
    pred: np.ndarray, gt: np.ndarray, *, bound_th: float = 0.008, void: np.ndarray | None = None
) -> dict[str, float]:
    """J, F and J&F of one expression (or one object): masks ``[T, H, W]``, every frame counted.

    This is the referring-segmentation protocol (MeViS, Ref-DAVIS17, Ref-YT-VOS, ReVOS): one mask per
    expression, the union of its objects, all frames; ``J&F = (mean J + mean F) / 2``. Average the
    returned ``J&F`` over expressions for a dataset score. DAVIS 2017 semi-supervised additionally drops
    the first and last frame - slice them off before calling to get its numbers. Also returns DAVIS's
    recall and decay of J and F.
    """
    p, g, v = _check(pred, gt, void)
    if p.ndim == 2:
        p, g, v = p[None], g[None], v[None]
    j = np.asarray(jaccard(p, g, v), dtype=np.float64)
    f = np.asarray(boundary_f(p, g, bound_th, v), dtype=np.float64)
    jm, jr, jd = davis_statistics(j)
    fm, fr, fd = davis_statistics(f)
    return {
        "J": jm,
        "F": fm,
        "J&F": (jm + fm) / 2,
        "J_recall": jr,
        "F_recall": fr,
        "J_decay": jd,
        "F_decay": fd,
        "frames": int(p.shape[0]),
    }
