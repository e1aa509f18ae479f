"""Scoring model answers on the pointing, tracking and trace benchmarks (``ov2 data pointing|tracking|traces``).

The targets are the records' ground truth, JSON-able so every results row carries it:

* pointing: the label map (``masks_path``), which objects are queried (``targets``) and their GT
  points; scored by points-in-mask accuracy (against the union of the queried objects' masks) and
  Hungarian point P/R/F1 (:mod:`ov2.eval.pointing`);
* tracking: the clip's label maps, ``targets``, GT points at the answer times, fps and sizes; scored
  per frame with Hungarian P/R/F1 and HOTA at alpha 0.5 (:mod:`ov2.eval.tracking`) on the answer-time
  frames where at least one target is visible (the frames that have ground truth);
* traces: the GT waypoints; scored by :func:`ov2.eval.traces.trace_errors`.

An answer counts as ``unparsed`` when nothing could be read from it (and it is not the explicit
"There are none." / "No tracks available."); ``skipped`` counts malformed pieces inside answers.
Proportions are x100 in the summaries, as ``ov2 eval`` prints them; trace errors stay on 0-1000.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from .points import NONE_POINTS, NONE_TRACKS, PointRecord, format_points, parse_points, parse_trace

TRACE_KEYS = ("endpoint", "start", "frechet", "mean_displacement", "depth_endpoint", "depth_mean")


@lru_cache(maxsize=8)
def _labels(path: str) -> np.ndarray:
    """A label map (png, ``[H, W]``) or a clip's label maps (npz, ``[T, H, W]``), cached across scorings."""
    if path.endswith(".npz"):
        from ..data.scene import load_labels

        return load_labels(path)
    import cv2

    labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if labels is None:
        from ..errors import VideoNotFoundError

        raise VideoNotFoundError(f"cannot read the label map {path}; regenerate the data with `ov2 data`")
    return labels


def label_maps(path: str) -> np.ndarray:
    """A sample's GT label maps (``[H, W]`` for an image, ``[T, H, W]`` for a clip; object ``k`` is
    ``k + 1``), cached and shared with the scoring: treat the array as read-only."""
    return _labels(str(path))


def _unparsed(response: str, parsed: Any) -> bool:
    return not parsed.records and response.strip() not in (NONE_POINTS, NONE_TRACKS)


def pointing_target(rec: dict[str, Any]) -> dict[str, Any]:
    """What a pointing answer is scored against (paths absolute, as :func:`ov2.data.load_jsonl` makes them)."""
    return {k: rec[k] for k in ("masks_path", "targets", "points", "width", "height")}


def score_pointing(response: str, target: dict[str, Any]) -> dict[str, Any]:
    """Points-in-mask accuracy and Hungarian P/R/F1 of one answer (0-1 each)."""
    from .pointing import hungarian_prf, points_in_mask_accuracy, to_pixels

    parsed = parse_points(response)
    labels = _labels(target["masks_path"])
    w, h = target["width"], target["height"]
    masks = [labels == k + 1 for k in target["targets"]]
    pred = to_pixels([(r.x, r.y) for r in parsed.records], w, h)
    gt = to_pixels([p[2:] for p in sorted(target["points"], key=lambda p: p[1])], w, h)
    prf = hungarian_prf(pred, gt, masks)
    return {"accuracy": points_in_mask_accuracy(pred, np.any(masks, axis=0)), "precision": prf.precision,
            "recall": prf.recall, "f1": prf.f1, "num_pred": len(parsed.records), "num_gt": len(masks),
            "unparsed": _unparsed(response, parsed), "skipped": parsed.unparsed}


def tracking_target(rec: dict[str, Any]) -> dict[str, Any]:
    """What a tracking answer is scored against."""
    return {k: rec[k] for k in ("masks_path", "targets", "points", "fps", "n_frames", "width", "height")}


def score_tracking(response: str, target: dict[str, Any]) -> dict[str, Any]:
    """Per-frame Hungarian P/R/F1 (averaged over GT frames) and HOTA@0.5 of one answer (0-1 each)."""
    from .tracking import records_to_frames, track_metrics

    parsed = parse_points(response)
    geometry = {"fps": target["fps"], "width": target["width"], "height": target["height"],
                "n_frames": target["n_frames"]}
    gt_points = records_to_frames([PointRecord(*p) for p in target["points"]], **geometry)
    labels = _labels(target["masks_path"])
    # Track id j is object targets[j]; only the frames with a visible target (the GT frames) are scored.
    gt_masks = {f: {j: labels[f] == k + 1 for j, k in enumerate(target["targets"])} for f in gt_points}
    pred = records_to_frames(parsed.records, **geometry)
    m = track_metrics(pred, gt_masks, gt_points)
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "hota": m["HOTA"],
            "deta": m["DetA"], "assa": m["AssA"], "num_pred": len(parsed.records), "num_gt": len(target["points"]),
            "unparsed": _unparsed(response, parsed), "skipped": parsed.unparsed}


def score_trace(response: str, target: list[list[float]]) -> dict[str, Any]:
    """Trajectory errors of one answer against the GT waypoints (0-1000 units; depth in metres)."""
    from .traces import trace_errors

    parsed = parse_trace(response)
    errors = trace_errors(parsed.points, np.asarray(target, dtype=np.float64))
    return {**errors, "num_pred": len(parsed.points), "unparsed": len(parsed.points) == 0,
            "skipped": parsed.unparsed}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(rows: list[dict[str, Any]], score: Any, proportions: tuple[str, ...],
              errors: tuple[str, ...] = ()) -> dict[str, Any]:
    """Mean of each metric over the rows, re-scored from ``response`` + ``ground_truth``.

    ``proportions`` are reported x100, ``errors`` as they are (NaNs ignored).
    """
    scored = [score(r["response"], r["ground_truth"]) for r in rows]
    out: dict[str, Any] = {"n": len(scored), "unparsed": sum(bool(s["unparsed"]) for s in scored),
                           "skipped": sum(int(s["skipped"]) for s in scored)}
    for key in proportions:
        out[key] = 100 * _mean([s[key] for s in scored]) if scored else 0.0
    for key in errors:
        out[key] = _mean([s.get(key, float("nan")) for s in scored])
    return out


def first_frame_baseline(rec: dict[str, Any], decimals: int = 2) -> str:
    """The baseline answer that keeps each target where it is first seen: its first GT point repeated at
    every answer time of the clip (a model that finds the objects but does not track them)."""
    first: dict[int, list[float]] = {}
    for t, j, x, y in sorted(rec["points"], key=lambda p: p[0]):
        first.setdefault(int(j), [x, y])
    times = sorted({float(p[0]) for p in rec["points"]})
    step = 1.0 / float(rec["answer_fps"])
    last = (rec["n_frames"] - 1) / rec["fps"]
    grid = [round(k * step, 6) for k in range(int(math.floor(last / step + 1e-9)) + 1)] or times
    records = [PointRecord(t, j, *xy) for t in grid for j, xy in sorted(first.items())]
    return format_points(records, str(rec.get("query", "")), kind="tracks", style="ov2", decimals=decimals)
