"""The LLaVA-OneVision-2 model (OneVision encoder + Qwen3) as transformers classes, weight-compatible with the release."""

from .answer import answer
from .checkpoint import CheckpointError
from .config import ConfigError, LlavaOnevision2Config, OneVisionEncoderConfig
from .modeling import (
    LlavaOnevision2ForConditionalGeneration,
    LlavaOnevision2Model,
    LlavaOnevision2PreTrainedModel,
    OneVisionEncoderModel,
)
from .registration import register_auto_classes

__all__ = [
    "LlavaOnevision2ForConditionalGeneration",
    "LlavaOnevision2Model",
    "LlavaOnevision2PreTrainedModel",
    "OneVisionEncoderModel",
    "LlavaOnevision2Config",
    "OneVisionEncoderConfig",
    "CheckpointError",
    "ConfigError",
    "answer",
    "register_auto_classes",
]
