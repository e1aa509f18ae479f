"""Adaptive group (GOP) partition of a time window by bit-cost energy.

The paper's rule: a quota ``theta = sum(b) / G``; scan bins accumulating
energy; close a group when its span reaches ``max_span``, or when it has
reached ``min_span`` and the accumulated energy reached ``theta``; move the
boundary to the lowest-energy bin within +-r bins of the trigger (ties to the
bin closest to the trigger). Busy stretches fill the quota fast and become
short groups, predictable ones long groups.

Unlike the public release we guarantee exactly G groups: surplus groups are
merged (adjacent pair of lowest combined energy), missing ones are made by
splitting the highest-energy group at its energy median. Groups are finally
expressed as frame ranges, so each holds at least one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bitcost import Profile


@dataclass
class Span:
    """Frames [first, stop) of the window, covering time [start, end)."""

    first: int
    stop: int
    start: float
    end: float
    energy: float


def scan_boundaries(
    b: np.ndarray,
    groups: int,
    min_bins: int,
    max_bins: int,
    radius: int,
    band: tuple[float, float] | None = (0.5, 2.0),
    theta: float | None = None,
) -> list[int]:
    """Bin indices where new groups start (excluding 0), by the paper's quota scan.

    ``theta`` is the quota (default ``sum(b) / groups``; a shot scanned on its
    own passes the whole window's quota).
    ``band`` (ours; None = the paper's rule as written): when the quota fired
    the trigger, the valley search only considers boundaries where the group
    holds between band[0] and band[1] times the quota. Without it, in a burst
    shorter than the +-r window, the lowest bin is the burst's own ramp, so
    the search cuts off one-bin slivers at the onset and then swallows the
    whole burst in one group - the opposite of short groups where things happen.
    """
    n = len(b)
    total = float(b.sum())
    if total <= 0:
        return []
    theta = total / groups if theta is None else theta
    min_bins = max(1, min_bins)
    max_bins = max(min_bins, max_bins)
    bounds: list[int] = []
    start, acc, k = 0, 0.0, 0
    while k < n:
        acc += b[k]
        length = k - start + 1
        if length >= max_bins or (length >= min_bins and acc >= theta):
            lo = max(k - radius, start + min_bins - 1)
            hi = min(k + radius, start + max_bins - 1, n - 1)
            cand = np.arange(lo, hi + 1)
            if band is not None and length < max_bins:
                held = np.cumsum(b[start : hi + 1])[cand - start]
                ok = (held >= band[0] * theta) & (held <= band[1] * theta)
                cand = cand[ok] if ok.any() else np.array([k])
            # lowest energy, ties broken by distance to the trigger
            j = int(cand[np.lexsort((np.abs(cand - k), b[cand]))[0]])
            if j + 1 >= n:
                break
            bounds.append(j + 1)
            start, acc, k = j + 1, 0.0, j + 1
            continue
        k += 1
    if bounds and n - bounds[-1] < min_bins:
        bounds.pop()  # the leftover tail is shorter than min_span: it joins the group before it
    return bounds


def equal_boundaries(start: float, end: float, groups: int) -> list[float]:
    """Interior boundary times of ``groups`` equal spans of [start, end)."""
    return [start + (end - start) * g / groups for g in range(1, groups)]


def spans_from_times(
    pts: np.ndarray,
    frame_energy: np.ndarray,
    start: float,
    end: float,
    cuts: list[float],
    groups: int,
    hard: list[float] = (),
) -> list[Span]:
    """Snap boundary times to frames and return exactly ``groups`` spans.

    ``pts`` are the window's frame times (ascending), ``frame_energy`` their
    energies. Boundaries in ``hard`` (scene cuts) are merged away only when
    there are more of them than groups allow. Requires ``len(pts) >= groups``.
    """
    n = len(pts)

    def first_frames(times) -> set[int]:
        return {int(np.searchsorted(pts, c - 1e-9)) for c in times} - {0, n}

    hard_edges = first_frames(hard)
    edges = [0, *sorted(first_frames(cuts) | hard_edges), n]
    edges = _exact(edges, frame_energy, groups, hard_edges)
    spans = []
    for g in range(groups):
        a, z = edges[g], edges[g + 1]
        t0 = start if g == 0 else float(pts[a])
        t1 = end if g == groups - 1 else float(pts[z])
        spans.append(Span(a, z, t0, t1, float(frame_energy[a:z].sum())))
    return spans


def _exact(edges: list[int], e: np.ndarray, groups: int, hard: set[int] = frozenset()) -> list[int]:
    """Merge or split frame ranges until there are exactly ``groups``.

    Merging takes the adjacent pair of lowest combined energy, first among
    pairs not separated by a ``hard`` edge (a scene cut), then among all.
    """
    edges = list(edges)
    cum = np.concatenate([[0.0], np.cumsum(e)])

    def energy(i: int) -> float:
        return float(cum[edges[i + 1]] - cum[edges[i]])

    while len(edges) - 1 > groups:
        pair = np.array([energy(i) + energy(i + 1) for i in range(len(edges) - 2)])
        across = np.array([edges[i + 1] in hard for i in range(len(edges) - 2)])
        i = int(np.lexsort((pair, across))[0])
        del edges[i + 1]
    while len(edges) - 1 < groups:
        sizes = np.diff(edges)
        energies = np.array([energy(i) for i in range(len(edges) - 1)])
        splittable = sizes >= 2
        # highest energy first; among equals (e.g. all zero) the longest group
        score = np.where(splittable, energies, -np.inf)
        best = np.flatnonzero(score == score.max())
        i = int(best[np.argmax(sizes[best])])
        a, z = edges[i], edges[i + 1]
        if energies[i] > 0:
            half = cum[a] + energies[i] / 2
            cut = int(np.searchsorted(cum[a + 1 : z + 1], half)) + a + 1
        else:
            cut = (a + z) // 2
        cut = min(max(cut, a + 1), z - 1)
        edges.insert(i + 1, cut)
    return edges


def adaptive_spans(
    profile: Profile,
    pts: np.ndarray,
    frame_energy: np.ndarray,
    start: float,
    end: float,
    groups: int,
    min_span: float,
    max_span: float,
    radius: int,
    band: tuple[float, float] | None = (0.5, 2.0),
    shot_cuts: list[float] = (),
) -> list[Span]:
    """The codec backend's partition: quota scan on the profile, then exactly ``groups`` frame spans.

    ``shot_cuts`` (scene-cut times, ours) are hard boundaries: the scan runs
    on each shot separately with the whole window's quota, so a group never
    straddles a cut unless there are more shots than groups (then the
    lowest-energy neighbours across a cut are merged).
    """
    d = profile.bin_seconds
    b = profile.energy
    min_bins, max_bins = int(round(min_span / d)), int(round(max_span / d))
    theta = float(b.sum()) / groups
    # shot segments in bins: a cut starts a new segment at its nearest bin edge
    edges = sorted({0, profile.n_bins, *(int(round((c - profile.t0) / d)) for c in shot_cuts)})
    edges = [k for k in edges if 0 <= k <= profile.n_bins]
    bounds: list[float] = []
    for a, z in zip(edges, edges[1:]):
        if z > a:
            bounds += [profile.t0 + (a + k) * d for k in scan_boundaries(b[a:z], groups, min_bins, max_bins, radius,
                                                                       band, theta)]
    # a scan boundary within half a bin of a cut is that cut
    bounds = [t for t in bounds if all(abs(t - c) > d / 2 for c in shot_cuts)]
    if theta <= 0:  # no P/B energy: equal spans
        bounds = equal_boundaries(start, end, groups)
    return spans_from_times(pts, frame_energy, start, end, bounds, groups, hard=list(shot_cuts))
