"""``ov2 demo``: the same video through the codec and frames backends, side by side, as one HTML page.

With no video the built-in sample (a ball moving only in known bursts over a
still textured scene) is generated, so the page can show the ground truth and
score each backend against it: which share of its tokens shows motion, how
many distinct moments it saw, and how many of the bursts it saw at all.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..fileio import atomic_write_text
from ..visual_input import VisualInput
from .canvases import CANVAS_PATTERN, canvas_captions
from .export import TIMELINE_PNG, write_outputs
from .outputs import staged_output, write_json
from .report import token_counts
from .timeline import plot_timelines

SAMPLE_NAME = "sample.mp4"
SAMPLE_DURATION = 40.0
SAMPLE_SIZE = (640, 360)
DEMO_BACKENDS = ("codec", "frames")
TIMELINES_PNG = "timelines.png"


def burst_coverage(vi: VisualInput, bursts: Sequence[tuple[float, float]] | None) -> dict[str, float | int | None]:
    """Per backend: share of valid tokens from burst frames, distinct source frames, share of bursts seen.

    A token is "from a burst" when its source frame's pts lies in some burst
    [start, end). A burst is "seen" when at least one token comes from it.
    Without ground truth the two burst figures are None.
    """
    t = vi.tokens
    v = t.valid
    times = t.time[v]
    out: dict[str, float | int | None] = {
        "tokens": int(v.sum()),
        "source_frames": int(len(np.unique(t.frame[v]))),
        "burst_token_share": None,
        "bursts_seen": None,
        "bursts_seen_share": None,
    }
    if bursts:
        inside = [(times >= a) & (times < b) for a, b in bursts]
        any_inside = np.logical_or.reduce(inside) if inside else np.zeros(len(times), dtype=bool)
        seen = sum(bool(m.any()) for m in inside)
        out["burst_token_share"] = float(any_inside.mean()) if len(times) else 0.0
        out["bursts_seen"] = int(seen)
        out["bursts_seen_share"] = seen / len(bursts)
    return out


@dataclass
class DemoResult:
    """What :func:`build_demo` produced."""

    out_dir: Path
    page: Path
    video: Path
    bursts: list[tuple[float, float]] | None
    rows: dict[str, dict[str, float | int | None]]
    inputs: dict[str, VisualInput] = field(repr=False)
    seconds: float = 0.0


def format_demo_table(rows: dict[str, dict[str, float | int | None]], bursts_known: bool) -> str:
    """Fixed-width text version of the page's table."""

    def pct(x: float | int | None) -> str:
        return "-" if x is None else f"{100 * float(x):.0f}%"

    lines = [f"{'backend':<8}  {'tokens':>6}  {'burst tokens':>12}  {'source frames':>13}  {'bursts seen':>11}"]
    for name, r in rows.items():
        seen = "-" if r["bursts_seen"] is None else f"{r['bursts_seen']} ({pct(r['bursts_seen_share'])})"
        lines.append(f"{name:<8}  {r['tokens']:>6}  {pct(r['burst_token_share']):>12}  {r['source_frames']:>13}  "
                     f"{seen:>11}")
    if not bursts_known:
        lines.append("(no ground truth for this video: burst columns are empty)")
    return "\n".join(lines)


def _html_table(rows: dict[str, dict[str, float | int | None]]) -> str:
    def pct(x: float | int | None) -> str:
        return "&ndash;" if x is None else f"{100 * float(x):.0f}%"

    body = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{r['tokens']}</td><td>{pct(r['burst_token_share'])}</td>"
        f"<td>{r['source_frames']}</td><td>{pct(r['bursts_seen_share'])}</td></tr>"
        for n, r in rows.items()
    )
    return ("<table><tr><th>backend</th><th>tokens</th><th>tokens from burst frames</th>"
            "<th>distinct source frames</th><th>bursts with &ge; 1 token</th></tr>" + body + "</table>")


def render_page(result: DemoResult, canvases: int) -> str:
    """The self-contained index.html (images referenced by relative path)."""
    first = next(iter(result.inputs.values()))
    video = first.meta.get("video", {})
    facts = (f"{html.escape(str(video.get('codec')))} {video.get('width')}x{video.get('height')}, "
             f"{float(video.get('duration') or 0):.1f} s, {video.get('frame_count')} frames")
    if result.bursts:
        truth = ("Ground truth: the ball moves only during " +
                 ", ".join(f"{a:.1f}&ndash;{b:.1f} s" for a, b in result.bursts) +
                 " (red spans); the rest of the clip is still.")
    else:
        truth = "No ground truth for this video."
    sections = []
    for name, vi in result.inputs.items():
        caps = canvas_captions(vi)
        tiles = "".join(
            f'<figure><img src="{name}/{CANVAS_PATTERN.format(i)}" alt="{html.escape(caps[i])}">'
            f"<figcaption>{html.escape(caps[i])}</figcaption></figure>"
            for i in range(vi.num_canvases)
        )
        c = token_counts(vi)
        sections.append(
            f'<section><h2>{html.escape(name)}</h2><p>{len(vi.groups)} groups, {vi.num_canvases} canvases, '
            f"{c['valid']} tokens from {c['source_frames']} distinct source frames; motion source "
            f"{html.escape(str(vi.meta.get('motion_source')))}. "
            f'Own timeline: <a href="{name}/{TIMELINE_PNG}">{name}/{TIMELINE_PNG}</a>; tokens: '
            f'<a href="{name}/tokens.csv">{name}/tokens.csv</a>.</p><div class="grid">{tiles}</div></section>'
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ov2 demo: codec vs frames at {canvases} canvases</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 1400px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
td, th {{ border: 1px solid #bbb; padding: 0.25em 0.7em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 6px; }}
figure {{ margin: 0; width: 240px; }}
figure img {{ width: 240px; display: block; border: 1px solid #ccc; }}
figcaption {{ font-size: 11px; color: #555; }}
img.timeline {{ width: 100%; }}
</style></head><body>
<h1>ov2 demo: codec-stream tokens vs uniform frames, {canvases} canvases each</h1>
<p>Video: <code>{html.escape(str(result.video))}</code> ({facts}). {truth}</p>
<p>Both backends spend exactly the same budget: {canvases} canvases of the processed frame size.
<b>frames</b> spends it on {canvases} evenly spaced whole frames; <b>codec</b> cuts the video into groups by
the bit-cost of its P/B packets and fills each group's P-canvases with the 2x2-patch blocks that changed.</p>
{_html_table(result.rows)}
<h2>Which moments each backend saw</h2>
<p>Both timelines share one time axis. Grey bars: bit-cost energy per 0.5 s bin; shaded spans: groups;
ticks below each profile: source frames of the selected tokens (orange: I-canvas anchor frames, blue:
frames that gave P-canvas blocks, green: uniform frames; tick height = share of a whole frame taken).</p>
<img class="timeline" src="{TIMELINES_PNG}" alt="timelines of both backends">
{''.join(sections)}
<p><small>Generated by <code>ov2 demo</code> in {result.seconds:.1f} s.</small></p>
</body></html>
"""


def build_demo(
    out_dir: str | os.PathLike[str],
    canvases: int = 16,
    video: str | os.PathLike[str] | None = None,
    progress: bool = True,
    max_pixels: int = 150_000,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Tokenize the sample (or ``video``) with both backends and write ``out_dir/index.html``.

    ``out_dir`` is replaced as a whole when everything is written (see
    :mod:`ov2.viz.outputs`). The sample clip is written into ``out_dir`` too.
    """
    import ov2

    from ..options import TokenizeOptions

    t0 = time.perf_counter()
    say = log or (lambda _msg: None)
    for backend in DEMO_BACKENDS:  # bad options fail now, not after the sample is rendered
        TokenizeOptions.build(backend=backend, canvases=canvases, max_pixels=max_pixels)
    target = Path(out_dir).absolute()
    with staged_output(target, "demo") as tmp:
        bursts: list[tuple[float, float]] | None = None
        if video is None:
            from ..samples import make_bursts_clip

            say(f"making the sample clip ({SAMPLE_DURATION:.0f} s, {SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]})")
            truth = make_bursts_clip(tmp / SAMPLE_NAME, duration=SAMPLE_DURATION, width=SAMPLE_SIZE[0],
                                     height=SAMPLE_SIZE[1])
            bursts = [(float(a), float(b)) for a, b in truth.bursts]
            src_path, shown_path = tmp / SAMPLE_NAME, target / SAMPLE_NAME
        else:
            src_path = shown_path = Path(video).absolute()
        inputs: dict[str, VisualInput] = {}
        for backend in DEMO_BACKENDS:
            say(f"tokenizing with backend={backend}, canvases={canvases}")
            inputs[backend] = ov2.tokenize(src_path, backend=backend, canvases=canvases, max_pixels=max_pixels,
                                           progress=progress)
            inputs[backend].meta["video"]["path"] = str(shown_path)
        windows = [vi.meta["window"] for vi in inputs.values()]
        xlim = (min(w["start"] for w in windows), max(w["end"] for w in windows))
        say("writing images and the page")
        for backend, vi in inputs.items():
            write_outputs(vi, tmp / backend, bursts=bursts, xlim=xlim)
        plot_timelines(list(inputs.items()), tmp / TIMELINES_PNG, bursts=bursts, xlim=xlim)
        rows = {name: burst_coverage(vi, bursts) for name, vi in inputs.items()}
        result = DemoResult(target, target / "index.html", shown_path, bursts, rows, inputs)
        write_json(tmp / "summary.json", {"video": str(shown_path), "canvases": canvases, "bursts": bursts,
                                          "backends": rows})
        result.seconds = time.perf_counter() - t0
        atomic_write_text(tmp / "index.html", render_page(result, canvases))
    return result


def page_images(page_html: str) -> list[str]:
    """Relative paths of every ``<img src=...>`` in a page (used to check the page is complete)."""
    import re

    return re.findall(r'<img[^>]*\bsrc="([^"]+)"', page_html)
