"""Writing clips and small files atomically, and encoding RGB frames with ordinary codec settings.

The encoders use settings a phone or an editing tool would plausibly produce:
libx264 ``veryfast`` (B-frames on, default keyframe interval, CRF 23) and
libx265 ``superfast`` (B-frames on, CRF 24: x265's default 28 smeared the
moving figure visibly at 720p), yuv420p, in MP4.
``ultrafast`` is avoided on purpose: for x264 it turns B-frames off, which
would make the clips unlike real footage for a codec-stream tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

# codec name in records -> (PyAV encoder, options)
ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"preset": "veryfast", "crf": "23"}),
    "hevc": ("libx265", {"preset": "superfast", "crf": "24", "x265-params": "log-level=error"}),
}


class PlanMixin:
    """Methods shared by the generators' clip plans (dataclasses with n_frames, fps, codec).

    ``GENERATOR_VERSION`` is set by each plan class; bump it when rendering changes so
    clips on disk from an older generator are redone.
    """

    GENERATOR_VERSION = 1

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def signature(self) -> str:
        """Hash of plan, generator version and encoder settings: a clip with another signature is stale."""
        blob = json.dumps({"v": self.GENERATOR_VERSION, "plan": self.to_json(),
                           "encoder": ENCODERS[self.codec]}, sort_keys=True)  # type: ignore[attr-defined]
        return hashlib.sha1(blob.encode()).hexdigest()


class ClipWriter:
    """Encode RGB frames into an MP4 at ``path``; the file appears only when :meth:`close` succeeds.

    Frame ``i`` gets pts ``i / fps`` (constant frame rate). Use as a context
    manager: on an exception the partial temporary file is removed.
    """

    def __init__(
        self, path: str | os.PathLike, fps: int, width: int, height: int, codec: str = "h264", threads: int = 1
    ) -> None:
        import av

        if codec not in ENCODERS:
            raise ValueError(f"codec must be one of {sorted(ENCODERS)}, got {codec!r}")
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.mp4")
        self.width, self.height = width, height
        encoder, options = ENCODERS[codec]
        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        self._stream = self._container.add_stream(encoder, rate=Fraction(fps))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = dict(options)
        self._stream.codec_context.thread_count = max(1, int(threads))
        self._time_base = Fraction(1, fps)
        self._count = 0
        self._closed = False

    def write(self, rgb: np.ndarray) -> None:
        """Append one uint8 ``[height, width, 3]`` RGB frame."""
        import av
        import cv2

        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames of shape {(self.height, self.width, 3)}, got {rgb.dtype} {rgb.shape}")
        # OpenCV's I420 conversion is BT.601 limited range, the same as swscale's default, and ~5x faster.
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        frame.pts = self._count
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
        if self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
