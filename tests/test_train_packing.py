"""Packed training: boundaries in the batch, no padding, every attention kernel equal to the samples run alone.

Kernels: eager and sdpa (block mask from per-sample position ids), ov2's per-segment
``ov2_varlen``, and transformers' own flash-attention dispatch driven with stand-in flash
functions (flash-attn is not installed here; the stand-ins are exact SDPA per sequence).
"""

import json
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import ov2.model.modeling as modeling
from ov2.model.tiny import make_tiny_model, make_tiny_processor
from ov2.model.varlen import (
    BOUNDARY_KEYS,
    VARLEN_ATTENTION,
    PackedBatchError,
    resolve_lm_attention,
    set_lm_attention,
    varlen_mask,
)
from ov2.train.collator import IGNORE, Ov2DataCollator
from ov2.train.config import TrainConfigError, build_config
from ov2.train.trainer import Ov2Trainer
from test_train_collator import image_sample, video_sample

KERNELS = ("eager", "sdpa", VARLEN_ATTENTION, "flash_attention_2")


@pytest.fixture(scope="module")
def tiny():
    model, tok = make_tiny_model(seed=2)
    return model, make_tiny_processor(tok)


@pytest.fixture(scope="module")
def samples():
    # Codec-video samples of two budgets (window lengths from a padded block), an image, another video.
    return [video_sample("a", "[1.25, 2.5]", seed=1), image_sample("b", "red"),
            video_sample("c", "[3.0]", canvases=4, seed=2), video_sample("d", "[0.5, 0.75, 4.0]", seed=3)]


def use_kernel(model, impl):
    # Set on the config directly: set_attn_implementation would refuse flash_attention_2 without flash-attn.
    model.config.text_config._attn_implementation = impl


def _sdpa_blhd(q, k, v, scale, causal):
    """[B, L, H, D] inputs (flash layout), KV heads repeated for GQA."""
    rep = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale,
                                       is_causal=causal)
    return o.transpose(1, 2)


def _flash_fn(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False):
    return _sdpa_blhd(q, k, v, softmax_scale, causal)


def _flash_varlen_fn(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                     softmax_scale=None, causal=False):
    lengths = torch.diff(cu_seqlens_q).tolist()
    assert lengths == torch.diff(cu_seqlens_k).tolist() and sum(lengths) == q.shape[0]
    parts = zip(*(x.split(lengths) for x in (q, k, v)))
    return torch.cat([_sdpa_blhd(a[None], b[None], c[None], softmax_scale, causal)[0] for a, b, c in parts])


@pytest.fixture
def stand_in_flash(monkeypatch):
    """transformers' flash dispatch (integrations.flash_attention -> _flash_attention_forward) with stand-ins."""
    import transformers.modeling_flash_attention_utils as fa

    monkeypatch.setattr(fa, "_lazy_imports", lambda *a, **k: (_flash_fn, _flash_varlen_fn, None, fa._pad_input,
                                                              fa._unpad_input))
    monkeypatch.setattr(fa, "_loaded_implementation", None)


def model_inputs(batch):
    return {k: v for k, v in batch.items() if k != "num_tokens"}


def summed_loss_grads(model, batch):
    """Logits and the gradients of the summed token loss (what the global token-weighted mean divides)."""
    model.zero_grad()
    out = model(**{k: v for k, v in model_inputs(batch).items() if k != "labels"})
    logits = out.logits
    loss = F.cross_entropy(logits[:, :-1].transpose(1, 2), batch["labels"][:, 1:], ignore_index=IGNORE,
                           reduction="sum")
    loss.backward()
    return logits.detach(), loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()
                                            if p.grad is not None}


@pytest.fixture(scope="module")
def alone(tiny, samples):
    """Each sample alone (one unpadded row, SDPA): its logits; the gradients summed over samples."""
    model, proc = tiny
    model.train()
    use_kernel(model, "sdpa")
    collator = Ov2DataCollator(proc, 4096, packing=False)
    logits, total, grads = {}, 0.0, {}
    for s in samples:
        batch = collator([s])
        lg, loss, g = summed_loss_grads(model, batch)
        logits[tuple(batch["input_ids"][0].tolist())] = lg[0]
        total += loss
        for k, v in g.items():
            grads[k] = grads.get(k, 0) + v
    return logits, total, grads


def packed_batch(proc, samples, layout):
    lengths = [len(Ov2DataCollator(proc, 4096).encode(s)) for s in samples]
    # bfd: rows just wide enough for the longest sample, so the batch has several rows with padding tails.
    max_length = max(lengths) + 10 if layout == "bfd" else 4096
    return Ov2DataCollator(proc, max_length, packing=True, layout=layout)(samples), lengths


def split_segments(batch, logits):
    """(ids, logits) of every real segment of the row-major flattened batch."""
    lengths = torch.diff(batch["cu_seq_lens_q"]).tolist()
    ids = batch["input_ids"].reshape(-1).split(lengths)
    return [(tuple(i.tolist()), lg) for i, lg in zip(ids, logits.reshape(-1, logits.shape[-1]).split(lengths))]


@pytest.mark.parametrize("layout", ["flat", "bfd"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_packed_logits_and_gradients_equal_samples_alone(tiny, samples, alone, layout, kernel, request):
    model, proc = tiny
    if kernel.startswith("flash"):
        request.getfixturevalue("stand_in_flash")
    batch, lengths = packed_batch(proc, samples, layout)
    rows, width = batch["input_ids"].shape
    assert "attention_mask" not in batch and "window_lengths" in batch
    if layout == "flat":  # no padding at all
        assert rows == 1 and width == sum(lengths) == int(batch["num_tokens"])
    else:
        assert rows > 1 and width <= max(lengths) + 10
    assert int(batch["cu_seq_lens_q"][-1]) == rows * width and batch["max_length_q"] == max(lengths)
    model.train()
    use_kernel(model, kernel)
    try:
        logits, loss, grads = summed_loss_grads(model, batch)
    finally:
        use_kernel(model, "sdpa")
    want_logits, want_loss, want_grads = alone
    seen = 0
    for ids, lg in split_segments(batch, logits):
        if ids in want_logits:
            torch.testing.assert_close(lg, want_logits[ids], atol=1e-5, rtol=1e-5)
            seen += 1
        else:
            assert set(ids) == {proc.pad_token_id}  # a bfd row's padding tail, its own segment
    assert seen == len(samples)
    torch.testing.assert_close(loss, want_loss, atol=1e-5, rtol=1e-5)
    assert grads.keys() == want_grads.keys() and any(k.startswith("model.visual.") for k in grads)
    for name in grads:
        torch.testing.assert_close(grads[name], want_grads[name], atol=1e-5, rtol=1e-5, msg=name)


def test_multi_row_packed_batch_without_boundaries_raises_under_flash(tiny, samples, alone, stand_in_flash,
                                                                      monkeypatch):
    model, proc = tiny
    model.eval()
    batch, _ = packed_batch(proc, samples, "bfd")
    rows = batch["input_ids"].shape[0]
    bare = {k: v for k, v in model_inputs(batch).items() if k not in BOUNDARY_KEYS}
    use_kernel(model, "flash_attention_2")
    try:
        with torch.no_grad(), pytest.raises(PackedBatchError, match=re.escape(
                f"packed batch of {rows} rows under attention 'flash_attention_2' without cu_seq_lens_q/k: the kernel "
                "would attend across samples")):
            model(**bare)
        # Why: without the guard transformers' flash path attends across the samples of each row.
        monkeypatch.setattr(modeling, "check_packed_batch", lambda *a, **k: None)
        with torch.no_grad():
            crossed = model(**bare).logits
        errors = [float((lg - alone[0][ids]).abs().max()) for ids, lg in split_segments(batch, crossed)
                  if ids in alone[0]]
        assert max(errors) > 1e-2
        # One flattened row needs no boundaries: transformers infers them from the position ids.
        flat, _ = packed_batch(proc, samples, "flat")
        with torch.no_grad():
            logits = model(**{k: v for k, v in model_inputs(flat).items() if k not in BOUNDARY_KEYS}).logits
    finally:
        use_kernel(model, "sdpa")
    for ids, lg in split_segments(flat, logits):
        torch.testing.assert_close(lg, alone[0][ids], atol=1e-5, rtol=1e-5)


def test_packed_rows_with_a_kv_cache_or_a_maskless_kernel_raise(tiny, samples):
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    model, proc = tiny
    batch, _ = packed_batch(proc, samples[:2], "flat")
    inputs = {k: v for k, v in model_inputs(batch).items() if k != "labels"}
    with torch.no_grad():
        model(**inputs)  # boundaries without labels: no cache, so the sdpa block mask holds
        with pytest.raises(PackedBatchError, match=re.escape(
                "packed batch (position ids restart inside a row) with a KV cache under attention 'sdpa'")):
            model(**inputs, use_cache=True)
        # A kernel transformers builds no mask for (e.g. a third-party one) needs the boundaries.
        AttentionInterface.register("ov2_test_maskless", sdpa_attention_forward)
        use_kernel(model, "ov2_test_maskless")
        try:
            bare = {k: v for k, v in inputs.items() if k not in BOUNDARY_KEYS}
            with pytest.raises(PackedBatchError, match=re.escape(
                    "packed batch of 1 rows under attention 'ov2_test_maskless' without cu_seq_lens_q/k")):
                model(**bare)
        finally:
            use_kernel(model, "sdpa")


def test_boundaries_with_an_attention_mask_are_refused(tiny, samples):
    model, proc = tiny
    batch, _ = packed_batch(proc, samples[:2], "flat")
    inputs = {**model_inputs(batch), "attention_mask": torch.ones_like(batch["input_ids"])}
    with torch.no_grad(), pytest.raises(PackedBatchError, match=re.escape(
            "a packed batch (cu_seq_lens_q) must not carry an attention_mask")):
        model(**inputs)


def test_varlen_builds_no_mask_for_packed_batches_and_sdpa_masks_otherwise():
    from transformers.masking_utils import sdpa_mask

    common = dict(batch_size=2, q_length=6, q_offset=0, device="cpu", allow_is_causal_skip=False)
    assert varlen_mask(**common, kv_length=6, kv_offset=0, attention_mask=None) is None
    left_padded = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    got = varlen_mask(**common, kv_length=6, kv_offset=0, attention_mask=left_padded)
    assert got is not None and torch.equal(got, sdpa_mask(**common, kv_length=6, kv_offset=0,
                                                          attention_mask=left_padded))
    cached = varlen_mask(**common, kv_length=10, kv_offset=0, attention_mask=None)  # prefill after a cache
    assert torch.equal(cached, sdpa_mask(**common, kv_length=10, kv_offset=0, attention_mask=None))


def test_left_padded_generate_and_padded_batches_unchanged_under_varlen(tiny, samples):
    from model_helpers import video_inputs
    from ov2.model.answer import user_message
    from ov2.model.tiny import synthetic_visual_input

    model, proc = tiny
    model.eval()
    vi = synthetic_visual_input(8, (2, 2), padded_blocks=[(7, 0)])
    prompts = [proc.apply_chat_template(user_message(q, video=True), add_generation_prompt=True)
               for q in ("short?", "a much longer question, surely?")]
    batch = proc(text=prompts, videos=[vi, vi], padding_side="left")
    assert batch["attention_mask"][0, 0] == 0
    padded = Ov2DataCollator(proc, 4096, packing=False)(samples)
    assert "position_ids" not in padded and padded["input_ids"].shape[0] == len(samples)
    out = {}
    for impl in ("sdpa", VARLEN_ATTENTION):
        set_lm_attention(model, impl)
        with torch.no_grad():
            out[impl] = (model.generate(**batch, max_new_tokens=5, do_sample=False, eos_token_id=None,
                                        use_cache=True),
                         model(**batch).logits, model(**model_inputs(padded)).logits)
    set_lm_attention(model, "sdpa")
    assert torch.equal(out["sdpa"][0], out[VARLEN_ATTENTION][0])
    torch.testing.assert_close(out["sdpa"][1], out[VARLEN_ATTENTION][1], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out["sdpa"][2], out[VARLEN_ATTENTION][2], atol=1e-5, rtol=1e-5)
    single = video_inputs(proc, vi, "short?")
    with torch.no_grad():
        one = model.generate(**single, max_new_tokens=5, do_sample=False, eos_token_id=None)
    assert torch.equal(out[VARLEN_ATTENTION][0][0, -5:], one[0, -5:])


def test_per_sample_loss_mean_is_the_same_packed_and_padded(tiny, samples):
    model, proc = tiny
    model.eval()
    fake = SimpleNamespace(current_gradient_accumulation_steps=1, accelerator=SimpleNamespace(num_processes=1))
    per_sample = []
    with torch.no_grad():
        for s in samples:
            b = Ov2DataCollator(proc, 4096, packing=False)([s])
            out = model(**model_inputs(b))
            per_sample.append(out.loss)  # mean over the sample's labelled tokens
        want = torch.stack(per_sample).mean()
        got = {}
        for name, collator in [("flat", Ov2DataCollator(proc, 4096, packing=True)),
                               ("bfd", Ov2DataCollator(proc, 700, packing=True, layout="bfd")),
                               ("padded", Ov2DataCollator(proc, 4096, packing=False))]:
            inputs = model_inputs(collator(samples))
            got[name] = Ov2Trainer._per_sample_mean_loss(fake, model, inputs, False)
    for name, value in got.items():
        torch.testing.assert_close(value, want, atol=1e-5, rtol=1e-5, msg=name)
    assert not torch.allclose(got["flat"], model_loss_of(model, proc, samples))  # not the token mean


def model_loss_of(model, proc, samples):
    with torch.no_grad():
        return model(**model_inputs(Ov2DataCollator(proc, 4096, packing=True)(samples))).loss


def test_bfd_rows_are_tight_and_keep_every_sample(tiny, samples):
    _, proc = tiny
    lengths = sorted(len(Ov2DataCollator(proc, 4096).encode(s)) for s in samples)
    max_length = lengths[-1] + lengths[0]  # the shortest sample fits beside the longest
    batch = Ov2DataCollator(proc, max_length, packing=True, layout="bfd")(samples)
    segments = torch.diff(batch["cu_seq_lens_q"]).tolist()
    rows, width = batch["input_ids"].shape
    assert rows < len(samples) and width <= max_length
    assert sorted(n for n in segments if n in lengths) == lengths and sum(segments) == rows * width
    # Positions restart at every segment start, and only there.
    starts = set(torch.cat([torch.zeros(1, dtype=torch.int32), batch["cu_seq_lens_q"][:-1]]).tolist())
    flat_pos = batch["position_ids"].reshape(-1)
    assert {i for i in range(rows * width) if flat_pos[i] == 0} == starts


def test_training_config_chooses_the_kernel(tmp_path):
    assert resolve_lm_attention("auto", True, "cpu", False) == VARLEN_ATTENTION
    assert resolve_lm_attention("auto", False, "cpu", False) is None
    assert resolve_lm_attention("sdpa", True, "cpu", False) == "sdpa"
    cfg = build_config("stage4_tiny", {"output_dir": str(tmp_path)})
    assert cfg.packing and cfg.packing_layout == "flat" and cfg.lm_attention == "auto"
    with pytest.raises(TrainConfigError, match=re.escape("lm_attention 'flash' is not one of")):
        build_config("stage4_tiny", {"output_dir": str(tmp_path), "lm_attention": "flash"})
    with pytest.raises(TrainConfigError, match=re.escape("packing_layout 'rows' is not one of ('flat', 'bfd')")):
        build_config("stage4_tiny", {"output_dir": str(tmp_path), "packing_layout": "rows"})


def test_saved_checkpoint_does_not_name_the_training_kernel(tmp_path):
    model, _ = make_tiny_model(seed=0)
    set_lm_attention(model, VARLEN_ATTENTION)
    assert model.language_model.config._attn_implementation == VARLEN_ATTENTION
    assert model.visual.config._attn_implementation != VARLEN_ATTENTION  # the ViT keeps its windows
    model.save_pretrained(tmp_path)
    assert VARLEN_ATTENTION not in json.dumps(json.loads((tmp_path / "config.json").read_text()))
