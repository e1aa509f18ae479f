"""``ov2 info VIDEO [--json]``: what the packet pass sees (no full decode).

Codec, sizes and rotation, frame rate, duration, frame and keyframe counts,
B-frames, the motion source ``ov2 tokenize`` would use, bitrate, and the
P/B bit-cost over time with the energy profile the codec backend groups by.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="show what the packet pass sees in a video",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", help="input video file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--energy", choices=("excess", "log1p"), default="excess",
                   help="energy transform of the profile (default excess)")
    p.set_defaults(func=run)


def _can_print_blocks() -> bool:
    """Whether stdout can encode the Unicode block characters of the sparklines."""
    try:
        "▁█".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from ov2.io.probe import inspect
    from ov2.viz.packets import format_packet_report, packet_report

    info, packets = inspect(args.video)
    report = packet_report(info, packets, energy=args.energy)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(format_packet_report(report, ascii_only=not _can_print_blocks()))
    return 0
