"""Checkpoint directories: release key names, strict loading, bit-exact round trips, sharding."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ov2.model import (
    CheckpointError,
    ConfigError,
    LlavaOnevision2ForConditionalGeneration,
)
from ov2.model.tiny import make_tiny_checkpoint

RELEASE_VISION_KEYS = [
    "model.visual.embeddings.patch_embedding.weight",
    "model.visual.layernorm_pre.weight",
    "model.visual.layernorm_pre.bias",
    "model.visual.encoder.layers.0.self_attn.qkv.weight",
    "model.visual.encoder.layers.0.self_attn.qkv.bias",
    "model.visual.encoder.layers.0.self_attn.proj.weight",
    "model.visual.encoder.layers.0.layer_norm1.weight",
    "model.visual.encoder.layers.0.layer_norm2.bias",
    "model.visual.encoder.layers.1.mlp.fc1.weight",
    "model.visual.encoder.layers.1.mlp.fc2.bias",
    "model.visual.merger.ln_q.weight",
    "model.visual.merger.mlp.0.weight",
    "model.visual.merger.mlp.2.bias",
    "model.language_model.embed_tokens.weight",
    "model.language_model.layers.0.self_attn.q_norm.weight",
    "model.language_model.layers.1.mlp.gate_proj.weight",
    "model.language_model.norm.weight",
    "lm_head.weight",
]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", seed=0)


def test_release_key_names_and_shapes(ckpt):
    sd = load_file(str(ckpt / "model.safetensors"))
    for key in RELEASE_VISION_KEYS:
        assert key in sd, key
    assert sd["model.visual.embeddings.patch_embedding.weight"].shape == (64, 3, 14, 14)
    assert sd["model.visual.encoder.layers.0.self_attn.qkv.weight"].shape == (192, 64)
    assert sd["model.visual.merger.mlp.0.weight"].shape == (256, 256)
    assert not any("inv_freq" in k or "rope" in k for k in sd)
    cfg = json.loads((ckpt / "config.json").read_text())
    assert cfg["model_type"] == "llava_onevision2"
    assert cfg["vision_config"]["model_type"] == "onevision_encoder"
    assert cfg["text_config"]["model_type"] == "qwen3"


def test_round_trip_is_bit_exact(ckpt, tmp_path):
    m = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    m.save_pretrained(tmp_path / "again")
    a = load_file(str(ckpt / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    m2 = LlavaOnevision2ForConditionalGeneration.from_pretrained(tmp_path / "again")
    ids = torch.tensor([[1, 2, 3, 260, 5]])
    assert torch.equal(m(input_ids=ids).logits, m2(input_ids=ids).logits)


def test_sharded_save_loads_identically(ckpt, tmp_path):
    m = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    m.save_pretrained(tmp_path / "sharded", max_shard_size=60_000)
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 2 and not (tmp_path / "sharded" / "model.safetensors").exists()
    m2 = LlavaOnevision2ForConditionalGeneration.from_pretrained(tmp_path / "sharded")
    for (k, v), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def _rewrite(ckpt, tmp_path, edit):
    d = tmp_path / "edited"
    d.mkdir()
    (d / "config.json").write_text((ckpt / "config.json").read_text())
    sd = load_file(str(ckpt / "model.safetensors"))
    edit(sd)
    save_file(sd, str(d / "model.safetensors"))
    return d


def test_strict_loading_lists_missing_and_unexpected(ckpt, tmp_path):
    def edit(sd):
        sd.pop("model.visual.merger.ln_q.bias")
        sd["model.visual.extra.weight"] = torch.zeros(2)
        sd["model.visual.layernorm_pre.weight"] = torch.zeros(65)

    d = _rewrite(ckpt, tmp_path, edit)
    with pytest.raises(CheckpointError) as err:
        LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    msg = str(err.value)
    assert "missing keys (1): model.visual.merger.ln_q.bias" in msg
    assert "unexpected keys (1): model.visual.extra.weight" in msg
    assert "model.visual.layernorm_pre.weight: checkpoint (65,) vs model (64,)" in msg


def test_legacy_key_layout_is_mapped(ckpt, tmp_path):
    def edit(sd):
        for k in list(sd):
            if k.startswith("model.visual."):
                sd["visual." + k[len("model.visual."):]] = sd.pop(k)
            elif k.startswith("model.language_model."):
                sd["model." + k[len("model.language_model."):]] = sd.pop(k)

    d = _rewrite(ckpt, tmp_path, edit)
    a = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    b = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_dtype_and_bad_directories(ckpt, tmp_path):
    m = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt, dtype=torch.bfloat16)
    assert m.dtype == torch.bfloat16
    assert m.visual.video_rope.inv_freq_t.dtype == torch.float32  # RoPE tables stay float32
    with pytest.raises(CheckpointError, match="not found"):
        LlavaOnevision2ForConditionalGeneration.from_pretrained(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["text_config"]["model_type"] = "llama"
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="not supported"):
        LlavaOnevision2ForConditionalGeneration.from_pretrained(bad)


def test_release_style_config_and_tied_head(ckpt, tmp_path):
    """A config as the release writes it (vision model_type llava_onevision2, extra keys) with a tied head."""
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["vision_config"]["model_type"] = "llava_onevision2"
    cfg["vision_config"].pop("frame_windows_size")  # release default 4 applies
    cfg["text_config"]["tie_word_embeddings"] = True
    cfg.pop("tie_word_embeddings")  # older release configs forward the read to text_config
    cfg["auto_map"] = {"AutoConfig": "configuration_llava_onevision2.LlavaOnevision2Config"}
    d = _rewrite(ckpt, tmp_path, lambda sd: sd.pop("lm_head.weight"))
    (d / "config.json").write_text(json.dumps(cfg))
    m = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    assert m.lm_head.weight is m.language_model.embed_tokens.weight
    assert m.config.vision_config.frame_windows_size == 4
    m.save_pretrained(tmp_path / "resaved")
    again = json.loads((tmp_path / "resaved" / "config.json").read_text())
    # transformers' own save: remote-code auto_map kept, the vision type written canonically.
    assert again["auto_map"] == cfg["auto_map"] and again["vision_config"]["model_type"] == "onevision_encoder"
    with safe_open(str(tmp_path / "resaved" / "model.safetensors"), "pt") as f:
        assert "lm_head.weight" not in f.keys()


def test_top_level_tie_word_embeddings_wins(ckpt, tmp_path):
    """transformers 5 release config: the top-level field decides tying, and its save_pretrained
    then omits lm_head.weight even though text_config still says false."""
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["tie_word_embeddings"] = True
    cfg["text_config"]["tie_word_embeddings"] = False
    d = _rewrite(ckpt, tmp_path, lambda sd: sd.pop("lm_head.weight"))
    (d / "config.json").write_text(json.dumps(cfg))
    m = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    assert m.config.tie_word_embeddings
    assert m.lm_head.weight is m.language_model.embed_tokens.weight
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        hidden = m.language_model(input_ids=ids).last_hidden_state
        assert torch.allclose(m(ids).logits, hidden @ m.language_model.embed_tokens.weight.T, atol=1e-5)
    # The reverse: top-level false overrides a text_config that says true, so lm_head must be stored.
    cfg["tie_word_embeddings"] = False
    cfg["text_config"]["tie_word_embeddings"] = True
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="lm_head.weight"):
        LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    untied = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    assert untied.lm_head.weight is not untied.language_model.embed_tokens.weight
    # Our own save writes the resolved value at the top level, readable by either config generation.
    m.save_pretrained(tmp_path / "resaved")
    assert json.loads((tmp_path / "resaved" / "config.json").read_text())["tie_word_embeddings"] is True


def test_a_directory_of_another_model_type_is_named(ckpt, tmp_path):
    from ov2.model.loading import load_model_and_processor

    d = tmp_path / "qwen"
    d.mkdir()
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["model_type"] = "qwen3"
    (d / "config.json").write_text(json.dumps(cfg))
    for load in (LlavaOnevision2ForConditionalGeneration.from_pretrained, load_model_and_processor):
        with pytest.raises(ConfigError, match=r"config\.json has model_type 'qwen3', not 'llava_onevision2'"):
            load(d)


def test_a_model_built_from_scratch_saves_release_keys_after_registration(tmp_path):
    """register_auto_classes() registers the legacy key mapping globally; saving must still use the current names."""
    import ov2
    from ov2.model.tiny import make_tiny_model

    ov2.register_auto_classes()
    model, _ = make_tiny_model()
    model.save_pretrained(tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert keys == set(model.state_dict()) and set(RELEASE_VISION_KEYS) <= keys
