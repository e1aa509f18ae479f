"""Block-diagonal ("group-visible") attention over windows of the packed patch sequence.

Each window attends only to itself; windows travel as lengths / a ``cu_seqlens``
tensor, never as an N x N mask. The kernel follows ``config._attn_implementation``:

* ``"sdpa"`` (default): windows of equal length are gathered into one batched SDPA
  call (one call per distinct length), so memory follows sum(len_i^2) instead of N^2.
  On CUDA with ``flash_attn`` importable and half-precision inputs,
  ``flash_attn_varlen_func`` does the same from ``cu_seqlens``.
* ``"flash_attention_2"`` / ``"flash_attention_3"`` / kernels from the transformers
  registry that take ``cu_seq_lens``: one varlen call.
* ``"eager"`` and any other registered kernel: called once per window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils.generic import is_flash_attention_requested

try:  # optional, GPU only
    from flash_attn import flash_attn_varlen_func as _flash_varlen  # type: ignore[import-not-found]
except Exception:  # pragma: no cover - not installed here
    _flash_varlen = None


def grid_window_lengths(grid_thw: torch.Tensor | Sequence[Sequence[int]], frame_windows_size: int | None) -> list[int]:
    """Window lengths the release derives from ``grid_thw``.

    Each grid row (t, h, w) is cut along t into windows of ``frame_windows_size``
    frames (the last one shorter); a row with t <= frame_windows_size is one window.
    """
    rows = grid_thw.tolist() if isinstance(grid_thw, torch.Tensor) else [list(r) for r in grid_thw]
    lengths: list[int] = []
    fws = frame_windows_size or 0
    for t, h, w in rows:
        t, h, w = int(t), int(h), int(w)
        if fws > 0 and t > fws:
            lengths.extend([fws * h * w] * (t // fws))
            if t % fws:
                lengths.append((t % fws) * h * w)
        else:
            lengths.append(t * h * w)
    return lengths


def cu_seqlens_from_lengths(lengths: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    out = torch.zeros(len(lengths) + 1, dtype=torch.int32, device=device)
    if lengths:
        out[1:] = torch.cumsum(torch.as_tensor(list(lengths), dtype=torch.int32, device=device), 0)
    return out


def windowed_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: Sequence[int], scale: float
) -> torch.Tensor:
    """SDPA inside each window. q, k, v: [N, heads, head_dim]; returns [N, heads, head_dim]."""
    n = q.shape[0]
    if sum(lengths) != n:
        raise ValueError(f"window lengths sum to {sum(lengths)} but the sequence has {n} patches")
    if _flash_varlen is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        cu = cu_seqlens_from_lengths(lengths, q.device)
        m = max(lengths)
        return _flash_varlen(q, k, v, cu, cu, m, m, dropout_p=0.0, softmax_scale=scale, causal=False)
    if len(lengths) == 1:
        return _sdpa(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), scale)[0]

    starts: dict[int, list[int]] = defaultdict(list)
    offset = 0
    for length in lengths:
        if length > 0:
            starts[int(length)].append(offset)
        offset += int(length)
    if len(starts) == 1:
        (length, st), = starts.items()
        if len(st) * length == n:  # all windows equal and contiguous: a pure reshape
            b = len(st)
            return _sdpa(q.view(b, length, *q.shape[1:]), k.view(b, length, *k.shape[1:]),
                         v.view(b, length, *v.shape[1:]), scale).reshape_as(q)
    pieces: list[torch.Tensor] = []
    order: list[torch.Tensor] = []
    for length, st in starts.items():
        idx = (torch.as_tensor(st, device=q.device)[:, None] + torch.arange(length, device=q.device)).reshape(-1)
        b = len(st)
        sub = _sdpa(
            q.index_select(0, idx).view(b, length, *q.shape[1:]),
            k.index_select(0, idx).view(b, length, *k.shape[1:]),
            v.index_select(0, idx).view(b, length, *v.shape[1:]),
            scale,
        )
        pieces.append(sub.reshape(b * length, *q.shape[1:]))
        order.append(idx)
    # Scatter back without in-place writes, so autograd (and checkpoint recompute) stays simple.
    inverse = torch.argsort(torch.cat(order))
    return torch.cat(pieces).index_select(0, inverse)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """q, k, v [B, L, H, D] -> [B, L, H, D] full attention per batch row."""
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale)
    return o.transpose(1, 2)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax(QK^T)V on [B, H, L, D] inputs; returns ([B, L, H, D], weights)."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = F.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def attend(
    module: nn.Module,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lengths: Sequence[int],
    cu_seqlens: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Windowed attention with the kernel ``module.config._attn_implementation`` names.

    q, k, v: [N, heads, head_dim]; returns [N, heads, head_dim].
    """
    impl = getattr(module.config, "_attn_implementation", None) or "sdpa"
    if impl == "sdpa":
        return windowed_attention(q, k, v, lengths, scale)
    interface: Callable[..., tuple[torch.Tensor, Any]] = ALL_ATTENTION_FUNCTIONS.get_interface(impl, eager_attention_forward)
    # Registry kernels take [B, H, L, D].
    qb, kb, vb = (x.transpose(0, 1).unsqueeze(0) for x in (q, k, v))
    if is_flash_attention_requested(module.config):
        m = max(lengths) if lengths else 0
        out, _ = interface(module, qb, kb, vb, attention_mask=None, scaling=scale, dropout=0.0,
                           cu_seq_lens_q=cu_seqlens, cu_seq_lens_k=cu_seqlens, max_length_q=m, max_length_k=m,
                           is_causal=False)
        return out.reshape(q.shape)
    outs = []
    for qs, ks, vs in zip(*(torch.split(x, list(lengths), dim=2) for x in (qb, kb, vb))):
        out, _ = interface(module, qs, ks, vs, attention_mask=None, scaling=scale, dropout=0.0, is_causal=False)
        outs.append(out[0])
    return torch.cat(outs, dim=0)
