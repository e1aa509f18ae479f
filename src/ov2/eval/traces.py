"""Trajectory errors for 2D and 3D manipulation traces (TraceSpatial-style waypoint answers).

The release reports no metric for its 3D traces, so we use standard trajectory errors, each on the
answer's own 0-1000 image scale (1 unit = 0.1 % of the image side), with depth kept apart:

* **endpoint error**: distance between the last predicted and last GT waypoints. Where the object must
  end up is what a manipulation trace is for; it is the headline number.
* **start error**: the same for the first waypoints (did the model find the object?).
* **discrete Frechet distance** (Eiter & Mannila 1994): the shortest "leash" that lets one walk both
  polylines in order. It compares shapes including their order, needs no equal lengths (answers give
  5-10 waypoints, GT may give a different number) and is not fooled by a right path walked backwards.
* **mean displacement**: both polylines resampled to the same number of points by arc length, then the
  mean point-to-point distance; less sensitive than Frechet to one bad waypoint.
* **depth errors** (3D only): |d_pred - d_gt| at the endpoint and averaged after the same resampling,
  in metres. Depth is not mixed into the image-plane distances because x, y on 0-1000 and d in metres
  have different units.

A missing trace (nothing parsed) scores the worst image-plane error, the 0-1000 square's diagonal,
so not answering never beats a poor answer; its depth errors are NaN and ``missing`` is 1.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_ERROR", "discrete_frechet", "resample", "trace_errors"]

# The diagonal of the 0-1000 square: no two points on the image are further apart.
MAX_ERROR = math.hypot(1000.0, 1000.0)


def discrete_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Discrete Frechet distance between polylines ``a`` [N, D] and ``b`` [M, D] (Euclidean), by dynamic
    programming: ca[i, j] = max(d(a_i, b_j), min(ca[i-1, j], ca[i-1, j-1], ca[i, j-1]))."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("discrete_frechet needs two non-empty polylines")
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    ca = np.empty_like(d)
    n, m = d.shape
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                prev = 0.0
            elif i == 0:
                prev = ca[0, j - 1]
            elif j == 0:
                prev = ca[i - 1, 0]
            else:
                prev = min(ca[i - 1, j], ca[i - 1, j - 1], ca[i, j - 1])
            ca[i, j] = max(d[i, j], prev)
    return float(ca[-1, -1])


def resample(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length of the image-plane (x, y) path; extra columns (depth)
    are interpolated along. A single point, or a path of length 0, repeats that point."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) == 1:
        return np.repeat(p, n, axis=0)
    seg = np.sqrt((np.diff(p[:, :2], axis=0) ** 2).sum(-1))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return np.repeat(p[:1], n, axis=0)
    q = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(q, s, p[:, c]) for c in range(p.shape[1])], axis=1)


def trace_errors(pred: np.ndarray, gt: np.ndarray, *, samples: int = 32) -> dict[str, float]:
    """Errors of one predicted trace against its GT: ``[K, 2]`` (x, y on 0-1000) or ``[K, 3]`` (+ depth m).

    Returns ``endpoint``, ``start``, ``frechet``, ``mean_displacement`` (0-1000 units), and for 3D
    traces ``depth_endpoint`` and ``depth_mean`` (metres), plus ``missing`` (1.0 when ``pred`` is empty).
    Depth errors need depth on both sides; otherwise they are NaN.
    """
    g = np.asarray(gt, dtype=np.float64)
    if g.ndim != 2 or g.shape[1] not in (2, 3) or len(g) == 0:
        raise ValueError(f"gt must be a non-empty [K, 2] or [K, 3] array, got shape {g.shape}")
    p = np.asarray(pred, dtype=np.float64)
    three_d = g.shape[1] == 3
    out: dict[str, float] = {}
    if p.size == 0:
        out = {k: MAX_ERROR for k in ("endpoint", "start", "frechet", "mean_displacement")}
        if three_d:
            out.update(depth_endpoint=float("nan"), depth_mean=float("nan"))
        out["missing"] = 1.0
        return out
    if p.ndim != 2 or p.shape[1] not in (2, 3):
        raise ValueError(f"pred must be [K, 2] or [K, 3], got shape {p.shape}")
    pxy, gxy = p[:, :2], g[:, :2]
    out["endpoint"] = float(np.hypot(*(pxy[-1] - gxy[-1])))
    out["start"] = float(np.hypot(*(pxy[0] - gxy[0])))
    out["frechet"] = discrete_frechet(pxy, gxy)
    rp, rg = resample(p, samples), resample(g, samples)
    out["mean_displacement"] = float(np.sqrt(((rp[:, :2] - rg[:, :2]) ** 2).sum(-1)).mean())
    if three_d:
        if p.shape[1] == 3:
            out["depth_endpoint"] = float(abs(p[-1, 2] - g[-1, 2]))
            out["depth_mean"] = float(np.abs(rp[:, 2] - rg[:, 2]).mean())
        else:
            out["depth_endpoint"] = out["depth_mean"] = float("nan")
    out["missing"] = 0.0
    return out
