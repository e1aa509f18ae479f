"""Writing RGB frames into a video file with PyAV, atomically (temp name, then rename).

The one encoder loop of ov2: the built-in sample clips, the synthetic
benchmarks and the tests all write video through :class:`VideoWriter`.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

CONTAINER_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".mov": "mov", ".h264": "h264"}


class VideoWriter:
    """Encode uint8 RGB frames; the file appears at ``path`` only when :meth:`close` succeeds.

    Constant frame rate by default (frame i at i / fps). With ``vfr=True`` every
    :meth:`write` gives the frame's own time in seconds (millisecond time base).
    ``rotation`` stores a display rotation (degrees counter-clockwise), as phones do.
    Use as a context manager: on an exception the partial file is removed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float = 25,
        encoder: str = "libx264",
        options: dict[str, str] | None = None,
        pix_fmt: str = "yuv420p",
        threads: int | None = None,
        rotation: int = 0,
        vfr: bool = False,
        container_format: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp{self.path.suffix}")
        self.width, self.height, self.pix_fmt, self.vfr = width, height, pix_fmt, vfr
        fmt = container_format or CONTAINER_FORMATS.get(self.path.suffix.lower())
        self._container = av.open(str(self.tmp), mode="w", format=fmt)
        self._stream = self._container.add_stream(encoder, rate=Fraction(round(fps * 1000), 1000))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, pix_fmt
        # constant rate: the codec's time base is 1/fps (MPEG-2 accepts only standard rates)
        self._time_base = Fraction(1, 1000) if vfr else Fraction(1, round(fps))
        self._stream.codec_context.time_base = self._time_base
        self._stream.options = dict(options or {})
        if threads is not None:
            self._stream.codec_context.thread_count = threads
        if rotation:
            self._stream.set_display_rotation(rotation)
        self._count = 0
        self._closed = False

    def write(self, rgb: np.ndarray, time: float | None = None) -> None:
        """Append one uint8 ``[height, width, 3]`` RGB frame (``time`` in seconds when ``vfr``)."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames of shape {(self.height, self.width, 3)}, got {rgb.dtype} {rgb.shape}")
        if self.vfr and time is None:
            raise ValueError("a variable-frame-rate writer needs each frame's time")
        if self.pix_fmt == "yuv420p" and self.width % 2 == 0 and self.height % 2 == 0:
            # OpenCV's I420 conversion is BT.601 limited range, as swscale's default, and ~5x faster.
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = round(time / self._time_base) if self.vfr else self._count
        frame.time_base = self._time_base
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> Path:
        """Flush the encoder, close the file and move it into place."""
        if not self._closed:
            self._closed = True
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is discarded anyway
                pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
