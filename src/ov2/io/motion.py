"""Motion fields: exported codec motion vectors, or motion estimated on decoded luma.

Both produce a dense field (dx, dy) in coded orientation at the analysis
resolution, in analysis pixels, with the convention
``Y_t(x) ~= Y_ref(x + d(x))`` (the vector points from the current pixel to
where its prediction comes from in the previous frame).
"""

from __future__ import annotations

import functools

import av
import cv2
import numpy as np

CELL = 16  # paint on the macroblock grid: smaller partitions merge (last wins); 16x cheaper than 4x4


def exported_field(frame: av.VideoFrame, height: int, width: int) -> np.ndarray | None:
    """Dense (dx, dy) float32 [2, height, width] from the frame's exported motion vectors.

    Returns None when the frame carries no vectors (intra frames, or a decoder
    that exports none). Vectors to a future reference (B-frames) are negated
    as an approximation of the motion from the previous frame; vectors to a
    past reference win where both exist. Blocks without a vector (intra) get
    zero motion.
    """
    side = frame.side_data.get("MOTION_VECTORS")
    if side is None or len(side) == 0:
        return None
    mv = side.to_ndarray()
    fw, fh = frame.width, frame.height
    gh, gw = -(-fh // CELL), -(-fw // CELL)
    scale = np.maximum(mv["motion_scale"], 1).astype(np.float32)
    future = mv["source"] > 0
    sign = np.where(future, -1.0, 1.0).astype(np.float32) / scale
    dx = mv["motion_x"] * sign
    dy = mv["motion_y"] * sign
    w, h = mv["w"].astype(np.int32), mv["h"].astype(np.int32)
    x0 = (mv["dst_x"] - w // 2) // CELL
    y0 = (mv["dst_y"] - h // 2) // CELL
    field = np.zeros((gh, gw, 2), dtype=np.float32)
    # Future-reference vectors first, so past-reference ones overwrite them (later assignments win).
    for sel in (np.flatnonzero(future), np.flatnonzero(~future)):
        if sel.size == 0:
            continue
        if (w[sel] <= CELL).all() and (h[sel] <= CELL).all():  # macroblock codecs: one cell per vector
            ys, xs = y0[sel].clip(0, gh - 1), x0[sel].clip(0, gw - 1)
            field[ys, xs, 0] = dx[sel]
            field[ys, xs, 1] = dy[sel]
            continue
        bw, bh = (w[sel] // CELL).clip(1), (h[sel] // CELL).clip(1)
        for shape in set(zip(bh.tolist(), bw.tolist())):
            part = sel[(bh == shape[0]) & (bw == shape[1])]
            ys = (y0[part, None, None] + np.arange(shape[0])[None, :, None]).clip(0, gh - 1)
            xs = (x0[part, None, None] + np.arange(shape[1])[None, None, :]).clip(0, gw - 1)
            field[ys, xs, 0] = dx[part, None, None]
            field[ys, xs, 1] = dy[part, None, None]
    field *= np.array([width / fw, height / fh], dtype=np.float32)
    dense = cv2.resize(field, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(dense.transpose(2, 0, 1))


class FlowEstimator:
    """Dense optical flow (OpenCV DIS, ultrafast preset) on analysis-resolution luma."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def __call__(self, luma: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """(dx, dy) float32 [2, H, W] with luma(x) ~= previous(x + d(x))."""
        flow = self._dis.calc(luma, previous, None)
        return np.ascontiguousarray(flow.transpose(2, 0, 1))


@functools.lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def compensate(previous: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Motion-compensated prediction of the current frame from ``previous`` (same dtype as ``previous``)."""
    gx, gy = _pixel_grid(*previous.shape)
    return cv2.remap(previous, gx + field[0], gy + field[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
