"""vLLM's offline ``LLM`` API with ov2's plugin gives the same greedy tokens as HF ``generate()``.

Runs only in the vLLM venv (``make vllm``); elsewhere the module is skipped. One engine is
shared by the module (start-up takes about a minute on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (build .venv-vllm with `make vllm`)")

from vllm_helpers import (  # noqa: E402
    ENGINE_KWARGS,
    IMAGE_PROMPT,
    MAX_NEW,
    TEXT_PROMPT,
    VIDEO_PROMPT,
    HFReference,
    make_clip,
    make_servable_checkpoint,
    set_engine_env,
)

from ov2.integrations.vllm import video_input  # noqa: E402
from ov2.model.tiny import synthetic_visual_input  # noqa: E402

CANVASES = 8


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    set_engine_env()
    from vllm import LLM, SamplingParams

    root = tmp_path_factory.mktemp("vllm_offline")
    ckpt = make_servable_checkpoint(root / "tiny")
    clip = make_clip(root / "clip.mp4")
    llm = LLM(model=str(ckpt), mm_processor_kwargs={"canvases": CANVASES}, **ENGINE_KWARGS)
    params = SamplingParams(temperature=0.0, max_tokens=MAX_NEW)
    yield {"llm": llm, "params": params, "hf": HFReference(ckpt), "clip": clip}
    del llm


def vllm_tokens(setup, messages, mm_data=None, **mm_kwargs) -> list[int]:
    request = {"prompt": setup["hf"].prompt(messages)}
    if mm_data:
        request["multi_modal_data"] = mm_data
    if mm_kwargs:
        request["mm_processor_kwargs"] = mm_kwargs
    out = setup["llm"].generate([request], setup["params"], use_tqdm=False)
    return list(out[0].outputs[0].token_ids)


def test_text_matches_hf(setup):
    assert vllm_tokens(setup, TEXT_PROMPT) == setup["hf"].generate(TEXT_PROMPT)


def test_image_matches_hf(setup):
    from PIL import Image

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8))
    expected = setup["hf"].generate(IMAGE_PROMPT, images=[np.asarray(image)])
    assert vllm_tokens(setup, IMAGE_PROMPT, {"image": image}) == expected


@pytest.mark.parametrize("backend", ["codec", "frames"])
def test_video_file_matches_hf(setup, backend):
    """The clip's bytes tokenized inside vLLM with the request's backend equal HF on the same file."""
    expected = setup["hf"].generate(VIDEO_PROMPT, videos=[str(setup["clip"])], video_backend=backend,
                                    canvases=CANVASES)
    got = vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(setup["clip"])}, video_backend=backend)
    assert got == expected


def test_codec_with_padding_rows_matches_hf(setup):
    """Canvases ending in padding: ov2's window lengths, not the grid's, must reach vLLM's vision tower."""
    vi = synthetic_visual_input(8, grid=(4, 4), padded_blocks=[(3, 3), (7, 2), (7, 3)], seed=4)
    assert (vi.tokens.frame == -1).sum() == 12  # three 2x2 blocks of padding, in two windows
    expected = setup["hf"].generate(VIDEO_PROMPT, videos=[vi])
    assert vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(vi)}) == expected


def test_codec_path_bytes_and_file_object_agree(setup):
    data = setup["clip"].read_bytes()
    by_path = vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(setup["clip"])}, canvases=4)
    by_bytes = vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(data)}, canvases=4)
    with open(setup["clip"], "rb") as f:
        by_file = vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(f)}, canvases=4)
    assert by_path == by_bytes == by_file
    # The request's canvases=4 was used, not the engine's default of 8.
    assert by_path == setup["hf"].generate(VIDEO_PROMPT, videos=[str(setup["clip"])], canvases=4)


def test_bad_option_is_a_value_error_with_ov2s_message(setup):
    with pytest.raises(ValueError, match="InvalidOptionError: canvases=5 is not a multiple of images_per_group=4"):
        vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(setup["clip"])}, canvases=5)
    # The engine keeps working.
    assert vllm_tokens(setup, TEXT_PROMPT) == setup["hf"].generate(TEXT_PROMPT)


def test_tokenize_options_reach_ov2(setup):
    """A top-level tokenizer option (energy) changes the tokens exactly as in HF's codec_config."""
    got = vllm_tokens(setup, VIDEO_PROMPT, {"video": video_input(setup["clip"])}, energy="log1p")
    expected = setup["hf"].generate(VIDEO_PROMPT, videos=[str(setup["clip"])], canvases=CANVASES,
                                    codec_config={"energy": "log1p"})
    assert got == expected
