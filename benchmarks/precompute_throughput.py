"""``ov2 precompute`` throughput: 1 worker vs a 2-process pool vs a local Ray instance, side by side.

Generates short jump-rope clips with ``ov2 data jumprope`` (default 20 clips, 320x180, 8-10 s),
turns them into a manifest, and precomputes the same manifest into fresh directories with each
engine. Prints samples/s, the ratios to 1 worker, and checks that all engines wrote identical
shards. Ray's start-up (``ray.init``) is timed apart from the job itself.

Usage: python benchmarks/precompute_throughput.py [--workdir DIR] [--n 20] [--backend codec]
       [--canvases 16] [--shard-size 4] [--no-ray]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ov2.data import jumprope
from ov2.data.conversations import benchmark_records, to_conversation, write_manifest
from ov2.train.precompute import precompute


def shards(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("shard-*"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=None, help="keep clips here (default: a temp dir)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--backend", default="codec")
    ap.add_argument("--canvases", type=int, default=16)
    ap.add_argument("--shard-size", type=int, default=4)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="ov2_pc_bench_"))
    clips = work / "clips"
    jumprope.generate(clips, args.n, seed=0, width=320, height=180, duration=(8, 10), workers=2, progress=False)
    manifest = write_manifest([to_conversation(t, r) for t, r in benchmark_records(clips)], work / "manifest.jsonl")
    params = dict(backend=args.backend, canvases=args.canvases, shard_size=args.shard_size, progress=False)

    runs: dict[str, tuple[float, Path]] = {}
    for label, kwargs in (("1 worker", {"workers": 1}), ("pool, 2 workers", {"workers": 2})):
        out = work / f"out_{label.split()[0].strip(',')}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        precompute(manifest, out, **params, **kwargs)
        runs[label] = (time.perf_counter() - t0, out)

    ray_init = None
    if not args.no_ray:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_init = time.perf_counter() - t0
        out = work / "out_ray"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        precompute(manifest, out, ray="local", **params)
        runs["ray local, 2 CPUs"] = (time.perf_counter() - t0, out)
        ray.shutdown()

    base = runs["1 worker"][0]
    print(f"precompute {args.n} clips (320x180, 8-10 s, H.264/HEVC), backend {args.backend}, "
          f"{args.canvases} canvases, shard size {args.shard_size}")
    print(f"{'engine':<22}{'seconds':>9}{'samples/s':>11}{'vs 1 worker':>13}")
    for label, (sec, _) in runs.items():
        print(f"{label:<22}{sec:>9.2f}{args.n / sec:>11.2f}{base / sec:>12.2f}x")
    if ray_init is not None:
        print(f"(ray.init itself: {ray_init:.2f} s, not included above)")
    ref = shards(runs["1 worker"][1])
    same = all(shards(out) == ref for _, out in runs.values())
    print(f"identical shards across engines: {same}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
