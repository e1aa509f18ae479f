"""The text tokenizer (a ``tokenizers`` tokenizer.json) and the Qwen2-VL chat template."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokenizers import Tokenizer

from ..errors import VideoError

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
DEFAULT_SYSTEM = "You are a helpful assistant."


class TokenizerError(VideoError, ValueError):
    """Tokenizer files that are missing or lack a required special token."""


class TextTokenizer:
    """Thin wrapper: encode/decode and the special-token ids the model needs."""

    def __init__(self, tokenizer: Tokenizer, pad_token: str = "<|endoftext|>") -> None:
        self.tokenizer = tokenizer
        ids = {}
        for tok in SPECIAL_TOKENS:
            i = tokenizer.token_to_id(tok)
            if i is None and tok != "<|video_pad|>":
                raise TokenizerError(f"tokenizer has no {tok} token")
            ids[tok] = i
        self.special_ids = ids
        pid = tokenizer.token_to_id(pad_token)
        self.pad_token_id = pid if pid is not None else ids["<|endoftext|>"]
        self.eos_token_ids = [ids["<|im_end|>"], ids["<|endoftext|>"]]

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str]) -> "TextTokenizer":
        d = Path(directory)
        path = d / "tokenizer.json"
        if not path.exists():
            raise TokenizerError(f"{d} has no tokenizer.json")
        pad = "<|endoftext|>"
        cfg = d / "tokenizer_config.json"
        if cfg.exists():
            value = json.loads(cfg.read_text()).get("pad_token")
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                pad = value
        return cls(Tokenizer.from_file(str(path)), pad_token=pad)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_id(self, token: str) -> int:
        i = self.special_ids.get(token)
        if i is None:
            raise TokenizerError(f"tokenizer has no {token} token")
        return i


def chat_prompt(user_content: str, system: str | None = DEFAULT_SYSTEM, add_generation_prompt: bool = True) -> str:
    """Qwen2-VL template for one user turn (visual blocks already expanded inside ``user_content``)."""
    parts = []
    if system is not None:
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    parts.append(f"<|im_start|>user\n{user_content}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)
