"""Forward/generation: placeholder scatter, KV-cache decoding, padded batches, sampling, CLI."""

import argparse

import numpy as np
import pytest
import torch

from ov2.commands import chat as chat_command
from ov2.errors import VideoError
from ov2.model import LlavaOnevision2ForConditionalGeneration, answer
from ov2.model.tiny import make_tiny_checkpoint, synthetic_visual_input
from ov2.processing import Processor


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = make_tiny_checkpoint(tmp_path_factory.mktemp("gen") / "tiny", seed=3)
    return d, LlavaOnevision2ForConditionalGeneration.from_pretrained(d), Processor.from_pretrained(d)


IMG = (np.random.default_rng(0).random((56, 84, 3)) * 255).astype(np.uint8)


def test_features_land_on_pad_positions(setup):
    _, model, proc = setup
    inp = proc("q", images=IMG)
    feats = model.get_image_features(inp["pixel_values"], inp["image_grid_thw"], inp["patch_positions"])
    emb = model.embed_inputs(inp["input_ids"], inp["pixel_values"], inp["image_grid_thw"], inp["patch_positions"])
    pads = (inp["input_ids"][0] == proc.image_token_id).nonzero().squeeze(1)
    assert torch.equal(emb[0, pads], feats)
    other = (inp["input_ids"][0] != proc.image_token_id).nonzero().squeeze(1)
    assert torch.equal(emb[0, other], model.language_model.embed_tokens(inp["input_ids"][0, other]))


def test_placeholder_count_mismatch_is_a_clear_error(setup):
    _, model, proc = setup
    inp = proc("q", images=IMG)
    ids = inp["input_ids"].clone()
    first = int((ids[0] == proc.image_token_id).nonzero()[0])
    ids[0, first] = 65
    with pytest.raises(ValueError, match="5 <\\|image_pad\\|> tokens in input_ids, 6 features"):
        model(**{**inp, "input_ids": ids})
    with pytest.raises(ValueError, match="no pixel_values"):
        model(input_ids=inp["input_ids"])


def test_kv_cache_greedy_matches_full_recompute(setup):
    _, model, proc = setup
    inp = proc("describe", videos=synthetic_visual_input(4, (2, 4)))
    out = model.generate(**inp, max_new_tokens=6, eos_token_id=[])
    ids = inp["input_ids"]
    for _ in range(6):
        logits = model(**{**inp, "input_ids": ids, "attention_mask": torch.ones_like(ids)}).logits
        ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, ids)


def test_padded_batch_matches_single_runs(setup):
    _, model, proc = setup
    vi = synthetic_visual_input(8, (2, 2), padded_blocks=[(7, 0)])
    batch = proc(["first question", "second, longer question?"], images=[IMG, None], videos=[None, vi])
    assert batch["attention_mask"][0, 0] == 0 or batch["attention_mask"][1, 0] == 0
    out = model.generate(**batch, max_new_tokens=4, eos_token_id=[])
    for i, (q, im, v) in enumerate([("first question", IMG, None), ("second, longer question?", None, vi)]):
        single = proc(q, images=im, videos=v)
        one = model.generate(**single, max_new_tokens=4, eos_token_id=[])
        assert torch.equal(out[i, -4:], one[0, -4:])
        la = model(**single).logits[0, -1]
        lb = model(**batch).logits[i, -1]
        assert torch.allclose(la, lb, atol=1e-4)


def test_sampling_is_seeded_and_eos_stops(setup):
    _, model, proc = setup
    inp = proc("hi")
    g = lambda: torch.Generator().manual_seed(7)
    a = model.generate(**inp, max_new_tokens=8, do_sample=True, top_k=20, top_p=0.9, temperature=1.5, generator=g(), eos_token_id=[])
    b = model.generate(**inp, max_new_tokens=8, do_sample=True, top_k=20, top_p=0.9, temperature=1.5, generator=g(), eos_token_id=[])
    greedy = model.generate(**inp, max_new_tokens=8, eos_token_id=[])
    assert torch.equal(a, b) and a.shape == greedy.shape
    first = int(greedy[0, inp["input_ids"].shape[1]])
    stopped = model.generate(**inp, max_new_tokens=8, eos_token_id=first)
    assert stopped.shape[1] == inp["input_ids"].shape[1] + 1


def test_loss_uses_only_labelled_tokens(setup):
    _, model, proc = setup
    inp = proc("hi")
    labels = torch.full_like(inp["input_ids"], -100)
    labels[0, -3:] = inp["input_ids"][0, -3:]
    out = model(**inp, labels=labels)
    logp = out.logits[0, -4:-1].log_softmax(-1)
    want = -logp.gather(1, inp["input_ids"][0, -3:, None]).mean()
    assert torch.allclose(out.loss, want, atol=1e-5)


def test_answer_and_chat_cli(setup, tmp_path, capsys):
    d, model, proc = setup
    from PIL import Image

    path = tmp_path / "img.png"
    Image.fromarray(IMG).save(path)
    want = answer(model, proc, "What is it?", image=str(path), max_new_tokens=5)
    # The chat subcommand on its own parser (the full `ov2` CLI also loads other areas' commands).
    parser = argparse.ArgumentParser(prog="ov2")
    chat_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chat", "--model", str(d), "--image", str(path), "--max-new-tokens", "5", "What is it?"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == want + "\n"
    args = parser.parse_args(["chat", "--model", str(tmp_path / "none"), "--image", str(path), "q"])
    with pytest.raises(VideoError, match="not found"):  # a VideoError: `ov2` prints it, exit code 2
        args.func(args)
