"""Motion fields: exported codec motion vectors, or motion estimated on decoded luma.

Both produce a dense field (dx, dy) in coded orientation at the analysis
resolution, in analysis pixels, with the convention
``Y_t(x) ~= Y_ref(x + d(x))`` (the vector points from the current pixel to
where its prediction comes from in the previous frame).
"""

from __future__ import annotations

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
    field = np.zeros((2, gh, gw), dtype=np.float32)
    scale = np.maximum(mv["motion_scale"].astype(np.float32), 1.0)
    dx = mv["motion_x"].astype(np.float32) / scale
    dy = mv["motion_y"].astype(np.float32) / scale
    future = mv["source"] > 0
    dx = np.where(future, -dx, dx)
    dy = np.where(future, -dy, dy)
    # Paint future-reference vectors first so past-reference ones overwrite them.
    order = np.argsort(~future, kind="stable")
    bw = (mv["w"].astype(np.int32) // CELL).clip(1)
    bh = (mv["h"].astype(np.int32) // CELL).clip(1)
    x0 = (mv["dst_x"].astype(np.int32) - mv["w"].astype(np.int32) // 2) // CELL
    y0 = (mv["dst_y"].astype(np.int32) - mv["h"].astype(np.int32) // 2) // CELL
    for shape in set(zip(bh.tolist(), bw.tolist())):
        sel = order[(bh[order] == shape[0]) & (bw[order] == shape[1])]
        ys = (y0[sel, None, None] + np.arange(shape[0])[None, :, None]).clip(0, gh - 1)
        xs = (x0[sel, None, None] + np.arange(shape[1])[None, None, :]).clip(0, gw - 1)
        field[0, ys, xs] = dx[sel, None, None]
        field[1, ys, xs] = dy[sel, None, None]
    out = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_NEAREST) for f in field])
    out[0] *= width / fw
    out[1] *= height / fh
    return out


class FlowEstimator:
    """Dense optical flow (OpenCV DIS, ultrafast preset) on analysis-resolution luma."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def __call__(self, luma: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """(dx, dy) float32 [2, H, W] with luma(x) ~= previous(x + d(x))."""
        flow = self._dis.calc(luma, previous, None)
        return np.ascontiguousarray(flow.transpose(2, 0, 1))


def compensate(previous: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Motion-compensated prediction of the current frame from ``previous`` (float32)."""
    h, w = previous.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(previous.astype(np.float32), gx + field[0], gy + field[1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
