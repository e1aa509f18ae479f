"""Pictures of a model run's first answers, next to its results: ``ov2 eval ... --figures N``.

For the first ``N`` answered samples (in data order) of ``OUT.jsonl`` this writes into
``OUT_figures/`` (see :func:`figures_dir`):

* pointing: the image with predicted points, GT points and the queried objects' GT mask outline;
* tracking: a frame strip of the clip resampled to the answer rate (so every frame shown is an
  answer time), predicted and GT points, the targets' GT masks;
* traces: the predicted and GT waypoints over the clip's first frame;
* jumpscore: the timeline of predicted cycle starts, green within 0.1 s of a GT start, red otherwise;

plus ``figures.json`` (what each picture shows and a fingerprint of the answer it was drawn from) and
``index.html`` (:func:`ov2.viz.gallery.write_gallery`) with the run's metrics. A re-run redraws only
pictures whose answer changed and rewrites ``figures.json`` / ``index.html`` only when their text
changes, so resuming a finished run touches nothing. Every file goes through ov2's atomic writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import EmptyVideoError, VideoNotFoundError
from ..fileio import atomic_write_text_if_changed
from ..viz.perception import jump_marks, save_frame_strip, save_jumpscore_timeline, save_trajectory

__all__ = ["DEFAULT_FIGURES", "Figure", "figures_dir", "read_figures", "write_figures", "summary_metrics"]

DEFAULT_FIGURES = 4
MANIFEST = "figures.json"
PAGE = "index.html"
VERSION = 1  # bump when a drawing changes, so finished runs redraw once
JUMP_TAU = 0.1


@dataclass(frozen=True)
class Figure:
    """One drawn picture: the sample, the PNG (relative to the figures folder), its caption, what it
    shows (``info``: e.g. JumpScore ``hits`` / ``misses``) and the fingerprint of what it was drawn from."""

    id: str
    file: str
    caption: str
    key: str
    info: dict[str, Any] = field(default_factory=dict)


def figures_dir(results: str | Path) -> Path:
    """Where the pictures of the results file ``results`` go: ``<dir>/<stem>_figures``."""
    results = Path(results)
    return results.with_name(f"{results.stem}_figures")


def read_figures(folder: str | Path) -> list[Figure]:
    """The figures listed in ``folder/figures.json`` ([] when there is none or it is unreadable)."""
    path = Path(folder) / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [Figure(**f) for f in doc["figures"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


# ------------------------------------------------------------------------------------------ drawers
def _rgb_image(path: str) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VideoNotFoundError(f"cannot read the image {path}; regenerate the data with `ov2 data pointing`")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _first_frame(path: str) -> np.ndarray:
    import av

    if not Path(path).is_file():
        raise VideoNotFoundError(f"{path}: no such video; regenerate the data with `ov2 data`")
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise EmptyVideoError(f"{path}: no decodable frame; regenerate the data with `ov2 data`")


def _target_masks(labels: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """The union of the queried objects' masks (object ``k`` is label ``k + 1``)."""
    return np.isin(labels, [int(k) + 1 for k in targets])


def _gt_records(points: Sequence[Sequence[float]]) -> list[Any]:
    from .points import PointRecord

    return [PointRecord(*p) for p in points]


def _draw_pointing(row: dict[str, Any], record: dict[str, Any], path: Path) -> dict[str, Any]:
    from .perception import label_maps
    from .points import parse_points

    gt = row["ground_truth"]
    image = _rgb_image(record["image_path"])
    masks = _target_masks(label_maps(gt["masks_path"]), gt["targets"])[None]
    pred = parse_points(row["response"]).records
    save_frame_strip(path, image[None], fps=1.0, pred_points=pred, gt_points=_gt_records(gt["points"]),
                     gt_masks=masks, count=1, title=str(record.get("query", "")), time_labels=False)
    return {"pred_points": len(pred), "gt_points": len(gt["points"])}


def _draw_tracking(row: dict[str, Any], record: dict[str, Any], path: Path) -> dict[str, Any]:
    from .perception import label_maps
    from .points import parse_points
    from .sam2_track import load_frames

    gt = row["ground_truth"]
    rate = float(record.get("answer_fps") or gt["fps"])
    frames, times, _ = load_frames(record["video_path"], rate)  # one frame per answer time
    labels = label_maps(gt["masks_path"])
    source = np.clip(np.round(times * gt["fps"]).astype(int), 0, len(labels) - 1)
    masks = _target_masks(labels[source], gt["targets"])
    pred = parse_points(row["response"]).records
    save_frame_strip(path, frames, times=times, fps=rate, pred_points=pred, gt_points=_gt_records(gt["points"]),
                     gt_masks=masks, title=str(record.get("query", "")))
    return {"pred_points": len(pred), "gt_points": len(gt["points"])}


def _draw_trace(row: dict[str, Any], record: dict[str, Any], path: Path) -> dict[str, Any]:
    from .points import parse_trace

    pred = parse_trace(row["response"]).points
    save_trajectory(path, _first_frame(record["video_path"]), pred, np.asarray(row["ground_truth"], np.float64),
                    title=str(record.get("query", "")))
    return {"pred_waypoints": len(pred), "gt_waypoints": len(row["ground_truth"])}


def _draw_jumps(row: dict[str, Any], record: dict[str, Any], path: Path) -> dict[str, Any]:
    from . import jumpscore

    pred = jumpscore.parse(str(row["response"]))
    gt = jumpscore.parse_ground_truth(str(row["ground_truth"]).strip())
    marks = jump_marks(pred, gt, JUMP_TAU)
    save_jumpscore_timeline(path, pred, gt, duration=record.get("duration"), tau=JUMP_TAU,
                            title=f"{record['id']}: predicted cycle starts")
    hits = sum(ok for _, ok in marks)
    return {"hits": hits, "misses": len(marks) - hits, "gt_starts": len(gt)}


@dataclass(frozen=True)
class _Kind:
    draw: Callable[[dict[str, Any], dict[str, Any], Path], dict[str, Any]]
    caption: tuple[str, ...]  # per-sample scores named in the caption
    scale: float  # x100 for proportions, 1 for trace errors (0-1000 units)


KINDS: dict[str, _Kind] = {
    "pointing": _Kind(_draw_pointing, ("accuracy", "f1"), 100.0),
    "tracking": _Kind(_draw_tracking, ("f1", "hota"), 100.0),
    "traces": _Kind(_draw_trace, ("endpoint", "frechet"), 1.0),
    "jumpscore": _Kind(_draw_jumps, ("map",), 100.0),
}


# ------------------------------------------------------------------------------------------ writing
def _fingerprint(task: str, row: dict[str, Any]) -> str:
    blob = json.dumps({"v": VERSION, "task": task, "id": str(row["id"]), "response": row["response"],
                       "ground_truth": row["ground_truth"]}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _file_name(index: int, sample_id: str) -> str:
    return f"{index:02d}_{re.sub(r'[^A-Za-z0-9._-]', '_', sample_id)}.png"


def _caption(task: str, row: dict[str, Any], score: Callable[[str, Any], dict[str, Any]], info: dict[str, Any]) -> str:
    kind = KINDS[task]
    scores = score(row["response"], row["ground_truth"])
    parts = [f"{k} {kind.scale * float(scores[k]):.1f}" for k in kind.caption if k in scores]
    if "hits" in info:
        parts.append(f"{info['hits']} green / {info['misses']} red of {info['hits'] + info['misses']} predicted "
                     f"starts, {info['gt_starts']} GT")
    if scores.get("unparsed"):
        parts.append("unparsed answer")
    return f"{row['id']}: " + ", ".join(parts)


def summary_metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A run summary as flat name -> value pairs for the gallery table (nested dicts as ``name@key``)."""
    flat: dict[str, Any] = {}
    for k, v in summary.items():
        if isinstance(v, Mapping):
            if k == "codec_config":
                flat[k] = ", ".join(f"{a}={b}" for a, b in v.items()) or "-"
            else:
                flat.update({f"{k}@{a}": b for a, b in v.items()})
        else:
            flat[k] = v
    return flat


def write_figures(task: str, rows: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]], folder: str | Path,
                  count: int = DEFAULT_FIGURES, *, summary: Mapping[str, Any] | None = None,
                  title: str = "") -> tuple[list[Figure], int]:
    """Draw the first ``count`` answered samples of ``records`` (matched to ``rows`` by id) into ``folder``,
    with ``figures.json`` and ``index.html``; returns the figures listed and how many were drawn now.

    ``rows`` are the run's stored results (``response`` + ``ground_truth``); ``records`` the benchmark's
    (for the image / video and label-map paths). Pictures already drawn from the same answer are kept.
    """
    from ..errors import InvalidOptionError
    from ..viz.gallery import render_gallery
    from .runner import TASKS

    if task not in KINDS:
        raise InvalidOptionError(f"no figures for task {task!r}; choose from {', '.join(KINDS)}")
    if count < 0:
        raise InvalidOptionError(f"--figures must be >= 0, got {count}")
    folder = Path(folder)
    by_id = {str(r["id"]): r for r in rows}
    chosen = [(rec, by_id[str(rec["id"])]) for rec in records if str(rec["id"]) in by_id][:count]
    if not chosen:
        return [], 0
    old = {f.file: f for f in read_figures(folder)}
    figures, drawn = [], 0
    for i, (rec, row) in enumerate(chosen):
        name, key = _file_name(i, str(row["id"])), _fingerprint(task, row)
        kept = old.get(name)
        if kept is not None and kept.key == key and (folder / name).is_file():
            figures.append(kept)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        info = KINDS[task].draw(row, rec, folder / name)
        figures.append(Figure(str(row["id"]), name, _caption(task, row, TASKS[task].score, info), key, info))
        drawn += 1
    manifest = json.dumps({"task": task, "figures": [asdict(f) for f in figures]}, indent=1) + "\n"
    atomic_write_text_if_changed(folder / MANIFEST, manifest)
    intro = (f"The first {len(figures)} answered samples of {len(rows)}; the metrics are over all of them "
             f"(proportions x100{', trace errors on 0-1000' if task == 'traces' else ''}).")
    page = render_gallery(title or f"ov2 eval {task}", [(f.file, f.caption) for f in figures], intro=intro,
                          metrics=summary_metrics(summary or {}))
    atomic_write_text_if_changed(folder / PAGE, page)
    return figures, drawn
