"""``ov2 tokenize VIDEO --out DIR``: tokenize one video and write canvases, tokens, metadata and a timeline.

    ov2 tokenize clip.mp4 --backend codec --canvases 32 --out clip_tokens

DIR receives canvas_000.png ..., visual_input/ (load with ov2.VisualInput.load),
tokens.csv (one row per token), meta.json and timeline.png. DIR is replaced
as a whole once everything is written (it must be new, empty or an earlier
ov2 output).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .arguments import add_candidates_argument, codec_config

BACKENDS = ("codec", "frames", "fixed")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("tokenize", help="tokenize a video into canvases + tokens (writes PNGs, CSV, timeline)",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", help="input video file")
    p.add_argument("--backend", choices=BACKENDS, default="codec", help="tokenizer backend (default codec)")
    p.add_argument("--canvases", metavar="N", type=int, default=32, help="canvas budget N (default 32)")
    p.add_argument("--max-pixels", metavar="P", type=int, default=150_000, help="max pixels of a processed frame (150000)")
    p.add_argument("--min-pixels", metavar="P", type=int, default=3136, help="min pixels of a processed frame (3136)")
    p.add_argument("--images-per-group", metavar="K", type=int, default=4, help="canvases per group, 1 I + K-1 P (default 4)")
    p.add_argument("--start", metavar="S", type=float, default=None, help="window start, seconds")
    p.add_argument("--end", metavar="E", type=float, default=None, help="window end, seconds")
    p.add_argument("--energy", choices=("excess", "log1p"), default="excess", help="bit-cost energy (default excess)")
    add_candidates_argument(p)
    p.add_argument("--out", metavar="DIR", required=True, help="output directory")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import ov2
    from ov2.viz.export import export_tokenization, file_listing
    from ov2.viz.report import format_summary

    vi = ov2.tokenize(
        args.video, backend=args.backend, canvases=args.canvases, max_pixels=args.max_pixels,
        min_pixels=args.min_pixels, images_per_group=args.images_per_group, start=args.start, end=args.end,
        energy=args.energy, progress=not args.no_progress, **codec_config(args),
    )
    t0 = time.perf_counter()
    try:
        files = export_tokenization(vi, args.out)
    except OSError as exc:
        print(f"ov2 tokenize: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    write_s = time.perf_counter() - t0
    out_dir = Path(args.out).absolute()
    print(format_summary(vi, out_dir=out_dir, files=file_listing(files), extra_timings={"write_outputs": write_s}))
    return 0
