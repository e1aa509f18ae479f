"""Packed ("varlen") attention for the language model: samples are segments of one token stream.

A packed training batch carries its sample boundaries as ``cu_seq_lens_q`` / ``cu_seq_lens_k``
(cumulative lengths over the row-major flattened batch) and ``max_length_q`` / ``max_length_k``,
the names transformers' flash-attention path reads. Three kernels use them:

* ``"ov2_varlen"`` (:data:`VARLEN_ATTENTION`, registered here with transformers'
  ``AttentionInterface``): one causal SDPA call per segment length. Segments come out of
  the flattened stream with ``torch.split`` (a slice's backward would allocate a full-size
  zero gradient per segment), and segments of equal length are stacked into one batched
  call. No mask is ever built, so SDPA keeps its ``is_causal`` kernel and the work is
  ``sum(len_i^2)`` instead of ``width^2`` per row. This is the CPU default and the fallback
  everywhere.
* ``"flash_attention_2"`` / ``"flash_attention_3"`` (CUDA, flash-attn installed):
  transformers' own dispatch calls ``flash_attn_varlen_func`` with the batch's ``cu_seq_lens``.
* ``"flex_attention"``: transformers builds a block mask from the per-sample position ids.

Exact masks stay where they are needed: ``"ov2_varlen"`` registers a mask function that
asks for no mask only when there is nothing but causality and sample boundaries to
express (no 2-D padding mask, no KV cache). Padded batches with a mask, evaluation and
left-padded batched generation get transformers' SDPA mask and SDPA itself, unchanged.

:func:`check_packed_batch` refuses the one silent failure: transformers' flash path infers
packing from position ids only for a single row, so several packed rows without
``cu_seq_lens`` would attend across samples.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward, use_gqa_in_sdpa
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask
from transformers.modeling_utils import AttentionInterface

from ..errors import VideoError

VARLEN_ATTENTION = "ov2_varlen"
# Names the batch carries (transformers' FlashAttentionKwargs).
BOUNDARY_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")
# Language-model attention implementations a training config may name ("auto" picks one).
LM_ATTENTION_CHOICES = ("auto", VARLEN_ATTENTION, "sdpa", "eager", "flash_attention_2", "flash_attention_3",
                        "flex_attention")
_FLASH_PREFIX = "flash_attention"


class PackedBatchError(VideoError, ValueError):
    """A packed batch that the chosen attention kernel would compute wrongly (it names the fix)."""


# ------------------------------------------------------------------------------- boundaries
def cu_seq_lens(lengths: Sequence[int]) -> torch.Tensor:
    """Cumulative lengths ``[0, l0, l0 + l1, ...]`` as int32 (flash-attn's dtype)."""
    out = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    if len(lengths):
        out[1:] = torch.cumsum(torch.as_tensor(list(lengths), dtype=torch.int64), 0).to(torch.int32)
    return out


_recent_lengths: list[tuple[torch.Tensor, list[int]]] = []


def segment_lengths(cu: torch.Tensor) -> list[int]:
    """Segment lengths of a ``cu_seq_lens`` tensor, cached for the tensors every layer receives.

    Every decoder layer gets the same tensor objects (q's and k's, which may be distinct copies
    once moved to a device); converting each once per forward keeps a CUDA tensor from syncing
    the host in every layer.
    """
    for tensor, lengths in _recent_lengths:
        if tensor is cu:
            return lengths
    lengths = torch.diff(cu.detach().to("cpu", torch.int64)).tolist()
    _recent_lengths.insert(0, (cu, lengths))
    del _recent_lengths[4:]
    return lengths


def lengths_from_position_ids(position_ids: torch.Tensor, batch: int) -> list[int]:
    """Segment lengths over the flattened ``[batch, L]`` stream: a segment starts at every row start and
    wherever a position does not follow the previous one (per-sample positions restart at 0)."""
    pos = position_ids.expand(batch, -1)
    starts = torch.ones_like(pos, dtype=torch.bool)
    starts[:, 1:] = pos[:, 1:] != pos[:, :-1] + 1
    at = starts.reshape(-1).nonzero().squeeze(1).cpu()
    bounds = torch.cat([at, torch.tensor([pos.numel()])])
    return torch.diff(bounds).tolist()


# ------------------------------------------------------------------------------- the kernel
def per_segment_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    lengths: Sequence[int],
    scaling: float | None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Causal attention inside each segment of a flattened stream.

    query ``[T, H, D]``, key / value ``[T, Hkv, D]`` (``H`` a multiple of ``Hkv``), ``sum(lengths) == T``;
    returns ``[T, H, D]``. One SDPA call per distinct segment length.
    """
    t = query.shape[0]
    if sum(lengths) != t:
        raise PackedBatchError(f"cu_seq_lens cover {sum(lengths)} tokens but the batch holds {t}: the boundaries "
                               "must span the row-major flattened batch, padding included")
    gqa = query.shape[1] != key.shape[1]
    enable_gqa = gqa and use_gqa_in_sdpa(None, key, value)
    if gqa and not enable_gqa:  # older torch: repeat the KV heads (what transformers' SDPA path does)
        rep = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    extra = {"enable_gqa": True} if enable_gqa else {}
    qs, ks, vs = (torch.split(x, list(lengths), dim=0) for x in (query, key, value))
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(lengths):
        if n > 0:
            by_length[int(n)].append(i)
    outs: list[torch.Tensor | None] = [None] * len(lengths)
    for n, idx in by_length.items():
        # [k, n, H, D] -> SDPA's [k, H, n, D]; a single segment needs no copy.
        q, k, v = ((x[idx[0]].unsqueeze(0) if len(idx) == 1 else torch.stack([x[i] for i in idx])).transpose(1, 2)
                   for x in (qs, ks, vs))
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True, scale=scaling, **extra)
        for i, piece in zip(idx, o.transpose(1, 2).unbind(0)):
            outs[i] = piece
    for i, n in enumerate(lengths):
        if n == 0:
            outs[i] = qs[i]
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=0)  # type: ignore[arg-type]


def varlen_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    sliding_window: int | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention function ``"ov2_varlen"``: query ``[B, H, L, D]`` -> ``([B, L, H, D], None)``.

    Without a mask and without a KV cache offset, attention is causal inside each segment:
    the batch's ``cu_seq_lens_q``, else the restarts of ``position_ids``, else one segment
    per row. Anything else (a padding mask, cached decoding) is transformers' SDPA with its
    exact mask.
    """
    b, _, length, _ = query.shape
    if attention_mask is not None or key.shape[2] != length or is_causal is False \
            or not getattr(module, "is_causal", True):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      sliding_window=sliding_window, is_causal=is_causal, **kwargs)
    if sliding_window is not None:
        raise PackedBatchError(f"{VARLEN_ATTENTION} has no sliding-window support (sliding_window={sliding_window}); "
                               "use lm_attention: sdpa for this model")
    cu_q, cu_k = kwargs.get("cu_seq_lens_q"), kwargs.get("cu_seq_lens_k")
    if cu_q is not None:
        lengths = segment_lengths(cu_q)
        if cu_k is not None and cu_k is not cu_q and segment_lengths(cu_k) != lengths:
            raise PackedBatchError("cu_seq_lens_k differs from cu_seq_lens_q: packed self-attention needs the same "
                                   "boundaries for queries and keys")
    elif kwargs.get("position_ids") is not None:
        lengths = lengths_from_position_ids(kwargs["position_ids"], b)
    else:
        lengths = [length] * b
    q, k, v = (x.transpose(1, 2).reshape(b * length, x.shape[1], x.shape[3]) for x in (query, key, value))
    drop = dropout if module.training else 0.0
    out = per_segment_attention(q, k, v, lengths, scaling, drop)
    return out.view(b, length, *out.shape[1:]), None


def varlen_mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """Mask function registered for ``"ov2_varlen"``: none when only causality and sample boundaries
    remain (no 2-D mask, no cache offset; the kernel applies both), else exactly transformers' SDPA mask."""
    q_length, kv_length, kv_offset = kwargs.get("q_length"), kwargs.get("kv_length"), kwargs.get("kv_offset", 0)
    if (kwargs.get("attention_mask") is None and not isinstance(kv_offset, torch.Tensor) and kv_offset == 0
            and q_length is not None and q_length == kv_length):
        return None
    return sdpa_mask(*args, **kwargs)


def register_varlen_attention() -> None:
    """Register ``"ov2_varlen"`` and its mask function with transformers (idempotent; done on import)."""
    AttentionInterface.register(VARLEN_ATTENTION, varlen_attention_forward)
    AttentionMaskInterface.register(VARLEN_ATTENTION, varlen_mask)


register_varlen_attention()


# --------------------------------------------------------------------------------- guard
def check_packed_batch(
    config: Any,
    position_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    past_key_values: Any,
    kwargs: dict[str, Any],
    use_cache: bool | None = None,
) -> None:
    """Raise :class:`PackedBatchError` for a packed batch the language model's kernel would compute wrongly.

    * flash attention with several packed rows and no ``cu_seq_lens_*``: transformers infers
      boundaries from position ids only for one row, so samples would see each other;
    * a kernel that transformers gives no mask (not sdpa / eager / flex / flash / ov2_varlen)
      with packed rows and no ``cu_seq_lens_*``;
    * a mask-based kernel (sdpa / eager / flex) with packed rows and a fresh KV cache:
      transformers reads position ids as boundaries only without a cache (pass ``use_cache=False``);
    * ``cu_seq_lens_*`` together with a 2-D attention mask (the mask path ignores the boundaries).

    Packed means: position ids that restart inside a row. They are read only in the
    configurations above (one host sync), never for ov2's collated training batches.
    """
    impl = getattr(config, "_attn_implementation", None) or "sdpa"
    bounded = kwargs.get("cu_seq_lens_q") is not None
    if bounded and attention_mask is not None:
        raise PackedBatchError("a packed batch (cu_seq_lens_q) must not carry an attention_mask: the masked path "
                               "ignores sample boundaries; drop the mask (packed rows have no padding)")
    if position_ids is None or attention_mask is not None or past_key_values is not None or position_ids.dim() != 2 \
            or impl == VARLEN_ATTENTION:
        return
    cached = bool(use_cache) if use_cache is not None else bool(getattr(config, "use_cache", False))
    if _is_flash(impl):
        risky = not bounded and position_ids.shape[0] > 1
    elif impl not in ALL_MASK_ATTENTION_FUNCTIONS:  # transformers gives this kernel no mask at all
        risky = not bounded
    else:  # sdpa / eager / flex: a block mask from the position ids, but only without a cache
        risky = cached
    if not risky or not bool((position_ids[:, 1:] != position_ids[:, :-1] + 1).any()):
        return
    if impl in ALL_MASK_ATTENTION_FUNCTIONS and not _is_flash(impl):
        raise PackedBatchError(
            f"packed batch (position ids restart inside a row) with a KV cache under attention {impl!r}: transformers "
            "then builds a plain causal mask that crosses samples. Pass use_cache=False (or labels) for packed batches"
        )
    raise PackedBatchError(
        f"packed batch of {position_ids.shape[0]} rows under attention {impl!r} without cu_seq_lens_q/k: "
        "the kernel would attend across samples. Pass cu_seq_lens_q/k and max_length_q/k (ov2's collator "
        f"does), flatten the batch to one row, or use attention {VARLEN_ATTENTION!r} / 'sdpa'"
    )


def _is_flash(impl: str) -> bool:
    return impl.startswith(_FLASH_PREFIX) or "flash" in impl.split("/")[-1]


# ----------------------------------------------------------------------------- choosing
def flash_attn_installed() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def resolve_lm_attention(choice: str, packing: bool, device: str | torch.device, half_precision: bool) -> str | None:
    """The language model's attention implementation for a training run; None keeps the model's own.

    ``"auto"``: for packed batches flash-attn varlen on CUDA when installed and training in
    half precision, else ``"ov2_varlen"``; padded batches keep the model's (SDPA). Flex
    attention is never chosen automatically: it has not been measured against these two
    (docs/benchmarks.md), and on CPU it cannot run backward (torch 2.13).
    """
    if choice not in LM_ATTENTION_CHOICES:
        raise PackedBatchError(f"lm_attention {choice!r} is not one of {LM_ATTENTION_CHOICES}")
    if choice != "auto":
        return choice
    if not packing:
        return None
    if torch.device(device).type == "cuda" and half_precision and flash_attn_installed():
        return "flash_attention_2"
    return VARLEN_ATTENTION


def set_lm_attention(model: nn.Module, implementation: str | None) -> None:
    """Switch only the language model's kernel (the ViT keeps its windowed attention)."""
    if implementation is None:
        return
    model.set_attn_implementation({"text_config": implementation})
