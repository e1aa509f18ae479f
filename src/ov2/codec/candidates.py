"""Candidate frames of a group, spread in proportion to its energy.

A burst inside a long quiet group gets nearly all of the group's candidates; a
flat group gets them evenly. Frames are drawn by systematic sampling of the
cumulative energy (plus a small floor so quiet frames are not impossible).
When groups are many, how many candidates each group gets follows its energy
and length (:func:`share_candidates`).
"""

from __future__ import annotations

import numpy as np

FLOOR = 0.02  # share of the group's mean energy every frame gets


def smooth_frame_energy(energy: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Per-frame energy with keyframes filled from their neighbours and a 3-frame average.

    Keyframes carry no motion energy of their own (their size is spatial
    detail), and B/P alternation makes single frames noisy.
    """
    e = energy.astype(np.float64).copy()
    if key.any() and (~key).any():
        idx = np.arange(len(e))
        e[key] = np.interp(idx[key], idx[~key], e[~key])
    if len(e) >= 3:
        e = np.convolve(np.pad(e, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return e


def pick_candidates(energy: np.ndarray, count: int) -> np.ndarray:
    """Indices (ascending, unique) of ``min(count, len(energy))`` frames drawn by energy."""
    n = len(energy)
    k = min(count, n)
    if k >= n:
        return np.arange(n)
    w = np.maximum(energy.astype(np.float64), 0.0)
    mean = w.mean()
    w = w + (FLOOR * mean if mean > 0 else 1.0)
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    targets = (np.arange(k) + 0.5) / k
    picks = np.minimum(np.searchsorted(cdf, targets), n - 1)
    chosen: list[int] = []
    used = np.zeros(n, dtype=bool)
    for p in picks:
        # a heavy frame drawn twice: take the nearest unused frame instead
        for off in _offsets(n):
            q = p + off
            if 0 <= q < n and not used[q]:
                used[q] = True
                chosen.append(int(q))
                break
    return np.array(sorted(chosen), dtype=np.int64)


def _offsets(n: int):
    yield 0
    for d in range(1, n):
        yield d
        yield -d


def share_candidates(energy: np.ndarray, frames: np.ndarray, per_group: int) -> np.ndarray:
    """Candidates per group when groups are many: ``per_group`` x groups in all, shared by sqrt(energy x frames).

    Each group keeps a quarter of ``per_group``; the rest goes in proportion to
    the geometric mean of its energy and its length, so a long group holding a
    burst gets more candidates than a short quiet one, without a single strong
    burst taking them all. No group gets more than its frames; what a full
    group cannot take goes to the others, by the same weights.
    """
    frames = np.asarray(frames, dtype=np.int64)
    w = np.sqrt(np.maximum(np.asarray(energy, dtype=np.float64), 0.0) * frames)
    counts = np.minimum(max(1, per_group // 4), frames)
    total = min(per_group * len(frames), int(frames.sum()))
    while counts.sum() < total:
        room = counts < frames
        weights = np.where(room, w, 0.0) if w[room].sum() > 0 else room.astype(np.float64)
        extra = (total - counts.sum()) * weights / weights.sum()
        add = np.floor(extra).astype(np.int64)
        rest = int(total - counts.sum() - add.sum())
        add[np.argsort(-(extra - add), kind="stable")[:rest]] += 1  # largest remainders
        counts = np.minimum(counts + add, frames)
    return counts
