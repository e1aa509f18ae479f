"""Converting decoded frames to upright arrays at a target size (swscale does the resize).

A :class:`FrameConverter` keeps one swscale context per output kind: PyAV's
``frame.reformat`` builds a fresh context on every call, which costs more than
the conversion itself at these sizes.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an image decoded in coded orientation by ``rotation`` degrees counter-clockwise."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class FrameConverter:
    """RGB at the processed size (upright) and luma at the analysis size (coded orientation)."""

    def __init__(self, height: int, width: int, rotation: int = 0, luma_hw: tuple[int, int] | None = None) -> None:
        self.rotation = rotation
        # swscale works in coded orientation: swap the target for 90/270 degree rotations
        self.coded_hw = (width, height) if rotation in (90, 270) else (height, width)
        self.luma_hw = luma_hw
        self._rgb = VideoReformatter()
        self._luma = VideoReformatter()

    def rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 [height, width, 3], area-filtered and rotated upright."""
        h, w = self.coded_hw
        out = self._rgb.reformat(frame, width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        return upright(out, self.rotation)

    def luma(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 luma at ``luma_hw``, coded orientation (saliency analysis stays unrotated)."""
        if self.luma_hw is None:
            raise ValueError("this FrameConverter was built without luma_hw")
        h, w = self.luma_hw
        out = self._luma.reformat(frame, width=w, height=h, format="gray", interpolation="AREA").to_ndarray()
        return np.ascontiguousarray(out)


def to_rgb(frame: av.VideoFrame, height: int, width: int, rotation: int = 0) -> np.ndarray:
    """One-off conversion: uint8 [height, width, 3] RGB of ``frame``, resized and rotated upright."""
    return FrameConverter(height, width, rotation).rgb(frame)
