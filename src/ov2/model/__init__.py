"""The LLaVA-OneVision-2 model (OneVision encoder + Qwen3), weight-compatible with the release."""

from .answer import answer
from .checkpoint import CheckpointError
from .config import ConfigError, LlavaOnevision2Config, OneVisionEncoderConfig
from .modeling import CausalLMOutput, LlavaOnevision2ForConditionalGeneration

__all__ = [
    "LlavaOnevision2ForConditionalGeneration",
    "LlavaOnevision2Config",
    "OneVisionEncoderConfig",
    "CausalLMOutput",
    "CheckpointError",
    "ConfigError",
    "answer",
]
