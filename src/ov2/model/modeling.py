"""LLaVA-OneVision-2: OneVision encoder + 2x2 merger + an unmodified Qwen3 (transformers).

State-dict layout (the release's names): ``model.visual.*`` (vision tower and merger),
``model.language_model.*`` (Qwen3 base model), ``lm_head.weight``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Qwen3Model
from transformers.cache_utils import Cache
from transformers.models.qwen3.modeling_qwen3 import Qwen3RotaryEmbedding

from ..fileio import atomic_write_text
from .checkpoint import (
    CheckpointError,
    check_keys,
    read_state_dict,
    stored_dtype,
    write_state_dict,
)
from .config import ConfigError, LlavaOnevision2Config
from .rope import VisionRotaryEmbedding
from .vision import OneVisionEncoder

CONFIG_NAME = "config.json"


@dataclass
class CausalLMOutput:
    """What :meth:`LlavaOnevision2ForConditionalGeneration.forward` returns."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None
    past_key_values: Cache | None = None


class LlavaOnevision2Model(nn.Module):
    """Holds ``visual`` and ``language_model`` (the release's ``model.`` prefix)."""

    def __init__(self, config: LlavaOnevision2Config) -> None:
        super().__init__()
        self.visual = OneVisionEncoder(config.vision_config)
        self.language_model = Qwen3Model(config.text_config)


class LlavaOnevision2ForConditionalGeneration(nn.Module):
    """The full model. Build from a config, or load a checkpoint with :meth:`from_pretrained`."""

    def __init__(self, config: LlavaOnevision2Config) -> None:
        super().__init__()
        if config.vision_config.out_hidden_size != config.text_config.hidden_size:
            raise ConfigError(
                f"vision out_hidden_size {config.vision_config.out_hidden_size} != "
                f"text hidden_size {config.text_config.hidden_size}"
            )
        self.config = config
        self.model = LlavaOnevision2Model(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.language_model.embed_tokens.weight
        self.generation_defaults: dict[str, Any] = {}

    # ------------------------------------------------------------------ parts
    @property
    def visual(self) -> OneVisionEncoder:
        return self.model.visual

    @property
    def language_model(self) -> Qwen3Model:
        return self.model.language_model

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    # ---------------------------------------------------------------- forward
    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        image_grid_thw: torch.Tensor | None,
        patch_positions: torch.Tensor,
        window_lengths: torch.Tensor | Sequence[int] | None = None,
        positions_row_major: bool = False,
    ) -> torch.Tensor:
        """Merged visual features [N/merge^2, hidden], in the order of the pixel rows."""
        pv = pixel_values.to(self.visual.embeddings.patch_embedding.weight.dtype)
        return self.visual(pv, image_grid_thw, patch_positions, window_lengths, positions_row_major)

    def embed_inputs(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | Sequence[int] | None = None,
        positions_row_major: bool = False,
    ) -> torch.Tensor:
        """Token embeddings with visual features scattered into the ``<|image_pad|>`` positions."""
        embeds = self.language_model.embed_tokens(input_ids)
        pad_mask = input_ids == self.config.image_token_id
        n_pads = int(pad_mask.sum())
        if pixel_values is None:
            if n_pads:
                raise ValueError(f"input_ids hold {n_pads} <|image_pad|> tokens but no pixel_values were given")
            return embeds
        if patch_positions is None:
            raise ValueError("patch_positions is required with pixel_values")
        feats = self.get_image_features(pixel_values, image_grid_thw, patch_positions, window_lengths, positions_row_major)
        if feats.shape[0] != n_pads:
            raise ValueError(
                f"visual features and image tokens do not match: {n_pads} <|image_pad|> tokens in input_ids, "
                f"{feats.shape[0]} features from {pixel_values.shape[0]} patches "
                f"({self.visual.spatial_merge_size}x{self.visual.spatial_merge_size} merge)"
            )
        mask = pad_mask.unsqueeze(-1).expand_as(embeds)
        return embeds.masked_scatter(mask, feats.to(embeds.dtype))

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        positions_row_major: bool = False,
    ) -> CausalLMOutput:
        """Logits [B, L, vocab] (and the causal-LM loss when ``labels`` are given).

        The LLM gets plain 1-D positions: ``cumsum(attention_mask) - 1`` (padding
        slots set to 1, as the release does) or ``arange`` without a mask.
        """
        if inputs_embeds is None:
            if input_ids is None:
                raise ValueError("give input_ids or inputs_embeds")
            inputs_embeds = self.embed_inputs(
                input_ids, pixel_values, image_grid_thw, patch_positions, window_lengths, positions_row_major
            )
        if position_ids is None:
            position_ids = default_position_ids(attention_mask, inputs_embeds.shape[0], inputs_embeds.shape[1], inputs_embeds.device)
        out = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels)
        return CausalLMOutput(logits=logits, loss=loss, past_key_values=out.past_key_values if use_cache else None)

    # ------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Autoregressive decoding with a KV cache; see :func:`ov2.model.generation.generate`."""
        from .generation import generate

        return generate(self, input_ids, **kwargs)

    # ------------------------------------------------------------ save / load
    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        dtype: torch.dtype | str | None = None,
        device: str | torch.device | None = None,
    ) -> "LlavaOnevision2ForConditionalGeneration":
        """Load a checkpoint directory (config.json + safetensors, single or sharded).

        Loading is strict: a missing, unexpected or wrongly shaped tensor raises
        :class:`~ov2.model.checkpoint.CheckpointError` listing them. ``dtype=None``
        uses the dtype named in config.json (else the stored one).
        """
        d = Path(directory)
        if not d.is_dir():
            raise CheckpointError(f"model directory not found: {d}")
        if not (d / CONFIG_NAME).exists():
            raise CheckpointError(f"{d} has no {CONFIG_NAME}")
        raw = json.loads((d / CONFIG_NAME).read_text())
        config = LlavaOnevision2Config.from_dict(raw)
        target_dtype = resolve_dtype(dtype, raw, d)
        with torch.device("meta"):
            model = cls(config)
        state = read_state_dict(d, dtype=target_dtype)
        embed_key = "model.language_model.embed_tokens.weight"
        if config.tie_word_embeddings:
            # Tied checkpoints may omit the head; it is the embedding matrix.
            state.setdefault("lm_head.weight", state.get(embed_key, torch.empty(0)))
        expected = {k: v.shape for k, v in model.state_dict().items()}
        check_keys(expected, state)
        model.load_state_dict(state, strict=True, assign=True)
        if config.tie_word_embeddings:
            model.lm_head.weight = model.language_model.embed_tokens.weight
        model._rebuild_buffers()  # replaces the meta buffers
        model.to(device=device or "cpu", dtype=target_dtype)
        model._rebuild_buffers()  # again after the cast, so the tables are float32
        model.eval()
        gen = d / "generation_config.json"
        if gen.exists():
            model.generation_defaults = json.loads(gen.read_text())
        return model

    def _rebuild_buffers(self) -> None:
        """Recompute the non-persistent RoPE tables (they are not stored in checkpoints)."""
        # Built after any dtype cast: like the release, the inverse frequencies stay float32.
        vc = self.config.vision_config
        device = self.device
        self.model.visual.video_rope = VisionRotaryEmbedding(vc.head_dim, vc.rope_theta).to(device)
        self.model.language_model.rotary_emb = Qwen3RotaryEmbedding(config=self.config.text_config).to(device)
        left = [name for name, b in self.named_buffers() if b.is_meta]
        if left:
            raise CheckpointError(f"buffers left uninitialised after loading: {left}")

    def save_pretrained(self, directory: str | os.PathLike[str], max_shard_size: int | str = "5GB") -> Path:
        """Write config.json and safetensors weights (sharded above ``max_shard_size``) with the release's key names."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = dict(self.state_dict())
        if self.config.tie_word_embeddings:
            # Tied head: stored once, as transformers does (the loader re-ties it).
            state.pop("lm_head.weight", None)
        write_state_dict(state, d, max_shard_size=max_shard_size)
        cfg = self.config.to_dict()
        cfg["dtype"] = str(self.dtype).replace("torch.", "")
        atomic_write_text(d / CONFIG_NAME, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        if self.generation_defaults:
            atomic_write_text(d / "generation_config.json", json.dumps(self.generation_defaults, indent=2) + "\n")
        return d


def default_position_ids(attention_mask: torch.Tensor | None, batch: int, length: int, device: torch.device) -> torch.Tensor:
    if attention_mask is not None:
        pos = attention_mask.long().cumsum(-1) - 1
        return pos.masked_fill(attention_mask == 0, 1)
    return torch.arange(length, device=device).unsqueeze(0).expand(batch, -1)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross entropy averaged over the labelled (!= -100) tokens."""
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shift_labels = labels[:, 1:].reshape(-1).to(shift_logits.device)
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def resolve_dtype(dtype: torch.dtype | str | None, raw_config: dict[str, Any], directory: Path) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype != "auto":
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
        return _DTYPES[dtype]
    for key in ("dtype", "torch_dtype"):
        name = raw_config.get(key) or (raw_config.get("text_config") or {}).get(key)
        if isinstance(name, str) and name.replace("torch.", "") in _DTYPES:
            return _DTYPES[name.replace("torch.", "")]
    return stored_dtype(directory) or torch.float32
