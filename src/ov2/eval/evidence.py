"""Model-free evidence check: is there a token near each annotated event at all?

For a clip with annotated event times (JumpScore cycle starts), an event is
*covered* when at least one selected token comes from a frame whose time is
within ``tau`` of it. *On-subject* coverage only counts tokens whose patch,
mapped back to display pixels, overlaps the subject's box in that token's
source frame. The share of covered events is an upper bound on what a model
could localise from those tokens.

Everything here is pure numpy (no video): :mod:`ov2.eval.evidence_run`
tokenizes clips and feeds these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# Annotations carry 2 decimals and frame times are binary floats: allow a hair
# over tau so an event exactly tau away from a frame counts as covered.
TIME_EPS = 1e-6


def covered_events(event_times: Sequence[float], token_times: Sequence[float], tau: float = 0.1) -> np.ndarray:
    """Boolean per event: some token time t has ``|t - event| <= tau`` (plus :data:`TIME_EPS`)."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    events = np.asarray(event_times, dtype=np.float64).reshape(-1)
    times = np.unique(np.asarray(token_times, dtype=np.float64).reshape(-1))
    if events.size == 0 or times.size == 0:
        return np.zeros(events.size, dtype=bool)
    # Nearest token time to each event: look at the neighbours around its insertion point.
    idx = np.searchsorted(times, events)
    left = times[np.clip(idx - 1, 0, times.size - 1)]
    right = times[np.clip(idx, 0, times.size - 1)]
    nearest = np.minimum(np.abs(events - left), np.abs(events - right))
    return nearest <= tau + TIME_EPS


def evidence_recall(event_times: Sequence[float], token_times: Sequence[float], tau: float = 0.1) -> float:
    """Share (0..1) of events with a token within ``tau`` seconds; NaN when there are no events."""
    hits = covered_events(event_times, token_times, tau)
    return float(hits.mean()) if hits.size else float("nan")


def patch_rects_display(
    src_row: np.ndarray,
    src_col: np.ndarray,
    processed_hw: tuple[int, int],
    display_wh: tuple[float, float],
    patch: int = 14,
) -> np.ndarray:
    """float64 [N, 4] (x0, y0, x1, y1) display-pixel rectangles of patches at (src_row, src_col).

    A patch covers processed-frame rows [p*r, p*r + p) and cols [p*c, p*c + p);
    display = processed x (display size / processed size), per axis.
    """
    ph, pw = processed_hw
    dw, dh = display_wh
    sx, sy = dw / pw, dh / ph
    r = np.asarray(src_row, dtype=np.float64)
    c = np.asarray(src_col, dtype=np.float64)
    return np.stack([c * patch * sx, r * patch * sy, (c + 1) * patch * sx, (r + 1) * patch * sy], axis=1)


def nearest_index(sorted_times: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of the nearest value in ``sorted_times`` (ascending) for each query time (ties: earlier)."""
    sorted_times = np.asarray(sorted_times, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    if sorted_times.size == 0:
        raise ValueError("nearest_index needs at least one reference time")
    idx = np.clip(np.searchsorted(sorted_times, query), 1, max(sorted_times.size - 1, 1))
    if sorted_times.size == 1:
        return np.zeros(query.shape, dtype=np.int64)
    left = sorted_times[idx - 1]
    right = sorted_times[idx]
    take_left = np.abs(query - left) <= np.abs(right - query)
    return np.where(take_left, idx - 1, idx).astype(np.int64)


@dataclass
class SubjectTrack:
    """The subject's box per frame, in display pixels (from a clip's ``boxes.json``)."""

    times: np.ndarray  # [F] ascending seconds
    boxes: np.ndarray  # [F, 4] x0, y0, x1, y1; NaN rows = no box in that frame
    width: float
    height: float

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "SubjectTrack":
        times = np.asarray(doc["times"], dtype=np.float64)
        rows = [[np.nan] * 4 if b is None else [float(v) for v in b] for b in doc["boxes"]]
        boxes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        if len(times) != len(boxes) or len(times) == 0:
            raise ValueError(f"boxes.json needs one box per time, got {len(times)} times and {len(boxes)} boxes")
        order = np.argsort(times, kind="stable")
        return cls(times[order], boxes[order], float(doc["width"]), float(doc["height"]))

    def boxes_at(self, times: np.ndarray, display_wh: tuple[float, float] | None = None) -> np.ndarray:
        """[N, 4] box of the frame nearest in time to each query, scaled to ``display_wh`` if given."""
        b = self.boxes[nearest_index(self.times, np.asarray(times, dtype=np.float64))]
        if display_wh is not None and (display_wh[0] != self.width or display_wh[1] != self.height):
            sx, sy = display_wh[0] / self.width, display_wh[1] / self.height
            b = b * np.array([sx, sy, sx, sy])
        return b


def on_subject(rects: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Boolean per row: rectangle and box overlap with positive area (touching edges do not count)."""
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        return (
            (rects[:, 0] < boxes[:, 2])
            & (boxes[:, 0] < rects[:, 2])
            & (rects[:, 1] < boxes[:, 3])
            & (boxes[:, 1] < rects[:, 3])
        )


def subject_token_mask(
    times: np.ndarray,
    src_row: np.ndarray,
    src_col: np.ndarray,
    track: SubjectTrack,
    processed_hw: tuple[int, int],
    display_wh: tuple[float, float],
    patch: int = 14,
) -> np.ndarray:
    """Boolean per token: its patch overlaps the subject's box at the token's source frame."""
    if len(times) == 0:
        return np.zeros(0, dtype=bool)
    rects = patch_rects_display(src_row, src_col, processed_hw, display_wh, patch)
    return on_subject(rects, track.boxes_at(times, display_wh))


def token_evidence(vi: Any, track: SubjectTrack | None) -> dict[str, Any]:
    """What a tokenized clip offers the check: selected frame times, overall and on the subject.

    ``vi`` is an :class:`ov2.VisualInput`. Returns JSON-able lists so results can be cached
    independently of ``tau``.
    """
    tok = vi.tokens
    valid = tok.valid
    times = tok.time[valid]
    out: dict[str, Any] = {
        "times_any": np.unique(times).tolist(),
        "n_tokens": int(valid.sum()),
        "times_subject": None,
        "n_subject_tokens": None,
    }
    if track is not None:
        processed = vi.meta["processed"]
        video = vi.meta["video"]
        mask = subject_token_mask(
            times,
            tok.src_row[valid],
            tok.src_col[valid],
            track,
            (int(processed["height"]), int(processed["width"])),
            (float(video["width"]), float(video["height"])),
            vi.patch_size,
        )
        out["times_subject"] = np.unique(times[mask]).tolist()
        out["n_subject_tokens"] = int(mask.sum())
    return out
