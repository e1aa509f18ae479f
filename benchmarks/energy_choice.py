"""Which bit-cost energy should be the default? Measured on the regime that matters most.

Minutes-long clips with a few short events between long still stretches, at a
small budget (32 canvases for 3 minutes). For each energy transform (and the
frames/fixed baselines) print the share of selected tokens that come from
event frames, the share of event time within 0.1 s of a selected frame, and
how many events got any token at all.

Usage: python benchmarks/energy_choice.py [--workdir DIR] [--minutes 3] [--clips 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import ov2
from ov2.samples import make_bursts_clip


def event_stats(vi: ov2.VisualInput, truth, tau: float = 0.1) -> tuple[float, float, float]:
    t = vi.tokens.time[vi.tokens.valid]
    on_event = np.mean([truth.moving(x) for x in t])
    frames = np.unique(t)
    # event time covered: sample every event at 10 Hz, count samples with a selected frame within tau
    samples = np.concatenate([np.arange(a, b, 0.1) for a, b in truth.bursts])
    near = np.min(np.abs(samples[:, None] - frames[None, :]), axis=1) <= tau
    hit = np.mean([((t >= a) & (t < b)).any() for a, b in truth.bursts])
    return float(on_event), float(near.mean()), float(hit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/ov2_bench")
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--canvases", type=int, default=32)
    args = ap.parse_args()
    work = Path(args.workdir)
    duration = args.minutes * 60
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.clips):
        rng = np.random.default_rng(seed)
        starts = np.sort(rng.uniform(5, duration - 8, size=4))
        bursts = [(round(float(s), 2), round(float(s + rng.uniform(1.0, 3.0)), 2)) for s in starts]
        truth = make_bursts_clip(work / f"long_{seed}.mp4", duration=duration, width=480, height=272,
                                 bursts=bursts, seed=seed)
        configs = {
            "codec / excess": dict(backend="codec", energy="excess"),
            "codec / log1p": dict(backend="codec", energy="log1p"),
            "fixed / excess": dict(backend="fixed", energy="excess"),
            "fixed / log1p": dict(backend="fixed", energy="log1p"),
            "frames": dict(backend="frames"),
        }
        for name, kw in configs.items():
            vi = ov2.tokenize(truth.path, canvases=args.canvases, **kw)
            rows.setdefault(name, []).append(event_stats(vi, truth))
    print(f"{args.clips} clips of {args.minutes:g} min, 4 events of 1-3 s each, {args.canvases} canvases")
    print(f"{'backend / energy':18s} {'tokens on events':>17s} {'event time <=0.1 s':>19s} {'events hit':>11s}")
    for name, vals in rows.items():
        a, b, c = np.mean(vals, axis=0)
        print(f"{name:18s} {a:17.1%} {b:19.1%} {c:11.1%}")


if __name__ == "__main__":
    main()
