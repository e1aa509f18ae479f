"""Decoding loop with a KV cache: greedy or sampling, batches with left padding, streaming."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from transformers.cache_utils import DynamicCache

if TYPE_CHECKING:  # pragma: no cover
    from .modeling import LlavaOnevision2ForConditionalGeneration


@torch.no_grad()
def generate(
    model: "LlavaOnevision2ForConditionalGeneration",
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    image_grid_thw: torch.Tensor | None = None,
    patch_positions: torch.Tensor | None = None,
    window_lengths: torch.Tensor | None = None,
    max_new_tokens: int = 128,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    eos_token_id: int | Sequence[int] | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    on_tokens: Callable[[torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Return ``[B, L + T]`` ids: the prompt followed by up to ``max_new_tokens`` new tokens.

    Batches must be left-padded (``attention_mask`` 0 on the left), as the
    processor produces. Rows that emit an EOS token keep ``pad_token_id``
    afterwards; decoding stops when every row is done. ``on_tokens`` receives
    each step's new tokens [B] (for streaming).
    """
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be >= 0")
    if do_sample and temperature <= 0:
        raise ValueError("temperature must be > 0 when sampling")
    device = model.device
    input_ids = input_ids.to(device)
    b, length = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    attention_mask = attention_mask.to(device)
    if attention_mask.shape != input_ids.shape:
        raise ValueError("attention_mask must have the shape of input_ids")
    if bool((attention_mask[:, -1] == 0).any()):
        raise ValueError("generation needs left padding (the last column of attention_mask must be 1)")
    eos = _eos_ids(model, eos_token_id)
    pad = pad_token_id if pad_token_id is not None else (eos[0] if eos else 0)

    embeds = model.embed_inputs(
        input_ids,
        pixel_values.to(device) if pixel_values is not None else None,
        image_grid_thw,
        patch_positions.to(device) if patch_positions is not None else None,
        window_lengths,
    )
    cache = DynamicCache(config=model.config.text_config)
    position_ids = attention_mask.long().cumsum(-1) - 1
    position_ids = position_ids.masked_fill(attention_mask == 0, 1)
    out = model(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                past_key_values=cache, use_cache=True, logits_to_keep=1)
    next_pos = position_ids[:, -1:] + 1
    done = torch.zeros(b, dtype=torch.bool, device=device)
    new_tokens: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        logits = out.logits[:, -1, :].float()
        token = _pick(logits, do_sample, temperature, top_k, top_p, generator)
        token = torch.where(done, torch.full_like(token, pad), token)
        new_tokens.append(token)
        if on_tokens is not None:
            on_tokens(token)
        if eos:
            done |= torch.isin(token, torch.as_tensor(eos, device=device))
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        attention_mask = torch.cat([attention_mask, torch.ones((b, 1), dtype=attention_mask.dtype, device=device)], dim=1)
        out = model(input_ids=token[:, None], attention_mask=attention_mask, position_ids=next_pos,
                    past_key_values=out.past_key_values, use_cache=True)
        next_pos = next_pos + 1
    if not new_tokens:
        return input_ids
    return torch.cat([input_ids, torch.stack(new_tokens, dim=1)], dim=1)


def _eos_ids(model: "LlavaOnevision2ForConditionalGeneration", eos_token_id: int | Sequence[int] | None) -> list[int]:
    if eos_token_id is None:
        eos_token_id = model.generation_defaults.get("eos_token_id", getattr(model.config.text_config, "eos_token_id", None))
    if eos_token_id is None:
        return []
    if isinstance(eos_token_id, int):
        return [eos_token_id]
    return [int(x) for x in eos_token_id]


def _pick(
    logits: torch.Tensor, do_sample: bool, temperature: float, top_k: int, top_p: float, generator: torch.Generator | None
) -> torch.Tensor:
    if not do_sample:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k and top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        # Drop tokens once the mass before them already reaches top_p (keep at least one).
        drop = probs.cumsum(-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
