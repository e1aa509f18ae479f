"""The frames baseline: N frames sampled uniformly over presentation time."""

from __future__ import annotations

import numpy as np

from ..codec.layout import full_frame_tokens
from ..io.decode import iter_frames
from ..io.frames import FrameConverter
from ..source import Source, with_progress
from ..visual_input import Group, Tokens


def uniform_frames(src: Source, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Global indices of the frames nearest to the centres of ``count`` equal time slices, and the slice edges."""
    edges = np.linspace(src.start, src.end, count + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    pts = src.packets.pts[src.frames]
    pos = np.clip(np.searchsorted(pts, centres), 0, len(pts) - 1)
    before = np.clip(pos - 1, 0, len(pts) - 1)
    nearer = np.where(np.abs(pts[before] - centres) <= np.abs(pts[pos] - centres), before, pos)
    return src.frames[nearer], edges


def run_frames(src: Source) -> tuple[np.ndarray, Tokens, list[Group], dict]:
    """Canvases (one whole frame each), tokens and per-frame groups."""
    n = src.opts.canvases
    chosen, edges = uniform_frames(src, n)
    wanted: dict[int, list[int]] = {}
    for slot, idx in enumerate(chosen.tolist()):
        wanted.setdefault(idx, []).append(slot)  # a short video can repeat a frame
    canvases = np.zeros((n, src.height, src.width, 3), dtype=np.uint8)
    pts = np.zeros(n)
    got = set()
    convert = FrameConverter(src.height, src.width, src.info.rotation)
    with src.timed("decode"):
        frames = iter_frames(src.path, src.packets, src.start, src.end, threads=src.opts.threads, needed=set(wanted))
        for item in with_progress(frames, src):
            slots = wanted.get(item.index)
            if slots:
                rgb = convert.rgb(item.frame)
                for s in slots:
                    canvases[s], pts[s] = rgb, item.pts
                got.add(item.index)
                if len(got) == len(wanted):
                    break
    grid = src.grid_blocks
    parts, groups = [], []
    for s, idx in enumerate(chosen.tolist()):
        ok = idx in got
        parts.append(full_frame_tokens(s, grid, idx if ok else -1, pts[s] if ok else np.nan, s, "F"))
        groups.append(Group(s, float(edges[s]), float(edges[s + 1]), [s], anchor_frame=int(idx), candidate_frames=[int(idx)]))
    facts = {"motion_source": "none", "fallback": [] if len(got) == len(wanted) else ["missing-frames: damaged stream"]}
    return canvases, Tokens.concat(parts), groups, facts
