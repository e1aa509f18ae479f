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
from av.sidedata.sidedata import SideDataContainer

CELL = 16  # paint on the macroblock grid: smaller partitions merge (last wins); 16x cheaper than 4x4


def _side_data(frame: av.VideoFrame):
    """The frame's side data, without caching it on the frame.

    ``frame.side_data`` caches a container that points back to the frame: a
    reference cycle, so every 720p frame whose vectors were read (1.9 MB)
    waited for Python's cyclic garbage collector, which a loop making few
    objects rarely runs. A container of our own is freed with the frame.
    """
    try:
        return SideDataContainer(frame)
    except TypeError:  # a PyAV whose container cannot be built directly
        return frame.side_data


def exported_field(frame: av.VideoFrame, height: int, width: int) -> np.ndarray | None:
    """Dense (dx, dy) float32 [2, height, width] from the frame's exported motion vectors.

    Returns None when the frame carries no vectors (intra frames, or a decoder
    that exports none). Vectors to a future reference (B-frames) are negated
    as an approximation of the motion from the previous frame; vectors to a
    past reference win where both exist. Blocks without a vector (intra) get
    zero motion.
    """
    side = _side_data(frame).get("MOTION_VECTORS")
    if side is None or len(side) == 0:
        return None
    mv = side.to_ndarray()
    fw, fh = frame.width, frame.height
    gh, gw = -(-fh // CELL), -(-fw // CELL)
    cells = gh * gw
    future = mv["source"] > 0
    sign = np.where(future, np.float32(-1.0), np.float32(1.0)) / np.maximum(mv["motion_scale"], 1).astype(np.float32)
    vectors = np.empty((len(mv), 2), dtype=np.float32)
    np.multiply(mv["motion_x"], sign, out=vectors[:, 0], casting="unsafe")
    np.multiply(mv["motion_y"], sign, out=vectors[:, 1], casting="unsafe")
    w, h = mv["w"].astype(np.int32), mv["h"].astype(np.int32)
    x0 = (mv["dst_x"] - w // 2) // CELL
    y0 = (mv["dst_y"] - h // 2) // CELL
    # Paint future-reference vectors into the first half of a double-size grid and past-reference ones
    # into the second; each cell then takes its past vector where it has one (past wins), else its
    # future one (zero if none). Within a half, later vectors win. One (dx, dy) pair is one int64, so
    # painting is a single scalar fancy assignment.
    half = np.where(future, 0, cells)
    values = vectors.view(np.int64)[:, 0]
    bw, bh = (w // CELL).clip(1), (h // CELL).clip(1)
    if int(bw.max()) == 1 and int(bh.max()) == 1:  # macroblock codecs: one cell per vector
        at = y0.clip(0, gh - 1) * gw + x0.clip(0, gw - 1) + half
    else:  # larger partitions cover several cells: list them vector by vector
        counts = bw * bh
        owner = np.repeat(np.arange(len(mv)), counts)
        k = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        ys = (y0[owner] + k // bw[owner]).clip(0, gh - 1)
        xs = (x0[owner] + k % bw[owner]).clip(0, gw - 1)
        at, values = ys * gw + xs + half[owner], values[owner]
    slots = np.zeros((2 * cells, 2), dtype=np.float32)
    filled = np.zeros(2 * cells, dtype=bool)
    slots.view(np.int64)[at, 0] = values
    filled[at] = True
    grid = slots.view(np.int64)[np.arange(cells) + cells * filled[cells:], 0].view(np.float32).reshape(gh, gw, 2)
    grid *= np.array([width / fw, height / fh], dtype=np.float32)
    planes = np.ascontiguousarray(grid.transpose(2, 0, 1))
    dense = np.empty((2, height, width), dtype=np.float32)
    for c in range(2):
        cv2.resize(planes[c], (width, height), dst=dense[c], interpolation=cv2.INTER_NEAREST)
    return dense


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
