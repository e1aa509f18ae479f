"""A tiny random checkpoint (2-layer ViT and 2-layer Qwen3 of width 64) for tests and demos.

The directory is what ``save_pretrained`` writes for the model and the processor:
config.json, model.safetensors, generation_config.json, tokenizer files,
preprocessor_config.json, video_preprocessor_config.json, processor_config.json and the
chat template. Its tokenizer is byte-level (256 byte tokens, no merges)
plus the Qwen2-VL special tokens, built with the ``tokenizers`` library.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2VLImageProcessorPil

from ..processing.processor import LlavaOnevision2Processor
from ..processing.text import SPECIAL_TOKENS
from ..processing.video import LlavaOnevision2VideoProcessor
from ..visual_input import Group, Tokens, VisualInput
from .config import LlavaOnevision2Config
from .modeling import LlavaOnevision2ForConditionalGeneration

TINY_VOCAB = 272  # 256 bytes + 7 special tokens + " seconds>", rounded up


def build_byte_tokenizer() -> Tokenizer:
    """Byte-level BPE without merges: every byte is a token; special tokens follow (ids 256...).

    One added word, `` seconds>`` (id 263): ``<t seconds>`` tags are most of a codec prompt's
    text, and a byte per character would make them three times longer than a real tokenizer does.
    """
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet, key=lambda c: _byte_of(c)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.add_tokens([AddedToken(" seconds>", normalized=False)])
    return tok


def _byte_of(ch: str) -> int:
    # ByteLevel maps printable bytes to themselves and the rest to U+0100 onwards (GPT-2 scheme).
    table = _gpt2_byte_table()
    return table[ch]


_TABLE: dict[str, int] = {}


def _gpt2_byte_table() -> dict[str, int]:
    if not _TABLE:
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs = bs[:]
        n = 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        _TABLE.update({chr(c): b for b, c in zip(bs, cs)})
    return _TABLE


TINY_WIDTHS = (64, 128, 256)


TEXT_HEAD_DIMS = (16, 32, 64)


def tiny_config(tokenizer: Tokenizer, width: int = 64, text_layers: int = 2,
                text_head_dim: int = 16, patch_positions: bool = False) -> LlavaOnevision2Config:
    """A 2-layer vision tower and a ``text_layers``-layer Qwen3 of ``width`` (64, 128 or 256): vision heads
    of 32 dims (the 4:6:6 RoPE split needs a multiple of 32), text heads of ``text_head_dim`` dims
    (``width // text_head_dim`` of them), 2 query heads per KV head.

    ``text_head_dim=32`` makes a model vLLM's CPU attention kernel accepts (it refuses head_dim < 32);
    the default 16 keeps every existing test's model (and its random weights) unchanged.

    ``patch_positions`` turns on the merger's optional absolute (row, col) embeddings
    (``use_patch_position_encoding``, off in the 8B), with 64 rows of each: merged-token coordinates up to
    64 x 28 = 1792 pixels. A model trained from scratch for a few hundred steps has no other way to tell where
    a codec token came from (canvas order says nothing about place, and the ViT's RoPE is relative).
    """
    if width not in TINY_WIDTHS:
        raise ValueError(f"tiny width must be one of {TINY_WIDTHS}, got {width}")
    if text_head_dim not in TEXT_HEAD_DIMS or text_head_dim > width:
        raise ValueError(f"tiny text_head_dim must be one of {TEXT_HEAD_DIMS} and at most width {width}, got {text_head_dim}")
    heads = width // text_head_dim
    ids = {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}
    vision = {
        "model_type": "onevision_encoder",
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": 2,
        "num_attention_heads": width // 32,
        "patch_size": 14,
        "out_hidden_size": width,
        "spatial_merge_size": 2,
        "frame_windows_size": 4,
        **({"use_patch_position_encoding": True, "max_position_embeddings": 64} if patch_positions else {}),
    }
    text: dict[str, Any] = {
        "model_type": "qwen3",
        "vocab_size": TINY_VOCAB,
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": text_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": max(1, heads // 2),
        "head_dim": text_head_dim,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "tie_word_embeddings": False,
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "bos_token_id": ids["<|endoftext|>"],
    }
    return LlavaOnevision2Config(
        vision_config=vision,
        text_config=text,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def make_tiny_model(seed: int = 0, width: int = 64, text_layers: int = 2, text_head_dim: int = 16,
                    patch_positions: bool = False) -> tuple[LlavaOnevision2ForConditionalGeneration, Tokenizer]:
    """A random tiny model (every weight perturbed, so tests see every weight) and its byte tokenizer."""
    tok = build_byte_tokenizer()
    config = tiny_config(tok, width, text_layers, text_head_dim, patch_positions)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaOnevision2ForConditionalGeneration(config)
        # Default init leaves LayerNorm at weight 1 / bias 0; perturb everything so tests see every weight.
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    model.generation_config = GenerationConfig(
        eos_token_id=[tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")],
        pad_token_id=tok.token_to_id("<|endoftext|>"),
        bos_token_id=tok.token_to_id("<|endoftext|>"),
    )
    model.eval()
    return model, tok


def make_tiny_processor(tokenizer: Tokenizer) -> LlavaOnevision2Processor:
    """The processor of the tiny checkpoint: its tokenizer, small image/video pixel budgets."""
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   model_max_length=32768)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=56 * 56 * 16, patch_size=14, merge_size=2,
                                               temporal_patch_size=1)
    video_processor = LlavaOnevision2VideoProcessor(max_pixels=56 * 56 * 16)
    return LlavaOnevision2Processor(image_processor, fast, video_processor)


def make_tiny_checkpoint(directory: str | os.PathLike[str], seed: int = 0, text_head_dim: int = 16) -> Path:
    """Write a complete tiny random checkpoint directory (model + processor files) and return its path.

    ``text_head_dim=32`` for a checkpoint vLLM can serve on CPU (see :func:`tiny_config`).
    """
    d = Path(directory)
    model, tok = make_tiny_model(seed, text_head_dim=text_head_dim)
    model.save_pretrained(d)
    make_tiny_processor(tok).save_pretrained(d)
    return d


def synthetic_visual_input(
    num_canvases: int = 8,
    grid: tuple[int, int] = (4, 4),
    backend: str = "codec",
    padded_blocks: Sequence[tuple[int, int]] = (),
    seed: int = 0,
    fps: float = 10.0,
) -> VisualInput:
    """A hand-built :class:`~ov2.VisualInput` with random canvases, for tests without a video.

    codec: groups of 4 canvases; the I-canvas (first of a group) takes all blocks from
    frame 10*g, the P-canvases alternate blocks between frames 10*g+1 and 10*g+2 (so the
    prompt gets several runs). ``padded_blocks`` lists (canvas, block index) pairs marked as
    padding (frame -1). frames: one canvas per frame, frame index 3*c.
    """
    rng = np.random.default_rng(seed)
    gh, gw = grid
    p = 14
    canvases = rng.integers(0, 256, size=(num_canvases, gh * p, gw * p, 3), dtype=np.uint8)
    cols: dict[str, list[Any]] = {k: [] for k in ("canvas", "canvas_row", "canvas_col", "frame", "time", "src_row", "src_col", "group", "kind")}
    pads = set(padded_blocks)
    for c in range(num_canvases):
        g = c // 4 if backend != "frames" else c
        block = 0
        for br in range(gh // 2):
            for bc in range(gw // 2):
                if backend == "frames":
                    frame, kind = 3 * c, "F"
                elif c % 4 == 0:
                    frame, kind = 10 * g, "I"
                else:
                    frame, kind = 10 * g + 1 + (block % 2), "P"
                if (c, block) in pads:
                    frame = -1
                for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
                    r, col = 2 * br + dr, 2 * bc + dc
                    cols["canvas"].append(c)
                    cols["canvas_row"].append(r)
                    cols["canvas_col"].append(col)
                    cols["frame"].append(frame)
                    cols["time"].append(frame / fps if frame >= 0 else -1.0)
                    # Source coordinates differ from canvas ones (blocks are moved when packed).
                    cols["src_row"].append(r if backend == "frames" else (r + 2 * (c % 4)) % (2 * gh))
                    cols["src_col"].append(col)
                    cols["group"].append(g)
                    cols["kind"].append(kind)
                block += 1
    tokens = Tokens(**{k: np.asarray(v) for k, v in cols.items()})
    if backend == "frames":
        groups = [Group(i, 3 * i / fps, (3 * i + 1) / fps, [i], 3 * i) for i in range(num_canvases)]
    else:
        groups = [Group(g, 10 * g / fps, (10 * g + 10) / fps, list(range(4 * g, 4 * g + 4)), 10 * g) for g in range(num_canvases // 4)]
    meta = {"processed": {"height": gh * p, "width": gw * p}, "backend": backend, "synthetic": True}
    return VisualInput(canvases=canvases, tokens=tokens, groups=groups, meta=meta, patch_size=p, backend=backend)
