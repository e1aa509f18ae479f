"""Everything ``ov2 tokenize`` writes for one VisualInput: PNGs, tokens, metadata, timeline."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..fileio import atomic_write_text
from ..visual_input import TOKEN_FIELDS, VisualInput
from .canvases import save_canvases
from .outputs import staged_output, write_json
from .timeline import plot_timeline

TOKENS_CSV = "tokens.csv"
META_JSON = "meta.json"
TIMELINE_PNG = "timeline.png"
VISUAL_INPUT_DIR = "visual_input"


def write_tokens_csv(vi: VisualInput, path: str | os.PathLike[str]) -> Path:
    """One row per token (padding included), one column per token field, in token order.

    Times are written with ``repr`` precision so the CSV round-trips exactly;
    padding rows have frame -1 and an empty time.
    """
    cols = vi.tokens.as_dict()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(TOKEN_FIELDS))
    as_lists = []
    for name in TOKEN_FIELDS:
        arr = cols[name]
        if name == "time":
            as_lists.append([repr(float(x)) if np.isfinite(x) else "" for x in arr])
        else:
            as_lists.append(arr.tolist())
    writer.writerows(zip(*as_lists))
    return atomic_write_text(path, buf.getvalue())


def write_outputs(
    vi: VisualInput,
    directory: str | os.PathLike[str],
    bursts: Sequence[tuple[float, float]] | None = None,
    xlim: tuple[float, float] | None = None,
) -> dict[str, Path]:
    """Write canvases, visual_input/, tokens.csv, meta.json and timeline.png into ``directory``.

    Returns {name: path} of what was written (``canvas_*.png`` as one entry per file).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for p in save_canvases(vi, d):
        files[p.name] = p
    files[VISUAL_INPUT_DIR] = vi.save(d / VISUAL_INPUT_DIR)
    files[TOKENS_CSV] = write_tokens_csv(vi, d / TOKENS_CSV)
    files[META_JSON] = write_json(d / META_JSON, vi.meta)
    files[TIMELINE_PNG] = plot_timeline(vi, d / TIMELINE_PNG, bursts=bursts, xlim=xlim)
    return files


def export_tokenization(
    vi: VisualInput,
    out_dir: str | os.PathLike[str],
    bursts: Sequence[tuple[float, float]] | None = None,
) -> dict[str, Path]:
    """:func:`write_outputs` into a staged directory swapped into ``out_dir`` when complete."""
    target = Path(out_dir).absolute()
    with staged_output(target, "tokenize") as tmp:
        written = write_outputs(vi, tmp, bursts=bursts)
    return {name: target / p.relative_to(tmp) for name, p in written.items()}


def file_listing(files: dict[str, Path]) -> list[str]:
    """Compact names for the summary: the canvas PNGs as one range entry."""
    canvases = sorted(n for n in files if n.startswith("canvas_"))
    rest = [n + ("/" if n == VISUAL_INPUT_DIR else "") for n in files if not n.startswith("canvas_")]
    head = []
    if canvases:
        head = [canvases[0] if len(canvases) == 1 else f"{canvases[0]} .. {canvases[-1]} ({len(canvases)} PNGs)"]
    return head + rest
