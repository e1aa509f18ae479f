"""The vision RoPE against a plain re-implementation written from the spec's formulas."""

import math

import torch

from ov2.model.rope import (
    VisionRotaryEmbedding,
    apply_rotary,
    block_order_permutation,
    split_sizes,
)


def reference_rotate(x: list[float], t: int, h: int, w: int, head_dim: int, theta: float) -> list[float]:
    half = head_dim // 2
    nt, nh = half // 16 * 4, half // 16 * 6
    nw = half - nt - nh
    angles = []
    for j in range(half):
        if j < nt:
            angles.append(t * theta ** (-j / nt))
        elif j < nt + nh:
            angles.append(h * theta ** (-(j - nt) / nh))
        else:
            angles.append(w * theta ** (-(j - nt - nh) / nw))
    emb = angles + angles  # concatenated, not interleaved
    out = []
    for i in range(0, head_dim, 2):
        # adjacent pairs: rotate(x)[i] = -x[i+1], rotate(x)[i+1] = x[i]
        out.append(x[i] * math.cos(emb[i]) - x[i + 1] * math.sin(emb[i]))
        out.append(x[i + 1] * math.cos(emb[i + 1]) + x[i] * math.sin(emb[i + 1]))
    return out


def test_split_is_4_6_6():
    assert split_sizes(64) == (8, 12, 12)
    assert split_sizes(32) == (4, 6, 6)


def test_rope_matches_plain_reference():
    torch.manual_seed(0)
    for head_dim, theta in ((64, 10000.0), (32, 500.0)):
        pos = torch.tensor([[0, 0, 0], [3, 5, 7], [120, 2, 31], [7, 40, 1]])
        x = torch.randn(len(pos), 2, head_dim)
        rope = VisionRotaryEmbedding(head_dim, theta)
        got = apply_rotary(x, rope(pos))
        for n, (t, h, w) in enumerate(pos.tolist()):
            for head in range(2):
                want = reference_rotate(x[n, head].tolist(), t, h, w, head_dim, theta)
                assert torch.allclose(got[n, head], torch.tensor(want), atol=1e-4), (head_dim, n)


def test_rope_is_float32_and_keeps_dtype():
    pos = torch.tensor([[500, 30, 30]])
    x = torch.randn(1, 1, 64).to(torch.bfloat16)
    got = apply_rotary(x, VisionRotaryEmbedding(64)(pos))
    assert got.dtype == torch.bfloat16
    want = torch.tensor(reference_rotate(x[0, 0].float().tolist(), 500, 30, 30, 64, 10000.0))
    # Angles are computed in float32, so only the final cast loses precision.
    assert torch.allclose(got[0, 0].float(), want, atol=0.05)


def test_position_zero_is_identity_and_rotation_is_not_norm_preserving():
    x = torch.randn(3, 1, 64)
    rope = VisionRotaryEmbedding(64)
    assert torch.allclose(apply_rotary(x, rope(torch.zeros(3, 3, dtype=torch.long))), x)
    # The released scheme pairs adjacent dims against a concatenated table: not a true rotation.
    y = apply_rotary(x, rope(torch.tensor([[5, 9, 13]] * 3)))
    assert not torch.allclose(y.norm(dim=-1), x.norm(dim=-1), atol=1e-3)


def test_block_order_permutation():
    perm = block_order_permutation(1, 4, 4, 2).tolist()
    assert perm[:8] == [0, 1, 4, 5, 2, 3, 6, 7]
    assert sorted(perm) == list(range(16))
