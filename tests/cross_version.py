"""Run by ``test_cross_version.py`` under each transformers version: load a checkpoint through the Auto
classes, tokenize a video with the codec backend, print the greedy tokens and the prompt's last logits as
JSON, and optionally re-save the checkpoint (model and processor) for the other version to load."""

from __future__ import annotations

import argparse
import json
import sys

import torch


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--make", help="write a tiny checkpoint here first (seed 0)")
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--save", help="save the loaded model and processor here")
    args = parser.parse_args(argv)

    import transformers
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import ov2
    from ov2.model.answer import user_message

    if args.make:
        from ov2.model.tiny import make_tiny_checkpoint

        make_tiny_checkpoint(args.make)
    ov2.register_auto_classes()
    model = AutoModelForImageTextToText.from_pretrained(args.ckpt, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(args.ckpt)
    prompt = processor.apply_chat_template(user_message("What happens?", video=True), add_generation_prompt=True)
    inputs = processor(text=prompt, videos=args.video, video_backend="codec", canvases=8, timestamp_decimals=2)
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    if args.save:
        model.save_pretrained(args.save)
        processor.save_pretrained(args.save)
    print(json.dumps({
        "transformers": transformers.__version__,
        "prompt_ids": inputs["input_ids"][0].tolist(),
        "tokens": out[0, inputs["input_ids"].shape[1]:].tolist(),
        "last_logits": logits.tolist(),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
