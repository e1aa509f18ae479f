"""Stratified P-canvas packing: which blocks of which frames fill each P-canvas.

Per frame, blocks sorted by score; the block of rank rho gets
``score / sqrt(1 + lambda * rho)`` (the release; the paper writes
``score / (1 + lambda * rho)``, available as ``attenuation="linear"``). Frame
weight = sum of its attenuated scores + ``peak_weight`` x its peak block score.
The cumulative weight curve over time is cut into P equal slices; P-canvas j
takes the top unused blocks of the frames whose mass overlaps slice j,
widening to neighbouring frames, then the whole group, when too few remain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidOptionError

ATTENUATIONS = ("sqrt", "linear")


@dataclass
class Pick:
    """One selected block: frame position in the group's candidate list, block row, block column."""

    frame: int
    row: int
    col: int


def attenuate(scores: np.ndarray, lam: float, attenuation: str) -> np.ndarray:
    """Rank-attenuated scores of one frame's blocks (same shape as ``scores``)."""
    if attenuation not in ATTENUATIONS:
        raise InvalidOptionError(f"attenuation must be one of {ATTENUATIONS}, got {attenuation!r}")
    flat = scores.ravel()
    order = np.argsort(-flat, kind="stable")
    rank = np.empty(len(flat), dtype=np.float64)
    rank[order] = np.arange(len(flat))
    div = np.sqrt(1.0 + lam * rank) if attenuation == "sqrt" else 1.0 + lam * rank
    return (flat / div).reshape(scores.shape)


def pack_group(
    scores: list[np.ndarray],
    p_canvases: int,
    blocks_per_canvas: int,
    lam: float = 0.35,
    peak_weight: float = 0.35,
    attenuation: str = "sqrt",
) -> list[list[Pick]]:
    """Choose blocks for each P-canvas of a group.

    ``scores`` holds one [bh, bw] block-score array per candidate frame, in
    time order (the anchor excluded). Returns, per P-canvas, its picks sorted
    by (frame, row, col); a canvas gets fewer than ``blocks_per_canvas`` picks
    only when the group has no unused block left.
    """
    if p_canvases <= 0:
        return []
    if not scores:
        return [[] for _ in range(p_canvases)]
    att = [attenuate(s, lam, attenuation) for s in scores]
    weight = np.array([a.sum() + peak_weight * (s.max() if s.size else 0.0) for a, s in zip(att, scores)])
    if weight.sum() <= 0:
        weight = np.ones(len(scores))
    cum = np.concatenate([[0.0], np.cumsum(weight)]) / weight.sum()
    used = [np.zeros(s.shape, dtype=bool) for s in scores]
    canvases: list[list[Pick]] = []
    for j in range(p_canvases):
        lo, hi = j / p_canvases, (j + 1) / p_canvases
        # frames whose mass interval [cum[t], cum[t+1]] overlaps the slice
        members = [t for t in range(len(scores)) if cum[t + 1] > lo + 1e-12 and cum[t] < hi - 1e-12]
        if not members:
            members = [int(np.clip(np.searchsorted(cum, (lo + hi) / 2) - 1, 0, len(scores) - 1))]
        members = _widen(members, used, blocks_per_canvas, len(scores))
        picks = _top_unused(members, att, used, blocks_per_canvas)
        picks.sort(key=lambda p: (p.frame, p.row, p.col))
        canvases.append(picks)
    return canvases


def _free(members: list[int], used: list[np.ndarray]) -> int:
    return int(sum((~used[t]).sum() for t in members))


def _widen(members: list[int], used: list[np.ndarray], need: int, n: int) -> list[int]:
    """Add neighbouring frames (alternating after/before) until enough unused blocks exist."""
    lo, hi = min(members), max(members)
    members = list(range(lo, hi + 1))
    while _free(members, used) < need and (lo > 0 or hi < n - 1):
        if hi < n - 1:
            hi += 1
            members.append(hi)
        if _free(members, used) >= need:
            break
        if lo > 0:
            lo -= 1
            members.insert(0, lo)
    return members


def _top_unused(members: list[int], att: list[np.ndarray], used: list[np.ndarray], need: int) -> list[Pick]:
    frames, flat_idx, values = [], [], []
    for t in members:
        free = np.flatnonzero(~used[t].ravel())
        frames.append(np.full(len(free), t))
        flat_idx.append(free)
        values.append(att[t].ravel()[free])
    if not frames:
        return []
    f, i, v = np.concatenate(frames), np.concatenate(flat_idx), np.concatenate(values)
    top = np.argsort(-v, kind="stable")[:need]
    picks = []
    for k in top:
        t, idx = int(f[k]), int(i[k])
        bw = used[t].shape[1]
        used[t].flat[idx] = True
        picks.append(Pick(frame=t, row=idx // bw, col=idx % bw))
    return picks
