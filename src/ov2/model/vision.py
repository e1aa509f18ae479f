"""The OneVision vision encoder and the 2x2 patch merger, with the release's module names.

Parameter names match the release's state dict under ``model.visual.``:
``embeddings.patch_embedding``, ``layernorm_pre``, ``encoder.layers.{i}.{self_attn.qkv,
self_attn.proj, layer_norm1, layer_norm2, mlp.fc1, mlp.fc2}``, ``merger.{ln_q, mlp.0, mlp.2}``
(plus ``layernorm_post``/``head.*``/``merger.pos_emb_*`` when the config asks for them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer

from .attention import attend, cu_seqlens_from_lengths, grid_window_lengths
from .config import OneVisionEncoderConfig
from .rope import VisionRotaryEmbedding, apply_rotary, block_order_permutation


def _norm(config: OneVisionEncoderConfig) -> nn.Module:
    if config.layer_norm_type == "rms_norm":
        return nn.RMSNorm(config.hidden_size, eps=config.layer_norm_eps)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class OneVisionEncoderEmbeddings(nn.Module):
    """Patch embedding: a 14x14 stride-14 conv (no bias) on each [3*14*14] row."""

    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.num_channels = config.num_channels
        self.patch_size = config.patch_size
        self.patch_embedding = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=config.patch_size, stride=config.patch_size, bias=False
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        w = self.patch_embedding.weight
        x = pixel_values.reshape(-1, self.num_channels, self.patch_size, self.patch_size).to(w.dtype)
        return self.patch_embedding(x).reshape(x.shape[0], -1)


class OneVisionEncoderAttention(nn.Module):
    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.scale = self.head_dim**-0.5
        self.is_causal = False
        self.num_key_value_groups = 1  # read by the registry's eager kernel
        # Fused projection: output rows are all-q | all-k | all-v.
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self, x: torch.Tensor, angles: torch.Tensor, lengths: Sequence[int], cu_seqlens: torch.Tensor
    ) -> torch.Tensor:
        n = x.shape[0]
        q, k, v = self.qkv(x).view(n, 3, self.num_heads, self.head_dim).unbind(1)
        q = apply_rotary(q, angles)
        k = apply_rotary(k, angles)
        out = attend(self, q, k, v, lengths, cu_seqlens, self.scale)
        return self.proj(out.reshape(n, -1))


class OneVisionEncoderMLP(nn.Module):
    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class OneVisionEncoderLayer(GradientCheckpointingLayer):
    """One pre-norm transformer block; the unit of activation checkpointing, FSDP and device maps."""

    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.layer_norm1 = _norm(config)
        self.self_attn = OneVisionEncoderAttention(config)
        self.layer_norm2 = _norm(config)
        self.mlp = OneVisionEncoderMLP(config)

    def forward(
        self, hidden_states: torch.Tensor, angles: torch.Tensor, lengths: Sequence[int], cu_seqlens: torch.Tensor
    ) -> torch.Tensor:
        h = hidden_states + self.self_attn(self.layer_norm1(hidden_states), angles, lengths, cu_seqlens)
        return h + self.mlp(self.layer_norm2(h))


class OneVisionEncoderEncoder(nn.Module):
    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList([OneVisionEncoderLayer(config) for _ in range(config.num_hidden_layers)])


class VisionPatchMerger(nn.Module):
    """LayerNorm per patch, concatenate each run of merge^2 patches, Linear-GELU-Linear."""

    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.merge = config.spatial_merge_size
        self.hidden = config.hidden_size * self.merge**2
        self.ln_q = nn.LayerNorm(config.hidden_size, eps=config.merger_layernorm_eps or config.layer_norm_eps)
        self.mlp = nn.Sequential(nn.Linear(self.hidden, self.hidden), nn.GELU(), nn.Linear(self.hidden, config.out_hidden_size))
        self.use_position_encoding = config.use_patch_position_encoding
        if self.use_position_encoding:
            self.pos_emb_h = nn.Embedding(config.max_position_embeddings, config.out_hidden_size)
            self.pos_emb_w = nn.Embedding(config.max_position_embeddings, config.out_hidden_size)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if x.shape[0] % (self.merge**2):
            raise ValueError(f"{x.shape[0]} patches are not a whole number of {self.merge}x{self.merge} blocks")
        out = self.mlp(self.ln_q(x).reshape(-1, self.hidden))
        if self.use_position_encoding:
            pp = (positions.view(-1, self.merge**2, 3)[:, 0, :] // self.merge).long()
            out = out + self.pos_emb_h(pp[:, 1]) + self.pos_emb_w(pp[:, 2])
        return out


class PoolingHead(nn.Module):
    """The release's optional attention-pooling head (``use_head``). Loaded for key parity; unused for the LLM."""

    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.attention = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads, batch_first=True)
        self.norm = nn.RMSNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = OneVisionEncoderMLP(config)


def resolve_window_lengths(
    grid_thw: torch.Tensor | None,
    n: int,
    frame_windows_size: int,
    explicit: torch.Tensor | Sequence[int] | None = None,
) -> list[int]:
    """Explicit lengths (codec input with padding dropped) or the release's grid-derived windows."""
    if explicit is not None:
        lengths = [int(x) for x in (explicit.tolist() if isinstance(explicit, torch.Tensor) else explicit)]
        source = "window_lengths"
    elif grid_thw is not None and len(grid_thw):
        lengths = grid_window_lengths(grid_thw, frame_windows_size)
        source = f"image_grid_thw {grid_thw.tolist() if isinstance(grid_thw, torch.Tensor) else grid_thw}"
    else:
        lengths = [n]
        source = "a single window"
    if sum(lengths) != n:
        raise ValueError(f"{source} covers {sum(lengths)} patches but pixel_values has {n} rows")
    return lengths


def row_major_to_block(positions: torch.Tensor, grid_thw: torch.Tensor | None, merge: int) -> torch.Tensor:
    """Older release drops took positions in raster order and permuted the RoPE table per grid row."""
    if grid_thw is None:
        raise ValueError("positions_row_major needs image_grid_thw")
    parts, offset = [], 0
    for t, h, w in grid_thw.tolist():
        size = int(t * h * w)
        perm = block_order_permutation(int(t), int(h), int(w), merge).to(positions.device)
        parts.append(positions[offset : offset + size][perm])
        offset += size
    if offset != positions.shape[0]:
        raise ValueError("positions_row_major: image_grid_thw does not cover patch_positions")
    return torch.cat(parts)
