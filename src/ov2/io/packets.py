"""The packet pass: demux the video stream once, without decoding.

For every video packet we keep its presentation time, its size in bytes and
its keyframe flag. This costs a fraction of a decode and works for every codec
FFmpeg can demux. Packets are returned in presentation order, so a packet's
position is the frame index used everywhere in ov2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np

from ..errors import EmptyVideoError, VideoFormatError
from .container import open_video
from .nal import length_size, picture_info


@dataclass
class PacketTable:
    """Per-frame packet facts in presentation order (index = frame index)."""

    pts: np.ndarray  # float64 seconds
    size: np.ndarray  # int64 bytes
    key: np.ndarray  # bool
    reordered: np.ndarray  # bool: shown before an earlier-decoded frame (a B-frame)
    truncated: bool = False  # demuxing stopped early on damaged data
    marked_reference: np.ndarray | None = None  # int8 per frame from NAL headers: 1 ref, 0 not, -1 unknown
    decode_order: np.ndarray | None = None  # int64: position of each frame's packet in decode order
    slices: np.ndarray | None = None  # int16 per frame: slice NAL units in its packet (0 = unknown)
    timestamped: bool = True  # every packet carried a timestamp (else decode order stands in for time)

    @property
    def sliced(self) -> bool:
        """Pictures are split into several slices (then slice threading decodes one picture on many cores)."""
        if self.slices is None:
            return False
        known = self.slices[self.slices > 0]
        return bool(len(known)) and float(np.median(known)) >= 2

    @property
    def reference(self) -> np.ndarray:
        """bool: the frame is known to be a reference picture (decoded even when non-references are skipped).

        Keyframes and frames that are not reordered always are; reordered
        (B) frames only when the bitstream marks them (H.264/HEVC B-pyramids).
        """
        known = self.key | ~self.reordered
        if self.marked_reference is not None:
            known = known | (self.marked_reference == 1)
        return known

    @property
    def frame_count(self) -> int:
        return int(len(self.pts))

    @property
    def frame_duration(self) -> float:
        """Typical frame interval in seconds (median pts step)."""
        if len(self.pts) < 2:
            return 0.04
        return float(np.median(np.diff(self.pts)))

    @property
    def start(self) -> float:
        return float(self.pts[0]) if len(self.pts) else 0.0

    @property
    def end(self) -> float:
        """End of the last frame's display interval."""
        return float(self.pts[-1] + self.frame_duration) if len(self.pts) else 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start

    def select(self, start: float, end: float) -> np.ndarray:
        """Frame indices whose pts lies in [start, end)."""
        return np.flatnonzero((self.pts >= start - 1e-9) & (self.pts < end - 1e-9))

    def tick_lookup(self, time_base: float):
        """A fast ``index_of`` for timestamps in ``time_base`` units (what demuxed packets and frames carry).

        A dict from each frame's integer timestamp to its index (one lookup per
        packet instead of a binary search); timestamps it does not hold fall
        back to :meth:`index_of`.
        """
        table = {int(round(t / time_base)): i for i, t in enumerate(self.pts.tolist())}

        def lookup(ticks: int) -> int:
            i = table.get(ticks)
            return self.index_of(ticks * time_base) if i is None else i

        return lookup

    def index_of(self, pts_seconds: float) -> int:
        """Index of the frame whose pts is nearest to ``pts_seconds``."""
        i = int(np.searchsorted(self.pts, pts_seconds))
        if i <= 0:
            return 0
        if i >= len(self.pts):
            return len(self.pts) - 1
        return i if abs(self.pts[i] - pts_seconds) < abs(pts_seconds - self.pts[i - 1]) else i - 1


def read_packets(path: str | os.PathLike[str]) -> PacketTable:
    """Demux the first video stream of ``path`` and return its :class:`PacketTable`."""
    with open_video(path) as (container, stream):
        return _read(container, stream, path)


def _read(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: object) -> PacketTable:
    tb = float(stream.time_base) if stream.time_base else 1.0 / 90000
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    pts: list[float] = []
    size: list[int] = []
    key: list[bool] = []
    marked: list[int] = []
    slices: list[int] = []
    codec = stream.codec_context.name
    prefix = length_size(codec, bytes(stream.codec_context.extradata or b""))
    truncated = False
    decode_index = 0
    timestamped = True
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # flush packet
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            timestamped = timestamped and ts is not None
            # Elementary streams without timestamps: fall back to decode order at the nominal rate.
            pts.append(ts * tb if ts is not None else decode_index / fps)
            size.append(packet.size)
            key.append(bool(packet.is_keyframe))
            ref, count = picture_info(memoryview(packet), codec, prefix)
            marked.append(-1 if ref is None else int(ref))
            slices.append(count)
            decode_index += 1
    except av.error.FFmpegError:
        truncated = True
    if not pts:
        if truncated:
            raise VideoFormatError(f"{path}: the video stream could not be read (corrupt or truncated file)")
        raise EmptyVideoError(f"{path}: the video stream has no frames")
    pts_a = np.asarray(pts, dtype=np.float64)
    # A packet displayed before one decoded earlier is a reordered (B) frame.
    running_max = np.maximum.accumulate(pts_a)
    reordered = np.zeros(len(pts_a), dtype=bool)
    reordered[1:] = pts_a[1:] < running_max[:-1]
    order = np.argsort(pts_a, kind="stable")
    pts_sorted = pts_a[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = np.diff(pts_sorted) > 1e-9  # duplicate timestamps: keep the first
    order = order[keep]
    return PacketTable(
        pts=pts_a[order],
        size=np.asarray(size, dtype=np.int64)[order],
        key=np.asarray(key, dtype=bool)[order],
        reordered=reordered[order],
        truncated=truncated,
        marked_reference=np.asarray(marked, dtype=np.int8)[order],
        decode_order=order.astype(np.int64),
        slices=np.asarray(slices, dtype=np.int16)[order],
        timestamped=timestamped,
    )
