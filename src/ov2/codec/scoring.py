"""Scoring decoded frames: conversion, motion, saliency per candidate, in decode order.

:class:`FrameScorer` holds the per-video state (swscale contexts, the
optical-flow estimator, luma of the reference frames still needed) and turns
each needed frame into a :class:`Candidate` (or just remembers its luma when
it is only a reference). Calls must come in presentation order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np

from ..io.frames import FrameConverter, upright
from ..io.motion import FlowEstimator, exported_field
from ..io.packets import PacketTable
from .saliency import block_scores, border_mask, frame_is_bad, saliency_map


@dataclass
class Candidate:
    index: int
    pts: float
    yuv: np.ndarray  # I420 at the processed size, coded orientation (RGB is made only if used)
    scores: np.ndarray  # [bh, bw] upright block scores before the bit-cost prior
    bad: bool
    slot: int = -1  # its place in the FrameStore (-1: an array of its own)


class FrameStore:
    """Preallocated slots for the candidate frames a group holds until it is packed.

    Frames held for seconds, each allocated among the many short-lived arrays
    of scoring, pin the heap: measured, process memory grew by ~1.5 MB per held
    212 KB frame (a 15-minute clip at 8 canvases peaked at 330 MB). In one
    block allocated up front they cost their own size.
    """

    def __init__(self, shape: tuple[int, int], capacity: int) -> None:
        self.data = np.empty((capacity, *shape), dtype=np.uint8)
        self.free = list(range(capacity - 1, -1, -1))
        self.lock = threading.Lock()

    def put(self, array: np.ndarray) -> tuple[np.ndarray, int]:
        """Copy ``array`` into a free slot: (the stored view, slot); (array, -1) when all slots are taken."""
        with self.lock:
            if not self.free:
                return array, -1
            slot = self.free.pop()
        self.data[slot] = array
        return self.data[slot], slot

    def release_all(self, candidates: Iterable["Candidate"]) -> None:
        """Give the candidates' slots back once their group is packed."""
        with self.lock:
            self.free.extend(c.slot for c in candidates if c.slot >= 0)


def reference_frames(candidates: Iterable[int], packets: PacketTable) -> dict[int, tuple[int, float]]:
    """The frame each candidate's residual is predicted from, and the scale of its motion vectors.

    The residual reference is the nearest earlier reference picture: the
    decoder produces it anyway (non-reference frames nobody needs can then be
    skipped) and, being the closest decoded picture, it predicts best. Past
    motion vectors of a P-frame point to the previous non-reordered frame,
    those of a B-frame to the nearest earlier reference picture; when the
    residual reference is nearer than that (a P-frame after a B-pyramid's
    reference B), the vectors are scaled by the ratio of the time distances
    (constant motion). Measured on this repository's clips, that predicts a
    P-frame better than its own reference does: mean residual 3.7 vs 4.5 grey
    levels on the benchmark clip. Falls back to the previous frame (-1 for frame 0).
    """
    idx = np.arange(packets.frame_count)
    last_ref = np.maximum.accumulate(np.where(packets.reference, idx, -1))
    last_anchor = np.maximum.accumulate(np.where(~packets.reordered, idx, -1))
    out = {}
    for c in candidates:
        c = int(c)
        r = int(last_ref[c - 1]) if c > 0 else -1
        if r < 0:
            out[c] = (c - 1, 1.0)
            continue
        v = r if packets.reordered[c] else int(last_anchor[c - 1])
        t = packets.pts
        scale = float((t[c] - t[r]) / (t[c] - t[v])) if 0 <= v < r else 1.0
        out[c] = (r, scale)
    return out


class FrameScorer:
    """Per-video scoring state; :meth:`process` takes the needed frames in presentation order."""

    def __init__(self, convert: FrameConverter, refs: dict[int, tuple[int, float]], source: str,
                 patch_size: int, rotation: int, store: FrameStore, candidates: Iterable[int]) -> None:
        self.convert = convert
        self.store = store  # where candidates wait for their group (shared by the segments)
        self.ref_of = {c: r for c, (r, _) in refs.items()}
        # frames whose luma comes from their I420 (candidates, here or in another segment): a reference
        # must have the same luma whichever segment converts it
        self.via_yuv = set(self.ref_of) | set(candidates)
        self.vector_scale = {c: scale for c, (_, scale) in refs.items()}
        self.last_user: dict[int, int] = {}
        for c, r in self.ref_of.items():
            self.last_user[r] = max(c, self.last_user.get(r, -1))
        self.use_mvs = source == "exported"
        self.intra = source == "frame-difference"
        self.patch_size = patch_size
        self.rotation = rotation
        self.flow = FlowEstimator()
        self.ref_luma: dict[int, np.ndarray] = {}  # luma of reference frames a later candidate still needs
        self.stats = {"exported": 0, "estimated": 0, "frame-difference": 0}

    @property
    def needed(self) -> set[int]:
        """Every frame that must be decoded: candidates and their references."""
        return set(self.ref_of) | set(self.last_user)

    def process(self, index: int, pts: float, frame: av.VideoFrame) -> Candidate | None:
        """Remember a reference frame's luma and/or score a candidate frame."""
        is_cand, is_ref = index in self.ref_of, index in self.last_user
        if not (is_cand or is_ref):
            return None
        yuv = self.convert.yuv(frame) if index in self.via_yuv else None
        luma = self.convert.luma(frame) if yuv is None else self.convert.luma_of(yuv)
        if is_ref:
            self.ref_luma[index] = luma
        if not is_cand:
            return None
        previous = self.ref_luma.get(self.ref_of[index], luma)  # reference outside the window: no residual
        field = exported_field(frame, *luma.shape) if self.use_mvs else None
        if field is not None:
            if self.vector_scale[index] != 1.0:
                field *= np.float32(self.vector_scale[index])
            self.stats["exported"] += 1
        elif self.intra:
            field = np.zeros((2, *luma.shape), dtype=np.float32)
            self.stats["frame-difference"] += 1
        else:
            field = self.flow(luma, previous)
            self.stats["estimated"] += 1
        s = saliency_map(luma, previous, field)
        scores = upright(block_scores(s, border_mask(luma), self.patch_size), self.rotation)
        bad = frame_is_bad(luma) or bool(getattr(frame, "is_corrupt", False))
        for r in [r for r in self.ref_luma if self.last_user[r] <= index]:
            del self.ref_luma[r]
        stored, slot = self.store.put(yuv)
        return Candidate(index, pts, stored, scores, bad, slot)
