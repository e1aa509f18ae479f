"""Vision encoder: windows, a plain reference forward, merge order, group isolation."""

import numpy as np
import pytest
import torch

from model_helpers import video_inputs
from ov2.model.attention import grid_window_lengths, windowed_attention
from ov2.model.tiny import make_tiny_model, make_tiny_processor, synthetic_visual_input
from ov2.model.vision import resolve_window_lengths


@pytest.fixture(scope="module")
def tiny():
    model, tok = make_tiny_model(seed=1)
    return model, make_tiny_processor(tok)


def merged(model, *args, **kwargs):
    return model.visual(*args, **kwargs).pooler_output


def test_grid_window_lengths_split_long_rows():
    assert grid_window_lengths([[10, 2, 4]], 4) == [32, 32, 16]
    assert grid_window_lengths([[1, 4, 4], [4, 2, 2], [1, 2, 6]], 4) == [16, 16, 12]
    assert grid_window_lengths([[9, 2, 2]], 0) == [36]


def test_windowed_attention_equals_per_window_softmax():
    torch.manual_seed(0)
    lengths = [5, 3, 5, 8, 3]
    q, k, v = (torch.randn(sum(lengths), 2, 16) for _ in range(3))
    got = windowed_attention(q, k, v, lengths, 0.25)
    start = 0
    for n in lengths:
        s = slice(start, start + n)
        att = torch.einsum("qhd,khd->hqk", q[s], k[s]) * 0.25
        want = torch.einsum("hqk,khd->qhd", att.softmax(-1), v[s])
        assert torch.allclose(got[s], want, atol=1e-5)
        start += n
    with pytest.raises(ValueError, match="sum to"):
        windowed_attention(q, k, v, [1, 2], 0.25)


def reference_encoder(visual, pixel_values, positions, lengths, num_layers=None):
    """Plain forward from the spec (dense math per window), reading weights by release key names.

    ``num_layers`` limits how many encoder layers feed the merger (default: all of them).
    """
    sd = visual.state_dict()
    cfg = visual.config
    d, heads = cfg.hidden_size, cfg.num_attention_heads
    hd = d // heads
    x = pixel_values.reshape(-1, 3 * 14 * 14) @ sd["embeddings.patch_embedding.weight"].reshape(d, -1).T
    ln = lambda t, p: torch.nn.functional.layer_norm(t, (d,), sd[p + ".weight"], sd[p + ".bias"], cfg.layer_norm_eps)
    half = hd // 2
    nt, nh = half // 16 * 4, half // 16 * 6
    inv = lambda n: 1.0 / (cfg.rope_theta ** (torch.arange(n, dtype=torch.float32) / n))
    pos = positions.float()
    freqs = torch.cat([pos[:, :1] * inv(nt), pos[:, 1:2] * inv(nh), pos[:, 2:] * inv(half - nt - nh)], 1)
    emb = torch.cat([freqs, freqs], 1)[:, None, :]

    def rot(t):
        r = torch.empty_like(t)
        r[..., 0::2] = -t[..., 1::2]
        r[..., 1::2] = t[..., 0::2]
        return t * emb.cos() + r * emb.sin()

    x = ln(x, "layernorm_pre")
    for i in range(cfg.num_hidden_layers if num_layers is None else num_layers):
        p = f"encoder.layers.{i}."
        h = ln(x, p + "layer_norm1")
        qkv = h @ sd[p + "self_attn.qkv.weight"].T + sd[p + "self_attn.qkv.bias"]
        q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]  # rows all-q | all-k | all-v
        q, k, v = (t.reshape(-1, heads, hd) for t in (q, k, v))
        q, k = rot(q), rot(k)
        out = torch.empty_like(q)
        start = 0
        for n in lengths:
            s = slice(start, start + n)
            a = (torch.einsum("qhd,khd->hqk", q[s], k[s]) * hd**-0.5).softmax(-1)
            out[s] = torch.einsum("hqk,khd->qhd", a, v[s])
            start += n
        x = x + out.reshape(-1, d) @ sd[p + "self_attn.proj.weight"].T + sd[p + "self_attn.proj.bias"]
        h = ln(x, p + "layer_norm2")
        h = torch.nn.functional.gelu(h @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"])
        x = x + h @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
    h = torch.nn.functional.layer_norm(x, (d,), sd["merger.ln_q.weight"], sd["merger.ln_q.bias"], cfg.layer_norm_eps)
    h = h.reshape(-1, 4 * d)
    h = torch.nn.functional.gelu(h @ sd["merger.mlp.0.weight"].T + sd["merger.mlp.0.bias"])
    return h @ sd["merger.mlp.2.weight"].T + sd["merger.mlp.2.bias"]


def test_encoder_matches_plain_reference_on_codec_input(tiny):
    model, proc = tiny
    vi = synthetic_visual_input(num_canvases=8, grid=(4, 4), padded_blocks=[(6, 1)])
    inp = video_inputs(proc, vi)
    lengths = inp["window_lengths"].tolist()
    assert lengths == [64, 60]
    with torch.no_grad():
        got = merged(model, inp["pixel_values"], inp["image_grid_thw"], inp["patch_positions"], inp["window_lengths"])
        want = reference_encoder(model.visual, inp["pixel_values"], inp["patch_positions"], lengths)
    assert got.shape == (124 // 4, 64)
    assert torch.allclose(got, want, atol=1e-5)


def test_perturbing_group_two_leaves_group_one_unchanged(tiny):
    model, proc = tiny
    vi = synthetic_visual_input(num_canvases=8, grid=(4, 4), padded_blocks=[(2, 3), (5, 0)])
    base = video_inputs(proc, vi)
    vi.canvases[6] = 255 - vi.canvases[6]  # one canvas of group 2
    moved = video_inputs(proc, vi)
    n1 = int(base["window_lengths"][0])
    assert n1 == 60
    with torch.no_grad():
        enc = lambda inp: model.visual(
            inp["pixel_values"], None, inp["patch_positions"], inp["window_lengths"]
        ).last_hidden_state
        a, b = enc(base), enc(moved)
    assert torch.equal(a[:n1], b[:n1])
    assert (a[n1:] - b[n1:]).abs().amax(dim=1).min() > 1e-4  # every group-2 patch changes


def test_merger_concatenates_runs_of_four(tiny):
    model, _ = tiny
    merger = model.visual.merger
    x = torch.randn(8, 64)
    with torch.no_grad():
        out = merger(x, torch.zeros(8, 3, dtype=torch.long))
        ln = merger.ln_q(x)
        want = merger.mlp(torch.cat([ln[0], ln[1], ln[2], ln[3]])[None])[0]
    assert torch.allclose(out[0], want, atol=1e-6)
    with torch.no_grad():
        swapped = merger(x[[1, 0, 2, 3, 4, 5, 6, 7]], torch.zeros(8, 3, dtype=torch.long))
    assert not torch.allclose(swapped[0], out[0])  # order inside a block matters
    assert torch.allclose(swapped[1], out[1])


def test_patch_positions_tell_the_tiny_model_where_a_block_came_from(tiny):
    """RoPE is relative: moving every patch of a window by the same (row, col) leaves the features as they
    were. The optional absolute embeddings (``patch_positions=True``, used by the tracking experiment) do not."""
    _, proc = tiny
    inp = video_inputs(proc, synthetic_visual_input(num_canvases=4, grid=(4, 4)))
    shifted = inp["patch_positions"] + torch.tensor([0, 2, 6])  # whole merged blocks: 1 row, 3 columns on
    for absolute in (False, True):
        model, _ = make_tiny_model(seed=1, patch_positions=absolute)
        with torch.no_grad():
            a, b = (merged(model, inp["pixel_values"], None, pos, inp["window_lengths"])
                    for pos in (inp["patch_positions"], shifted))
        assert model.config.vision_config.use_patch_position_encoding is absolute
        change = (a - b).abs().amax().item()
        assert change > 1e-2 if absolute else change < 1e-3  # float rounding of other RoPE angles only
    _, row, col = (inp["patch_positions"][0] // 2).tolist()  # the first block's merged (row, col)
    emb_h, emb_w = model.visual.merger.pos_emb_h.weight, model.visual.merger.pos_emb_w.weight
    with torch.no_grad():  # moved 1 row and 3 columns on: exactly the embeddings' difference
        want = emb_h[row + 1] + emb_w[col + 3] - emb_h[row] - emb_w[col]
    assert torch.allclose(b[0] - a[0], want, atol=1e-4)


def test_grid_windows_are_the_default_and_checked(tiny):
    model, _ = tiny
    pv = torch.randn(2 * 16, 588)
    pos = torch.zeros(32, 3, dtype=torch.long)
    grid = torch.tensor([[2, 4, 4]])
    assert resolve_window_lengths(grid, 32, 4) == [32]
    assert resolve_window_lengths(torch.tensor([[8, 2, 2]]), 32, 4) == [16, 16]
    with pytest.raises(ValueError, match="covers 48 patches"):
        model.visual(pv, torch.tensor([[3, 4, 4]]), pos)
    with pytest.raises(ValueError, match="patch_positions has"):
        model.visual(pv, grid, pos[:-4])


def test_row_major_positions_option_matches_block_order(tiny):
    model, _ = tiny
    rng = np.random.default_rng(0)
    pv = torch.from_numpy(rng.standard_normal((16, 588)).astype(np.float32))
    grid = torch.tensor([[1, 4, 4]])
    r, c = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    raster = torch.stack([torch.zeros(16, dtype=torch.long), r.reshape(-1), c.reshape(-1)], 1)
    perm = torch.tensor([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    with torch.no_grad():
        a = merged(model, pv, grid, raster[perm])
        b = merged(model, pv, grid, raster, positions_row_major=True)
    assert torch.equal(a, b)


def test_vision_feature_layer_selects_encoder_output(tmp_path):
    """Current release: merger reads hidden_states[-1]; an older drop read [-2] (reachable by config)."""
    import json

    from ov2.model import LlavaOnevision2ForConditionalGeneration
    from ov2.model.config import ConfigError
    from ov2.model.tiny import make_tiny_checkpoint

    d = make_tiny_checkpoint(tmp_path / "tiny", seed=3)
    last = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["vision_config"]["vision_feature_layer"] = -2
    (d / "config.json").write_text(json.dumps(cfg))
    prev = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    rng = np.random.default_rng(1)
    pv = torch.from_numpy(rng.standard_normal((32, 588)).astype(np.float32))
    r, c = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    raster = torch.stack([torch.zeros(16, dtype=torch.long), r.reshape(-1), c.reshape(-1)], 1)
    perm = torch.tensor([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    pos = torch.cat([raster[perm], raster[perm]])
    grid = torch.tensor([[1, 4, 4], [1, 4, 4]])
    with torch.no_grad():
        a = merged(last, pv, grid, pos)
        b = merged(prev, pv, grid, pos)
        want_a = reference_encoder(last.visual, pv, pos, [16, 16])
        want_b = reference_encoder(prev.visual, pv, pos, [16, 16], num_layers=1)
    assert torch.allclose(a, want_a, atol=1e-5)
    assert torch.allclose(b, want_b, atol=1e-5)
    assert not torch.allclose(a, b, atol=1e-3)
    cfg["vision_config"]["vision_feature_layer"] = -3  # the embeddings: not a layer output
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="vision_feature_layer"):
        LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
