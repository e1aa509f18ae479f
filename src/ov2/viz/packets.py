"""What the packet pass sees in a video, as a dict (``ov2 info --json``) and as text (``ov2 info``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..codec.bitcost import bitcost_profile
from ..io.packets import PacketTable
from ..io.probe import VideoInfo

SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-:=+*#"
SPARK_WIDTH = 64  # characters; longer videos use wider bins
KEYFRAMES_SHOWN = 8


def per_second_bytes(packets: PacketTable, bin_seconds: float = 1.0) -> tuple[float, np.ndarray]:
    """Bytes of P/B (non-key) packets per ``bin_seconds`` bin over the whole stream: (t0, values)."""
    t0 = packets.start
    n = max(1, int(math.ceil(packets.duration / bin_seconds - 1e-9)))
    inter = ~packets.key
    k = np.clip(((packets.pts[inter] - t0) / bin_seconds).astype(np.int64), 0, n - 1)
    return t0, np.bincount(k, weights=packets.size[inter].astype(np.float64), minlength=n)


def sparkline(values: np.ndarray, ascii_only: bool = False) -> str:
    """One character per value, scaled between the values' min and max."""
    chars = SPARK_ASCII if ascii_only else SPARK
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return ""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return chars[0] * v.size
    idx = np.round((v - lo) / (hi - lo) * (len(chars) - 1)).astype(int)
    return "".join(chars[i] for i in idx)


def _rebin(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum consecutive runs of ``factor`` values (the last run may be shorter)."""
    if factor <= 1:
        return values
    n = int(math.ceil(len(values) / factor))
    padded = np.zeros(n * factor)
    padded[: len(values)] = values
    return padded.reshape(n, factor).sum(axis=1)


def packet_report(info: VideoInfo, packets: PacketTable, energy: str = "excess") -> dict[str, Any]:
    """Everything ``ov2 info`` shows, as JSON-able values."""
    duration = float(packets.duration)
    bin_s = float(max(1, math.ceil(duration / SPARK_WIDTH)))
    t0, pb_bytes = per_second_bytes(packets, bin_s)
    prof = bitcost_profile(packets, energy=energy)
    e = prof.energy
    key_times = packets.pts[packets.key]
    total = int(packets.size.sum())
    path = Path(info.path)
    peak = int(np.argmax(e)) if len(e) else 0
    active = float((e >= 0.1 * e.max()).mean()) if len(e) and e.max() > 0 else 0.0
    return {
        "path": str(path.absolute()),
        "file_bytes": path.stat().st_size if path.exists() else None,
        "codec": info.codec,
        "width": info.width,
        "height": info.height,
        "coded_width": info.coded_width,
        "coded_height": info.coded_height,
        "rotation": info.rotation,
        "pix_fmt": info.pix_fmt,
        "fps": info.fps,
        "duration": duration,
        "start_time": info.start_time,
        "frame_count": packets.frame_count,
        "keyframes": int(packets.key.sum()),
        "keyframe_times": [round(float(t), 6) for t in key_times],
        "b_frames": bool(packets.reordered.any()),
        "reordered_packets": int(packets.reordered.sum()),
        "intra_only": info.intra_only,
        "motion_vectors": info.motion_vectors,
        "motion_source": info.planned_motion_source,
        "truncated": bool(packets.truncated),
        "stream_bytes": total,
        "bitrate_kbps": total * 8 / duration / 1000 if duration > 0 else 0.0,
        "pb_bytes": {"t0": t0, "bin_seconds": bin_s, "values": [int(x) for x in pb_bytes]},
        "energy_profile": {
            "energy": energy,
            "t0": prof.t0,
            "bin_seconds": prof.bin_seconds,
            "bins": prof.n_bins,
            "total": float(e.sum()),
            "max": float(e.max()) if len(e) else 0.0,
            "peak_time": prof.t0 + (peak + 0.5) * prof.bin_seconds,
            "active_share": active,  # share of bins at >= 10% of the peak
            "values": [round(float(x), 6) for x in e],
        },
    }


def format_packet_report(r: dict[str, Any], ascii_only: bool = False) -> str:
    """The text ``ov2 info`` prints (one screen)."""
    lines = [f"ov2 info  {r['path']}"]
    lines.append(f"codec        {r['codec']} ({r['pix_fmt']})")
    size = f"{r['width']}x{r['height']} display"
    if (r["coded_width"], r["coded_height"]) != (r["width"], r["height"]) or r["rotation"]:
        size += f" (coded {r['coded_width']}x{r['coded_height']}, rotation {r['rotation']} deg)"
    lines.append(f"size         {size}")
    lines.append(f"timing       {r['fps']:.3f} fps, {r['duration']:.2f} s from {r['start_time']:.3f} s, "
                 f"{r['frame_count']} frames")
    kt = r["keyframe_times"]
    shown = ", ".join(f"{t:.2f}" for t in kt[:KEYFRAMES_SHOWN]) + (" ..." if len(kt) > KEYFRAMES_SHOWN else "")
    lines.append(f"keyframes    {r['keyframes']} at [{shown}] s")
    b = f"yes ({r['reordered_packets']} reordered packets)" if r["b_frames"] else "no"
    lines.append(f"b-frames     {b}")
    lines.append(f"intra-only   {'yes' if r['intra_only'] else 'no'}")
    why = {"exported": "decoder exports motion vectors", "estimated": "no exported vectors: optical flow on luma",
           "frame-difference": "intra-only: frame differences"}[r["motion_source"]]
    lines.append(f"motion       {r['motion_source']} ({why})")
    mb = r["file_bytes"] / 1e6 if r["file_bytes"] else 0.0
    lines.append(f"size/rate    stream {r['stream_bytes'] / 1e6:.2f} MB, file {mb:.2f} MB, "
                 f"{r['bitrate_kbps']:.0f} kbit/s")
    if r["truncated"]:
        lines.append("warning      demuxing stopped early: the file looks truncated or damaged")
    pb = np.asarray(r["pb_bytes"]["values"], dtype=np.float64)
    unit = f"{r['pb_bytes']['bin_seconds']:g} s"
    lines.append(f"P/B bytes    per {unit}: min {pb.min():.0f}, max {pb.max():.0f}")
    lines.append(f"             |{sparkline(pb, ascii_only)}|")
    ep = r["energy_profile"]
    ev = np.asarray(ep["values"], dtype=np.float64)
    factor = max(1, int(math.ceil(len(ev) / SPARK_WIDTH)))
    lines.append(f"energy       {ep['energy']} profile, {ep['bins']} bins of {ep['bin_seconds']:g} s: total "
                 f"{ep['total']:.1f}, peak {ep['max']:.1f} at {ep['peak_time']:.1f} s, "
                 f"{ep['active_share']:.0%} of bins >= 10% of peak")
    lines.append(f"             |{sparkline(_rebin(ev, factor), ascii_only)}|  ({factor * ep['bin_seconds']:g} s/char)")
    return "\n".join(lines)
