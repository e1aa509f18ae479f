"""The codec and fixed backends: groups -> candidates -> streaming decode -> saliency -> canvases.

Frames are decoded once, in order within keyframe-aligned segments that are
decoded in parallel; only candidate frames (at processed size) and their
residual references (as analysis-size luma) are converted, and a group's
candidates are held only until it is packed, so memory follows the budget and
the number of segments, not the video length.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..io.decode import iter_frames
from ..options import MIN_CANDIDATES
from ..io.frames import FrameConverter
from ..source import Source, frame_progress
from ..visual_input import Group, Tokens
from ..io.keyframes import keyframe_thumbnails
from .candidates import pick_candidates, share_candidates, smooth_frame_energy
from .cuts import keyframes_to_check, scene_cuts, shot_ids
from .groups import Span, adaptive_spans, equal_boundaries, spans_from_times
from .layout import canvas_tokens, full_frame_tokens, paste_blocks
from .packing import pack_group
from .scoring import Candidate, FrameScorer, FrameStore, reference_frames
from .segments import Segment, decode_workers, split_segments

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
    per_group = opts.candidates_for
    lengths = np.array([s.stop - s.first for s in spans])
    if opts.candidates_per_group is None and per_group <= MIN_CANDIDATES:
        # many groups, each at the spec's 32: share the window's candidates by where the action is (ours)
        counts = share_candidates(np.array([e_frame[s.first : s.stop].sum() for s in spans]), lengths, per_group)
    else:
        counts = np.minimum(per_group, lengths)
    plans = []
    for span, count in zip(spans, counts):
        local = pick_candidates(e_frame[span.first : span.stop], int(count))
        plans.append(GroupPlan(span, src.frames[span.first + local]))
    return plans, fallback


def run_codec(src: Source, adaptive: bool = True) -> tuple[np.ndarray, Tokens, list[Group], dict]:
    """Canvases, tokens, groups and backend facts for the codec (adaptive) or fixed backend.

    The window is decoded as keyframe-aligned segments in parallel (see
    :mod:`.segments`), each by a single-threaded decoder that scores its own
    frames. A window that cannot be split (one GOP, or ``threads=1``) is decoded
    by one threaded decoder while a worker thread scores, at most
    ``MAX_IN_FLIGHT`` frames behind. A group is packed by whichever thread
    scores its last candidate; groups missing candidates (damaged streams) are
    packed at the end with what they have.
    """
    opts = src.opts
    with src.timed("cuts"):
        cuts = detect_cuts(src)
    with src.timed("plan"):
        plans, fallback = plan_groups(src, adaptive, cuts)
    candidate_group = {int(i): g for g, p in enumerate(plans) for i in p.candidates}
    refs = reference_frames(candidate_group, src.packets)
    segments = split_segments(src.packets, src.frames, refs, decode_workers(opts.threads))
    with src.timed("decode_and_score"):
        try:
            canvases, board, scorers = _decode_and_pack(src, plans, cuts, candidate_group, segments)
        except SeekMissedError:  # the container could not seek to a segment's keyframe: decode in one pass
            segments = split_segments(src.packets, src.frames, refs, 1)
            canvases, board, scorers = _decode_and_pack(src, plans, cuts, candidate_group, segments)
    stats = {k: sum(s.stats[k] for s in scorers) for k in ("exported", "estimated", "frame-difference")}
    source = max(stats, key=lambda k: stats[k]) if any(stats.values()) else "none"
    facts = {"motion_source": source, "motion_frames": stats, "fallback": fallback, "decode_segments": len(segments),
             "scene_cuts": [round(float(src.packets.pts[c]), 6) for c in cuts]}
    tokens, groups = board.result()
    return canvases, tokens, groups, facts


class SeekMissedError(RuntimeError):
    """A segment's decoder started after the keyframe it was sent to (inexact seeking)."""


def _decode_and_pack(src: Source, plans: list[GroupPlan], cuts: np.ndarray, candidate_group: dict[int, int],
                     segments: list[Segment]) -> tuple[np.ndarray, "_GroupBoard", list[FrameScorer]]:
    """Decode the segments (in parallel when several), score their frames and pack every group."""
    opts = src.opts
    converters = [FrameConverter(src.height, src.width, src.info.rotation, src.analysis_size) for _ in segments]
    h, w = converters[0].coded_hw if converters else (0, 0)  # no segment: nothing to hold
    hold = max((len(p.candidates) for p in plans), default=0)
    store = FrameStore((h * 3 // 2, w), hold * min(len(segments) + 1, len(plans)))  # groups in flight at once
    scorers = [FrameScorer(convert, seg.refs, source=src.info.planned_motion_source, patch_size=opts.patch_size,
                           rotation=src.info.rotation, store=store, candidates=candidate_group)
               for convert, seg in zip(converters, segments)]
    for plan in plans:
        plan.decoded.clear()
    canvases = np.zeros((opts.canvases, src.height, src.width, 3), dtype=np.uint8)
    board = _GroupBoard(src, plans, cuts, canvases, store)
    stop = threading.Event()
    with frame_progress(src) as advance:
        if len(segments) == 1:
            with ThreadPoolExecutor(max_workers=1) as helper:
                _decode_segment(src, segments[0], scorers[0], board, candidate_group, opts.threads, stop, advance,
                                helper)
        elif segments:
            with ThreadPoolExecutor(max_workers=len(segments)) as pool:
                futures = [pool.submit(_decode_segment, src, seg, scorer, board, candidate_group, 1, stop, advance)
                           for seg, scorer in zip(segments, scorers)]
                try:
                    wait(futures, return_when=FIRST_EXCEPTION)
                finally:
                    stop.set()  # a failed segment (or an interrupt) stops the others at their next frame
                for f in futures:
                    f.result()
    convert = scorers[0].convert if scorers else FrameConverter(src.height, src.width, src.info.rotation)
    board.pack_remaining(convert)
    return canvases, board, scorers


def _decode_segment(src: Source, seg: Segment, scorer: FrameScorer, board: "_GroupBoard",
                    candidate_group: dict[int, int], threads: int, stop: threading.Event,
                    advance: Callable[[int], None], helper: ThreadPoolExecutor | None = None) -> None:
    """Decode one segment and score its needed frames: inline, or on ``helper`` (at most MAX_IN_FLIGHT behind)."""
    packets = src.packets
    start = src.start if seg.first == src.frames[0] else float(packets.pts[seg.first])
    end = src.end if seg.last + 1 >= packets.frame_count else min(src.end, float(packets.pts[seg.last + 1]))
    needed = scorer.needed

    def score(index: int, pts: float, frame) -> None:
        cand = scorer.process(index, pts, frame)
        if cand is not None:
            board.add(candidate_group[cand.index], cand, scorer.convert)

    pending: deque[Future] = deque()
    first_seen = None
    passed = seg.first - 1  # progress: frames of the window this segment has decoded or skipped
    try:
        for item in iter_frames(src.path, packets, start, end, export_mvs=scorer.use_mvs, threads=threads,
                                needed=needed):
            if stop.is_set():
                return
            if first_seen is None:
                first_seen = item.index
                if seg.first != src.frames[0] and first_seen > seg.first:
                    raise SeekMissedError(f"{src.path}: decoding from frame {seg.first} started at {first_seen}")
            advance(item.index - passed)
            passed = max(passed, item.index)
            if item.index not in needed:
                continue
            if helper is None:
                score(item.index, item.pts, item.frame)
                continue
            pending.append(helper.submit(score, item.index, item.pts, item.frame))
            while len(pending) > MAX_IN_FLIGHT:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
        if first_seen is None and seg.first != src.frames[0]:
            raise SeekMissedError(f"{src.path}: decoding from frame {seg.first} yielded nothing")
    finally:
        for f in pending:
            f.cancel()


class _GroupBoard:
    """Scored candidates per group; a group is packed into its canvases once all its candidates are in."""

    def __init__(self, src: Source, plans: list[GroupPlan], cuts: np.ndarray, canvases: np.ndarray,
                 store: FrameStore) -> None:
        self.src, self.plans, self.cuts, self.canvases, self.store = src, plans, cuts, canvases, store
        self.remaining = [len(p.candidates) for p in plans]  # pick_candidates returns unique frames
        self.packed: dict[int, tuple[Tokens, Group]] = {}
        self.lock = threading.Lock()

    def add(self, g: int, cand: Candidate, convert: FrameConverter) -> None:
        with self.lock:
            self.plans[g].decoded.append(cand)
            self.remaining[g] -= 1
            ready = self.remaining[g] == 0
        if ready:
            self._pack(g, convert)

    def pack_remaining(self, convert: FrameConverter) -> None:
        """Pack the groups some of whose candidates were never decoded (damaged or truncated streams)."""
        for g in range(len(self.plans)):
            if g not in self.packed:
                self._pack(g, convert)

    def _pack(self, g: int, convert: FrameConverter) -> None:
        k = self.src.opts.images_per_group
        out = self.canvases[g * k : (g + 1) * k]
        packed = _assemble(self.src, g, self.plans[g], self.cuts, convert, out)
        self.store.release_all(self.plans[g].decoded)
        self.plans[g].decoded.clear()
        with self.lock:
            self.packed[g] = packed

    def result(self) -> tuple[Tokens, list[Group]]:
        order = sorted(self.packed)
        return Tokens.concat([self.packed[g][0] for g in order]), [self.packed[g][1] for g in order]


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
