"""transformers 5.x configuration classes that read the release's ``config.json`` as it is.

The released checkpoint stores one JSON file with three parts: top-level token ids
(``model_type: llava_onevision2``), ``vision_config`` (the OneVision encoder,
``model_type`` ``onevision_encoder``; some code drops wrote ``llava_onevision2``
there) and ``text_config`` (a plain Qwen3 config, resolved through ``AutoConfig``).

Field names and defaults are the release's ``LlavaOnevision2VisionConfig`` /
``LlavaOnevision2Config`` (``configuration_llava_onevision2.py``), so a file the
release wrote, which omits nothing but base-class defaults, reads the same here.
Note the vision class default ``spatial_merge_size=3``: it belongs to other release
variants; the 8B's config.json says 2 explicitly.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig
from transformers.configuration_utils import PreTrainedConfig

try:  # transformers >= 5.20
    from transformers.configuration_utils import SubConfigSpec
except ImportError:  # 5.16-5.19 declare a plain ``sub_configs`` mapping (see ov2.compat)
    SubConfigSpec = None

from ..errors import VideoError

MODEL_TYPE = "llava_onevision2"
VISION_MODEL_TYPE = "onevision_encoder"


class ConfigError(VideoError, ValueError):
    """A config that does not describe a LLaVA-OneVision-2 model (names the field and the fix)."""


@strict
class OneVisionEncoderConfig(PreTrainedConfig):
    """The OneVision vision tower and its 2x2 (``spatial_merge_size``) merger.

    ``vision_feature_layer`` indexes the encoder's hidden-state tuple (embeddings,
    layer 1, ..., layer L) like the release's ``hidden_states[i]``: ``-1`` (the current
    release) feeds the last layer to the merger, ``-2`` reproduces an older drop.
    ``use_patch_position_encoding`` / ``max_position_embeddings`` add the optional
    absolute (h, w) merger embeddings of some variants (off in the 8B).
    """

    model_type = VISION_MODEL_TYPE
    base_config_key = "vision_config"

    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    num_channels: int = 3
    image_size: int = 448
    patch_size: int = 14
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-6
    layer_norm_type: str = "layer_norm"
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    rope_theta: float = 10000.0
    use_head: bool = False
    out_hidden_size: int = 1024
    spatial_merge_size: int = 3
    tokens_per_second: int = 1
    temporal_patch_size: int = 1
    frame_windows_size: int = 4
    vision_feature_layer: int = -1
    use_post_layernorm: bool = False
    use_patch_position_encoding: bool = False
    max_position_embeddings: int = 8192
    merger_layernorm_eps: float | None = None

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def patch_dim(self) -> int:
        return self.num_channels * self.patch_size * self.patch_size

    def validate_architecture(self) -> None:
        """Shape rules the encoder relies on; checked when the config is built."""
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"vision_config.hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if (self.head_dim // 2) % 16:
            # The 4:6:6 t/h/w RoPE split needs head_dim/2 divisible by 16 (the release asserts the same).
            raise ConfigError(f"vision head_dim {self.head_dim} must be a multiple of 32 for the 4:6:6 RoPE split")
        if self.temporal_patch_size != 1:
            raise ConfigError(f"vision_config.temporal_patch_size {self.temporal_patch_size} is not supported (the release uses 1)")
        if self.layer_norm_type not in ("layer_norm", "rms_norm"):
            raise ConfigError(f"vision_config.layer_norm_type {self.layer_norm_type!r} is not 'layer_norm' or 'rms_norm'")
        if self.spatial_merge_size < 1 or self.frame_windows_size < 1:
            raise ConfigError("vision_config.spatial_merge_size and frame_windows_size must be >= 1")
        used = self.num_feature_layers
        if not 1 <= used <= self.num_hidden_layers:
            raise ConfigError(
                f"vision_feature_layer {self.vision_feature_layer} is out of range for {self.num_hidden_layers} encoder layers"
            )

    @property
    def num_feature_layers(self) -> int:
        """How many encoder layers run before the merger (from ``vision_feature_layer``)."""
        idx = self.vision_feature_layer
        return self.num_hidden_layers + 1 + idx if idx < 0 else idx


@strict
class LlavaOnevision2Config(PreTrainedConfig):
    """Top level: token ids, ``vision_config`` and ``text_config`` (a Qwen3 config).

    ``tie_word_embeddings`` follows the release's two config generations: the current
    one has a top-level field (transformers ties, and saves, the head from it); older
    files had none and forwarded the read to ``text_config``. ``None`` here means "not
    in the file" and resolves to the text config's value.
    """

    model_type = MODEL_TYPE
    if SubConfigSpec is not None:  # transformers >= 5.20: typed sub-config specs
        sub_configs_defaults = {
            "vision_config": OneVisionEncoderConfig,
            "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen3"),
        }
    else:  # transformers 5.16-5.19: a plain mapping, and the dicts are turned into configs below
        sub_configs = {"vision_config": OneVisionEncoderConfig, "text_config": AutoConfig}
    keys_to_ignore_at_inference = ["past_key_values"]

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    image_token_id: int = 151655
    video_token_id: int = 151656
    vision_start_token_id: int = 151652
    vision_end_token_id: int = 151653
    tie_word_embeddings: bool | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if isinstance(self.vision_config, dict) and self.vision_config.get("model_type") == MODEL_TYPE:
            # Some release code drops wrote the top-level type into vision_config.
            self.vision_config = {**self.vision_config, "model_type": VISION_MODEL_TYPE}
        if isinstance(self.text_config, dict) and self.text_config.get("model_type", "qwen3") != "qwen3":
            raise ConfigError(f"text_config.model_type {self.text_config['model_type']!r} is not supported (expected 'qwen3')")
        # Built here in every transformers version (newer ones skip sub-configs that are already configs).
        if not isinstance(self.vision_config, PreTrainedConfig):
            self.vision_config = OneVisionEncoderConfig(**(self.vision_config or {}))
        if not isinstance(self.text_config, PreTrainedConfig):
            self.text_config = AutoConfig.for_model("qwen3", **{k: v for k, v in (self.text_config or {}).items()
                                                               if k != "model_type"})
        super().__post_init__(**kwargs)
        if self.tie_word_embeddings is None:
            self.tie_word_embeddings = bool(getattr(self.text_config, "tie_word_embeddings", False))
        # Generation ids mirrored from the text config, as the release does, for tools that read them at the top.
        for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if getattr(self, key) is None:
                setattr(self, key, getattr(self.text_config, key, None))


def check_model_type(raw: dict[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` unless ``raw`` (a parsed config.json) is a LLaVA-OneVision-2 config."""
    found = raw.get("model_type")
    if found != MODEL_TYPE:
        raise ConfigError(
            f"{source} has model_type {found!r}, not {MODEL_TYPE!r}: this is not a LLaVA-OneVision-2 checkpoint "
            "(point ov2 at the directory holding the llava_onevision2 config.json)"
        )
