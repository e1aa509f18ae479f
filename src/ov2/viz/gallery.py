"""A self-contained HTML page of figures (PNG paths relative to the page) with an optional metrics table.

Used by ``ov2 track`` and the perception evaluations to show the frame strips, trajectory overlays and
JumpScore timelines of :mod:`ov2.viz.perception`; :func:`ov2.viz.demo.page_images` lists what a page
references, so tests can check that every picture exists.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Mapping, Sequence

from ..fileio import atomic_write_text

__all__ = ["render_gallery", "write_gallery"]


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render_gallery(title: str, figures: Sequence[tuple[str, str]], *, intro: str = "",
                   metrics: Mapping[str, object] | None = None) -> str:
    """The page: a title, an intro paragraph, a two-column metrics table, then each (src, caption)."""
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in (metrics or {}).items())
    table = f"<table>{rows}</table>" if rows else ""
    figs = "\n".join(f'<figure><img src="{html.escape(src)}" alt="{html.escape(cap)}">'
                     f"<figcaption>{html.escape(cap)}</figcaption></figure>" for src, cap in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:1em auto}}img{{max-width:100%}}
figure{{margin:1em 0}}figcaption{{font-size:0.9em;color:#444}}td{{padding:2px 10px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{html.escape(intro)}</p>
{table}
{figs}
</body></html>
"""


def write_gallery(out_dir: str | os.PathLike[str], title: str, figures: Sequence[tuple[str, str]], *,
                  intro: str = "", metrics: Mapping[str, object] | None = None, name: str = "index.html") -> Path:
    """Write :func:`render_gallery` to ``out_dir/name``; figure paths are relative to ``out_dir``."""
    return atomic_write_text(Path(out_dir) / name, render_gallery(title, figures, intro=intro, metrics=metrics))
