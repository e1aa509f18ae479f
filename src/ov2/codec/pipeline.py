"""The codec and fixed backends: groups -> candidates -> streaming decode -> saliency -> canvases.

Frames are decoded once, in order; only candidate frames (at processed size)
and their previous frames (as analysis-size luma) are converted, and only the
current group's candidates are held, so memory follows the budget, not the
video length.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..io.decode import iter_frames
from ..io.frames import FrameConverter
from ..source import Source, with_progress
from ..visual_input import Group, Tokens
from ..io.keyframes import keyframe_thumbnails
from .candidates import pick_candidates, smooth_frame_energy
from .cuts import keyframes_to_check, scene_cuts, shot_ids
from .groups import Span, adaptive_spans, equal_boundaries, spans_from_times
from .layout import canvas_tokens, full_frame_tokens, paste_blocks
from .packing import pack_group
from .scoring import Candidate, FrameScorer, reference_frames

MAX_IN_FLIGHT = 8  # decoded frames waiting for the scoring thread (bounds memory)


@dataclass
class GroupPlan:
    span: Span
    candidates: np.ndarray  # global frame indices, ascending
    decoded: list[Candidate] = field(default_factory=list)


def detect_cuts(src: Source) -> np.ndarray:
    """Scene-cut frame indices of the window (keyframes that start a new shot)."""
    check = keyframes_to_check(src.packets, src.frames)
    thumbs = keyframe_thumbnails(src.path, src.packets, check) if len(check) else {}
    return scene_cuts(src.packets, src.frames, thumbs)


def plan_groups(src: Source, adaptive: bool, cuts: np.ndarray) -> tuple[list[GroupPlan], list[str]]:
    """Partition the window into exactly G spans and choose each span's candidate frames.

    ``cuts`` (scene-cut frame indices) are hard group boundaries for the
    adaptive partition; the fixed backend keeps its equal spans.
    """
    opts, fallback = src.opts, []
    pts = src.packets.pts[src.frames]
    e_frame = smooth_frame_energy(src.energy, src.packets.key)[src.frames]
    groups = opts.groups
    if src.profile.energy.sum() <= 0:
        fallback.append("equal-groups: the stream has no P/B packet energy (intra-only or still)")
    if adaptive and src.profile.energy.sum() > 0:
        mean_span = (src.end - src.start) / groups
        min_span = max(opts.min_span_factor * mean_span, opts.bin_seconds)
        max_span = max(opts.max_span_factor * mean_span, opts.bin_seconds)
        spans = adaptive_spans(src.profile, pts, e_frame, src.start, src.end, groups, min_span, max_span,
                               opts.valley_radius, opts.valley_band, [float(src.packets.pts[c]) for c in cuts])
    else:
        spans = spans_from_times(pts, e_frame, src.start, src.end, equal_boundaries(src.start, src.end, groups), groups)
    plans = []
    for span in spans:
        local = pick_candidates(e_frame[span.first : span.stop], opts.candidates_for)
        plans.append(GroupPlan(span, src.frames[span.first + local]))
    return plans, fallback


def run_codec(src: Source, adaptive: bool = True) -> tuple[np.ndarray, Tokens, list[Group], dict]:
    """Canvases, tokens, groups and backend facts for the codec (adaptive) or fixed backend.

    The main thread decodes; a worker thread converts and scores the needed
    frames in order (swscale, OpenCV and NumPy release the GIL, so on two cores
    scoring overlaps decoding). At most ``MAX_IN_FLIGHT`` frames wait for it.
    """
    opts = src.opts
    with src.timed("cuts"):
        cuts = detect_cuts(src)
    with src.timed("plan"):
        plans, fallback = plan_groups(src, adaptive, cuts)
    candidate_group = {int(i): g for g, p in enumerate(plans) for i in p.candidates}
    ah, aw = src.analysis_size
    scorer = FrameScorer(
        FrameConverter(src.height, src.width, src.info.rotation, (ah, aw)),
        reference_frames(candidate_group, src.packets),
        source=src.info.planned_motion_source,
        patch_size=opts.patch_size,
        rotation=src.info.rotation,
        hold=max((len(p.candidates) for p in plans), default=0),
    )
    canvases = np.zeros((opts.canvases, src.height, src.width, 3), dtype=np.uint8)
    token_parts: list[Tokens] = []
    groups: list[Group] = []
    pending: deque[Future] = deque()
    next_group = 0

    def collect(limit: int) -> None:
        while len(pending) > limit:
            cand = pending.popleft().result()
            if cand is not None:
                plans[candidate_group[cand.index]].decoded.append(cand)

    def finish(upto: int) -> None:
        nonlocal next_group
        # upto < 0 flushes every remaining group at the end of the stream
        while next_group < len(plans) and (upto < 0 or upto > src.frames[plans[next_group].span.stop - 1]):
            collect(0)
            g = next_group
            out = canvases[g * opts.images_per_group : (g + 1) * opts.images_per_group]
            toks, grp = _assemble(src, g, plans[g], cuts, scorer.convert, out)
            token_parts.append(toks)
            groups.append(grp)
            scorer.release(plans[g].decoded)
            plans[g].decoded.clear()
            next_group += 1

    needed = scorer.needed
    with src.timed("decode_and_score"), ThreadPoolExecutor(max_workers=1) as worker:
        try:
            frames = iter_frames(src.path, src.packets, src.start, src.end, export_mvs=scorer.use_mvs,
                                 threads=opts.threads, needed=needed)
            for item in with_progress(frames, src):
                finish(item.index)  # groups that ended before this frame can be packed now
                if item.index in needed:
                    pending.append(worker.submit(scorer.process, item.index, item.pts, item.frame))
                    collect(MAX_IN_FLIGHT)
            finish(-1)
        finally:
            for f in pending:
                f.cancel()
    facts = {"motion_source": scorer.motion_source, "motion_frames": scorer.stats, "fallback": fallback,
             "scene_cuts": [round(float(src.packets.pts[c]), 6) for c in cuts]}
    return canvases, Tokens.concat(token_parts), groups, facts


def _assemble(src: Source, g: int, plan: GroupPlan, cuts: np.ndarray, convert: FrameConverter,
              out: np.ndarray) -> tuple[Tokens, Group]:
    """I-canvas + P-canvases of one group, drawn into ``out`` (its ``images_per_group`` canvases, zeroed).

    The anchor is the first good candidate (the paper's rule). When the
    group's candidates span a scene cut (ours), the anchor is the first good
    candidate of the shot that holds most of the blocks the P-canvases select,
    so the I-canvas shows the scene most of its group's blocks come from.
    """
    opts = src.opts
    grid = src.grid_blocks
    block = src.block
    cands = sorted(plan.decoded, key=lambda c: c.index)
    k = opts.images_per_group
    parts: list[Tokens] = []
    base = g * k
    if not cands:  # nothing decodable in this span (damaged stream): all padding
        for j in range(k):
            parts.append(canvas_tokens(base + j, grid, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), g,
                                       "I" if j == 0 else "P"))
        return Tokens.concat(parts), Group(g, plan.span.start, plan.span.end, list(range(base, base + k)))
    shots = shot_ids(np.array([c.index for c in cands]), cuts)
    anchor_pos = _first_good(cands, range(len(cands)))
    if shots[0] != shots[-1]:
        picks = _pack(src, cands)
        held = np.bincount([shots[p.frame] for canvas in picks for p in canvas], minlength=int(shots.max()) + 1)
        if held.any():
            anchor_pos = _first_good(cands, np.flatnonzero(shots == int(np.argmax(held))))
    anchor = cands[anchor_pos]
    out[0] = convert.rgb_of(anchor.yuv)
    parts.append(full_frame_tokens(base, grid, anchor.index, anchor.pts, g, "I"))
    rest = [c for n, c in enumerate(cands) if n != anchor_pos]
    picks = _pack(src, rest)
    # RGB only for frames that give blocks, one frame at a time
    placements: dict[int, list[tuple[int, int, int, int]]] = {}
    for j, canvas_picks in enumerate(picks, start=1):
        for slot, p in enumerate(canvas_picks):
            placements.setdefault(p.frame, []).append((j, slot, p.row, p.col))
    for t, spots in placements.items():
        paste_blocks(out, spots, convert.rgb_of(rest[t].yuv), block)
    for j, canvas_picks in enumerate(picks, start=1):
        f = np.array([p.frame for p in canvas_picks], dtype=np.int64)
        r = np.array([p.row for p in canvas_picks], dtype=np.int64)
        c = np.array([p.col for p in canvas_picks], dtype=np.int64)
        idx = np.array([rest[t].index for t in f], dtype=np.int64)
        pts = np.array([rest[t].pts for t in f], dtype=np.float64)
        parts.append(canvas_tokens(base + j, grid, idx, pts, r, c, g, "P"))
    group = Group(g, plan.span.start, plan.span.end, list(range(base, base + k)), anchor_frame=anchor.index,
                  candidate_frames=[int(c.index) for c in cands], energy=plan.span.energy)
    return Tokens.concat(parts), group


def _first_good(cands: list[Candidate], positions) -> int:
    """The first position (in ``positions``) whose candidate is not bad; the first one if all are."""
    positions = list(positions)
    return next((int(n) for n in positions if not cands[n].bad), int(positions[0]))


def _pack(src: Source, frames: list[Candidate]):
    """P-canvas picks over ``frames`` with the bit-cost prior (log packet size normalised over them)."""
    opts = src.opts
    sizes = np.log1p(src.packets.size[[c.index for c in frames]].astype(np.float64)) if frames else np.zeros(0)
    span = sizes.max() - sizes.min() if len(sizes) else 0.0
    prior = (sizes - sizes.min()) / span if span > 0 else np.zeros(len(frames))
    scores = [c.scores * (1.0 + opts.w_bits * p) for c, p in zip(frames, prior)]
    grid = src.grid_blocks
    return pack_group(scores, opts.images_per_group - 1, grid[0] * grid[1], opts.rank_lambda, opts.peak_weight,
                      opts.attenuation)
