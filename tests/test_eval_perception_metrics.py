"""J, F, point P/R/F1, HOTA and trajectory errors on cases whose values are derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ov2.eval.pointing import hungarian_prf, point_in_mask, points_in_mask_accuracy, to_pixels
from ov2.eval.points import PointRecord
from ov2.eval.traces import MAX_ERROR, discrete_frechet, trace_errors
from ov2.eval.tracking import (
    boundary_f,
    boundary_map,
    hota,
    j_and_f,
    jaccard,
    records_to_frames,
    track_prf,
)


def box(r0, r1, c0, c1, shape=(20, 20)):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1 + 1, c0:c1 + 1] = True
    return m


def test_boundary_map_matches_seg2bmap_rules():
    # A 5x5 square's boundary is the border of the 6x6 box one pixel up-left of it (half a pixel towards
    # the origin): 36 - 16 = 20 pixels.
    b = boundary_map(box(5, 9, 5, 9))
    assert b.sum() == 20
    assert b[4:10, 4:10].sum() == 20 and not b[5:9, 5:9].any()
    # Bottom-right pixel: on the last row only east, on the last column only south, corner never.
    m = np.zeros((20, 20), dtype=bool)
    m[19, 19] = True
    assert sorted(zip(*np.nonzero(boundary_map(m)))) == [(18, 18), (18, 19), (19, 18)]


def test_shifted_square():
    # 20x20 image: radius ceil(0.008 * 28.28) = 1, a plus-shaped disk.
    gt = box(5, 9, 5, 9)
    pred = box(5, 9, 7, 11)  # shifted 2 px right
    assert jaccard(pred, gt) == pytest.approx(15 / 35)
    # Of the 20 predicted boundary pixels, 12 are within the plus of a GT boundary pixel (5 on the top
    # row, 5 on the bottom, the two ends of the left column); by symmetry recall is the same.
    assert boundary_f(pred, gt) == pytest.approx(0.6)
    # 1 px shift: every boundary pixel is within 1 px of the other boundary.
    assert boundary_f(box(5, 9, 6, 10), gt) == pytest.approx(1.0)
    assert jaccard(box(5, 9, 6, 10), gt) == pytest.approx(20 / 30)
    # A radius given in pixels (>= 1): 2 px reaches everything again.
    assert boundary_f(pred, gt, bound_th=2) == pytest.approx(1.0)


def test_empty_and_one_pixel_conventions():
    gt = box(5, 9, 5, 9)
    empty = np.zeros_like(gt)
    assert jaccard(empty, gt) == 0.0 and boundary_f(empty, gt) == 0.0  # P=1, R=0
    assert jaccard(gt, empty) == 0.0 and boundary_f(gt, empty) == 0.0  # P=0, R=1
    assert jaccard(empty, empty) == 1.0 and boundary_f(empty, empty) == 1.0
    one = np.zeros_like(gt)
    one[10, 10] = True
    assert jaccard(one, one) == 1.0 and boundary_f(one, one) == 1.0
    other = np.zeros_like(gt)
    other[10, 12] = True
    # Boundaries {(10,10),(10,9),(9,10),(9,9)} and {(10,12),(10,11),(9,12),(9,11)}: half of each is
    # one pixel from the other.
    assert jaccard(other, one) == 0.0
    assert boundary_f(other, one) == pytest.approx(0.5)


def test_video_shapes_and_j_and_f():
    gt = np.stack([box(5, 9, 5, 9), box(5, 9, 5, 9), np.zeros((20, 20), bool), box(5, 9, 5, 9)])
    pred = np.stack([box(5, 9, 5, 9), box(5, 9, 7, 11), np.zeros((20, 20), bool), np.zeros((20, 20), bool)])
    j = jaccard(pred, gt)
    f = boundary_f(pred, gt)
    assert j.shape == f.shape == (4,)
    np.testing.assert_allclose(j, [1, 15 / 35, 1, 0])
    np.testing.assert_allclose(f, [1, 0.6, 1, 0])
    s = j_and_f(pred, gt)
    assert s["J"] == pytest.approx(np.mean([1, 15 / 35, 1, 0]))
    assert s["F"] == pytest.approx(np.mean([1, 0.6, 1, 0]))
    assert s["J&F"] == pytest.approx((s["J"] + s["F"]) / 2)
    assert s["J_recall"] == pytest.approx(0.5)  # frames above 0.5: 1 and 1
    with pytest.raises(ValueError):
        jaccard(pred, gt[:2])


def test_point_in_mask_and_pointbench_accuracy():
    m = box(2, 4, 2, 4, shape=(10, 10))
    assert point_in_mask(4.4, 2.0, m) and not point_in_mask(4.6, 2.0, m)
    assert not point_in_mask(-0.6, 3, m) and not point_in_mask(3, 10.2, m)
    assert points_in_mask_accuracy([[3, 3], [9, 9], [3, 4], [20, 3]], m) == pytest.approx(0.5)
    assert points_in_mask_accuracy([], m) == 0.0
    np.testing.assert_allclose(to_pixels([[500, 250]], 640, 480), [[320, 120]])


def test_hungarian_where_greedy_differs():
    # GT a at x=0 (mask x 0..2), b at x=3 (mask x 3..5); predictions at x=2 and x=5. Greedy takes the
    # closest pair first (x=2 -> b, distance 1), then x=5 -> a: no prediction inside its object's mask.
    # Minimal total distance (2 + 2 < 1 + 5) matches x=2 -> a and x=5 -> b: two hits.
    masks = [box(4, 6, 0, 2, shape=(10, 10)), box(4, 6, 3, 5, shape=(10, 10))]
    s = hungarian_prf([[2, 5], [5, 5]], [[0, 5], [3, 5]], masks)
    assert (s.precision, s.recall, s.hits) == (1.0, 1.0, 2)
    assert s.f1 == pytest.approx(1.0, abs=1e-9)
    # One prediction, two objects: P = 1, R = 1/2.
    s = hungarian_prf([[1, 5]], [[0, 5], [3, 5]], masks)
    assert (s.precision, s.recall) == (1.0, 0.5)
    assert s.f1 == pytest.approx(2 / 3)
    # Edge cases (Molmo2): no GT and no prediction 1; GT, no prediction 0; prediction, no GT 0.
    assert hungarian_prf([], [], []).f1 == 1.0
    assert hungarian_prf([], [[0, 5]], masks[:1]).f1 == 0.0
    assert hungarian_prf([[1, 1]], [], []).precision == 0.0


def _video_gt():
    # One object, 4 frames, a 3x3 mask moving right by 2 px per frame.
    return {f: {7: box(4, 6, 2 * f, 2 * f + 2, shape=(12, 12))} for f in range(4)}


def test_track_prf_frames_and_hota_id_switch():
    gt = _video_gt()
    inside = {f: {0: (2 * f + 1, 5)} for f in range(4)}
    assert track_prf(inside, gt)["f1"] == pytest.approx(1.0, abs=1e-9)
    assert hota(inside, gt)["HOTA"] == pytest.approx(1.0)
    # A prediction on a frame without GT counts only with frames="either".
    extra = {**inside, 9: {0: (1, 1)}}
    assert track_prf(extra, gt)["frames"] == 4
    e = track_prf(extra, gt, frames="either")
    assert e["frames"] == 5 and e["f1"] == pytest.approx(4 / 5, abs=1e-9)
    # Id switch halfway: detection perfect, association 1/2 -> HOTA sqrt(1/2).
    switched = {f: {(0 if f < 2 else 1): (2 * f + 1, 5)} for f in range(4)}
    h = hota(switched, gt)
    assert h["DetA"] == pytest.approx(1.0)
    assert h["AssA"] == pytest.approx(0.5)
    assert h["HOTA"] == pytest.approx(math.sqrt(0.5))
    # One miss: TP 3, FN 1, FP 1 -> DetA 3/5, AssA = 3/(4+4-3) = 3/5.
    miss = {**inside, 3: {0: (0, 0)}}
    h = hota(miss, gt)
    assert h["DetA"] == pytest.approx(3 / 5) and h["AssA"] == pytest.approx(3 / 5)
    assert h["DetRe"] == pytest.approx(3 / 4) and h["DetPr"] == pytest.approx(3 / 4)
    assert hota({}, gt)["HOTA"] == 0.0
    assert hota({}, {})["HOTA"] == 1.0


def test_records_to_frames():
    recs = [PointRecord(0.5, 1, 500, 250), PointRecord(0.25, 1, 100, 100), PointRecord(0.27, 1, 0, 0)]
    fr = records_to_frames(recs, fps=6, width=640, height=480, n_frames=100)
    # round(3.0) = 3; round(1.5) = 2 (half to even); 0.27 * 6 = 1.62 -> 2 again: the first point is kept.
    assert fr == {3: {1: (320.0, 120.0)}, 2: {1: (64.0, 48.0)}}
    assert records_to_frames([PointRecord(99.0, 0, 0, 0)], fps=6, width=10, height=10, n_frames=5) == {4: {0: (0.0, 0.0)}}


def test_trace_errors_by_hand():
    a = np.array([[0, 0], [100, 0], [200, 0]], dtype=float)
    assert discrete_frechet(a, a + [0, 100]) == pytest.approx(100)
    # The right path walked backwards: endpoints swap, Frechet is the whole length.
    e = trace_errors(a[::-1], a)
    assert e["endpoint"] == pytest.approx(200) and e["start"] == pytest.approx(200)
    assert e["frechet"] == pytest.approx(200)
    assert e["mean_displacement"] > 90
    # Different waypoint counts on the same line: zero error.
    e = trace_errors(np.array([[0, 0], [200, 0]]), a)
    assert e["frechet"] == pytest.approx(100)  # the middle GT waypoint is 100 from both ends
    assert e["mean_displacement"] == pytest.approx(0, abs=1e-9)
    # 3D: depth error separate, in metres.
    g3 = np.array([[0, 0, 1.0], [200, 0, 2.0]])
    p3 = np.array([[0, 0, 1.5], [200, 0, 2.25]])
    e = trace_errors(p3, g3)
    assert e["endpoint"] == 0 and e["depth_endpoint"] == pytest.approx(0.25)
    assert e["depth_mean"] == pytest.approx(0.375)
    missing = trace_errors(np.zeros((0, 3)), g3)
    assert missing["endpoint"] == MAX_ERROR and missing["missing"] == 1.0 and math.isnan(missing["depth_mean"])
