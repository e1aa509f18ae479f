"""Molmo2-VideoPoint and Molmo2-VideoTrack rows, as published, turned into OV2 training conversations.

Stage 4 trains on both (``../shared/spec/perception.md`` section 1.3). Their rows hold raw
coordinates, not answer text; :func:`to_llava` writes the answer in the OV2 format
(:func:`ov2.eval.points.format_points`, style ``"ov2"``: ids from 0, x/y on 0-1000, newlines
around the label):

* **VideoPoint**: ``points`` on a 0-100 scale at 2-fps timestamps, in any of the forms
  ``{"timestamps": [t, ...], "points": [[{x, y}, ...], ...]}`` (one list per timestamp),
  ``{"points": [{"time", "points": [{x, y}, ...]}, ...]}`` or flat ``{"points": [{"time", x, y}, ...]}``.
  Ids count up across frames, as Molmo2's pointing answers do (the last id + 1 is the count).
* **VideoTrack**: ``frame_trajectories = [{frame, time, points: [{id, point: [x_px, y_px], occluded}]}]``
  in pixels of the video (``width`` / ``height`` from the row, else probed from the file). One id per
  object (the input's ids renumbered from 0 in order of first appearance); occluded points are omitted.

Times are written with the decimals the input's own times need (``0.5`` -> 1, ``0.25`` -> 2; at
least 1, at most 3), so an answer copies the input's timestamp format; a row's
``timestamp_decimals`` overrides that. The label comes from ``label`` / ``expression`` /
``query`` / ``object`` / ``caption``; the question from ``question`` or a default prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABEL_KEYS = ("label", "expression", "query", "object", "caption")
POINT_QUESTION = "Point to every {label} in the video."
TRACK_QUESTION = "Track the {label}."


def is_molmo2(rec: dict[str, Any]) -> bool:
    """A raw Molmo2 row: trajectories, or points without a conversation."""
    if "conversations" in rec or "messages" in rec:
        return False
    return "frame_trajectories" in rec or "points" in rec


def _decimals(times: list[float], override: Any = None) -> int:
    if override is not None:
        return int(override)
    for nd in (1, 2):
        if all(abs(round(t, nd) - t) < 1e-9 for t in times):
            return nd
    return 3


def _label(rec: dict[str, Any]) -> str:
    for key in LABEL_KEYS:
        if isinstance(rec.get(key), str) and rec[key].strip():
            return rec[key].strip()
    raise ValueError(f"a Molmo2 row needs a label (one of {', '.join(LABEL_KEYS)})")


def _xy(p: Any) -> tuple[float, float]:
    if isinstance(p, dict):
        return float(p["x"]), float(p["y"])
    return float(p[0]), float(p[1])


def _point_frames(rec: dict[str, Any]) -> list[tuple[float, list[tuple[float, float]]]]:
    """(time, [(x, y) on 0-100]) per frame, from any of the VideoPoint forms."""
    points = rec["points"]
    if not isinstance(points, list):
        raise ValueError("'points' must be a list")
    if "timestamps" in rec:
        if len(rec["timestamps"]) != len(points):
            raise ValueError(f"{len(rec['timestamps'])} timestamps but {len(points)} point lists")
        return [(float(t), [_xy(p) for p in ps]) for t, ps in zip(rec["timestamps"], points)]
    frames: dict[float, list[tuple[float, float]]] = {}
    for p in points:
        t = float(next(p[k] for k in ("time", "timestamp", "t") if k in p))
        inner = p["points"] if "points" in p else [p]
        frames.setdefault(t, []).extend(_xy(q) for q in inner)
    return sorted(frames.items())


def video_point_answer(rec: dict[str, Any]) -> str:
    """The OV2 points answer of a Molmo2-VideoPoint row."""
    from ..eval.points import PointRecord, format_points

    frames = _point_frames(rec)
    records = []
    for t, pts in sorted(frames, key=lambda f: f[0]):
        for x, y in sorted(pts):  # Molmo2 counts left to right within a frame
            if not (0 <= x <= 100 and 0 <= y <= 100):
                raise ValueError(f"point ({x}, {y}) at {t} s is outside the 0-100 scale")
            records.append(PointRecord(t, len(records), x * 10, y * 10))
    nd = _decimals([t for t, _ in frames], rec.get("timestamp_decimals"))
    return format_points(records, _label(rec), kind="points", style="ov2", decimals=nd)


def _video_size(rec: dict[str, Any], video: str | None) -> tuple[int, int]:
    w = rec.get("width", rec.get("video_width"))
    h = rec.get("height", rec.get("video_height"))
    if w and h:
        return int(w), int(h)
    if video and Path(video).is_file():
        from ..io.probe import probe

        info = probe(video)
        return int(info.width), int(info.height)
    raise ValueError("pixel points need the video's size: give 'width' and 'height' (or an existing video file)")


def video_track_answer(rec: dict[str, Any], video: str | None = None) -> str:
    """The OV2 tracks answer of a Molmo2-VideoTrack row (pixels -> 0-1000)."""
    from ..eval.points import PointRecord, format_points

    width, height = _video_size(rec, video)
    ids: dict[Any, int] = {}
    records, times = [], []
    for fr in sorted(rec["frame_trajectories"], key=lambda f: float(f["time"])):
        t = float(fr["time"])
        times.append(t)
        for p in fr.get("points", []):
            if p.get("occluded"):
                continue
            x, y = _xy(p["point"])
            oid = ids.setdefault(p["id"], len(ids))
            records.append(PointRecord(t, oid, x / width * 1000, y / height * 1000))
    nd = _decimals(times, rec.get("timestamp_decimals"))
    return format_points(records, _label(rec), kind="tracks", style="ov2", decimals=nd)


def to_llava(rec: dict[str, Any], base: str | Path = ".") -> dict[str, Any]:
    """The row as a LLaVA-form manifest record (video path kept as given). Raises ValueError if malformed."""
    video = rec.get("video") or rec.get("video_path")
    if not isinstance(video, str) or not video.strip():
        raise ValueError("a Molmo2 row needs a 'video' path")
    full = video if Path(video).is_absolute() else str(Path(base) / video)
    if "frame_trajectories" in rec:
        answer, default_q = video_track_answer(rec, full), TRACK_QUESTION
    else:
        answer, default_q = video_point_answer(rec), POINT_QUESTION
    question = rec.get("question") or default_q.format(label=_label(rec))
    out = {"id": rec.get("id"), "video": video,
           "conversations": [{"from": "human", "value": "<video>\n" + str(question).strip()},
                             {"from": "gpt", "value": answer}]}
    if "source" in rec:
        out["source"] = rec["source"]
    return out
