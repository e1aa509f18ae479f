"""Typed keyword arguments of the processor (no ``from __future__ import annotations`` here:
transformers reads these TypedDicts' annotations at run time to route keywords to sub-processors)."""

from transformers.processing_utils import ProcessingKwargs, VideosKwargs


class LlavaOnevision2VideosKwargs(VideosKwargs, total=False):
    """Video options a processor call accepts (each defaults to the video processor's attribute)."""

    video_backend: str
    canvases: int
    max_pixels: int
    min_pixels: int
    codec_config: dict
    timestamp_decimals: int
    frame_windows_size: int
    patch_size: int
    merge_size: int


# Left padding (generation) and no token type ids, unless the caller says otherwise.
TEXT_DEFAULTS = {"padding": True, "padding_side": "left", "return_token_type_ids": False}


class LlavaOnevision2ProcessingKwargs(ProcessingKwargs, total=False):
    videos_kwargs: LlavaOnevision2VideosKwargs
    # transformers 5.16-5.22 read defaults only here (newer ones also read the processor's class attributes).
    _defaults = {"text_kwargs": TEXT_DEFAULTS}
