"""Test helpers for video files."""

from __future__ import annotations

from pathlib import Path

import av


def remux_video(src: Path, dst: Path, fmt: str) -> Path:
    """Copy ``src``'s video stream into container format ``fmt`` (e.g. "h264": an elementary stream), no re-encode."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        outs = out.add_stream_from_template(inp.streams.video[0])
        for pkt in inp.demux(inp.streams.video[0]):
            if pkt.dts is not None:  # not the flush packet
                pkt.stream = outs
                out.mux(pkt)
    return dst
