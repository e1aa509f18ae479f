"""Inputs for the LLaVA-OneVision-2 model: chat template, images and tokenized videos."""

from .pixels import CLIP_MEAN, CLIP_STD, ImageInputError, PixelSettings
from .processor import LlavaOnevision2Processor
from .text import DEFAULT_CHAT_TEMPLATE, DEFAULT_SYSTEM, SPECIAL_TOKENS
from .video import LlavaOnevision2VideoProcessor
from .visual import VisualBlock, timestamp_text, video_block

Processor = LlavaOnevision2Processor  # the short name ov2 has always exported

__all__ = [
    "LlavaOnevision2Processor",
    "LlavaOnevision2VideoProcessor",
    "Processor",
    "ImageInputError",
    "PixelSettings",
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_CHAT_TEMPLATE",
    "DEFAULT_SYSTEM",
    "SPECIAL_TOKENS",
    "timestamp_text",
    "VisualBlock",
    "video_block",
]
