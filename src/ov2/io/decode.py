"""Streaming decode in presentation order, one frame at a time.

Every frame is decoded once (predicted frames need their references), but
nothing is converted or kept unless the caller asks: the iterator yields the
raw ``av.VideoFrame`` with its frame index and pts, and the caller converts
the few frames it needs. Memory therefore does not grow with video length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import av

from ..errors import UnsupportedVideoError, VideoFormatError
from .container import open_video
from .packets import PacketTable


@dataclass
class DecodedFrame:
    index: int  # presentation-order frame index (position in the PacketTable)
    pts: float  # the frame's own presentation time in seconds
    frame: av.VideoFrame


def iter_frames(
    path: str | os.PathLike[str],
    packets: PacketTable,
    start: float | None = None,
    end: float | None = None,
    export_mvs: bool = False,
    threads: int = 0,
) -> Iterator[DecodedFrame]:
    """Yield the frames with pts in [start, end), in presentation order.

    ``export_mvs`` asks FFmpeg to attach motion vectors (H.264, MPEG-2/4 only).
    ``threads`` = 0 lets FFmpeg choose. Decoding stops quietly at damaged data
    after the first good frame (a truncated file yields what it has).
    """
    with open_video(path) as (container, stream):
        if export_mvs:
            stream.codec_context.options = {"flags2": "+export_mvs"}
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        tb = float(stream.time_base) if stream.time_base else None
        if start is not None and start > packets.start + 1e-6 and tb:
            try:
                container.seek(int(start / tb), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        lo = packets.start if start is None else start
        hi = float("inf") if end is None else end
        counter = -1
        yielded = False
        try:
            for frame in container.decode(stream):
                counter += 1
                if frame.pts is not None and tb:
                    index = packets.index_of(frame.pts * tb)
                else:  # no timestamps: decode order is presentation order for such streams
                    index = min(counter, packets.frame_count - 1)
                pts = float(packets.pts[index])
                if pts < lo - 1e-6:
                    continue
                if pts >= hi - 1e-6:
                    break
                yielded = True
                yield DecodedFrame(index=index, pts=pts, frame=frame)
        except av.error.DecoderNotFoundError:
            raise UnsupportedVideoError(f"{path}: FFmpeg has no decoder for this codec") from None
        except av.error.FFmpegError:
            if not yielded:
                raise VideoFormatError(f"{path}: no frame could be decoded (corrupt or truncated video)") from None
