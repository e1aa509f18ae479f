"""``ov2 data``: generate the synthetic benchmarks (jump rope, temporal grounding, pointing, tracking, traces),
training images and manifests."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from .arguments import positive_int as _positive_int


def _even_size(text: str) -> int:
    value = int(text)
    if value < 64 or value % 2:
        raise argparse.ArgumentTypeError(f"must be even and >= 64, got {value}")
    return value


def _common(p: argparse.ArgumentParser, width: int = 1280, height: int = 720) -> None:
    """The flags every clip generator takes; ``width`` / ``height`` are the generator's own defaults."""
    p.add_argument("--out", required=True, help="output folder (jsonl + clips/)")
    p.add_argument("--n", type=_positive_int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same clips)")
    p.add_argument("--width", type=_even_size, default=width, help=f"frame width (default {width})")
    p.add_argument("--height", type=_even_size, default=height, help=f"frame height (default {height})")
    p.add_argument(
        "--duration", type=float, nargs=2, metavar=("MIN", "MAX"), default=None,
        help="clip length range in seconds (default: the benchmark's)",
    )
    p.add_argument("--hevc-every", type=int, default=4, help="every K-th clip is HEVC, the rest H.264 (0: none)")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: up to 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ov2 data {jumprope,grounding}``."""
    parser = subparsers.add_parser("data", help="generate synthetic benchmark clips, training images and manifests",
                                   description=__doc__)
    sub = parser.add_subparsers(dest="data_command", metavar="BENCHMARK", required=True)

    jr = sub.add_parser(
        "jumprope",
        help="JumpScore-style jump-rope clips with cycle-start ground truth",
        description="Writes OUT/jumpscore.jsonl and OUT/clips/<id>.mp4 + <id>.boxes.json. "
        "Resumable: complete clips already in OUT are kept.",
    )
    _common(jr)
    jr.add_argument(
        "--regime",
        choices=("short", "long"),
        default="short",
        help="short: 20-40 s, dense bursts; long: 2-5 min, 3-6 short bursts between long still stretches",
    )
    jr.add_argument("--fps", type=int, choices=(25, 30), default=None, help="frame rate (default: mix of 30 and 25)")
    jr.set_defaults(func=_run_jumprope)

    gr = sub.add_parser(
        "grounding",
        help="temporal-grounding clips: one event, a query and its span",
        description="Writes OUT/grounding.jsonl and OUT/clips/<id>.mp4 + <id>.boxes.json.",
    )
    _common(gr)
    gr.add_argument("--fps", type=int, choices=(25, 30), default=30, help="frame rate (default 30)")
    gr.set_defaults(func=_run_grounding)

    _register_perception(sub)

    im = sub.add_parser(
        "images",
        help="synthetic images (coloured shapes) with questions, as a training manifest",
        description="Writes OUT/images.jsonl (LLaVA manifest, source 'images') and OUT/images/*.png. "
        "Deterministic per seed; identical files already on disk are left alone.",
    )
    im.add_argument("--out", required=True, help="output folder (images.jsonl + images/)")
    im.add_argument("--n", type=_positive_int, required=True, help="number of samples")
    im.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same images)")
    im.add_argument("--size", type=int, default=336, help="image side in pixels (default 336, >= 84)")
    im.add_argument("--quiet", action="store_true", help="no progress bar")
    im.set_defaults(func=_run_images)

    mf = sub.add_parser(
        "manifest",
        help="turn jumpscore.jsonl / grounding.jsonl into a training manifest (question -> answer)",
        description="Writes one LLaVA-form line per benchmark clip: the benchmark question after <video>, "
        "and the answer in the format the evaluation parses. Video paths are relative to the manifest.",
    )
    mf.add_argument("--data", action="append", required=True,
                    help="a folder written by ov2 data jumprope/grounding, or its jsonl (repeatable)")
    mf.add_argument("--task", choices=("jumpscore", "grounding", "pointing", "tracking", "traces", "both"),
                    default="both", help="which benchmark records to take (default both: whichever the folders hold)")
    mf.add_argument("--source", default=None, help="mixture source name for every line (default: the task name)")
    mf.add_argument("--out", required=True, help="manifest path (.jsonl)")
    mf.set_defaults(func=_run_manifest)


def _register_perception(sub: argparse._SubParsersAction) -> None:
    """``ov2 data pointing|tracking|traces``: points, tracks and traces with exact masks."""
    pt = sub.add_parser(
        "pointing", help="images with several objects, referring queries, exact masks, answers as points",
        description="Writes OUT/pointing.jsonl, OUT/images/<id>.png (+ .json), OUT/masks/<id>.png (label maps). "
        "Resumable: complete samples already in OUT are kept.")
    pt.add_argument("--out", required=True, help="output folder")
    pt.add_argument("--n", type=_positive_int, required=True, help="number of images")
    pt.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same images)")
    pt.add_argument("--width", type=_even_size, default=448, help="image width (default 448)")
    pt.add_argument("--height", type=_even_size, default=336, help="image height (default 336)")
    pt.add_argument("--quiet", action="store_true", help="no progress bar")
    pt.set_defaults(func=_run_pointing)

    for name, what, width, height, duration in (
            ("tracking", "videos with 1-3 moving targets, distractors and occlusion; answers as tracks", 640, 360,
             (6.0, 10.0)),
            ("traces", "an object moved along a path; answers as 5-10 3D waypoints", 640, 360, (4.0, 8.0))):
        p = sub.add_parser(name, help=what, description=f"Writes OUT/{name}.jsonl and OUT/clips/<id>.mp4 + "
                           "<id>.masks.npz (exact label maps) + <id>.boxes.json. Resumable.")
        _common(p, width, height)
        p.set_defaults(default_duration=duration, func=_run_moving, kind=name)
        p.add_argument("--fps", type=_positive_int, default=30, help="frame rate (default 30)")
        if name == "tracking":
            p.add_argument("--answer-fps", type=float, default=2.0, help="answer points per second (default 2)")
            p.add_argument("--targets", type=int, nargs=2, default=(1, 3), metavar=("MIN", "MAX"),
                           help="tracked objects per clip, an inclusive range within 1-3 (default 1 3)")
            p.add_argument("--distractors", type=int, nargs=2, default=(2, 3), metavar=("MIN", "MAX"),
                           help="other objects per clip, an inclusive range within 0-3 (default 2 3)")


def _run_pointing(args: argparse.Namespace) -> int:
    from ..data import pointing

    return _generate("pointing", args.n, "images", lambda: pointing.generate(
        args.out, args.n, seed=args.seed, width=args.width, height=args.height, progress=not args.quiet))


def _run_moving(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"ov2.data.{args.kind}")
    extra = ({"answer_fps": args.answer_fps, "targets": tuple(args.targets), "distractors": tuple(args.distractors)}
             if args.kind == "tracking" else {})
    return _generate(args.kind, args.n, "clips", lambda: module.generate(
        args.out, args.n, seed=args.seed, width=args.width, height=args.height,
        duration=tuple(args.duration) if args.duration else args.default_duration, fps=args.fps,
        hevc_every=args.hevc_every, workers=args.workers, progress=not args.quiet, **extra))


def _generate(name: str, n: int, unit: str, make: Callable[[], object]) -> int:
    """Run one generator; its ValueError (bad sizes, too short) becomes one error line and exit code 2."""
    t0 = time.perf_counter()
    try:
        path = make()
    except ValueError as exc:
        print(f"ov2 data {name}: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({n} {unit}, {time.perf_counter() - t0:.1f} s)")
    return 0


def _run_jumprope(args: argparse.Namespace) -> int:
    from ..data import jumprope

    return _generate("jumprope", args.n, "clips", lambda: jumprope.generate(
        args.out, args.n, seed=args.seed, regime=args.regime, width=args.width, height=args.height,
        duration=tuple(args.duration) if args.duration else None, fps=args.fps, hevc_every=args.hevc_every,
        workers=args.workers, progress=not args.quiet,
    ))


def _run_grounding(args: argparse.Namespace) -> int:
    from ..data import grounding

    return _generate("grounding", args.n, "clips", lambda: grounding.generate(
        args.out, args.n, seed=args.seed, width=args.width, height=args.height, fps=args.fps,
        **({"duration": tuple(args.duration)} if args.duration else {}),
        hevc_every=args.hevc_every, workers=args.workers, progress=not args.quiet,
    ))


def _run_images(args: argparse.Namespace) -> int:
    from ..data import images

    return _generate("images", args.n, "samples", lambda: images.generate(
        args.out, args.n, seed=args.seed, size=args.size, progress=not args.quiet))


def _run_manifest(args: argparse.Namespace) -> int:
    from collections import Counter

    from ..data.conversations import benchmark_records, to_conversation, write_manifest

    records, origin = [], {}
    for data in args.data:
        for task, rec in benchmark_records(data, args.task):
            if rec["id"] in origin:
                print(f"ov2 data manifest: error: id {rec['id']!r} is in both {origin[rec['id']]} and {data}; "
                      "generate the folders with different --seed values", file=sys.stderr)
                return 2
            origin[rec["id"]] = data
            records.append(to_conversation(task, rec, args.source))
    path = write_manifest(records, args.out)
    counts = Counter(r["source"] for r in records)
    print(f"wrote {path} ({len(records)} samples: {', '.join(f'{k} {n}' for k, n in sorted(counts.items()))})")
    return 0
