"""Behaviour on a clip where we know where and when things move: bursts between still pauses."""

from __future__ import annotations

import tracemalloc

import numpy as np

import ov2
from ov2.samples import make_bursts_clip


def _in_burst(truth, t):
    return np.array([truth.moving(x) for x in t])


def test_groups_are_shorter_in_bursts(bursts_clip):
    vi = ov2.tokenize(bursts_clip.path, backend="codec", canvases=64)
    busy, quiet = [], []
    for g in vi.groups:
        overlap = sum(max(0.0, min(g.end, b) - max(g.start, a)) for a, b in bursts_clip.bursts)
        (busy if overlap > 0.5 * g.duration else quiet).append(g.duration)
    assert busy and quiet
    assert np.mean(busy) * 3 < np.mean(quiet), (busy, quiet)
    fixed = ov2.tokenize(bursts_clip.path, backend="fixed", canvases=64)
    assert np.ptp([g.duration for g in fixed.groups]) < 0.1


def test_p_canvas_blocks_lie_on_the_moving_object(bursts_clip):
    vi = ov2.tokenize(bursts_clip.path, backend="codec", canvases=32)
    t = vi.tokens
    sel = t.valid & (t.kind == "P")
    blocks = np.flatnonzero(sel)[::4]  # first patch of each block
    sx = bursts_clip.width / vi.meta["processed"]["width"]
    sy = bursts_clip.height / vi.meta["processed"]["height"]
    p = vi.patch_size
    on = 0
    for i in blocks:
        x0, y0, x1, y1 = bursts_clip.boxes[t.frame[i]]
        # block extent in display pixels
        bx0, by0 = t.src_col[i] * p * sx, t.src_row[i] * p * sy
        bx1, by1 = bx0 + 2 * p * sx, by0 + 2 * p * sy
        margin = 2 * p * max(sx, sy)  # the ball's previous position also changed
        on += bx1 > x0 - margin and bx0 < x1 + margin and by1 > y0 - margin and by0 < y1 + margin
    assert on / len(blocks) > 0.6, on / len(blocks)
    assert _in_burst(bursts_clip, t.time[sel]).mean() > 0.8


def test_codec_sees_every_burst_more_densely_than_frames(bursts_clip):
    codec = ov2.tokenize(bursts_clip.path, backend="codec", canvases=16)
    frames = ov2.tokenize(bursts_clip.path, backend="frames", canvases=16)

    def burst_frames(vi):
        f = np.unique(vi.tokens.frame[vi.tokens.valid])
        return int(_in_burst(bursts_clip, bursts_clip.times[f]).sum())

    assert burst_frames(codec) > 4 * burst_frames(frames)
    for a, b in bursts_clip.bursts:  # every burst gets tokens
        assert ((codec.tokens.time >= a) & (codec.tokens.time < b)).any()


def test_log1p_energy_is_available_and_flatter(bursts_clip):
    ex = ov2.tokenize(bursts_clip.path, canvases=16, energy="excess")
    lg = ov2.tokenize(bursts_clip.path, canvases=16, energy="log1p")
    assert lg.meta["params"]["energy"] == "log1p"

    def contrast(vi):
        b = np.asarray(vi.meta["profile"]["energy"])
        return b.max() / max(np.median(b), 1e-9)

    assert contrast(ex) > 10 * contrast(lg)


def _peak_alloc(path) -> int:
    tracemalloc.start()
    ov2.tokenize(path, backend="codec", canvases=8, max_pixels=40_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_does_not_grow_with_video_length(tmp_path):
    short = make_bursts_clip(tmp_path / "short.mp4", duration=8.0, width=320, height=180, bursts=[(2, 3), (5, 6)])
    long = make_bursts_clip(tmp_path / "long.mp4", duration=48.0, width=320, height=180,
                            bursts=[(2, 3), (15, 16), (30, 31), (44, 45)])
    a, b = _peak_alloc(short.path), _peak_alloc(long.path)
    assert b < 1.3 * a + 2_000_000, (a, b)  # 6x longer video, about the same peak


def test_small_budgets_give_each_group_more_candidates(bursts_clip):
    vi = ov2.tokenize(bursts_clip.path, backend="codec", canvases=8)  # 2 groups share 256 candidates
    spec = ov2.tokenize(bursts_clip.path, backend="codec", canvases=8, candidates_per_group=32)

    def distinct(v):
        return len(np.unique(v.tokens.frame[v.tokens.valid]))

    assert all(len(g.candidate_frames) > 32 for g in vi.groups)
    assert distinct(spec) <= 64 < distinct(vi)  # 32 candidates per group cap what a group can show
    burst = _in_burst(bursts_clip, vi.tokens.time[vi.tokens.valid & (vi.tokens.kind == "P")])
    assert burst.mean() > 0.8  # the extra candidates go to the bursts, not the still stretches
