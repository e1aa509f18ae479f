"""Converting decoded frames to upright arrays at a target size (swscale does the resize).

A candidate frame is converted once, to I420 (YUV 4:2:0) at the processed
size with swscale's area filter: its analysis luma is a 2x2 mean of that Y
plane and its RGB (only needed when its blocks are used) one cheap OpenCV
colour conversion (BT.601, limited range, as swscale's default). This halves
the conversion cost of scaling straight to RGB and to luma, and an I420
frame is half the size of its RGB. Frames that are only needed as residual
references are scaled straight to analysis-size luma.

A :class:`FrameConverter` keeps one swscale context per output kind: PyAV's
``frame.reformat`` builds a fresh context on every call, which costs more than
the conversion itself at these sizes. Conversions run on the calling thread
(``threads=1``): PyAV 17+ by default splits each small frame over a thread per
core, which costs ~15 % more CPU and, while the decoder's own threads hold the
cores, makes both wait on each other (same output either way).
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

# swscale on the calling thread; PyAV >= 17 otherwise splits each conversion over a thread per core
_ONE_THREAD = {"threads": 1} if int(av.__version__.split(".")[0]) >= 17 else {}  # older PyAV: always one

# I420 luma is limited range (16-235); analysis luma is full range like swscale's "gray".
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an image decoded in coded orientation by ``rotation`` degrees counter-clockwise."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class FrameConverter:
    """Processed-size I420 and RGB (upright) and analysis-size luma (coded orientation)."""

    def __init__(self, height: int, width: int, rotation: int = 0, luma_hw: tuple[int, int] | None = None) -> None:
        self.rotation = rotation
        # swscale works in coded orientation: swap the target for 90/270 degree rotations
        self.coded_hw = (width, height) if rotation in (90, 270) else (height, width)
        self.luma_hw = luma_hw
        self._yuv = VideoReformatter()
        self._luma = VideoReformatter()

    def yuv(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 I420 planes ``[h * 3 / 2, w]`` at the processed size, coded orientation, area filter."""
        h, w = self.coded_hw
        return self._yuv.reformat(frame, width=w, height=h, format="yuv420p", interpolation="AREA",
                                  **_ONE_THREAD).to_ndarray()

    def rgb_of(self, yuv: np.ndarray) -> np.ndarray:
        """uint8 [height, width, 3] RGB of an I420 array from :meth:`yuv`, rotated upright."""
        return upright(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420), self.rotation)

    def rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 [height, width, 3], area-filtered and rotated upright."""
        return self.rgb_of(self.yuv(frame))

    def luma_of(self, yuv: np.ndarray) -> np.ndarray:
        """Full-range luma at half the processed size (2x2 mean of the I420 Y plane), coded orientation."""
        h, w = self.coded_hw
        y = cv2.resize(yuv[:h], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return cv2.LUT(y, _LIMITED_TO_FULL)

    def luma(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 full-range luma at ``luma_hw``, coded orientation (saliency analysis stays unrotated)."""
        if self.luma_hw is None:
            raise ValueError("this FrameConverter was built without luma_hw")
        h, w = self.luma_hw
        out = self._luma.reformat(frame, width=w, height=h, format="gray", interpolation="AREA",
                                  **_ONE_THREAD).to_ndarray()
        return np.ascontiguousarray(out)


def to_rgb(frame: av.VideoFrame, height: int, width: int, rotation: int = 0) -> np.ndarray:
    """One-off conversion: uint8 [height, width, 3] RGB of ``frame``, resized and rotated upright."""
    return FrameConverter(height, width, rotation).rgb(frame)
