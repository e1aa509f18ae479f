"""The codec and fixed backends: groups -> candidates -> streaming decode -> saliency -> canvases.

Frames are decoded once, in order; only candidate frames (at processed size)
and their previous frames (as analysis-size luma) are converted, and only the
current group's candidates are held, so memory follows the budget, not the
video length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.decode import iter_frames
from ..io.frames import FrameConverter, upright
from ..io.motion import FlowEstimator, exported_field
from ..source import Source, with_progress
from ..visual_input import Group, Tokens
from .candidates import pick_candidates, smooth_frame_energy
from .groups import Span, adaptive_spans, equal_boundaries, spans_from_times
from .layout import canvas_tokens, full_frame_tokens, paste_blocks
from .packing import pack_group
from .saliency import block_scores, border_mask, frame_is_bad, saliency_map


@dataclass
class Candidate:
    index: int
    pts: float
    rgb: np.ndarray
    scores: np.ndarray  # [bh, bw] upright block scores before the bit-cost prior
    bad: bool


@dataclass
class GroupPlan:
    span: Span
    candidates: np.ndarray  # global frame indices, ascending
    decoded: list[Candidate] = field(default_factory=list)


def plan_groups(src: Source, adaptive: bool) -> tuple[list[GroupPlan], list[str]]:
    """Partition the window into exactly G spans and choose each span's candidate frames."""
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
                               opts.valley_radius, opts.valley_band)
    else:
        spans = spans_from_times(pts, e_frame, src.start, src.end, equal_boundaries(src.start, src.end, groups), groups)
    plans = []
    for span in spans:
        local = pick_candidates(e_frame[span.first : span.stop], opts.candidates_per_group)
        plans.append(GroupPlan(span, src.frames[span.first + local]))
    return plans, fallback


def run_codec(src: Source, adaptive: bool = True) -> tuple[np.ndarray, Tokens, list[Group], dict]:
    """Canvases, tokens, groups and backend facts for the codec (adaptive) or fixed backend."""
    opts = src.opts
    with src.timed("plan"):
        plans, fallback = plan_groups(src, adaptive)
    use_mvs = src.info.motion_vectors and not src.info.intra_only
    intra = src.info.intra_only
    candidate_group = {int(i): g for g, p in enumerate(plans) for i in p.candidates}
    refs = {i - 1 for i in candidate_group}
    ah, aw = src.analysis_size
    flow = FlowEstimator()
    convert = FrameConverter(src.height, src.width, src.info.rotation, (ah, aw))
    stats = {"exported": 0, "estimated": 0, "frame-difference": 0}
    canvases = np.zeros((opts.canvases, src.height, src.width, 3), dtype=np.uint8)
    token_parts: list[Tokens] = []
    groups: list[Group] = []
    prev_luma: np.ndarray | None = None
    prev_index = -2
    next_group = 0

    def finish(upto: int) -> None:
        nonlocal next_group
        # upto < 0 flushes every remaining group at the end of the stream
        while next_group < len(plans) and (upto < 0 or upto > src.frames[plans[next_group].span.stop - 1]):
            g = next_group
            canv, toks, grp = _assemble(src, g, plans[g])
            canvases[g * opts.images_per_group : (g + 1) * opts.images_per_group] = canv
            token_parts.append(toks)
            groups.append(grp)
            plans[g].decoded.clear()
            next_group += 1

    with src.timed("decode_and_score"):
        for item in with_progress(iter_frames(src.path, src.packets, src.start, src.end, export_mvs=use_mvs,
                                          threads=opts.threads,
                                          needed=set(candidate_group) | refs), src):
            i = item.index
            finish(i)  # groups that ended before this frame can be packed now
            is_cand, is_ref = i in candidate_group, i in refs
            if not (is_cand or is_ref):
                continue
            luma = convert.luma(item.frame)
            if is_cand:
                previous = prev_luma if prev_index == i - 1 and prev_luma is not None else luma
                field = exported_field(item.frame, ah, aw) if use_mvs else None
                if field is not None:
                    stats["exported"] += 1
                elif intra:
                    field = np.zeros((2, ah, aw), dtype=np.float32)
                    stats["frame-difference"] += 1
                else:
                    field = flow(luma, previous)
                    stats["estimated"] += 1
                s = saliency_map(luma, previous, field)
                scores = upright(block_scores(s, border_mask(luma), opts.patch_size), src.info.rotation)
                rgb = convert.rgb(item.frame)
                bad = frame_is_bad(luma) or bool(getattr(item.frame, "is_corrupt", False))
                plans[candidate_group[i]].decoded.append(Candidate(i, item.pts, rgb, scores, bad))
            prev_luma, prev_index = luma, i
        finish(-1)
    source = max(stats, key=lambda k: stats[k]) if any(stats.values()) else "none"
    facts = {"motion_source": source, "motion_frames": stats, "fallback": fallback}
    return canvases, Tokens.concat(token_parts), groups, facts


def _assemble(src: Source, g: int, plan: GroupPlan) -> tuple[np.ndarray, Tokens, Group]:
    """I-canvas + P-canvases of one group."""
    opts = src.opts
    grid = src.grid_blocks
    block = src.block
    cands = sorted(plan.decoded, key=lambda c: c.index)
    k = opts.images_per_group
    out = np.zeros((k, src.height, src.width, 3), dtype=np.uint8)
    parts: list[Tokens] = []
    base = g * k
    if not cands:  # nothing decodable in this span (damaged stream): all padding
        for j in range(k):
            parts.append(canvas_tokens(base + j, grid, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), g,
                                       "I" if j == 0 else "P"))
        return out, Tokens.concat(parts), Group(g, plan.span.start, plan.span.end, list(range(base, base + k)))
    anchor_pos = next((n for n, c in enumerate(cands) if not c.bad), 0)
    anchor = cands[anchor_pos]
    out[0] = anchor.rgb
    parts.append(full_frame_tokens(base, grid, anchor.index, anchor.pts, g, "I"))
    rest = [c for n, c in enumerate(cands) if n != anchor_pos]
    sizes = np.log1p(src.packets.size[[c.index for c in rest]].astype(np.float64)) if rest else np.zeros(0)
    span = sizes.max() - sizes.min() if len(sizes) else 0.0
    prior = (sizes - sizes.min()) / span if span > 0 else np.zeros(len(rest))
    scores = [c.scores * (1.0 + opts.w_bits * p) for c, p in zip(rest, prior)]
    picks = pack_group(scores, k - 1, grid[0] * grid[1], opts.rank_lambda, opts.peak_weight, opts.attenuation)
    for j, canvas_picks in enumerate(picks, start=1):
        f = np.array([p.frame for p in canvas_picks], dtype=np.int64)
        r = np.array([p.row for p in canvas_picks], dtype=np.int64)
        c = np.array([p.col for p in canvas_picks], dtype=np.int64)
        out[j] = paste_blocks([x.rgb for x in rest], f, r, c, out[j].shape, block)
        idx = np.array([rest[t].index for t in f], dtype=np.int64)
        pts = np.array([rest[t].pts for t in f], dtype=np.float64)
        parts.append(canvas_tokens(base + j, grid, idx, pts, r, c, g, "P"))
    group = Group(g, plan.span.start, plan.span.end, list(range(base, base + k)), anchor_frame=anchor.index,
                  candidate_frames=[int(c.index) for c in cands], energy=plan.span.energy)
    return out, Tokens.concat(parts), group

