"""Configuration classes that read the release's ``config.json`` as it is.

The released checkpoint stores one JSON file with three parts: top-level ids
(``model_type: llava_onevision2``), ``vision_config`` (the OneVision encoder,
``model_type`` ``onevision_encoder`` in the 8B release, ``llava_onevision2`` in
some code drops) and ``text_config`` (a plain Qwen3 config). Every key of the
file is kept, so ``to_dict()`` round-trips fields we do not use.

Defaults for absent vision keys are the release's ``LlavaOnevision2VisionConfig``
class defaults (``configuration_llava_onevision2.py``); ``frame_windows_size``
is not a class field there, the release reads it with ``getattr(..., 4)``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from transformers import Qwen3Config

from ..errors import VideoError

MODEL_TYPE = "llava_onevision2"
VISION_MODEL_TYPES = ("onevision_encoder", "llava_onevision2")
TEXT_MODEL_TYPES = ("qwen3",)

VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 448,
    "patch_size": 14,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-6,
    "layer_norm_type": "layer_norm",
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "rope_theta": 10000.0,
    "use_head": False,
    "out_hidden_size": 1024,
    "spatial_merge_size": 2,
    "tokens_per_second": 1,
    "temporal_patch_size": 1,
    "frame_windows_size": 4,
}

TOP_DEFAULTS: dict[str, Any] = {
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
}


class ConfigError(VideoError, ValueError):
    """A config.json that does not describe a LLaVA-OneVision-2 model."""


class OneVisionEncoderConfig:
    """Vision tower settings; unknown keys are kept as attributes and saved back."""

    model_type = "onevision_encoder"

    def __init__(self, **kwargs: Any) -> None:
        values = dict(VISION_DEFAULTS)
        values.update(kwargs)
        mt = values.get("model_type", self.model_type)
        if mt not in VISION_MODEL_TYPES:
            raise ConfigError(f"vision_config.model_type {mt!r} is not one of {VISION_MODEL_TYPES}")
        values["model_type"] = mt
        self.__dict__.update(values)
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"vision hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if (self.head_dim // 2) % 16:
            # The 4:6:6 t/h/w split needs head_dim/2 divisible by 16 (release asserts the same).
            raise ConfigError(f"vision head_dim {self.head_dim} must be a multiple of 32 for the 4:6:6 RoPE split")
        if self.temporal_patch_size != 1:
            raise ConfigError(f"temporal_patch_size {self.temporal_patch_size} is not supported (release uses 1)")
        if self.layer_norm_type not in ("layer_norm", "rms_norm"):
            raise ConfigError(f"unknown layer_norm_type {self.layer_norm_type!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def patch_dim(self) -> int:
        return self.num_channels * self.patch_size * self.patch_size

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.__dict__)


class LlavaOnevision2Config:
    """Top-level config: token ids, ``vision_config`` and a transformers ``Qwen3Config``."""

    model_type = MODEL_TYPE

    def __init__(
        self,
        vision_config: dict[str, Any] | OneVisionEncoderConfig | None = None,
        text_config: dict[str, Any] | Qwen3Config | None = None,
        **kwargs: Any,
    ) -> None:
        mt = kwargs.pop("model_type", MODEL_TYPE)
        if mt != MODEL_TYPE:
            raise ConfigError(f"config.json model_type is {mt!r}, expected {MODEL_TYPE!r}")
        if isinstance(vision_config, OneVisionEncoderConfig):
            self.vision_config = vision_config
        else:
            self.vision_config = OneVisionEncoderConfig(**(vision_config or {}))
        if isinstance(text_config, Qwen3Config):
            self.text_config = text_config
        else:
            tc = dict(text_config or {})
            tmt = tc.get("model_type", "qwen3")
            if tmt not in TEXT_MODEL_TYPES:
                raise ConfigError(f"text_config.model_type {tmt!r} is not supported (expected qwen3)")
            tc.pop("model_type", None)
            self.text_config = Qwen3Config(**tc)
        values = dict(TOP_DEFAULTS)
        values.update(kwargs)
        self._extra = values
        for k, v in values.items():
            if not isinstance(getattr(type(self), k, None), property):
                setattr(self, k, v)
        self.model_type = MODEL_TYPE
        # Attention back end for the Qwen3 part: SDPA works on CPU and GPU.
        self.text_config._attn_implementation = "sdpa"

    @property
    def tie_word_embeddings(self) -> bool:
        """Whether ``lm_head`` shares the embedding matrix.

        The current release config (transformers 5 dataclass ``LlavaOnevision2Config``)
        has its own top-level ``tie_word_embeddings`` field, and transformers ties the
        head from that top-level value; its ``save_pretrained`` then leaves
        ``lm_head.weight`` out of the safetensors even when ``text_config`` says
        ``false``. Older release configs had no top-level field and forwarded the
        read to ``text_config``. So: the top-level key when config.json has one,
        else the text config's.
        """
        if "tie_word_embeddings" in self._extra:
            return bool(self._extra["tie_word_embeddings"])
        return bool(getattr(self.text_config, "tie_word_embeddings", False))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LlavaOnevision2Config":
        data = dict(data)
        return cls(vision_config=data.pop("vision_config", None), text_config=data.pop("text_config", None), **data)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> "LlavaOnevision2Config":
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = {k: copy.deepcopy(self.__dict__.get(k, v)) for k, v in self._extra.items()}
        out["model_type"] = MODEL_TYPE
        out.setdefault("architectures", ["LlavaOnevision2ForConditionalGeneration"])
        # Written explicitly so both release config generations (top-level field or
        # forwarded to text_config) read the same tying we use.
        out["tie_word_embeddings"] = self.tie_word_embeddings
        text = self.text_config.to_dict()
        text.pop("_attn_implementation_autoset", None)
        text.pop("_attn_implementation", None)
        text["model_type"] = "qwen3"
        out["vision_config"] = self.vision_config.to_dict()
        out["text_config"] = _jsonable(text)
        return _jsonable(out)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def _jsonable(obj: Any) -> Any:
    """Drop values json cannot hold (e.g. torch dtypes become their names)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj).replace("torch.", "")
