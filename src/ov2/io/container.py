"""Opening a media file with PyAV, turning every FFmpeg failure into an ov2 error."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av

from ..errors import NoVideoStreamError, VideoFormatError, VideoNotFoundError
from .media import MediaBytes

# Never call av.logging.set_level here: PyAV's Python log callback deadlocks container.close()
# while frame-threaded decoding is in flight. PyAV leaves FFmpeg's logging off by default.


def check_path(path: str | os.PathLike[str] | MediaBytes) -> Path | MediaBytes:
    """Return ``path`` as a Path after checking it is a non-empty regular file (in-memory bytes: non-empty)."""
    if isinstance(path, MediaBytes):
        if not len(path):
            raise VideoFormatError(f"{path}: the video is empty (0 bytes)")
        return path
    p = Path(path)
    if not p.exists():
        raise VideoNotFoundError(f"{p}: no such file")
    if not p.is_file():
        raise VideoNotFoundError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise VideoFormatError(f"{p}: the file is empty (0 bytes)")
    return p


@contextmanager
def open_video(
    path: str | os.PathLike[str] | MediaBytes,
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` (or in-memory :class:`~ov2.io.media.MediaBytes`) and yield (container, first video stream); closes on exit."""
    p = check_path(path)
    try:
        # In-memory bytes: a fresh reader per open, so parallel decoders never share a position.
        container = av.open(p.open() if isinstance(p, MediaBytes) else str(p), mode="r", timeout=30.0)
    except av.error.FFmpegError as exc:
        raise VideoFormatError(
            f"{p}: not a readable video file ({_reason(exc)}); it may be truncated, corrupt or not a media file"
        ) from None
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise NoVideoStreamError(f"{p}: no video stream (streams found: {', '.join(kinds)})")
        yield container, container.streams.video[0]
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__
