"""``ov2 demo [--out DIR] [--canvases N] [--video PATH]``: codec vs frames on one page.

Without --video it generates the built-in sample (a ball moving only in known
bursts over a still scene), tokenizes it with the codec and frames backends at
the same budget and writes DIR/index.html: both backends' canvases and their
timelines over one time axis with the bursts shaded, plus a table of how much
of each backend's budget landed on the motion.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="codec vs uniform frames on a sample clip, as an HTML page",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", metavar="DIR", default="demo_out", help="output directory (default demo_out)")
    p.add_argument("--canvases", metavar="N", type=int, default=16, help="canvas budget per backend (default 16)")
    p.add_argument("--video", metavar="PATH", default=None, help="use this video instead of the built-in sample")
    p.add_argument("--max-pixels", metavar="P", type=int, default=150_000, help="max pixels of a processed frame (150000)")
    p.add_argument("--no-progress", action="store_true", help="hide progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ov2.errors import VideoError
    from ov2.viz.demo import build_demo, format_demo_table

    quiet = args.no_progress
    try:
        result = build_demo(args.out, canvases=args.canvases, video=args.video, progress=not quiet,
                            max_pixels=args.max_pixels,
                            log=None if quiet else (lambda msg: print(f"[demo] {msg}", file=sys.stderr)))
    except VideoError:
        raise  # reported by ov2.cli (VideoNotFoundError is also an OSError)
    except OSError as exc:
        print(f"ov2 demo: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(format_demo_table(result.rows, bursts_known=result.bursts is not None))
    if result.bursts:
        print("bursts     " + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in result.bursts))
    print(f"page       {result.page}")
    print(f"took       {result.seconds:.1f} s")
    return 0
