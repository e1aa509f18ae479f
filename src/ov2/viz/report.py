"""The one-screen text summary of a tokenization (what ``ov2 tokenize`` prints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..visual_input import VisualInput

MAX_GROUP_ROWS = 16  # longer group tables show their head and tail


@dataclass
class GroupRow:
    """One line of the groups table."""

    index: int
    start: float
    end: float
    candidates: int  # candidate frames scored in the group
    source_frames: int  # distinct source frames that reached its canvases
    canvases: list[int]

    @property
    def duration(self) -> float:
        return self.end - self.start


def group_rows(vi: VisualInput) -> list[GroupRow]:
    """Per group: span, number of candidate frames and distinct source frames in its canvases."""
    t = vi.tokens
    v = t.valid
    rows = []
    for g in vi.groups:
        frames = np.unique(t.frame[v & (t.group == g.index)])
        rows.append(GroupRow(g.index, float(g.start), float(g.end), len(g.candidate_frames), len(frames),
                             list(g.canvases)))
    return rows


def token_counts(vi: VisualInput) -> dict[str, int]:
    """Totals: tokens (patches), valid, padding, merged (valid / 4), distinct source frames, anchors."""
    t = vi.tokens
    v = t.valid
    return {
        "tokens": int(len(t)),
        "valid": int(v.sum()),
        "padding": int((~v).sum()),
        "merged": int(v.sum()) // 4,  # the encoder merges each 2x2 block into one LLM token
        "source_frames": int(len(np.unique(t.frame[v]))),
        "anchor_frames": int(len(np.unique(t.frame[v & (t.kind == "I")]))),
    }


def _canvas_range(canvases: list[int]) -> str:
    if not canvases:
        return "-"
    if canvases == list(range(canvases[0], canvases[-1] + 1)) and len(canvases) > 1:
        return f"{canvases[0]}-{canvases[-1]}"
    return ",".join(str(c) for c in canvases)


def format_groups_table(rows: list[GroupRow], max_rows: int = MAX_GROUP_ROWS) -> list[str]:
    """Fixed-width table lines; long tables keep their first and last rows."""
    head = f"  {'#':>3}  {'start':>8}  {'end':>8}  {'dur':>7}  {'cand':>4}  {'frames':>6}  canvases"
    lines = [head]
    shown: list[GroupRow | None] = list(rows)
    if len(rows) > max_rows:
        keep = max_rows - 4
        shown = list(rows[:keep]) + [None] + list(rows[-3:])
    for r in shown:
        if r is None:
            lines.append(f"  {'...':>3}  ({len(rows) - max_rows + 1} more groups)")
            continue
        lines.append(f"  {r.index:>3}  {r.start:>8.2f}  {r.end:>8.2f}  {r.duration:>7.2f}  {r.candidates:>4}  "
                     f"{r.source_frames:>6}  {_canvas_range(r.canvases)}")
    return lines


def _seconds(x: float) -> str:
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def format_summary(
    vi: VisualInput,
    out_dir: Path | None = None,
    files: Sequence[str] | None = None,
    extra_timings: Mapping[str, float] | None = None,
) -> str:
    """Human-readable summary of ``vi`` (video, parameters, groups, tokens, timings, output files)."""
    m = vi.meta
    video = m.get("video", {})
    params = m.get("params", {})
    proc = m.get("processed", {})
    win = m.get("window", {})
    rows_p, cols_p = vi.grid_hw
    counts = token_counts(vi)
    lines = [f"ov2 tokenize  {video.get('path', '?')}"]
    rot = video.get("rotation", 0)
    coded = f"coded {video.get('coded_width')}x{video.get('coded_height')}, rotation {rot} deg"
    lines.append(
        f"video      {video.get('codec', '?')} {video.get('width')}x{video.get('height')} ({coded}), "
        f"{float(video.get('fps') or 0):.2f} fps, {float(video.get('duration') or 0):.2f} s, "
        f"{video.get('frame_count')} frames, {video.get('keyframes', '?')} keyframes"
    )
    notes = [k for k in ("intra_only", "truncated") if video.get(k)]
    if notes:
        lines.append(f"           note: {', '.join(n.replace('_', '-') for n in notes)}")
    lines.append(
        f"window     {float(win.get('start', 0)):.2f}-{float(win.get('end', 0)):.2f} s "
        f"({win.get('frames', '?')} frames); processed {proc.get('width')}x{proc.get('height')} px "
        f"= {rows_p}x{cols_p} patches of {vi.patch_size}px"
    )
    shown = ("canvases", "images_per_group", "max_pixels", "min_pixels", "energy", "start", "end")
    plist = " ".join(f"{k}={params[k]}" for k in shown if k in params and params[k] is not None)
    lines.append(f"backend    {vi.backend}  {plist}")
    motion = m.get("motion_source", "?")
    mf = m.get("motion_frames")
    if isinstance(mf, dict) and any(mf.values()):
        motion += " (candidate frames: " + ", ".join(f"{v} {k}" for k, v in mf.items() if v) + ")"
    lines.append(f"motion     {motion}")
    fb = m.get("fallback") or []
    lines.append(f"fallbacks  {'; '.join(fb) if fb else 'none'}")
    rows = group_rows(vi)
    lines.append(f"groups     {len(rows)}")
    lines.extend(format_groups_table(rows))
    lines.append(f"canvases   {vi.num_canvases} x {proc.get('width')}x{proc.get('height')} px")
    lines.append(f"tokens     {counts['tokens']} patches: {counts['valid']} valid, {counts['padding']} padding "
                 f"({counts['merged']} merged LLM tokens)")
    anchors = f" ({counts['anchor_frames']} I-canvas anchors)" if counts["anchor_frames"] else ""
    lines.append(f"sources    {counts['source_frames']} distinct source frames{anchors}")
    timings = dict(m.get("timings", {}))
    timings.update(extra_timings or {})
    lines.append("timings    " + " | ".join(f"{k} {_seconds(float(v))}" for k, v in timings.items()))
    if out_dir is not None:
        lines.append(f"output     {out_dir}")
        if files:
            lines.append("           " + ", ".join(files))
    return "\n".join(lines)
