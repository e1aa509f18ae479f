"""Shared pieces of the vLLM tests: the tiny servable checkpoint, clips, and HF greedy references."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A tiny model: a few threads and a small KV cache are plenty, and 2 cores are shared.
ENGINE_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "2"}
ENGINE_KWARGS: dict[str, Any] = {
    "dtype": "float32",
    "max_model_len": 4096,
    "gpu_memory_utilization": 0.15,  # on CPU: the share of RAM vLLM reserves
    "enforce_eager": True,
    "limit_mm_per_prompt": {"image": 1, "video": 1},
}
MAX_NEW = 8
VIDEO_PROMPT = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]}]
IMAGE_PROMPT = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
TEXT_PROMPT = [{"role": "user", "content": [{"type": "text", "text": "Say something."}]}]


def make_servable_checkpoint(directory: Path) -> Path:
    """The tiny checkpoint with text head_dim 32 (vLLM's CPU attention refuses 16)."""
    from ov2.model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(directory, seed=3, text_head_dim=32)


def make_clip(path: Path, duration: float = 4.0) -> Path:
    from ov2.samples import make_bursts_clip

    make_bursts_clip(path, duration=duration, width=160, height=96)
    return path


class HFReference:
    """Greedy tokens from ov2's transformers model and processor (float32), the ground truth."""

    def __init__(self, checkpoint: Path) -> None:
        import ov2
        from transformers import AutoModelForImageTextToText, AutoProcessor

        ov2.register_auto_classes()
        self.model = AutoModelForImageTextToText.from_pretrained(checkpoint, dtype="float32").eval()
        self.processor = AutoProcessor.from_pretrained(checkpoint)

    def prompt(self, messages: list[dict]) -> str:
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def generate(self, messages: list[dict], **inputs: Any) -> list[int]:
        import torch

        batch = self.processor(text=self.prompt(messages), **inputs)
        with torch.no_grad():
            out = self.model.generate(**batch, max_new_tokens=MAX_NEW, do_sample=False, num_beams=1)
        ids = out[0, batch["input_ids"].shape[1]:].tolist()
        eos = set(self.processor.eos_token_ids)
        return ids[: next((i + 1 for i, t in enumerate(ids) if t in eos), len(ids))]


def set_engine_env() -> None:
    for key, value in ENGINE_ENV.items():
        os.environ.setdefault(key, value)
