"""vLLM's in-tree LLaVA-OneVision-2 network, with ov2's processor and ov2's attention windows.

The network (weights, vision tower, Qwen3) is vLLM's own class; this subclass changes two
things and checks one:

* **Processor.** ov2's (:mod:`.processing`) is registered on this class, so vLLM never
  looks for the release's remote code.
* **Attention windows.** vLLM derives the vision tower's windows from the grid
  (``frame_windows_size`` canvases of ``h*w`` patches). A codec input whose canvases end in
  padding rows has fewer rows than its grid says; ov2 drops the padding and passes the real
  window lengths (``window_lengths``). They are honoured here by handing the tower one grid
  row ``(1, 1, L)`` per window: the tower uses the grid only to cut windows (RoPE comes from
  ``patch_positions``), so its windows are then exactly ov2's.
* **Config.** Fields vLLM's network does not implement must not silently change the output:
  :func:`check_config` refuses them (see docs/serving.md for the release 8B's values).
"""

from __future__ import annotations

from typing import Any

import torch
from vllm.model_executor.models.llava_onevision2 import (
    LlavaOnevision2ForConditionalGeneration as VllmLlavaOnevision2,
)
from vllm.multimodal import MULTIMODAL_REGISTRY

from ...model.config import ConfigError
from .processing import Ov2DummyInputsBuilder, Ov2MultiModalProcessor, Ov2ProcessingInfo


def check_config(config: Any) -> None:
    """Raise :class:`~ov2.model.config.ConfigError` for a field vLLM's OV2 network would ignore or get wrong.

    vLLM's vision tower hard-codes: exact GELU in the MLP and merger, LayerNorm everywhere
    with the vision ``layer_norm_eps`` (merger included), every encoder layer feeding the
    merger, no post-LayerNorm, no pooling head, no absolute merger position embedding.
    """
    vision = config.vision_config
    problems = []
    if vision.hidden_act != "gelu":
        problems.append(f"vision_config.hidden_act={vision.hidden_act!r} (vLLM uses exact 'gelu')")
    if vision.layer_norm_type != "layer_norm":
        problems.append(f"vision_config.layer_norm_type={vision.layer_norm_type!r} (vLLM uses LayerNorm)")
    if vision.num_feature_layers != vision.num_hidden_layers:
        problems.append(f"vision_config.vision_feature_layer={vision.vision_feature_layer} (vLLM feeds the last layer)")
    if vision.use_post_layernorm or vision.use_head:
        problems.append("vision_config.use_post_layernorm/use_head=True (vLLM has no post-LayerNorm)")
    if vision.use_patch_position_encoding:
        problems.append("vision_config.use_patch_position_encoding=True (vLLM has no merger position embedding)")
    if vision.merger_layernorm_eps not in (None, vision.layer_norm_eps):
        problems.append(
            f"vision_config.merger_layernorm_eps={vision.merger_layernorm_eps} (vLLM uses layer_norm_eps="
            f"{vision.layer_norm_eps} for the merger)"
        )
    if problems:
        raise ConfigError(
            "this checkpoint's config asks for what vLLM's LLaVA-OneVision-2 network does not implement, so its "
            "output would differ from ov2's: " + "; ".join(problems) + ". Run it with ov2 (ov2 chat / generate()) instead"
        )


@MULTIMODAL_REGISTRY.register_processor(Ov2MultiModalProcessor, info=Ov2ProcessingInfo, dummy_inputs=Ov2DummyInputsBuilder)
class Ov2LlavaOnevision2ForConditionalGeneration(VllmLlavaOnevision2):
    """vLLM's OV2 network with ov2's processor, windows and config checks (see the module docstring)."""

    def __init__(self, *, vllm_config: Any, prefix: str = "") -> None:
        config = vllm_config.model_config.hf_config
        check_config(config)
        # vLLM's Qwen3 ties lm_head from text_config; the release (and ov2, and transformers) tie from the
        # top-level field. A tied checkpoint has no lm_head.weight, so a mismatch would leave it random.
        config.text_config.tie_word_embeddings = bool(config.tie_word_embeddings)
        super().__init__(vllm_config=vllm_config, prefix=prefix)

    def _parse_and_validate_multimodal_inputs(self, **kwargs: object) -> Any:
        modalities = super()._parse_and_validate_multimodal_inputs(**kwargs)
        if modalities.get("videos") is not None:
            # Carry ov2's window lengths and per-video counts to _process_video_input.
            modalities["videos"] = (modalities["videos"], _flat(kwargs["video_window_lengths"]),
                                    _flat(kwargs["video_counts"]).reshape(-1, 4))
        return modalities

    def _process_video_input(self, video_input: Any) -> tuple[torch.Tensor, ...]:
        inputs, windows, counts = video_input
        grid = torch.ones((len(windows), 3), dtype=torch.long)
        grid[:, 2] = windows  # one (1, 1, L) row per ov2 window: the tower's windows are then ov2's
        embeds = self.visual(inputs["pixel_values_videos"], grid_thw=grid,
                             patch_positions=inputs["patch_positions_videos"])
        merge = self.visual.spatial_merge_size ** 2
        return embeds.split((counts[:, 0] // merge).tolist())


def _flat(value: Any) -> torch.Tensor:
    """A field as one tensor (vLLM hands over a tensor, or a list of per-item tensors)."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).cpu()
    return torch.cat([torch.as_tensor(v).reshape(-1) for v in value]).cpu()
