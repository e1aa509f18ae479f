"""The vision encoder's 3D rotary embedding, reproduced exactly as released.

head_dim/2 frequencies are split t:h:w = 4:6:6; each part has its own inverse
frequency table ``theta^(-k/n)`` (k < n). The per-patch angles are the
concatenation ``[t*inv_t, h*inv_h, w*inv_w]`` and the table is *concatenated*
with itself to head_dim. It is then applied with an *adjacent-pair* rotate
(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...). Pairing adjacent dims against
a concatenated (not interleaved) table is not a true 2-D rotation per pair; it
is what the weights were trained with, so we keep it. Everything runs in
float32 and is cast back to the input dtype.
"""

from __future__ import annotations

import torch
from torch import nn


def split_sizes(head_dim: int) -> tuple[int, int, int]:
    """Frequency counts (t, h, w) for a head size: 4:6:6 of head_dim/2."""
    half = head_dim // 2
    unit = half // 16
    return 4 * unit, 6 * unit, 6 * unit


def inverse_frequencies(n: int, theta: float) -> torch.Tensor:
    return 1.0 / (theta ** (torch.arange(n, dtype=torch.float32) / n))


class VisionRotaryEmbedding(nn.Module):
    """Angles [N, head_dim/2] from integer (t, h, w) positions [N, 3]."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = float(theta)
        t, h, w = split_sizes(head_dim)
        # Not in the checkpoint (the release registers them non-persistent too).
        self.register_buffer("inv_freq_t", inverse_frequencies(t, self.theta), persistent=False)
        self.register_buffer("inv_freq_h", inverse_frequencies(h, self.theta), persistent=False)
        self.register_buffer("inv_freq_w", inverse_frequencies(w, self.theta), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        pos = positions.to(torch.float32)
        # .float(): a model cast to half precision casts buffers too; the tables are used in float32.
        ft = torch.outer(pos[:, 0], self.inv_freq_t.to(pos.device).float())
        fh = torch.outer(pos[:, 1], self.inv_freq_h.to(pos.device).float())
        fw = torch.outer(pos[:, 2], self.inv_freq_w.to(pos.device).float())
        return torch.cat([ft, fh, fw], dim=-1)


def rotate_adjacent(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    even = x[..., 0::2]
    odd = x[..., 1::2]
    return torch.stack((-odd, even), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [..., N, heads, head_dim] with ``angles`` [N, head_dim/2] in float32."""
    emb = torch.cat([angles, angles], dim=-1).float()  # [N, head_dim]
    cos = emb.cos().unsqueeze(-2)  # broadcast over heads
    sin = emb.sin().unsqueeze(-2)
    xf = x.float()
    return (xf * cos + rotate_adjacent(xf) * sin).to(x.dtype)


def block_order_permutation(t: int, h: int, w: int, merge: int = 2) -> torch.Tensor:
    """Indices that reorder a raster (t, h, w) table into 2x2-block order."""
    idx = torch.arange(t * h * w).view(t, h // merge, merge, w // merge, merge)
    return idx.permute(0, 1, 3, 2, 4).reshape(-1)
