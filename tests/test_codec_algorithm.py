"""The paper's algorithms on hand-made numbers: partition, candidates, packing, resize, bit-cost."""

from __future__ import annotations

import numpy as np
import pytest

from ov2.codec.bitcost import bitcost_profile, packet_energy
from ov2.codec.candidates import pick_candidates, share_candidates
from ov2.codec.groups import _exact, scan_boundaries, spans_from_times
from ov2.codec.packing import attenuate, pack_group
from ov2.io.packets import PacketTable
from ov2.io.resize import smart_resize


def test_smart_resize_matches_hand_computation():
    # 720x1280 at 150000: beta = sqrt(921600/150000) = 2.4787; 720/2.4787/28 = 10.37 -> 280; 1280/2.4787/28 = 18.44 -> 504
    assert smart_resize(720, 1280) == (280, 504)
    assert smart_resize(100, 100, max_pixels=1_000_000) == (112, 112)  # round to 28-multiples
    assert smart_resize(16, 16) == (56, 56)  # 28x28 < 3136: scaled up with ceil
    h, w = smart_resize(2160, 3840, max_pixels=1_605_632)
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 1_605_632


def test_quota_scan_makes_short_groups_where_energy_is_high():
    b = np.array([1.0] * 20 + [20.0] * 4 + [1.0] * 20)  # a burst in the middle
    bounds = scan_boundaries(b, groups=6, min_bins=1, max_bins=30, radius=0, band=None)
    edges = [0, *bounds, len(b)]
    lengths = np.diff(edges)
    inside = [L for a, L in zip(edges, lengths) if 20 <= a < 24]
    outside = [L for a, L in zip(edges, lengths) if not 20 <= a < 24]
    assert inside and max(inside) < min(outside)


def test_quota_scan_forces_a_boundary_at_max_span():
    b = np.zeros(30)
    b[0] = 1.0  # all energy at the start: the quota can never be reached again
    assert scan_boundaries(b, groups=3, min_bins=1, max_bins=10, radius=0, band=None) == [1, 11, 21]


def test_valley_search_moves_the_boundary_to_the_lowest_bin_nearest_the_trigger():
    # quota = 40/2 = 20 is reached at bin 4 (5*4); the lowest bins within +-2 are 2 and 6 (value 1): tie -> nearest
    b = np.array([5, 5, 1, 5, 5, 5, 1, 5], dtype=float)
    b = b * 40 / b.sum()
    bounds = scan_boundaries(b, groups=2, min_bins=1, max_bins=8, radius=2, band=None)
    assert bounds[0] in (3, 7)  # a group starts right after a valley bin (2 or 6)
    b2 = np.array([4, 4, 4, 4, 4, 0.5, 4, 4, 4, 4])
    assert scan_boundaries(b2, groups=2, min_bins=1, max_bins=10, radius=2, band=None)[0] == 6


def test_exact_group_count_by_merging_and_splitting():
    e = np.array([1, 1, 1, 1, 9, 9, 1, 1, 1, 1], dtype=float)
    merged = _exact([0, 2, 4, 5, 6, 8, 10], e, 3)
    assert len(merged) == 4 and merged[0] == 0 and merged[-1] == 10
    split = _exact([0, 10], e, 3)
    assert len(split) == 4
    assert split[1] in (4, 5, 6) and split[2] in (5, 6)  # the splits go into the energetic middle


def test_spans_tile_the_window_and_hold_frames():
    pts = np.arange(50) * 0.2
    spans = spans_from_times(pts, np.ones(50), 0.0, 10.0, [1.0, 1.05, 7.3], groups=6)
    assert len(spans) == 6
    assert spans[0].start == 0.0 and spans[-1].end == 10.0
    assert all(a.end == b.start and a.stop == b.first for a, b in zip(spans, spans[1:]))
    assert all(s.stop > s.first for s in spans)


def test_candidates_concentrate_on_a_burst_and_spread_on_flat_groups():
    e = np.zeros(200)
    e[120:130] = 10.0
    c = pick_candidates(e, 16)
    assert len(c) == 16 and len(set(c.tolist())) == 16
    assert np.mean((c >= 115) & (c < 135)) > 0.8
    flat = pick_candidates(np.ones(200), 10)
    assert np.allclose(np.diff(flat), 20, atol=1)
    assert np.array_equal(pick_candidates(np.ones(5), 32), np.arange(5))


def test_many_groups_share_candidates_by_energy_and_length():
    # 8 groups at the spec's 32: 256 in all; a long group with a burst gets most, quiet short ones the floor
    energy = np.array([1200.0, 1300.0, 500.0, 1600.0, 650.0, 0.0, 800.0, 450.0])
    frames = np.array([195, 285, 150, 120, 90, 80, 54, 171])
    counts = share_candidates(energy, frames, 32)
    assert counts.sum() == 256 and counts.min() >= 8 and counts[5] == 8  # no energy: the floor only
    w = np.sqrt(energy * frames)
    assert np.argmax(counts) == np.argmax(w) and np.all(np.diff(counts[np.argsort(w)]) >= 0)  # order follows w
    assert np.array_equal(share_candidates(np.zeros(4), np.full(4, 100), 32), np.full(4, 32))  # no energy: equal
    assert share_candidates(np.array([1.0, 100.0]), np.array([300, 20]), 32).tolist() == [44, 20]  # capped by frames


def test_attenuation_divides_by_the_rank():
    s = np.array([[4.0, 1.0], [2.0, 3.0]])
    a = attenuate(s, 0.35, "sqrt")
    assert a[0, 0] == 4.0 and a[1, 1] == pytest.approx(3 / np.sqrt(1.35)) and a[0, 1] == pytest.approx(1 / np.sqrt(2.05))
    assert attenuate(s, 0.35, "linear")[1, 0] == pytest.approx(2 / 1.7)


def test_packing_fills_canvases_without_reusing_blocks_and_follows_the_mass():
    rng = np.random.default_rng(0)
    scores = [rng.random((4, 6)) * 0.01 for _ in range(10)]
    scores[2] += 5.0  # frame 2 holds most of the saliency
    scores[8][1, 1] = 3.0
    picks = pack_group(scores, p_canvases=3, blocks_per_canvas=24)
    assert [len(p) for p in picks] == [24, 24, 24]
    all_picks = [(p.frame, p.row, p.col) for canvas in picks for p in canvas]
    assert len(set(all_picks)) == len(all_picks)
    assert sum(f == 2 for f, _, _ in all_picks) == 24  # all of frame 2's blocks are used
    assert all((p.frame, p.row, p.col) == key for canvas in picks
               for p, key in zip(canvas, sorted((q.frame, q.row, q.col) for q in canvas)))
    too_few = pack_group([np.ones((2, 2))], p_canvases=2, blocks_per_canvas=3)
    assert [len(p) for p in too_few] == [3, 1]  # padding only when the group runs out


def _table(sizes, key=None):
    n = len(sizes)
    return PacketTable(pts=np.arange(n) * 0.04, size=np.asarray(sizes, dtype=np.int64),
                       key=np.zeros(n, bool) if key is None else np.asarray(key),
                       reordered=np.zeros(n, bool))


def test_excess_energy_is_zero_on_still_stretches_and_high_on_events():
    sizes = np.full(1000, 100)
    sizes[500:520] = 2000
    e = packet_energy(_table(sizes), "excess")
    assert e[:400].max() == 0 and e[500:520].min() == pytest.approx(19.0)
    lg = packet_energy(_table(sizes), "log1p")
    assert lg[0] == pytest.approx(np.log1p(100))
    key = np.zeros(1000, bool)
    key[0] = True
    assert packet_energy(_table(sizes, key), "excess")[0] == 0


def test_profile_bins_and_smooths():
    sizes = np.full(100, 100)  # 4 s at 25 fps
    t = _table(sizes)
    e = np.zeros(100)
    e[30] = 6.0  # one frame at 1.2 s -> bin 2
    prof = bitcost_profile(t, 0.0, 4.0, 0.5, frame_energy=e)
    assert prof.n_bins == 8 and prof.raw[2] == 6.0 and prof.raw.sum() == 6.0
    assert prof.energy[1] == pytest.approx(2.0) and prof.energy[2] == pytest.approx(2.0) and prof.energy[4] == 0
    assert prof.energy[0] == 0  # edge bins average over the bins that exist


def test_residual_reference_is_the_nearest_earlier_reference_picture():
    from ov2.codec.scoring import reference_frames

    # presentation order I b B b P b B b P: reordered B-frames; the middle B of each pyramid is a reference
    reordered = np.array([0, 1, 1, 1, 0, 1, 1, 1, 0], bool)
    marked = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1], np.int8)
    t = PacketTable(pts=np.arange(9) * 0.04, size=np.full(9, 100, np.int64), key=np.eye(1, 9, 0, bool)[0],
                    reordered=reordered, marked_reference=marked)
    refs = reference_frames([0, 1, 2, 3, 4, 8], t)
    assert {c: r for c, (r, _) in refs.items()} == {0: -1, 1: 0, 2: 0, 3: 2, 4: 2, 8: 6}
    # a P-frame's vectors span 4 frames (to the previous P); predicting from the B 2 frames back halves them
    assert refs[4][1] == pytest.approx(0.5) and refs[8][1] == pytest.approx(0.5)
    assert refs[1][1] == refs[2][1] == refs[3][1] == 1.0  # B-frames point to the nearest earlier reference
    # unknown reference marks: only non-reordered frames are known references (the previous rule)
    plain = PacketTable(pts=t.pts, size=t.size, key=t.key, reordered=reordered)
    assert {c: r for c, (r, _) in reference_frames([3, 4, 5], plain).items()} == {3: 0, 4: 0, 5: 4}


def test_no_group_left_shorter_than_min_span_at_the_end():
    b = np.ones(21)
    bounds = scan_boundaries(b, groups=4, min_bins=3, max_bins=30, radius=0, band=None)
    edges = [0, *bounds, 21]
    assert min(np.diff(edges)) >= 3, edges


# ---------------------------------------------------------------- scene cuts, budget-following candidates


def _keyed_table(n, keys):
    key = np.zeros(n, bool)
    key[keys] = True
    return PacketTable(pts=np.arange(n) * 0.04, size=np.full(n, 100, dtype=np.int64), key=key,
                       reordered=np.zeros(n, bool))


def test_regular_gop_is_the_repeated_longest_keyframe_interval():
    from ov2.codec.cuts import regular_gop

    assert regular_gop(np.array([0, 250, 500, 610, 860])) == 250  # 610: scene cut (early); 860: periodic again
    assert regular_gop(np.array([0, 40, 95, 130])) is None  # no interval repeats: no GOP length known
    assert regular_gop(np.array([0, 100])) is None


def test_scene_cuts_early_keyframes_and_keyframes_that_look_different():
    from ov2.codec.cuts import keyframes_to_check, scene_cuts

    grey, red = np.full((36, 64, 3), 128, np.uint8), np.zeros((36, 64, 3), np.uint8)
    red[..., 0] = 200
    t = _keyed_table(300, [0, 50, 100, 122, 172])  # a 2 s GOP (25 fps); 122 came early
    frames = np.arange(300)
    assert keyframes_to_check(t, frames).tolist() == [0, 50, 100, 122, 172]
    # same look everywhere: only the keyframe that came early is a cut
    same = {k: grey for k in (0, 50, 100, 122, 172)}
    assert scene_cuts(t, frames, same).tolist() == [122]
    # the periodic keyframe at 50 shows another scene: a cut found by content (100 differs from 50 again)
    assert scene_cuts(t, frames, {**same, 50: red}).tolist() == [50, 100, 122]
    # without thumbnails the GOP structure alone decides; a window starting at a cut does not count it
    assert scene_cuts(t, frames, {}).tolist() == [122]
    assert scene_cuts(t, np.arange(122, 300), {}).tolist() == []
    # a long regular GOP (10 s): periodic keyframes are refreshes, nothing is decoded to check them
    long = _keyed_table(1000, [0, 250, 500, 610, 860])
    assert keyframes_to_check(long, np.arange(1000)).tolist() == []
    assert scene_cuts(long, np.arange(1000), {0: grey, 250: red, 500: grey}).tolist() == [610]
    # intra-only streams have no cuts to find
    assert scene_cuts(_keyed_table(50, np.arange(50)), np.arange(50), {}).tolist() == []


def test_cuts_are_hard_group_boundaries_merged_only_when_shots_outnumber_groups():
    from ov2.codec.bitcost import Profile
    from ov2.codec.groups import adaptive_spans

    pts = np.arange(400) * 0.05  # 20 s, 40 bins of 0.5 s
    e = np.ones(400)
    e[100:120] = 30.0  # a burst at 5-6 s
    raw = np.bincount((pts / 0.5).astype(int), weights=e, minlength=40)
    prof = Profile(0.0, 0.5, raw, raw)
    spans = adaptive_spans(prof, pts, e, 0.0, 20.0, 6, 0.8, 10.0, 3, shot_cuts=[3.1, 12.4])
    starts = [s.start for s in spans]
    assert len(spans) == 6 and 3.1 in np.round(starts, 2) and 12.4 in np.round(starts, 2)
    # more shots than groups: every boundary is still a cut (no group is cut inside a shot)
    cuts = [2.0, 4.0, 6.0, 8.0, 10.0, 14.0, 17.0]
    spans = adaptive_spans(prof, pts, e, 0.0, 20.0, 4, 0.8, 10.0, 3, shot_cuts=cuts)
    assert len(spans) == 4 and set(np.round([s.start for s in spans[1:]], 2)) <= set(cuts)


def test_merging_prefers_boundaries_that_are_not_cuts():
    e = np.ones(12)
    # all pairs tie: without cuts the first pair merges; with a cut at 3, the first pair not across it
    assert _exact([0, 3, 6, 9, 12], e, 3) == [0, 6, 9, 12]
    assert _exact([0, 3, 6, 9, 12], e, 3, hard={3}) == [0, 3, 9, 12]
    assert _exact([0, 3, 6, 9, 12], e, 2, hard={3}) == [0, 3, 12]
    assert _exact([0, 3, 6, 9, 12], e, 1, hard={3}) == [0, 12]  # fewer groups than shots: cuts merge too


def test_candidates_follow_the_budget():
    from ov2.options import TokenizeOptions

    assert TokenizeOptions(canvases=8).candidates_for == 128  # 2 groups share 256 candidates
    assert TokenizeOptions(canvases=16).candidates_for == 64
    assert TokenizeOptions(canvases=32).candidates_for == 32
    assert TokenizeOptions(canvases=128).candidates_for == 32  # never below the spec's 32
    assert TokenizeOptions(canvases=8, candidates_per_group=20).candidates_for == 20
    assert TokenizeOptions(canvases=8, candidates_total=64).candidates_for == 32


def test_residual_percentile_by_counting_equals_selection():
    # uint8 residuals take the counting path; it must pick the very value selection picks
    from ov2.codec.saliency import _percentile95

    rng = np.random.default_rng(0)
    for _ in range(300):
        high = int(rng.integers(1, 256))
        a = rng.integers(0, high, size=(int(rng.integers(1, 60)), int(rng.integers(1, 60))), dtype=np.uint8)
        sample = a.ravel()[::3].astype(np.float32)
        k = int(0.95 * (len(sample) - 1))
        assert _percentile95(a) == float(np.partition(sample, k)[k])
    skewed = np.zeros((140, 252), dtype=np.uint8)
    skewed[:, -20:] = 200  # 7.9 % of pixels high: the 95th percentile sits among them
    assert _percentile95(skewed) == 200.0 and _percentile95(skewed[:, :-20]) == 0.0
