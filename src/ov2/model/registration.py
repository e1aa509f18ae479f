"""``ov2.register_auto_classes()``: make transformers' Auto classes resolve ``llava_onevision2`` to ov2.

Registering is a global side effect on transformers' mappings, so it is one explicit
call (ov2's CLI and integrations make it). Once registered, a class is chosen by the
stock loaders for that model type even when ``trust_remote_code=True`` is passed, so
code written for the release (lmms-eval's wrapper included) runs on ov2's classes.
"""

from __future__ import annotations

_DONE = False


def register_auto_classes() -> None:
    """Register ov2's config, model, processor and video processor with the Auto classes (idempotent)."""
    global _DONE
    if _DONE:
        return
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoVideoProcessor,
    )

    from transformers.utils import is_torchvision_available

    from ..processing.processor import LlavaOnevision2Processor
    from ..processing.video import LlavaOnevision2VideoProcessor
    from .checkpoint import register_legacy_key_mapping
    from .config import MODEL_TYPE, VISION_MODEL_TYPE, LlavaOnevision2Config, OneVisionEncoderConfig
    from .modeling import LlavaOnevision2ForConditionalGeneration, LlavaOnevision2Model, OneVisionEncoderModel

    AutoConfig.register(MODEL_TYPE, LlavaOnevision2Config, exist_ok=True)
    AutoConfig.register(VISION_MODEL_TYPE, OneVisionEncoderConfig, exist_ok=True)
    AutoModel.register(LlavaOnevision2Config, LlavaOnevision2Model, exist_ok=True)
    AutoModel.register(OneVisionEncoderConfig, OneVisionEncoderModel, exist_ok=True)
    AutoModelForImageTextToText.register(LlavaOnevision2Config, LlavaOnevision2ForConditionalGeneration, exist_ok=True)
    if is_torchvision_available():  # transformers' video-processor registry needs torchvision
        AutoVideoProcessor.register(LlavaOnevision2Config, LlavaOnevision2VideoProcessor, exist_ok=True)
    AutoProcessor.register(LlavaOnevision2Config, LlavaOnevision2Processor, exist_ok=True)
    register_legacy_key_mapping()
    _DONE = True
