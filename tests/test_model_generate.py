"""Forward and stock generate(): placeholder scatter, greedy/beam/sampling, streaming, padded batches, CLI."""

import argparse
import re

import numpy as np
import pytest
import torch
from transformers import TextStreamer

from model_helpers import image_inputs, video_inputs
from ov2.commands import chat as chat_command
from ov2.errors import VideoError
from ov2.model import LlavaOnevision2ForConditionalGeneration, answer
from ov2.model.answer import user_message
from ov2.model.tiny import make_tiny_checkpoint, synthetic_visual_input
from ov2.processing import Processor


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = make_tiny_checkpoint(tmp_path_factory.mktemp("gen") / "tiny", seed=3)
    return d, LlavaOnevision2ForConditionalGeneration.from_pretrained(d), Processor.from_pretrained(d)


IMG = (np.random.default_rng(0).random((56, 84, 3)) * 255).astype(np.uint8)
VISUAL = ("pixel_values", "image_grid_thw", "patch_positions", "window_lengths")


def greedy_by_hand(model, inp, steps):
    """Greedy decoding written out: full recompute from forward at every step, no cache."""
    ids = inp["input_ids"]
    mask = inp["attention_mask"]
    visual = {k: inp[k] for k in VISUAL if k in inp}
    with torch.no_grad():
        for _ in range(steps):
            logits = model(input_ids=ids, attention_mask=mask, **visual).logits
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return ids


def test_features_land_on_pad_positions(setup):
    _, model, proc = setup
    inp = image_inputs(proc, IMG)
    feats = model.get_image_features(inp["pixel_values"], inp["image_grid_thw"], inp["patch_positions"])
    emb = model.model.embed_inputs(inp["input_ids"], inp["pixel_values"], inp["image_grid_thw"], inp["patch_positions"])
    pads = (inp["input_ids"][0] == proc.image_token_id).nonzero().squeeze(1)
    assert torch.equal(emb[0, pads], feats)
    other = (inp["input_ids"][0] != proc.image_token_id).nonzero().squeeze(1)
    assert torch.equal(emb[0, other], model.get_input_embeddings()(inp["input_ids"][0, other]))


def test_placeholder_count_mismatch_is_a_clear_error(setup):
    _, model, proc = setup
    inp = image_inputs(proc, IMG)
    ids = inp["input_ids"].clone()
    first = int((ids[0] == proc.image_token_id).nonzero()[0])
    ids[0, first] = 65
    with pytest.raises(ValueError, match=re.escape("5 <|image_pad|> tokens in input_ids, 6 features")):
        model(**{**inp, "input_ids": ids})
    with pytest.raises(ValueError, match="no pixel_values"):
        model(input_ids=inp["input_ids"])


def test_stock_greedy_generate_equals_hand_written_loop(setup):
    _, model, proc = setup
    inp = video_inputs(proc, synthetic_visual_input(4, (2, 4)), "describe")
    out = model.generate(**inp, max_new_tokens=6, do_sample=False, eos_token_id=None)
    assert torch.equal(out, greedy_by_hand(model, inp, 6))


def test_pixels_only_at_prefill_and_prefill_keeps_last_logits(setup):
    _, model, proc = setup
    inp = video_inputs(proc, synthetic_visual_input(4, (2, 4)), "describe")
    seen = []
    hook = model.lm_head.register_forward_hook(lambda m, i, o: seen.append(o.shape[1]))
    calls = []
    vhook = model.visual.register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        model.generate(**inp, max_new_tokens=5, do_sample=False, eos_token_id=None)
    finally:
        hook.remove()
        vhook.remove()
    assert calls == [1]  # the vision tower runs once, at prefill
    assert seen == [1] * 5  # prefill projects only the last position onto the vocabulary


def test_beam_search_and_return_sequences(setup):
    _, model, proc = setup
    vi = synthetic_visual_input(8, (2, 2), padded_blocks=[(7, 0)])
    prompts = [proc.apply_chat_template(user_message("a", image=True), add_generation_prompt=True),
               proc.apply_chat_template(user_message("bb b", video=True), add_generation_prompt=True)]
    batch = proc(text=prompts, images=[IMG, None], videos=[None, vi])
    one_beam = model.generate(**batch, max_new_tokens=4, num_beams=1, do_sample=False, eos_token_id=None)
    assert torch.equal(one_beam, greedy_by_hand(model, batch, 4))
    beams = model.generate(**batch, max_new_tokens=4, num_beams=3, num_return_sequences=2, do_sample=False,
                           eos_token_id=None, output_scores=True, return_dict_in_generate=True)
    assert beams.sequences.shape[0] == 4  # 2 samples x 2 returned beams, visual rows repeated per sample
    # The best beam scores at least as well as the greedy path (length-normalised log-probs).
    for i in range(2):
        greedy = one_beam[i : i + 1]
        with torch.no_grad():
            single = {k: batch[k] for k in VISUAL}
            sl = slice(0, 1) if i == 0 else slice(1, 2)
            logits = model(input_ids=greedy, attention_mask=torch.cat(
                [batch["attention_mask"][sl], torch.ones(1, 4, dtype=torch.long)], 1), **_sample_visual(batch, i)).logits
        logp = logits[0, -5:-1].log_softmax(-1).gather(1, greedy[0, -4:, None]).sum() / 4
        assert beams.sequences_scores[2 * i] >= logp - 1e-4


def _sample_visual(batch, i):
    """Visual inputs of sample i of a two-sample batch (an image first, then a video)."""
    n0 = int(batch["image_grid_thw"][0].prod())
    rows = slice(0, n0) if i == 0 else slice(n0, None)
    grid = slice(0, 1) if i == 0 else slice(1, None)
    wins = slice(0, 1) if i == 0 else slice(1, None)
    return {"pixel_values": batch["pixel_values"][rows], "patch_positions": batch["patch_positions"][rows],
            "image_grid_thw": batch["image_grid_thw"][grid], "window_lengths": batch["window_lengths"][wins]}


def test_padded_batch_matches_single_runs(setup):
    _, model, proc = setup
    vi = synthetic_visual_input(8, (2, 2), padded_blocks=[(7, 0)])
    questions = [("first question", IMG, None), ("second, longer question?", None, vi)]
    prompts = [proc.apply_chat_template(user_message(q, image=im is not None, video=v is not None),
                                        add_generation_prompt=True) for q, im, v in questions]
    batch = proc(text=prompts, images=[IMG, None], videos=[None, vi])
    assert batch["attention_mask"][0, 0] == 0 or batch["attention_mask"][1, 0] == 0
    out = model.generate(**batch, max_new_tokens=4, do_sample=False, eos_token_id=None)
    for i, (q, im, v) in enumerate(questions):
        single = image_inputs(proc, im, q) if im is not None else video_inputs(proc, v, q)
        one = model.generate(**single, max_new_tokens=4, do_sample=False, eos_token_id=None)
        assert torch.equal(out[i, -4:], one[0, -4:])
        with torch.no_grad():
            la = model(**single).logits[0, -1]
            lb = model(**batch).logits[i, -1]
        assert torch.allclose(la, lb, atol=1e-4)


def test_sampling_is_seeded_streamer_and_eos_stop(setup, capsys):
    _, model, proc = setup
    inp = proc(text=proc.apply_chat_template(user_message("hi"), add_generation_prompt=True))
    def sample():
        torch.manual_seed(7)
        return model.generate(**inp, max_new_tokens=8, do_sample=True, top_k=20, top_p=0.9, temperature=1.5,
                              eos_token_id=None)
    a, b = sample(), sample()
    greedy = model.generate(**inp, max_new_tokens=8, do_sample=False, eos_token_id=None)
    assert torch.equal(a, b) and a.shape == greedy.shape and not torch.equal(a, greedy)
    first = int(greedy[0, inp["input_ids"].shape[1]])
    stopped = model.generate(**inp, max_new_tokens=8, do_sample=False, eos_token_id=first)
    assert stopped.shape[1] == inp["input_ids"].shape[1] + 1
    model.generate(**inp, max_new_tokens=8, do_sample=False, eos_token_id=None,
                   streamer=TextStreamer(proc.tokenizer, skip_prompt=True))
    assert capsys.readouterr().out.rstrip("\n") == proc.decode(greedy[0, inp["input_ids"].shape[1]:])


def test_loss_uses_only_labelled_tokens(setup):
    _, model, proc = setup
    inp = proc(text=proc.apply_chat_template(user_message("hi"), add_generation_prompt=True))
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
