"""Collation: the inference sample format, assistant-only labels, overlong samples, packing == one by one."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ov2.model.tiny import make_tiny_model, make_tiny_processor, synthetic_visual_input
from ov2.train.collator import IGNORE, Ov2DataCollator


@pytest.fixture(scope="module")
def tiny():
    model, tok = make_tiny_model(seed=2)
    return model, make_tiny_processor(tok)


def video_sample(sid, answer, *, rounds=1, canvases=8, seed=0):
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "When does it jump?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
    for r in range(1, rounds):
        messages += [{"role": "user", "content": [{"type": "text", "text": f"And round {r}?"}]},
                     {"role": "assistant", "content": [{"type": "text", "text": f"{answer} again {r}"}]}]
    vi = synthetic_visual_input(canvases, (4, 4), padded_blocks=[(canvases - 1, 1)], seed=seed)
    return SimpleNamespace(id=sid, source="codec", messages=messages, media=[vi], kinds=["video"])


def image_sample(sid, answer):
    img = (np.random.default_rng(len(sid)).random((56, 84, 3)) * 255).astype(np.uint8)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Colour?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
    return SimpleNamespace(id=sid, source="images", messages=messages, media=[img], kinds=["image"])


def test_labels_cover_every_assistant_answer_and_its_end_token(tiny):
    _, proc = tiny
    collator = Ov2DataCollator(proc, max_length=4096, packing=False, timestamp_decimals=2)
    enc = collator.encode(video_sample("a", "[1.25, 2.5]", rounds=2))
    labelled = [t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE]
    text = proc.decode(labelled, skip_special_tokens=False)
    assert text == "[1.25, 2.5]<|im_end|>[1.25, 2.5] again 1<|im_end|>"
    assert all(lab in (IGNORE, t) for t, lab in zip(enc.input_ids, enc.labels))
    # The prompt is the inference prompt: same tokens and visual tensors as the processor gives at test time.
    prompt = proc.apply_chat_template(video_sample("a", "x").messages[:1], add_generation_prompt=True)
    infer = proc(text=prompt, videos=video_sample("a", "x").media, timestamp_decimals=2)
    n = infer["input_ids"].shape[1]
    assert enc.input_ids[:n] == infer["input_ids"][0].tolist()
    assert all(torch.equal(enc.visual[k], infer[k]) for k in enc.visual)


def test_overlong_samples_drop_rounds_or_are_skipped(tiny):
    _, proc = tiny
    full = Ov2DataCollator(proc, max_length=100_000).encode(video_sample("a", "yes", rounds=3))
    one_round = Ov2DataCollator(proc, max_length=100_000).encode(video_sample("a", "yes", rounds=1))
    collator = Ov2DataCollator(proc, max_length=len(one_round) + 5)
    cut = collator.encode(video_sample("a", "yes", rounds=3))
    assert cut.rounds_dropped == 2 and cut.input_ids == one_round.input_ids and len(cut) < len(full)
    tight = Ov2DataCollator(proc, max_length=len(one_round) - 1)
    assert tight.encode(video_sample("a", "yes", rounds=3)) is None
    assert tight.skipped.counts["overlong"] == 1
    batch = tight([video_sample("a", "yes")])  # nothing fits: an empty batch that trains on nothing
    assert (batch["labels"] == IGNORE).all() and "pixel_values" not in batch


def grads_of(model, batch):
    model.zero_grad()
    out = model(**{k: v for k, v in batch.items() if k != "num_tokens"})
    n = int((batch["labels"][:, 1:] != IGNORE).sum())
    logits = out.logits[:, :-1].float()
    tok = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch["labels"][:, 1:], ignore_index=IGNORE,
                                            reduction="sum")
    tok.backward()
    return tok.detach(), n, {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def test_packed_batch_equals_samples_one_by_one(tiny):
    model, proc = tiny
    model.train()
    samples = [video_sample("a", "[1.25, 2.5]", seed=1), image_sample("b", "red"),
               video_sample("c", "[3.0]", canvases=4, seed=2)]
    packed = Ov2DataCollator(proc, max_length=4096, packing=True)(samples)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    starts = (packed["position_ids"][0] == 0).nonzero().squeeze(1).tolist()
    assert starts[:3] == [0, starts[1], starts[2]] and len(starts) == 3
    loss_p, n_p, grads_p = grads_of(model, packed)
    total, n_total, grads_total = 0.0, 0, {}
    single = Ov2DataCollator(proc, max_length=4096, packing=True)
    for s in samples:
        loss, n, grads = grads_of(model, single([s]))
        total, n_total = total + loss, n_total + n
        for k, g in grads.items():
            grads_total[k] = grads_total.get(k, 0) + g
    assert n_p == n_total
    assert torch.allclose(loss_p / n_p, total / n_total, atol=1e-5)  # token-weighted mean
    for k in grads_total:
        assert torch.allclose(grads_p[k], grads_total[k], atol=1e-4, rtol=1e-4), k


def test_no_attention_across_packed_samples(tiny):
    model, proc = tiny
    model.eval()
    a, b = video_sample("a", "[1.0]", seed=1), video_sample("b", "[2.0]", seed=2)
    collator = Ov2DataCollator(proc, max_length=4096, packing=True)
    base = collator([a, b])
    other = collator([video_sample("a", "[9.9, 8.8]", seed=7), b])  # a different first sample, same second
    len_b = len(collator.encode(b))
    with torch.no_grad():
        la = model(**{k: v for k, v in base.items() if k != "num_tokens"}).logits[0, -len_b:]
        lb = model(**{k: v for k, v in other.items() if k != "num_tokens"}).logits[0, -len_b:]
        alone = model(**{k: v for k, v in collator([b]).items() if k != "num_tokens"}).logits[0]
    assert torch.allclose(la, lb, atol=1e-5) and torch.allclose(la, alone, atol=1e-5)


def test_padded_batches_match_packed_loss(tiny):
    model, proc = tiny
    model.eval()
    samples = [video_sample("a", "[1.25]", seed=1), image_sample("b", "blue")]
    with torch.no_grad():
        lp, np_, _ = grads_of_no_backward(model, Ov2DataCollator(proc, 4096, packing=True)(samples))
        lq, nq, _ = grads_of_no_backward(model, Ov2DataCollator(proc, 4096, packing=False)(samples))
    assert np_ == nq and torch.allclose(lp, lq, atol=1e-4)


def grads_of_no_backward(model, batch):
    out = model(**{k: v for k, v in batch.items() if k != "num_tokens"})
    logits = out.logits[:, :-1].float()
    loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch["labels"][:, 1:], ignore_index=IGNORE,
                                             reduction="sum")
    return loss, int((batch["labels"][:, 1:] != IGNORE).sum()), None


def test_padded_batches_need_no_attention_mask(tiny):
    # Right padding comes after every real token, so causal attention alone gives each real token
    # the logits it has alone and with an explicit padding mask (the mask only costs SDPA its fast kernel).
    model, proc = tiny
    model.eval()
    samples = [video_sample("a", "[1.25, 2.5, 3.75]", seed=1), image_sample("b", "blue")]
    collator = Ov2DataCollator(proc, 4096, packing=False)
    batch = collator(samples)
    lengths = [len(collator.encode(s)) for s in samples]
    assert "attention_mask" not in batch and "position_ids" not in batch
    assert int(batch["num_tokens"]) == sum(lengths) and batch["input_ids"].shape[1] == max(lengths) > min(lengths)
    inputs = {k: v for k, v in batch.items() if k not in ("num_tokens", "labels")}
    masked = {**inputs, "attention_mask": (torch.arange(max(lengths)) < torch.tensor(lengths)[:, None]).long()}
    with torch.no_grad():
        plain = model(**inputs).logits
        with_mask = model(**masked).logits
        alone = [model(**{k: v for k, v in collator([s]).items() if k not in ("num_tokens", "labels")}).logits[0]
                 for s in samples]
    for row, n in enumerate(lengths):
        assert torch.allclose(plain[row, :n], with_mask[row, :n], atol=1e-5)
        assert torch.allclose(plain[row, :n], alone[row], atol=1e-5)
