"""``ov2 chat``: ask a local LLaVA-OneVision-2 checkpoint one question about a video or an image."""

from __future__ import annotations

import argparse
import sys


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
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--timestamp-decimals", type=int, choices=(1, 2), default=1)
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    import ov2
    from ov2.model import LlavaOnevision2ForConditionalGeneration, answer
    from ov2.processing import Processor

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = None if args.dtype == "auto" else args.dtype
    if dtype is None and device == "cpu":
        dtype = "float32"  # CPU half precision is slow and inaccurate; see docs/model.md
    overrides = {"max_pixels": args.max_pixels} if (args.image and args.max_pixels) else {}
    processor = Processor.from_pretrained(args.model, **overrides)
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(args.model, dtype=dtype, device=device)
    video = None
    if args.video:
        opts = {"max_pixels": args.max_pixels} if args.max_pixels else {}
        video = ov2.tokenize(args.video, backend=args.backend, canvases=args.canvases, **opts)

    def emit(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    answer(
        model,
        processor,
        args.question,
        video=video,
        image=args.image,
        max_new_tokens=args.max_new_tokens,
        timestamp_decimals=args.timestamp_decimals,
        on_text=emit,
    )
    sys.stdout.write("\n")
    return 0
