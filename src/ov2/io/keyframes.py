"""Small thumbnails of a video's keyframes, decoding nothing else.

Scene-cut detection (:mod:`ov2.codec.cuts`) compares each keyframe with the
one before it. Keyframes decode on their own, so a pass with
``skip_frame=NONKEY`` (the decoder drops every other picture before decoding
it) costs a demux plus one intra decode per keyframe: a few percent of a full
decode for ordinary GOP lengths.
"""

from __future__ import annotations

import os
from typing import Iterable

import av
import numpy as np

from .container import open_video
from .decode import finish_decoding, thread_type_for
from .packets import PacketTable

THUMB_SIZE = (64, 36)  # width, height: enough for a colour histogram, cheap to make


def keyframe_thumbnails(
    path: str | os.PathLike[str], packets: PacketTable, frames: Iterable[int]
) -> dict[int, np.ndarray]:
    """uint8 RGB thumbnails (36 x 64) of the keyframes ``frames`` (presentation-order indices).

    Frames that cannot be decoded are missing from the result (damaged data
    ends the pass quietly): callers treat a missing thumbnail as "unknown".
    """
    wanted = {int(i) for i in frames if packets.key[int(i)]}
    out: dict[int, np.ndarray] = {}
    if not wanted:
        return out
    last = max(wanted)
    with open_video(path) as (container, stream):
        tb = float(stream.time_base) if stream.time_base else None
        if tb is None:
            return out
        first_pts = float(packets.pts[min(wanted)])
        if first_pts > packets.start + 1e-6:
            try:
                container.seek(int(first_pts / tb), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        # thumbnails need no deblocking; frame threads decode several keyframes at once
        stream.codec_context.options = {"skip_loop_filter": "all"}
        stream.thread_type = thread_type_for(packets)
        stream.codec_context.skip_frame = "NONKEY"
        decoded = container.decode(stream)
        lookup = packets.tick_lookup(tb)
        try:
            for frame in decoded:
                if frame.pts is None:
                    continue
                index = lookup(frame.pts)
                if index in wanted:
                    w, h = THUMB_SIZE
                    out[index] = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
                if index >= last:
                    break
        except (av.error.FFmpegError, ValueError):
            pass  # damaged data or an odd format: keep what was decoded (cuts are then found by GOP structure)
        finally:
            finish_decoding(decoded, stream)
    return out
