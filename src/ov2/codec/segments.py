"""Splitting the decode into independent segments at keyframes, one single-threaded decoder each.

Exported motion vectors force slice threading (with frame threads FFmpeg
exports different vectors run to run), and slice threads use as many cores as
a picture has slices: one for most encodes. Decoding the window as several
keyframe-aligned segments in parallel, each on its own single-threaded
decoder that scores its frames as it goes, uses every core whatever the
stream, and the scoring no longer competes with the decoder's own threads.

A segment starts at a keyframe, so every frame it yields is exactly the frame
a sequential decode gives (pictures that precede the keyframe in display
order but follow it in decode order, which may reference the previous GOP,
belong to the segment before). Each candidate goes to the segment that holds
its residual reference: for every frame after a keyframe that reference is the
keyframe or later, so only a candidate at the keyframe itself is scored by
the previous segment, which then decodes up to that keyframe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..io.packets import PacketTable

MAX_SEGMENT_WORKERS = 8  # each has its own decoder (and its reference pictures): memory grows with them
MIN_SEGMENT_SECONDS = 2.0  # shorter segments cost more in decoder start-up than they save


@dataclass
class Segment:
    first: int  # frame index where decoding starts (a keyframe, or the window's first frame)
    refs: dict[int, tuple[int, float]] = field(default_factory=dict)  # its candidates -> (reference, vector scale)

    @property
    def last(self) -> int:
        """The last frame this segment must yield: its last candidate (references come before candidates)."""
        return max(self.refs)


def decode_workers(threads: int) -> int:
    """Segments decoded at once: ``threads`` if given (1 = no parallel decoding), else one per usable core."""
    if threads > 0:
        return threads
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_SEGMENT_WORKERS))


def split_segments(packets: PacketTable, frames: np.ndarray, refs: dict[int, tuple[int, float]],
                   workers: int) -> list[Segment]:
    """Up to ``workers`` segments of the window ``frames``, cut at keyframes into parts of equal bytes.

    Packet bytes stand for decoding work. Returns one segment when the window
    has no usable keyframe (one GOP), ``workers`` is 1, or seeking cannot be
    trusted (packets without timestamps, a truncated stream).
    """
    first = int(frames[0])
    starts = [first]
    if workers > 1 and len(frames) > 1 and packets.timestamped and not packets.truncated:
        keys = frames[1:][packets.key[frames[1:]]]
        t0, t1 = packets.pts[first], packets.pts[frames[-1]]
        keys = keys[(packets.pts[keys] - t0 >= MIN_SEGMENT_SECONDS) & (t1 - packets.pts[keys] >= MIN_SEGMENT_SECONDS)]
        work = np.cumsum(packets.size[frames].astype(np.float64))
        at_key = work[np.searchsorted(frames, keys)] - packets.size[keys]  # bytes before each keyframe
        for i in range(1, workers):
            # the keyframe nearest this share of the bytes, at least MIN_SEGMENT_SECONDS after the last cut
            ok = packets.pts[keys] - packets.pts[starts[-1]] >= MIN_SEGMENT_SECONDS
            if not ok.any():
                break
            k = int(keys[ok][np.argmin(np.abs(at_key[ok] - work[-1] * i / workers))])
            starts.append(k)
    segments = [Segment(s) for s in starts]
    bounds = np.asarray(starts)
    for c, (r, scale) in refs.items():
        # the segment holding the residual reference (or the first one, for references before the window)
        s = max(int(np.searchsorted(bounds, max(r, first), side="right")) - 1, 0)
        segments[s].refs[c] = (r, scale)
    return [seg for seg in segments if seg.refs]
