"""``ov2 chat``: ask a local LLaVA-OneVision-2 checkpoint one question about a video or an image."""

from __future__ import annotations

import argparse
import sys

from .arguments import add_candidates_argument, codec_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "chat",
        help="answer a question about a video or image with a local model directory",
        description="Load a LLaVA-OneVision-2 checkpoint directory and stream the answer to one question.",
    )
    p.add_argument("question", help="the question to ask")
    p.add_argument("--model", required=True, help="checkpoint directory (config.json, safetensors, tokenizer files)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="video file")
    src.add_argument("--image", help="image file")
    p.add_argument("--backend", choices=("codec", "frames", "fixed"), default="codec", help="video tokenizer backend")
    p.add_argument("--canvases", type=int, default=32, help="number of canvases (codec) or frames (frames backend)")
    p.add_argument("--max-pixels", type=int, default=None, help="pixel budget per canvas/frame (video) or image")
    add_candidates_argument(p, inherits="a checkpoint trained with this option brings its own")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--timestamp-decimals", type=int, choices=(1, 2), default=1)
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ov2.model import answer
    from ov2.model.loading import load_model_and_processor

    model, processor = load_model_and_processor(args.model, device=args.device, dtype=args.dtype)
    if args.image and args.max_pixels:
        processor.image_processor.size = {**processor.image_processor.size, "longest_edge": args.max_pixels}
    video_options = {"video_backend": args.backend, "canvases": args.canvases}
    if args.max_pixels:
        video_options["max_pixels"] = args.max_pixels
    overrides = codec_config(args)
    if overrides:
        video_options["codec_config"] = {**(processor.video_processor.codec_config or {}), **overrides}

    def emit(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    answer(
        model,
        processor,
        args.question,
        video=args.video,
        image=args.image,
        max_new_tokens=args.max_new_tokens,
        timestamp_decimals=args.timestamp_decimals,
        on_text=emit,
        **(video_options if args.video else {}),
    )
    sys.stdout.write("\n")
    return 0
