"""LLaVA-OneVision-2 as transformers 5.x classes: OneVision encoder + 2x2 merger + an unmodified Qwen3.

State-dict layout (the release's names): ``model.visual.*`` (vision tower and merger),
``model.language_model.*`` (Qwen3 base model), ``lm_head.weight``. The class ladder is
the library's: a :class:`~transformers.PreTrainedModel` base that declares what the
model supports, the vision model, :class:`LlavaOnevision2Model` (``visual`` +
``language_model``) and :class:`LlavaOnevision2ForConditionalGeneration` with
:class:`~transformers.GenerationMixin`. ``from_pretrained`` / ``save_pretrained`` /
``generate`` are transformers' own; ``from_pretrained`` only adds strictness.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub.errors import StrictDataclassError
from torch import nn
from transformers import AutoModel, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast, BaseModelOutputWithPooling, CausalLMOutputWithPast

from .checkpoint import LEGACY_KEY_RULES, CheckpointError, legacy_mapping_registered, strict_loading_error
from .config import ConfigError, LlavaOnevision2Config, OneVisionEncoderConfig, check_model_type
from .attention import grid_window_lengths
from .varlen import check_packed_batch
from .rope import VisionRotaryEmbedding, inverse_frequencies, split_sizes
from .vision import (
    OneVisionEncoderEmbeddings,
    OneVisionEncoderEncoder,
    OneVisionEncoderLayer,
    PoolingHead,
    VisionPatchMerger,
    _norm,
    cu_seqlens_from_lengths,
    row_major_to_block,
    resolve_window_lengths,
)

try:  # transformers >= 5.21 (also handles boolean masks)
    from transformers.modeling_utils import slice_logits_to_keep
except ImportError:  # 5.16-5.20: the library's models slice inline, as here

    def slice_logits_to_keep(hidden_states: torch.Tensor, logits_to_keep: int | torch.Tensor) -> torch.Tensor:
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        return hidden_states[:, keep, :]


# transformers 5.24 renamed the KV cache argument and output field ``past_key_values`` -> ``cache`` (generate
# passes it under the new name). Our forwards accept both and hand it on under the installed version's name.
CACHE_KWARG = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


def take_cache(past_key_values: Cache | None, kwargs: dict[str, Any]) -> Cache | None:
    """The KV cache whichever name it came under (``cache`` is removed from ``kwargs``)."""
    cache = kwargs.pop("cache", None)
    return past_key_values if past_key_values is not None else cache


# Inputs that generation and other callers pass along but this model does not read.
_IGNORED_INPUTS = ("mm_token_type_ids", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts",
                   "cache_position", "token_type_ids", "return_dict")
# Visual inputs without a batch dimension (concatenated over samples in prompt order).
VISUAL_INPUTS = ("pixel_values", "image_grid_thw", "patch_positions", "window_lengths")


class LlavaOnevision2PreTrainedModel(PreTrainedModel):
    """What the model supports: checkpointing per ViT block / decoder layer, SDPA, flash, attention backends."""

    config_class = LlavaOnevision2Config
    config: LlavaOnevision2Config
    base_model_prefix = "model"
    input_modalities = ("image", "video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["OneVisionEncoderLayer", "Qwen3DecoderLayer"]
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_attention_backend = True

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        # Non-persistent RoPE tables are not in checkpoints: rebuild them whenever a model is
        # materialised (meta-device construction in from_pretrained included).
        if isinstance(module, VisionRotaryEmbedding):
            for name, n in zip(("inv_freq_t", "inv_freq_h", "inv_freq_w"), split_sizes(module.head_dim)):
                init.copy_(getattr(module, name), inverse_frequencies(n, module.theta))
        elif isinstance(module, PoolingHead):
            init.zeros_(module.probe)


class OneVisionEncoderModel(LlavaOnevision2PreTrainedModel):
    """pixel rows [N, 3*p*p] + positions [N, 3] + windows -> merged features [N/merge^2, out_hidden]."""

    config_class = OneVisionEncoderConfig
    config: OneVisionEncoderConfig
    base_model_prefix = ""
    input_modalities = ("image", "video")
    _no_split_modules = ["OneVisionEncoderLayer"]

    def __init__(self, config: OneVisionEncoderConfig) -> None:
        super().__init__(config)
        self.spatial_merge_size = config.spatial_merge_size
        self.embeddings = OneVisionEncoderEmbeddings(config)
        self.layernorm_pre = _norm(config)
        self.encoder = OneVisionEncoderEncoder(config)
        self.video_rope = VisionRotaryEmbedding(config.head_dim, config.rope_theta)
        self.layernorm_post = _norm(config) if (config.use_head or config.use_post_layernorm) else None
        self.head = PoolingHead(config) if config.use_head else None
        self.merger = VisionPatchMerger(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        # The patch embedding plays the token embedding's role: PEFT / checkpointing hook its output.
        return self.embeddings.patch_embedding

    def forward(
        self,
        pixel_values: torch.Tensor,
        grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | Sequence[int] | None = None,
        positions_row_major: bool = False,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        """``last_hidden_state``: encoder output [N, hidden] (of ``vision_feature_layer``);
        ``pooler_output``: merged features [N / merge^2, out_hidden]."""
        if patch_positions is None:
            raise ValueError("patch_positions is required (one (t, h, w) row per pixel row)")
        patch_positions = patch_positions.reshape(-1, 3)
        n = pixel_values.shape[0]
        if patch_positions.shape[0] != n:
            raise ValueError(f"patch_positions has {patch_positions.shape[0]} rows but pixel_values has {n}")
        if positions_row_major:
            patch_positions = row_major_to_block(patch_positions, grid_thw, self.spatial_merge_size)
        lengths = resolve_window_lengths(grid_thw, n, self.config.frame_windows_size, window_lengths)
        h = self.embeddings(pixel_values)
        cu_seqlens = cu_seqlens_from_lengths(lengths, h.device)
        angles = self.video_rope(patch_positions.to(h.device))
        h = self.layernorm_pre(h)
        for layer in self.encoder.layers[: self.config.num_feature_layers]:
            h = layer(h, angles, lengths, cu_seqlens)
        if self.layernorm_post is not None:
            h = self.layernorm_post(h)
        return BaseModelOutputWithPooling(last_hidden_state=h, pooler_output=self.merger(h, patch_positions))



class LlavaOnevision2Model(LlavaOnevision2PreTrainedModel):
    """Holds ``visual`` and ``language_model`` (the release's ``model.`` prefix); returns hidden states."""

    base_model_prefix = "model"

    def __init__(self, config: LlavaOnevision2Config) -> None:
        super().__init__(config)
        if config.vision_config.out_hidden_size != config.text_config.hidden_size:
            raise ConfigError(
                f"vision_config.out_hidden_size {config.vision_config.out_hidden_size} != "
                f"text_config.hidden_size {config.text_config.hidden_size}"
            )
        self.visual = OneVisionEncoderModel._from_config(config.vision_config)
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        image_grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | Sequence[int] | None = None,
        positions_row_major: bool = False,
    ) -> torch.Tensor:
        """Merged visual features [N / merge^2, hidden], in the order of the pixel rows."""
        pv = pixel_values.to(self.visual.embeddings.patch_embedding.weight.dtype)
        out = self.visual(pv, image_grid_thw, patch_positions, window_lengths, positions_row_major)
        return out.pooler_output

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
        embeds = self.get_input_embeddings()(input_ids)
        if pixel_values is None:
            return embeds
        pad_mask = input_ids == self.config.image_token_id
        n_pads = int(pad_mask.sum())
        feats = self.get_image_features(pixel_values, image_grid_thw, patch_positions, window_lengths, positions_row_major)
        if feats.shape[0] != n_pads:
            merge = self.visual.spatial_merge_size
            raise ValueError(
                f"visual features and image tokens do not match: {n_pads} <|image_pad|> tokens in input_ids, "
                f"{feats.shape[0]} features from {pixel_values.shape[0]} patches ({merge}x{merge} merge)"
            )
        mask = pad_mask.unsqueeze(-1).expand_as(embeds)
        return embeds.masked_scatter(mask, feats.to(embeds.dtype))

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | None = None,
        use_cache: bool | None = None,
        positions_row_major: bool = False,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        """The LLM sees plain 1-D positions: ``cumsum(attention_mask) - 1`` (padding set to 1, as the
        release does), continued after a KV cache, or ``arange``; packed samples pass their own."""
        for key in _IGNORED_INPUTS:
            kwargs.pop(key, None)
        past_key_values = take_cache(past_key_values, kwargs)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            if pixel_values is None and bool((input_ids == self.config.image_token_id).any()) and not past_key_values:
                n = int((input_ids == self.config.image_token_id).sum())
                raise ValueError(f"input_ids hold {n} <|image_pad|> tokens but no pixel_values were given")
            inputs_embeds = self.embed_inputs(
                input_ids, pixel_values, image_grid_thw, patch_positions, window_lengths, positions_row_major
            )
        elif pixel_values is not None:
            raise ValueError("pixel_values need input_ids (to find the <|image_pad|> positions), not inputs_embeds")
        # Packed rows that the language model's kernel would attend across raise here (ov2.model.varlen).
        check_packed_batch(self.config.text_config, position_ids, attention_mask, past_key_values, kwargs, use_cache)
        if position_ids is None:
            past = past_key_values.get_seq_length() if past_key_values is not None else 0
            position_ids = default_position_ids(attention_mask, inputs_embeds.shape[0], inputs_embeds.shape[1], past,
                                                inputs_embeds.device)
        return self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            **{CACHE_KWARG: past_key_values},
            **kwargs,
        )


class LlavaOnevision2ForConditionalGeneration(LlavaOnevision2PreTrainedModel, GenerationMixin):
    """The full model. Build it from a config, or load a checkpoint directory with ``from_pretrained``.

    ``forward`` takes the processor's outputs: ``input_ids``, ``attention_mask``,
    ``pixel_values`` [N, 3*14*14], ``image_grid_thw``, ``patch_positions`` [N, 3] and
    (codec input) ``window_lengths``. Visual inputs are concatenated over the batch in
    prompt order; ``generate`` uses them only at prefill.
    """

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}
    _tp_plan = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: LlavaOnevision2Config) -> None:
        super().__init__(config)
        self.model = LlavaOnevision2Model(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self._weight_conversions = []  # save in the current layout, also once the legacy key mapping is registered

    # ------------------------------------------------------------------ parts
    @property
    def visual(self) -> OneVisionEncoderModel:
        return self.model.visual

    @property
    def language_model(self) -> nn.Module:
        return self.model.language_model

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_image_features(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor | None = None,
                           patch_positions: torch.Tensor | None = None,
                           window_lengths: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        return self.model.get_image_features(pixel_values, image_grid_thw, patch_positions, window_lengths)

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        patch_positions: torch.Tensor | None = None,
        window_lengths: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        positions_row_major: bool = False,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """Logits [B, L, vocab] (the last ``logits_to_keep`` positions when > 0) and, with ``labels``,
        the causal-LM loss over labelled (!= -100) tokens (``num_items_in_batch`` makes it a sum / count).

        Packed training sequences pass ``position_ids`` restarting at 0 per sample and no
        ``attention_mask``; transformers derives a block-causal mask from them, which needs
        no KV cache, so a call with ``labels`` or with packed boundaries (``cu_seq_lens_q``, see
        ``ov2.model.varlen``) runs without one unless ``use_cache`` says so: with a cache transformers
        would not read the position ids as sample boundaries."""
        if use_cache is None and (labels is not None or kwargs.get("cu_seq_lens_q") is not None):
            use_cache = False
        past_key_values = take_cache(past_key_values, kwargs)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            pixel_values=pixel_values,
            image_grid_thw=image_grid_thw,
            patch_positions=patch_positions,
            window_lengths=window_lengths,
            use_cache=use_cache,
            positions_row_major=positions_row_major,
            **{k: v for k, v in kwargs.items() if k not in _LOSS_KWARGS},
        )
        hidden = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss_kwargs = {k: v for k, v in kwargs.items() if k in _LOSS_KWARGS}
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size,
                                      **loss_kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            **{CACHE_KWARG: getattr(outputs, CACHE_KWARG)},
            attentions=outputs.attentions,
        )

    # ------------------------------------------------------------- generation
    def _expand_inputs_for_generation(
        self,
        expand_size: int = 1,
        is_encoder_decoder: bool = False,
        input_ids: torch.Tensor | None = None,
        **model_kwargs: Any,
    ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Beam search / num_return_sequences: repeat each sample's visual rows with its text row.

        Visual inputs have no batch dimension, so they are split per sample (by the
        sample's ``<|image_pad|>`` count) before repeating; the rest is the library's.
        """
        if expand_size == 1:
            return input_ids, model_kwargs
        visual = {k: model_kwargs.pop(k) for k in VISUAL_INPUTS if model_kwargs.get(k) is not None}
        input_ids, model_kwargs = super()._expand_inputs_for_generation(
            expand_size, is_encoder_decoder, input_ids, **model_kwargs
        )
        if visual:
            original = input_ids[::expand_size]
            model_kwargs.update(repeat_visual_inputs(visual, original, self.config.image_token_id,
                                                     self.model.visual.spatial_merge_size,
                                                     self.config.vision_config.frame_windows_size, expand_size))
        return input_ids, model_kwargs

    # ------------------------------------------------------------ save / load
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], *args: Any, **kwargs: Any):
        """transformers' ``from_pretrained`` (sharded safetensors, ``dtype``, ``device_map``, ...), made strict.

        A missing, unexpected or wrongly shaped tensor raises
        :class:`~ov2.model.checkpoint.CheckpointError` listing them, instead of a
        random initialisation; a directory whose config.json is not ``llava_onevision2``
        raises :class:`~ov2.model.config.ConfigError`. Checkpoints with the release's
        older key layout (``visual.*``, ``model.*``) load through a registered
        conversion mapping and are saved back in the current layout.
        """
        directory = Path(pretrained_model_name_or_path)
        config_file = directory / "config.json"
        if directory.is_dir() and config_file.is_file() and "config" not in kwargs:
            try:
                raw = json.loads(config_file.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{config_file} is not valid JSON: {exc}") from exc
            check_model_type(raw, str(config_file))
        elif not directory.exists() and os.path.sep in str(pretrained_model_name_or_path):
            raise CheckpointError(f"model directory not found: {directory}")
        want_info = kwargs.pop("output_loading_info", False)
        if not legacy_mapping_registered():
            # Without ov2.register_auto_classes() nothing global is touched: map old keys for this call only.
            kwargs.setdefault("key_mapping", dict(LEGACY_KEY_RULES))
        # Shape mismatches are collected (not raised one by one) so the error lists every problem at once.
        check_shapes = not kwargs.get("ignore_mismatched_sizes", False)
        kwargs["ignore_mismatched_sizes"] = True
        try:
            model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                                  **kwargs)
        except StrictDataclassError as exc:  # a config field check (validate_architecture) failed
            raise ConfigError(f"{config_file}: {exc.__cause__ or exc}") from exc
        if not check_shapes:
            info = {**info, "mismatched_keys": []}
        problem = strict_loading_error(info, directory)
        if problem is not None:
            raise problem
        # Always save in the release's current layout, whatever layout was read.
        model._weight_conversions = []
        return (model, info) if want_info else model


_LOSS_KWARGS = ("num_items_in_batch", "ignore_index", "shift_labels")


def default_position_ids(
    attention_mask: torch.Tensor | None, batch: int, length: int, past: int, device: torch.device
) -> torch.Tensor:
    """1-D LLM positions for ``length`` new tokens after ``past`` cached ones."""
    if attention_mask is not None and attention_mask.dim() == 2:
        pos = attention_mask.long().cumsum(-1) - 1
        pos = pos.masked_fill(attention_mask == 0, 1)
        return pos[:, -length:]
    return torch.arange(past, past + length, device=device).unsqueeze(0).expand(batch, -1)


def repeat_visual_inputs(
    visual: dict[str, torch.Tensor],
    input_ids: torch.Tensor,
    image_token_id: int,
    merge: int,
    frame_windows_size: int,
    times: int,
) -> dict[str, torch.Tensor]:
    """Repeat every sample's slice of the batch-less visual inputs ``times`` times, sample by sample."""
    rows_per_sample = ((input_ids == image_token_id).sum(-1) * merge * merge).tolist()
    splits = {
        "pixel_values": rows_per_sample,
        "patch_positions": rows_per_sample,
    }
    windows = visual.get("window_lengths")
    if windows is not None:
        splits["window_lengths"] = _count_by_rows(windows.tolist(), rows_per_sample, "window_lengths")
    grid = visual.get("image_grid_thw")
    if grid is not None:
        # A grid row's real patch count: its windows' lengths (codec padding dropped), else t*h*w.
        per_row = [len(grid_window_lengths([row], frame_windows_size)) for row in grid.tolist()]
        if windows is not None and sum(per_row) == len(windows):
            bounds = np.cumsum([0] + per_row)
            sizes = [int(windows[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:])]
        else:
            sizes = grid.prod(-1).tolist()
        splits["image_grid_thw"] = _count_by_rows(sizes, rows_per_sample, "image_grid_thw")
    out = {}
    for key, tensor in visual.items():
        parts = torch.split(tensor, splits[key])
        out[key] = torch.cat([p for p in parts for _ in range(times)])
    return out


def _count_by_rows(sizes: list[int], rows_per_sample: list[int], name: str) -> list[int]:
    """How many consecutive entries of ``sizes`` (patch counts) make up each sample's rows."""
    counts, i = [], 0
    for rows in rows_per_sample:
        start, covered = i, 0
        while covered < rows:
            covered += int(sizes[i])
            i += 1
        if covered != rows:
            raise ValueError(f"{name} does not split at sample boundaries ({covered} vs {rows} patch rows)")
        counts.append(i - start)
    return counts
