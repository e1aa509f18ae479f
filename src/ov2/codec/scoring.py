"""Scoring decoded frames: conversion, motion, saliency per candidate, in decode order.

:class:`FrameScorer` holds the per-video state (swscale contexts, the
optical-flow estimator, luma of the reference frames still needed) and turns
each needed frame into a :class:`Candidate` (or just remembers its luma when
it is only a reference). Calls must come in presentation order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np

from ..io.frames import FrameConverter, upright
from ..io.motion import FlowEstimator, exported_field
from .saliency import block_scores, border_mask, frame_is_bad, saliency_map


@dataclass
class Candidate:
    index: int
    pts: float
    yuv: np.ndarray  # I420 at the processed size, coded orientation (RGB is made only if used)
    scores: np.ndarray  # [bh, bw] upright block scores before the bit-cost prior
    bad: bool


def reference_frames(candidates: Iterable[int], reordered: np.ndarray) -> dict[int, int]:
    """The frame each candidate's residual is predicted from.

    The nearest earlier frame that is not a reordered B-frame: in ordinary
    streams a reference picture, which the decoder produces anyway (B-frames
    nobody needs can then be skipped), and the picture P-frame motion vectors
    actually point to. Falls back to the previous frame (-1 for frame 0).
    """
    idx = np.arange(len(reordered))
    last_anchor = np.maximum.accumulate(np.where(~reordered, idx, -1))
    out = {}
    for c in candidates:
        r = int(last_anchor[c - 1]) if c > 0 else -1
        out[int(c)] = r if r >= 0 else int(c) - 1
    return out


class FrameScorer:
    """Per-video scoring state; :meth:`process` takes the needed frames in presentation order."""

    def __init__(self, convert: FrameConverter, ref_of: dict[int, int], source: str,
                 patch_size: int, rotation: int) -> None:
        self.convert = convert
        self.ref_of = ref_of
        self.last_user: dict[int, int] = {}
        for c, r in ref_of.items():
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
        yuv = self.convert.yuv(frame) if is_cand else None
        luma = self.convert.luma_of(yuv) if is_cand else self.convert.luma(frame)
        if is_ref:
            self.ref_luma[index] = luma
        if not is_cand:
            return None
        previous = self.ref_luma.get(self.ref_of[index], luma)  # reference outside the window: no residual
        field = exported_field(frame, *luma.shape) if self.use_mvs else None
        if field is not None:
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
        return Candidate(index, pts, yuv, scores, bad)

    @property
    def motion_source(self) -> str:
        return max(self.stats, key=lambda k: self.stats[k]) if any(self.stats.values()) else "none"
