"""Every call the lmms-eval integration makes into ov2's model, processor and tokenizer.

Kept in one module on purpose: when the model or processor API changes, this is the
only file to adapt. Generation goes through :func:`ov2.model.answer`, the function
``ov2 eval`` uses, so a question asked through lmms-eval gets the same greedy answer.
Nothing here imports torchvision: images go through transformers' PIL image processor
(``Qwen2VLImageProcessorPil``), videos through ov2's tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .prompt import Prompt, UnsupportedRequestError, VideoRef


@dataclass(frozen=True)
class VideoSettings:
    """How videos are tokenized: ``ov2.tokenize(path, backend, canvases, max_pixels=..., **codec_config)``."""

    backend: str = "codec"
    canvases: int = 32
    max_pixels: int = 150_000
    codec_config: dict = field(default_factory=dict)  # further tokenizer options (the checkpoint's, by default)

    def validate(self) -> None:
        """Raise :class:`ov2.InvalidOptionError` now for settings ``ov2.tokenize`` would refuse later."""
        from ...options import TokenizeOptions

        TokenizeOptions.build(backend=self.backend, canvases=self.canvases, max_pixels=self.max_pixels,
                              **self.codec_config)


def register_auto_classes() -> None:
    """Register ov2's classes with transformers' Auto classes, where this ov2 offers that."""
    import ov2

    register = getattr(ov2, "register_auto_classes", None)
    if register is not None:
        register()


def load(pretrained: str, device: str | None = None, dtype: str | None = None) -> tuple[Any, Any]:
    """``(model, processor)`` from a local checkpoint directory, model in eval mode."""
    from ...model.loading import load_model_and_processor

    register_auto_classes()
    return load_model_and_processor(pretrained, device=device, dtype=dtype)


def tokenize_video(video: VideoRef, settings: VideoSettings) -> Any:
    """The video's canvases (an ``ov2.VisualInput``), cut to ``video.start``/``video.end`` when given."""
    import ov2

    window = {k: v for k, v in (("start", video.start), ("end", video.end)) if v is not None}
    return ov2.tokenize(video.path, backend=settings.backend, canvases=settings.canvases,
                        max_pixels=settings.max_pixels, **settings.codec_config, **window)


def _image_array(image: Any) -> Any:
    # PIL images (what lmms-eval image tasks hand over) become uint8 HxWx3 arrays; paths pass through.
    if hasattr(image, "convert") and hasattr(image, "size"):
        return np.asarray(image.convert("RGB"))
    return image


def visual_inputs(prompt: Prompt, settings: VideoSettings) -> dict[str, Any]:
    """``{"video": VisualInput | None, "image": path | array | None}`` for :func:`generate`."""
    if prompt.visual_count > 1:
        raise UnsupportedRequestError(
            f"ov2 answers about one video or one image per question; this request has "
            f"{len(prompt.videos)} video(s) and {len(prompt.images)} image(s)")
    video = tokenize_video(prompt.videos[0], settings) if prompt.videos else None
    image = _image_array(prompt.images[0]) if prompt.images else None
    return {"video": video, "image": image}


def generate(
    model: Any,
    processor: Any,
    prompt: Prompt,
    visuals: dict[str, Any],
    *,
    max_new_tokens: int,
    timestamp_decimals: int,
) -> str:
    """Greedy answer to ``prompt`` (``visuals`` from :func:`visual_inputs`), as ``ov2 eval`` asks it."""
    from ...model import answer

    return answer(model, processor, prompt.text, video=visuals["video"], image=visuals["image"],
                  max_new_tokens=max_new_tokens, timestamp_decimals=timestamp_decimals, system=prompt.system)


def encode_text(processor: Any, text: str) -> list[int]:
    """Token ids of plain text (no special tokens added)."""
    return list(processor.tokenizer.encode(text, add_special_tokens=False))


def continuation_logprob(
    model: Any,
    processor: Any,
    prompt: Prompt,
    visuals: dict[str, Any],
    continuation: str,
    *,
    timestamp_decimals: int,
) -> tuple[float, bool]:
    """``(log P(continuation | prompt), continuation is the greedy one)`` from one forward pass.

    The continuation is scored as the start of the assistant's reply: the prompt is the
    user turn plus the assistant header, exactly as for generation, and the continuation's
    tokens follow it (tokenized on their own, as lmms-eval's models do).
    """
    import torch

    target = encode_text(processor, continuation)
    if not target:
        return 0.0, True
    from ...model.answer import chat_inputs

    inputs = chat_inputs(processor, prompt.text, video=visuals["video"], image=visuals["image"], system=prompt.system,
                         timestamp_decimals=timestamp_decimals)
    cont = torch.as_tensor(target, dtype=torch.long).unsqueeze(0)
    inputs["input_ids"] = torch.cat([inputs["input_ids"], cont], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(cont)], dim=1)
    device = model.device
    inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
    with torch.inference_mode():
        logits = model(**inputs).logits
    # Logits at position i predict token i + 1: the continuation is predicted by the n positions before its end.
    n = len(target)
    scores = torch.log_softmax(logits[0, -n - 1 : -1].float(), dim=-1)
    wanted = cont[0].to(device)
    logprob = float(scores.gather(1, wanted.unsqueeze(1)).sum())
    greedy = bool((scores.argmax(dim=-1) == wanted).all())
    return logprob, greedy
