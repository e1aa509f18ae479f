"""Video object tracking metrics: masks (J, F, J&F) and point tracks (per-frame Hungarian P/R/F1, HOTA).

* Mask metrics live in :mod:`ov2.eval.masks` and are re-exported here: :func:`jaccard`,
  :func:`boundary_f`, :func:`j_and_f` (DAVIS 2017 definitions).
* Point-level tracking follows Molmo2 ``olmo/eval/object_tracking_utils.py``: each frame is scored with
  :func:`ov2.eval.pointing.hungarian_prf` (point-in-mask rule) and the scores are averaged over frames;
  HOTA (TrackEval's definition) uses a 0/1 similarity, 1 when the predicted point lies inside the GT
  object's mask, reported at alpha = 0.5 with DetA, AssA, DetPr, DetRe and LocA.
* Frames: ``frames="gt"`` (default) scores the frames that have ground truth, as the OV2 tracking
  harness does; ``frames="either"`` adds frames with only a prediction, as Molmo2 does.

Data shapes used throughout (pixels, frame indices)::

    FrameTracks = {frame: {object_id: (x_px, y_px)}}
    FrameMasks  = {frame: {object_id: bool mask [H, W]}}   # an empty mask = object absent in that frame

:func:`records_to_frames` turns parsed answers (:class:`ov2.eval.points.PointRecord`, seconds and 0-1000)
into ``FrameTracks``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from ov2.eval.masks import boundary_f, boundary_map, davis_statistics, j_and_f, jaccard
from ov2.eval.pointing import hungarian_prf, mask_points, point_in_mask
from ov2.eval.points import PointRecord

__all__ = [
    "jaccard",
    "boundary_f",
    "boundary_map",
    "davis_statistics",
    "j_and_f",
    "FrameTracks",
    "FrameMasks",
    "time_to_frame",
    "records_to_frames",
    "track_prf",
    "hota",
    "track_metrics",
]

FrameTracks = Mapping[int, Mapping[int, tuple[float, float]]]
FrameMasks = Mapping[int, Mapping[int, np.ndarray]]


def time_to_frame(t: float, fps: float, n_frames: int | None = None) -> int:
    """``round(t * fps)`` (Python rounding, as Molmo2 and the SAM2 harness), clamped to ``[0, n_frames-1]``."""
    f = int(round(float(t) * float(fps)))
    f = max(0, f)
    if n_frames is not None:
        f = min(f, int(n_frames) - 1)
    return f


def records_to_frames(
    records: Iterable[PointRecord],
    *,
    fps: float,
    width: int,
    height: int,
    n_frames: int | None = None,
    clamp: bool = False,
) -> dict[int, dict[int, tuple[float, float]]]:
    """Parsed points to ``{frame: {id: (x_px, y_px)}}``: frame = round(t * fps), x_px = x / 1000 * W.

    When two times land on one frame the first point of an id is kept (Molmo2 skips duplicates).
    ``clamp=True`` clamps pixels into the image (what the SAM2 pipeline does with clicks); metrics leave
    them as they are, so a point outside the image is a miss.
    """
    out: dict[int, dict[int, tuple[float, float]]] = {}
    for r in records:
        f = time_to_frame(r.t, fps, n_frames)
        x = r.x / 1000.0 * width
        y = r.y / 1000.0 * height
        if clamp:
            x = min(max(x, 0.0), width - 1.0)
            y = min(max(y, 0.0), height - 1.0)
        out.setdefault(f, {}).setdefault(int(r.id), (x, y))
    return out


def _frames(pred: FrameTracks, gt_masks: FrameMasks, frames: str) -> list[int]:
    if frames == "gt":
        return sorted(gt_masks)
    if frames == "either":
        return sorted(set(gt_masks) | set(pred))
    raise ValueError(f"frames must be 'gt' or 'either', got {frames!r}")


def _gt_objects(
    f: int, gt_masks: FrameMasks, gt_points: FrameTracks | None
) -> tuple[list[int], list[np.ndarray], np.ndarray]:
    """The GT objects present in frame f (non-empty mask), their masks and reference points."""
    ids, masks = [], []
    for oid, m in sorted(gt_masks.get(f, {}).items()):
        m = np.asarray(m, dtype=bool)
        if m.any():
            ids.append(int(oid))
            masks.append(m)
    given = (gt_points or {}).get(f, {})
    pts = mask_points(masks) if masks else np.zeros((0, 2))
    for k, oid in enumerate(ids):
        if oid in given:
            pts[k] = given[oid]
    return ids, masks, pts


def track_prf(
    pred: FrameTracks,
    gt_masks: FrameMasks,
    gt_points: FrameTracks | None = None,
    *,
    frames: str = "gt",
) -> dict[str, float]:
    """Per-frame Hungarian P/R/F1 with the point-in-mask rule, averaged over frames (one video).

    ``gt_points`` gives the GT reference points used for matching; objects without one use the mask
    pixel nearest the mask centroid. No frame to score gives 1.0 (nothing to find, nothing predicted),
    as Molmo2.
    """
    scores = []
    for f in _frames(pred, gt_masks, frames):
        _, masks, gpts = _gt_objects(f, gt_masks, gt_points)
        ppts = np.array(list(pred.get(f, {}).values()), dtype=np.float64).reshape(-1, 2)
        s = hungarian_prf(ppts, gpts, masks)
        scores.append((s.precision, s.recall, s.f1))
    if not scores:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "frames": 0}
    arr = np.asarray(scores)
    return {
        "precision": float(arr[:, 0].mean()),
        "recall": float(arr[:, 1].mean()),
        "f1": float(arr[:, 2].mean()),
        "frames": len(scores),
    }


def hota(
    pred: FrameTracks,
    gt_masks: FrameMasks,
    *,
    alpha: float = 0.5,
    frames: str = "gt",
) -> dict[str, float]:
    """HOTA of point tracks against mask tracks (one video), TrackEval's definition with 0/1 similarity.

    Similarity of GT object g and predicted point p in a frame is 1 when p lies inside g's mask. Over
    the whole video, each (g, p) pair gets a global alignment score (summed per-frame IoU-normalised
    similarity over ``|g| + |p| - that``); each frame is then matched by the Hungarian method maximising
    alignment x similarity, and a pair counts as a true positive when its similarity >= ``alpha``.
    DetA = TP / (TP + FN + FP); AssA averages, over TPs, the pair's matches / (|g| + |p| - matches);
    HOTA = sqrt(DetA * AssA). With nothing on either side everything is 1; with only GT or only
    predictions everything but LocA is 0.
    """
    from scipy.optimize import linear_sum_assignment

    eps = np.finfo(float).eps
    fr = _frames(pred, gt_masks, frames)
    gt_ids_all = sorted({oid for f in fr for oid, m in gt_masks.get(f, {}).items() if np.any(m)})
    pr_ids_all = sorted({int(oid) for f in fr for oid in pred.get(f, {})})
    gidx = {oid: k for k, oid in enumerate(gt_ids_all)}
    pidx = {oid: k for k, oid in enumerate(pr_ids_all)}
    per_frame = []  # (gt index array, pred index array, similarity [G, P])
    for f in fr:
        ids, masks, _ = _gt_objects(f, gt_masks, None)
        pitems = sorted((int(k), v) for k, v in pred.get(f, {}).items())
        sim = np.zeros((len(ids), len(pitems)))
        for i, m in enumerate(masks):
            for j, (_, (x, y)) in enumerate(pitems):
                sim[i, j] = float(point_in_mask(x, y, m))
        per_frame.append(
            (
                np.array([gidx[i] for i in ids], dtype=np.int64),
                np.array([pidx[k] for k, _ in pitems], dtype=np.int64),
                sim,
            )
        )
    n_gt = sum(len(g) for g, _, _ in per_frame)
    n_pr = sum(len(p) for _, p, _ in per_frame)
    keys = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "LocA")
    if n_gt == 0 and n_pr == 0:
        return {k: 1.0 for k in keys}
    if n_gt == 0 or n_pr == 0:
        return {**{k: 0.0 for k in keys}, "LocA": 1.0}

    G, P = len(gt_ids_all), len(pr_ids_all)
    potential = np.zeros((G, P))
    gt_count = np.zeros((G, 1))
    pr_count = np.zeros((1, P))
    for g, p, sim in per_frame:
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        sim_iou = np.zeros_like(sim)
        ok = denom > eps
        sim_iou[ok] = sim[ok] / denom[ok]
        potential[g[:, None], p[None, :]] += sim_iou
        gt_count[g] += 1
        pr_count[0, p] += 1
    alignment = potential / (gt_count + pr_count - potential + eps)

    tp = fn = fp = 0
    loc = 0.0
    matches = np.zeros((G, P))
    for g, p, sim in per_frame:
        if len(g) == 0 or len(p) == 0:
            fp += len(p)
            fn += len(g)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], p[None, :]] * sim))
        ok = sim[rows, cols] >= alpha - eps
        rows, cols = rows[ok], cols[ok]
        tp += len(rows)
        fn += len(g) - len(rows)
        fp += len(p) - len(rows)
        loc += float(sim[rows, cols].sum())
        matches[g[rows], p[cols]] += 1
    ass = matches / np.maximum(1, gt_count + pr_count - matches)
    ass_a = float(np.sum(matches * ass) / max(1, tp))
    det_a = tp / max(1, tp + fn + fp)
    return {
        "HOTA": float(np.sqrt(det_a * ass_a)),
        "DetA": float(det_a),
        "AssA": ass_a,
        "DetRe": tp / max(1, tp + fn),
        "DetPr": tp / max(1, tp + fp),
        "LocA": max(1e-10, loc) / max(1e-10, tp),
    }


def track_metrics(
    pred: FrameTracks,
    gt_masks: FrameMasks,
    gt_points: FrameTracks | None = None,
    *,
    frames: str = "gt",
) -> dict[str, float]:
    """:func:`track_prf` and :func:`hota` (alpha 0.5) of one video in one dict."""
    out = dict(track_prf(pred, gt_masks, gt_points, frames=frames))
    out.update(hota(pred, gt_masks, frames=frames))
    return out
