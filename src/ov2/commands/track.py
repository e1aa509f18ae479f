"""``ov2 track --video V --answer TEXT|FILE --sam2-config C --sam2-checkpoint CKPT --out DIR``.

Turns a point or track answer (OV2, Molmo2 html-v1/v2, plain points) into one mask per frame with
SAM2: frame = round(t * fps), positive clicks per object, propagation forward then back to frame 0,
objects OR-ed (see ov2.eval.sam2_track). Writes DIR/masks/NNNNN.png (0/255, one per frame),
DIR/track.json (what was parsed, every click, the SAM2 settings), DIR/strip.png and DIR/index.html.

Needs the optional SAM2 install (README, "Points, tracks and traces") and your own SAM2.1
checkpoint: ov2 downloads no weights. --random-weights builds an untrained model instead, which only
checks the plumbing; its masks mean nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("track", help="turn a point/track answer into per-frame masks with SAM2",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", required=True, help="input video file")
    p.add_argument("--answer", required=True, help="the model's answer text, or a file holding it")
    p.add_argument("--sam2-config", required=True,
                   help="SAM2 config: a YAML path or a name inside the sam2 package (configs/sam2.1/sam2.1_hiera_l.yaml)")
    p.add_argument("--sam2-checkpoint", default=None, help="SAM2(.1) checkpoint (.pt); required unless --random-weights")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--fps", type=float, default=None,
                   help="resample the video to this rate first (the harness uses 6 for mp4 sources); default: every frame")
    p.add_argument("--device", default="auto", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--sam2-override", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Hydra override for the SAM2 config, repeatable (++model.image_size=512)")
    p.add_argument("--random-weights", action="store_true",
                   help="build an untrained model (plumbing check only; the masks mean nothing)")
    p.set_defaults(func=run)


def _answer_text(answer: str) -> tuple[str, str | None]:
    """The answer and the file it came from (None when given inline)."""
    path = Path(answer)
    try:
        if len(answer) < 4096 and path.is_file():
            return path.read_text(encoding="utf-8"), str(path)
    except OSError:
        pass
    return answer, None


def run(args: argparse.Namespace) -> int:
    from ov2.errors import InvalidOptionError, UnsupportedDependencyError, VideoNotFoundError

    video = Path(args.video)
    if not video.is_file():
        raise VideoNotFoundError(f"{video}: no such video file")
    if args.fps is not None and not args.fps > 0:
        raise InvalidOptionError(f"--fps must be positive, got {args.fps}")
    if args.random_weights:
        ckpt = None
    elif not args.sam2_checkpoint:
        raise InvalidOptionError("--sam2-checkpoint is required: download a SAM2.1 checkpoint "
                                 "(e.g. sam2.1_hiera_large.pt) yourself, or pass --random-weights for a plumbing check")
    else:
        ckpt = Path(args.sam2_checkpoint)
        if not ckpt.is_file():
            raise InvalidOptionError(f"--sam2-checkpoint {ckpt}: no such file")

    import cv2
    import numpy as np

    from ov2.eval.points import parse_points
    from ov2.eval.sam2_track import SAM2_MISSING, build_predictor, load_frames, track_frames

    try:
        import sam2  # noqa: F401
        import torch
    except ImportError as exc:
        raise UnsupportedDependencyError(f"{SAM2_MISSING} ({exc})") from None
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device

    text, answer_file = _answer_text(args.answer)
    parsed = parse_points(text)
    t0 = time.perf_counter()
    try:
        predictor = build_predictor(args.sam2_config, ckpt, device=device, overrides=args.sam2_override)
    except ImportError as exc:
        raise UnsupportedDependencyError(f"{SAM2_MISSING} ({exc})") from None
    except Exception as exc:  # Hydra: missing config / bad override; torch: wrong checkpoint for config
        raise InvalidOptionError(f"SAM2 could not be built from --sam2-config {args.sam2_config} "
                                 f"and --sam2-checkpoint {args.sam2_checkpoint}: {exc}") from None
    frames, times, fps = load_frames(video, args.fps)
    result = track_frames(frames, times, fps, parsed.records, predictor, resampled=args.fps is not None)
    elapsed = time.perf_counter() - t0

    out = Path(args.out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(result.masks):
        cv2.imwrite(str(out / "masks" / f"{i:05d}.png"), m.astype(np.uint8) * 255)
    report = {
        "video": str(video),
        "answer": text,
        "answer_file": answer_file,
        "parsed": {"kind": parsed.kind, "labels": parsed.labels, "unparsed": parsed.unparsed,
                   "records": [list(r) for r in parsed.records]},
        "frames": result.meta["frames"],
        "fps": result.fps,
        "times": [round(float(t), 6) for t in result.times],
        "prompts": result.prompts,
        "meta": result.meta,
        "sam2": {"config": str(args.sam2_config), "checkpoint": None if ckpt is None else str(ckpt),
                 "random_weights": bool(args.random_weights), "device": device, "overrides": list(args.sam2_override)},
        "seconds": round(elapsed, 3),
    }
    (out / "track.json").write_text(json.dumps(report, indent=1), encoding="utf-8")

    from ov2.viz.perception import save_frame_strip

    save_frame_strip(out / "strip.png", frames, times=result.times, pred_masks=result.masks,
                     pred_points=parsed.records, fps=result.fps, title=parsed.labels[0] if parsed.labels else "")

    from ov2.viz.gallery import write_gallery

    write_gallery(out, f"ov2 track: {video.name}", [("strip.png", "frames with the predicted points and masks")],
                  intro=("RANDOM WEIGHTS: plumbing check only. " if ckpt is None else "") + text.strip()[:500],
                  metrics={"points": len(parsed.records), "unparsed": parsed.unparsed, "frames": result.meta["frames"],
                           "frames with a mask": result.meta["nonempty_frames"]})
    print(f"ov2 track: {len(parsed.records)} points ({parsed.kind}, {parsed.unparsed} unparsed) on "
          f"{len(result.meta['prompt_frames'])} prompt frames, objects {result.meta['objects']}")
    print(f"  {result.meta['frames']} frames at {result.fps:g} fps, {result.meta['nonempty_frames']} with a mask, "
          f"{elapsed:.1f} s on {device}{' (RANDOM WEIGHTS: plumbing only)' if ckpt is None else ''}")
    print(f"  wrote {out}/masks/*.png, {out}/track.json, {out}/strip.png, {out}/index.html")
    return 0
