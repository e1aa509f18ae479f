"""The timeline figure: bit-cost profile, group spans and which frames the tokens came from.

Top panel: the bit-cost energy profile of ``meta["profile"]`` (bars, one per
bin) with the groups as alternately shaded spans and their boundaries as
vertical lines (like Figure 4 of the paper). Bottom panel: a rug with one tick
per distinct source frame at its pts; tick height is the share of a full frame
that frame contributed (an I-canvas anchor or a uniform frame is a full-height
tick, a P-canvas frame with a few blocks a short one). Ground-truth spans (the
sample clip's bursts) can be shaded in red on both panels.

:func:`timeline_data` computes everything drawn, so tests can check it without
looking at pixels.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..visual_input import VisualInput

KIND_COLOURS = {"I": "#d95f02", "P": "#1b6ec2", "F": "#1a9850"}
KIND_LABELS = {"I": "I-canvas anchor frame", "P": "P-canvas blocks", "F": "uniform frame"}
BURST_COLOUR = "#e41a1c"
SHADES = ("#e8e8e8", "#f8f8f8")
MIN_TICK = 0.12  # a frame that gave one block still gets a visible tick


@dataclass
class TimelineData:
    """What the timeline figure shows, in seconds of source pts."""

    label: str
    window: tuple[float, float]
    bin_seconds: float
    bin_left: np.ndarray  # left edge of every profile bin
    energy: np.ndarray  # smoothed bit-cost energy per bin (b_k)
    raw: np.ndarray  # unsmoothed per-bin energy
    energy_kind: str  # "excess" | "log1p"
    group_spans: list[tuple[float, float]]  # [start, end) of every group, in order
    boundaries: np.ndarray  # sorted distinct group edges (starts and the last end)
    tick_times: np.ndarray  # pts of every distinct source frame with valid tokens (sorted)
    tick_frames: np.ndarray  # its frame index
    tick_counts: np.ndarray  # number of valid tokens taken from it
    tick_kinds: np.ndarray  # "I", "P" or "F" (a frame is one kind: anchors are not reused in P-canvases)
    full_frame_tokens: int  # tokens of one whole processed frame

    @property
    def tick_heights(self) -> np.ndarray:
        """Tick height in [MIN_TICK, 1]: share of a full frame the frame contributed."""
        share = self.tick_counts / max(self.full_frame_tokens, 1)
        return np.clip(MIN_TICK + (1 - MIN_TICK) * share, MIN_TICK, 1.0)


def timeline_data(vi: VisualInput, label: str | None = None) -> TimelineData:
    """Collect profile bins, group spans and per-source-frame token counts of ``vi``."""
    prof = vi.meta.get("profile") or {}
    energy = np.asarray(prof.get("energy", []), dtype=np.float64)
    raw = np.asarray(prof.get("raw", energy), dtype=np.float64)
    bin_s = float(prof.get("bin_seconds", 0.5))
    t0 = float(prof.get("t0", 0.0))
    window = vi.meta.get("window") or {}
    start = float(window.get("start", t0))
    end = float(window.get("end", t0 + bin_s * len(energy)))
    spans = [(float(g.start), float(g.end)) for g in vi.groups]
    edges = np.unique(np.array([s for s, _ in spans] + [e for _, e in spans[-1:]], dtype=np.float64))

    t = vi.tokens
    v = t.valid
    frames, first, counts = np.unique(t.frame[v], return_index=True, return_counts=True)
    times = t.time[v][first]
    kinds = t.kind[v][first]
    order = np.argsort(times, kind="stable")
    rows, cols = vi.grid_hw
    return TimelineData(
        label=label or vi.backend,
        window=(start, end),
        bin_seconds=bin_s,
        bin_left=t0 + bin_s * np.arange(len(energy)),
        energy=energy,
        raw=raw,
        energy_kind=str((vi.meta.get("params") or {}).get("energy", "")),
        group_spans=spans,
        boundaries=edges,
        tick_times=times[order],
        tick_frames=frames[order],
        tick_counts=counts[order],
        tick_kinds=kinds[order],
        full_frame_tokens=rows * cols,
    )


def _draw(ax_prof, ax_rug, data: TimelineData, bursts: Sequence[tuple[float, float]] | None,
          show_group_numbers: bool = True) -> None:
    """Draw one backend's profile and rug on two axes sharing x."""
    for ax in (ax_prof, ax_rug):
        for k, (s, e) in enumerate(data.group_spans):
            ax.axvspan(s, e, color=SHADES[k % 2], zorder=0, lw=0)
        for b in bursts or ():
            ax.axvspan(b[0], b[1], color=BURST_COLOUR, alpha=0.18, zorder=1, lw=0)
        for x in data.boundaries:
            ax.axvline(x, color="#555555", lw=0.8, ls="--", zorder=2)
    if len(data.energy):
        ax_prof.bar(data.bin_left, data.energy, width=data.bin_seconds, align="edge", color="#4d4d4d",
                    alpha=0.85, zorder=3, lw=0)
    top = float(data.energy.max()) if len(data.energy) and data.energy.max() > 0 else 1.0
    ax_prof.set_ylim(0, top * 1.18)
    if show_group_numbers and len(data.group_spans) <= 40:
        for k, (s, e) in enumerate(data.group_spans):
            ax_prof.text((s + e) / 2, top * 1.08, f"g{k}", ha="center", va="center", fontsize=7, color="#333333",
                         zorder=4, clip_on=True)
    kind = f" ({data.energy_kind})" if data.energy_kind else ""
    ax_prof.set_ylabel(f"bit-cost{kind}", fontsize=8)
    ax_prof.set_title(f"{data.label}: {len(data.group_spans)} groups, {len(data.tick_times)} source frames",
                      fontsize=9, loc="left")
    handles = []
    for k in ("I", "P", "F"):
        sel = data.tick_kinds == k
        if sel.any():
            handles.append(ax_rug.vlines(data.tick_times[sel], 0, data.tick_heights[sel], color=KIND_COLOURS[k],
                                         lw=1.2, zorder=5, label=f"{KIND_LABELS[k]} ({int(sel.sum())} frames)"))
    if bursts:
        from matplotlib.patches import Patch

        handles.append(Patch(color=BURST_COLOUR, alpha=0.3, label="ground-truth motion"))
    ax_rug.set_ylim(0, 1.05)
    ax_rug.set_yticks([])
    ax_rug.set_ylabel("tokens", fontsize=8)
    if handles:  # legend in the title row, so it never hides a tick
        ax_prof.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles),
                       fontsize=7, frameon=False, borderaxespad=0.1)
    for ax in (ax_prof, ax_rug):
        ax.tick_params(labelsize=7)


def plot_timelines(
    items: Sequence[tuple[str, VisualInput]],
    path: str | os.PathLike[str],
    bursts: Sequence[tuple[float, float]] | None = None,
    xlim: tuple[float, float] | None = None,
    width: float = 11.0,
) -> Path:
    """One profile+rug pair per (label, VisualInput), stacked over one shared time axis, saved as PNG."""
    # A bare Figure (no pyplot): no global backend switch, nothing to close, safe in notebooks and threads.
    from matplotlib.figure import Figure

    from ..fileio import atomic_write_bytes

    if not items:
        raise ValueError("plot_timelines needs at least one VisualInput")
    datas = [timeline_data(vi, label) for label, vi in items]
    if xlim is None:
        xlim = (min(d.window[0] for d in datas), max(d.window[1] for d in datas))
    ratios = [r for _ in datas for r in (3, 1)]
    fig = Figure(figsize=(width, 2.4 * len(datas) + 0.5), layout="constrained")
    axes = fig.subplots(2 * len(datas), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    for k, d in enumerate(datas):
        _draw(axes[2 * k], axes[2 * k + 1], d, bursts)
    axes[0].set_xlim(*xlim)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write_bytes(path, buf.getvalue())


def plot_timeline(
    vi: VisualInput,
    path: str | os.PathLike[str],
    bursts: Sequence[tuple[float, float]] | None = None,
    xlim: tuple[float, float] | None = None,
    label: str | None = None,
) -> Path:
    """The timeline figure of one VisualInput (see module docstring)."""
    return plot_timelines([(label or vi.backend, vi)], path, bursts=bursts, xlim=xlim)
