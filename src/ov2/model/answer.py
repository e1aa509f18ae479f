"""One question about one video or image: chat prompt -> stock ``generate()`` (greedy) -> text."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from transformers import TextStreamer

from ..visual_input import VisualInput

if TYPE_CHECKING:  # pragma: no cover
    from ..processing import LlavaOnevision2Processor
    from .modeling import LlavaOnevision2ForConditionalGeneration


class CallbackStreamer(TextStreamer):
    """transformers' ``TextStreamer`` (word-boundary and UTF-8 safe), handing text to a callback."""

    def __init__(self, tokenizer: Any, on_text: Callable[[str], Any]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.on_text = on_text

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.on_text(text)


def user_message(question: str, *, video: bool = False, image: bool = False,
                 system: str | None = None) -> list[dict[str, Any]]:
    """One user turn: the visual item first, then the question (the release's prompt layout).

    ``system`` replaces the chat template's default system prompt."""
    content: list[dict[str, Any]] = []
    if image:
        content.append({"type": "image"})
    if video:
        content.append({"type": "video"})
    content.append({"type": "text", "text": question})
    turns = [{"role": "system", "content": system}] if system is not None else []
    return turns + [{"role": "user", "content": content}]


def chat_inputs(
    processor: "LlavaOnevision2Processor",
    question: str,
    *,
    video: VisualInput | str | os.PathLike[str] | None = None,
    image: str | os.PathLike[str] | np.ndarray | None = None,
    system: str | None = None,
    timestamp_decimals: int = 1,
    **video_options: Any,
) -> Any:
    """Model inputs for one question about ``video`` or ``image``, ending with the assistant header."""
    if video is not None and image is not None:
        raise ValueError("give either video or image, not both")
    messages = user_message(question, video=video is not None, image=image is not None, system=system)
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    return processor(text=prompt, images=image, videos=video, timestamp_decimals=timestamp_decimals, **video_options)


def answer(
    model: "LlavaOnevision2ForConditionalGeneration",
    processor: "LlavaOnevision2Processor",
    question: str,
    *,
    video: VisualInput | str | os.PathLike[str] | None = None,
    image: str | os.PathLike[str] | np.ndarray | None = None,
    max_new_tokens: int = 128,
    timestamp_decimals: int = 1,
    on_text: Callable[[str], Any] | None = None,
    system: str | None = None,
    **video_options: Any,
) -> str:
    """Greedy answer to ``question`` about ``video`` (a VisualInput or a path) or ``image``.

    ``on_text`` receives the answer in pieces as it is generated; ``system`` replaces the
    default system prompt; ``video_options`` (``video_backend``, ``canvases``, ...) apply
    when ``video`` is a path.
    """
    inputs = chat_inputs(processor, question, video=video, image=image, system=system,
                         timestamp_decimals=timestamp_decimals, **video_options).to(model.device)
    streamer = CallbackStreamer(processor.tokenizer, on_text) if on_text is not None else None
    out = model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=processor.eos_token_ids,
        pad_token_id=processor.pad_token_id,
        streamer=streamer,
    )
    new = out[0, inputs["input_ids"].shape[1]:]
    return processor.decode(new, skip_special_tokens=True)
