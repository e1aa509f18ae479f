"""One question about one video or image: prompt -> greedy answer (optionally streamed)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..visual_input import VisualInput

if TYPE_CHECKING:  # pragma: no cover
    from ..processing import Processor
    from .modeling import LlavaOnevision2ForConditionalGeneration


def answer(
    model: "LlavaOnevision2ForConditionalGeneration",
    processor: "Processor",
    question: str,
    *,
    video: VisualInput | None = None,
    image: str | os.PathLike[str] | np.ndarray | None = None,
    max_new_tokens: int = 128,
    timestamp_decimals: int = 1,
    on_text: Callable[[str], Any] | None = None,
) -> str:
    """Greedy answer to ``question`` about ``video`` (a VisualInput) or ``image`` (path or uint8 HxWx3).

    ``on_text`` receives the answer in pieces as it is generated.
    """
    if video is not None and image is not None:
        raise ValueError("give either video or image, not both")
    inputs = processor(question, images=image, videos=video, timestamp_decimals=timestamp_decimals)
    streamer = _TextStreamer(processor, on_text) if on_text is not None else None
    out = model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=processor.eos_token_ids,
        pad_token_id=processor.pad_token_id,
        on_tokens=streamer,
    )
    new = out[0, inputs["input_ids"].shape[1] :].tolist()
    eos = set(processor.eos_token_ids)
    for i, t in enumerate(new):
        if t in eos:
            new = new[:i]
            break
    text = processor.decode(new)
    if streamer is not None:
        streamer.finish(text)
    return text


class _TextStreamer:
    """Decode the growing token list and pass on only the new text (holding back partial UTF-8)."""

    def __init__(self, processor: "Processor", on_text: Callable[[str], Any]) -> None:
        self.processor = processor
        self.on_text = on_text
        self.ids: list[int] = []
        self.sent = ""
        self.stopped = False
        self.eos = set(processor.eos_token_ids)

    def __call__(self, tokens: torch.Tensor) -> None:
        if self.stopped:
            return
        t = int(tokens[0])
        if t in self.eos:
            self.stopped = True
            return
        self.ids.append(t)
        text = self.processor.decode(self.ids)
        if text.endswith("\ufffd"):
            return
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.on_text(text[len(self.sent) :])
            self.sent = text

    def finish(self, text: str) -> None:
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.on_text(text[len(self.sent) :])
            self.sent = text
