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

# FFmpeg threading mode; None chooses per stream (thread_type_for). Per-packet skip_frame applies
# with either mode.
THREAD_TYPE: str | None = None


def thread_type_for(packets: PacketTable) -> str:
    """"SLICE" for streams whose pictures carry several slices, else "AUTO" (frame threads).

    Many encoders write one slice per picture (x264's default frame threading),
    and then slice threading decodes on one core while frame threads use them
    all. Streams cut into slices (x264 sliced threads, PyAV's default encoder
    threading, broadcast) decode in parallel with slice threads at less cost
    than frame threads: on the benchmark clip (4 slices) 1.2 s vs 1.7 s on 2 cores.
    """
    return "SLICE" if packets.sliced else "AUTO"


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
    needed: set[int] | None = None,
) -> Iterator[DecodedFrame]:
    """Yield the frames with pts in [start, end), in presentation order.

    ``export_mvs`` asks FFmpeg to attach motion vectors (H.264, MPEG-2/4 only).
    ``needed``: if given, frames outside this set may be skipped: packets of
    unneeded frames are sent with ``skip_frame=NONREF``, so decoders that
    support it (H.264, HEVC, MPEG-x) drop non-reference pictures nobody will
    look at. Reference frames are always decoded, so every needed frame is
    exact; only the set of yielded unneeded frames shrinks.
    ``threads`` = 0 lets FFmpeg choose. Decoding stops quietly at damaged data
    after the first good frame (a truncated file yields what it has).
    """
    with open_video(path) as (container, stream):
        if export_mvs:
            stream.codec_context.options = {"flags2": "+export_mvs"}
        # With frame threads FFmpeg exports different motion vectors run to run for the same stream
        # (bikes.mp4: those of 210 of 250 frames differed between two decodes; the pixels never did),
        # so streams whose vectors are exported decode with slice threads (or, in the codec backend,
        # as keyframe-aligned segments on single-threaded decoders in parallel: codec/segments.py).
        stream.thread_type = THREAD_TYPE or ("SLICE" if export_mvs else thread_type_for(packets))
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
        lookup = packets.tick_lookup(tb) if tb else None
        frames = _decode(container, stream, needed, lookup)
        try:
            for frame in frames:
                counter += 1
                if frame.pts is not None and lookup:
                    index = lookup(frame.pts)
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
        finally:
            finish_decoding(frames, stream)


def finish_decoding(frames, stream) -> None:
    """Finish decoding before the container closes, also when the caller stopped early.

    Closing a container while FFmpeg's decoder threads still hold frames can
    deadlock (PyAV issues about breaking out of a threaded decode loop), and
    an abandoned demux generator must not outlive its container. So: close
    our generator, then drain the decoder, skipping every remaining picture.
    """
    frames.close()
    ctx = stream.codec_context
    try:
        ctx.skip_frame = "ALL"
        for _ in ctx.decode(None):
            pass
    except (av.error.FFmpegError, ValueError):
        pass  # already drained, or never opened


def _decode(container, stream, needed: set[int] | None, lookup):
    """container.decode(stream), with per-packet skipping of unneeded non-reference frames."""
    if needed is None or lookup is None:
        yield from container.decode(stream)
        return
    ctx = stream.codec_context
    for packet in container.demux(stream):
        if packet.pts is not None:
            # skip_frame is read when the packet's own picture is decoded, so this only
            # affects that picture; reference pictures are never skipped by NONREF.
            ctx.skip_frame = "DEFAULT" if lookup(packet.pts) in needed else "NONREF"
        yield from packet.decode()
