"""Video facts: codec, display size after rotation, frame rate, duration, frame count."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import av

from ..errors import EmptyVideoError, UnsupportedVideoError, VideoFormatError
from .container import open_video
from .decode import finish_decoding
from .packets import PacketTable, _read

# Decoders whose FFmpeg implementation exports motion vectors (flags2=+export_mvs).
MV_CODECS = frozenset(
    {"h264", "mpeg1video", "mpeg2video", "mpeg4", "h263", "h263p", "msmpeg4v1", "msmpeg4v2", "msmpeg4v3",
     "wmv1", "wmv2", "flv1"}
)
MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192


@dataclass
class VideoInfo:
    """What ov2 knows about a video before tokenizing it."""

    path: str
    codec: str
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    coded_width: int
    coded_height: int
    rotation: int  # degrees counter-clockwise applied to decoded frames (0, 90, 180, 270)
    fps: float
    duration: float
    frame_count: int
    start_time: float
    pix_fmt: str
    motion_vectors: bool  # the decoder can export motion vectors
    intra_only: bool  # every frame is a keyframe (MJPEG, ProRes, all-intra H.264...)
    keyframes: int

    @property
    def planned_motion_source(self) -> str:
        """Where the codec/fixed backends will take motion from, decided by the stream alone.

        Intra-only streams have no motion to export or estimate against a
        reference ("frame-difference"); decoders that export vectors use them
        ("exported"); everything else estimates motion on decoded luma
        ("estimated"). Single frames without vectors may still be estimated.
        """
        if self.intra_only:
            return "frame-difference"
        return "exported" if self.motion_vectors else "estimated"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Return the :class:`VideoInfo` of ``path`` (runs the packet pass and decodes one frame)."""
    return inspect(path)[0]


def inspect(path: str | os.PathLike[str]) -> tuple[VideoInfo, PacketTable]:
    """Probe ``path``: the packet pass, then the first decoded frame (rotation, true size, pixel format)."""
    with open_video(path) as (container, stream):
        codec = stream.codec_context.codec.canonical_name  # "av1", not the decoder "libdav1d"
        cw, ch = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if cw > MAX_SIDE or ch > MAX_SIDE or cw * ch > MAX_PIXELS:
            raise UnsupportedVideoError(
                f"{path}: frame size {cw}x{ch} is above what ov2 handles ({MAX_SIDE} per side, "
                f"{MAX_PIXELS // 1_000_000} MP); downscale it first (e.g. ffmpeg -vf scale=-2:2160)"
            )
        packets = _read(container, stream, path)
    # A fresh open for the first frame: elementary streams (.h264, .hevc) cannot seek back to 0.
    with open_video(path) as (container, stream):
        first = _first_frame(container, stream, path)
        rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        rotation = (rotation // 90) * 90
        cw, ch = first.width, first.height
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        fps = float(stream.average_rate) if stream.average_rate else 1.0 / max(packets.frame_duration, 1e-6)
        info = VideoInfo(
            path=str(path),
            codec=codec,
            width=w,
            height=h,
            coded_width=cw,
            coded_height=ch,
            rotation=rotation,
            fps=fps,
            duration=packets.duration,
            frame_count=packets.frame_count,
            start_time=packets.start,
            pix_fmt=str(first.format.name),
            motion_vectors=codec in MV_CODECS,
            intra_only=bool(packets.key.all()) and packets.frame_count > 1,
            keyframes=int(packets.key.sum()),
        )
    if info.frame_count < 2:
        raise EmptyVideoError(
            f"{path}: has a single frame (a still image?); ov2.tokenize needs a video with at least 2 frames - "
            "pass a still picture to the processor as an image instead"
        )
    return info, packets


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: object) -> av.VideoFrame:
    frames = container.decode(stream)
    try:
        for frame in frames:
            return frame
    except av.error.DecoderNotFoundError:
        raise UnsupportedVideoError(f"{path}: FFmpeg has no decoder for codec {stream.codec_context.name!r}") from None
    except av.error.FFmpegError:
        raise VideoFormatError(f"{path}: the first frame could not be decoded (corrupt or truncated video)") from None
    finally:
        finish_decoding(frames, stream)  # never close the container with decoder threads busy
    raise EmptyVideoError(f"{path}: the video stream has no decodable frame")
