"""Inputs for the LLaVA-OneVision-2 model: chat prompt, images and tokenized videos."""

from .pixels import CLIP_MEAN, CLIP_STD, ImageInputError, PixelSettings
from .processor import Processor
from .text import (
    DEFAULT_SYSTEM,
    SPECIAL_TOKENS,
    TextTokenizer,
    TokenizerError,
    chat_prompt,
)
from .visual import VisualBlock, image_block, timestamp_text, video_block

__all__ = [
    "Processor",
    "TextTokenizer",
    "TokenizerError",
    "ImageInputError",
    "PixelSettings",
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_SYSTEM",
    "SPECIAL_TOKENS",
    "chat_prompt",
    "timestamp_text",
    "VisualBlock",
    "image_block",
    "video_block",
]
