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
from typing import Any

from ..io.encode import VideoWriter

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

    def clip_facts(self) -> dict[str, Any]:
        """The clip's duration, codec, frame rate, frame count and size, as a record stores them."""
        return {"duration": round(self.duration, 6), "codec": self.codec, "fps": self.fps,  # type: ignore[attr-defined]
                "n_frames": self.n_frames, "width": self.width, "height": self.height}  # type: ignore[attr-defined]

    def signature(self) -> str:
        """Hash of plan, generator version and encoder settings: a clip with another signature is stale."""
        blob = json.dumps({"v": self.GENERATOR_VERSION, "plan": self.to_json(),
                           "encoder": ENCODERS[self.codec]}, sort_keys=True)  # type: ignore[attr-defined]
        return hashlib.sha1(blob.encode()).hexdigest()


class ClipWriter(VideoWriter):
    """An MP4 of the benchmark's codec (``"h264"`` or ``"hevc"``, settings from :data:`ENCODERS`)."""

    def __init__(
        self, path: str | os.PathLike, fps: int, width: int, height: int, codec: str = "h264", threads: int = 1
    ) -> None:
        if codec not in ENCODERS:
            raise ValueError(f"codec must be one of {sorted(ENCODERS)}, got {codec!r}")
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        encoder, options = ENCODERS[codec]
        super().__init__(path, width, height, fps=fps, encoder=encoder, options=options,
                         threads=max(1, int(threads)), container_format="mp4")
