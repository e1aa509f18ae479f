"""``LlavaOnevision2VideoProcessor``: videos (paths or tokenized :class:`~ov2.VisualInput`) -> model rows.

A video path goes through :func:`ov2.tokenize` with ``video_backend`` ("codec",
"fixed" or "frames"), the canvas budget and tokenizer options (``codec_config``); the
codec path needs the file itself (packet sizes, motion vectors), which is why this is
a processor option rather than a frame sampler. An already tokenized
:class:`~ov2.VisualInput` is used as it is.

Per video it returns the patch rows, (t, h, w) positions, grid rows, attention-window
lengths and, in ``video_metadata``, the prompt text that replaces the video's
placeholder (per-frame or per-run ``<t seconds>`` blocks; see :mod:`ov2.processing.visual`).
"""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature

try:  # transformers >= 5.19: the torchvision-free video-processor base
    from transformers.video_processing_utils import VideoProcessorMixin as _VideoProcessorBase
except ImportError:  # 5.16-5.18 have only the torchvision-backed BaseVideoProcessor; the settings mixin suffices
    from transformers.image_processing_base import ImageProcessingMixin as _VideoProcessorBase

from ..errors import InvalidOptionError
from ..options import TokenizeOptions
from ..visual_input import VisualInput
from .kwargs import LlavaOnevision2VideosKwargs
from .pixels import CLIP_MEAN, CLIP_STD, PixelSettings
from .visual import VisualBlock, video_block


# What a video processor saves: ov2's own settings (the transformers base kwargs vary by version).
VIDEO_SETTINGS = ("video_backend", "canvases", "max_pixels", "min_pixels", "codec_config", "timestamp_decimals",
                  "frame_windows_size", "patch_size", "merge_size", "image_mean", "image_std")


class LlavaOnevision2VideoProcessor(_VideoProcessorBase):
    """Tokenize videos with ov2's codec / fixed / frames backends and turn them into model inputs.

    Defaults (class attributes, saved to ``video_preprocessor_config.json``):
    codec backend, 32 canvases, 150,000 pixels per canvas (the tokenizer's default),
    1-decimal timestamps (use 2 for JumpScore), CLIP mean/std, 14-pixel patches,
    2x2 merge, windows of 4 canvases.
    """

    valid_kwargs = LlavaOnevision2VideosKwargs
    model_input_names = ["pixel_values", "image_grid_thw", "patch_positions", "window_lengths"]

    video_backend = "codec"
    canvases = 32
    max_pixels = 150_000
    min_pixels = 3136
    codec_config: dict | None = None
    timestamp_decimals = 1
    frame_windows_size = 4
    patch_size = 14
    merge_size = 2
    image_mean = [float(x) for x in CLIP_MEAN]
    image_std = [float(x) for x in CLIP_STD]
    do_normalize = True
    do_rescale = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __call__(self, videos: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(videos, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, written out: the saved file then reads the same in every transformers version
        (their base classes serialise different subsets) and whatever ov2's defaults become."""
        settings = {name: getattr(self, name) for name in VIDEO_SETTINGS}
        return {**settings, "video_processor_type": type(self).__name__}

    def preprocess(self, videos: Any, **kwargs: Any) -> BatchFeature:
        """``videos``: one video or a list (paths, or VisualInputs from :func:`ov2.tokenize`)."""
        options = {name: kwargs.get(name, getattr(self, name, None)) for name in LlavaOnevision2VideosKwargs.__annotations__}
        options = {k: (getattr(self, k, None) if v is None else v) for k, v in options.items()}
        check_video_options(options)
        blocks = [self.video_block(v, options) for v in flatten(videos)]
        return videos_to_features(blocks, kwargs.get("return_tensors"))

    def tokenize(self, video: str | os.PathLike[str], options: dict[str, Any]) -> VisualInput:
        import ov2

        extra = dict(options.get("codec_config") or {})
        return ov2.tokenize(video, backend=options["video_backend"], canvases=int(options["canvases"]),
                            max_pixels=int(options["max_pixels"]), min_pixels=int(options["min_pixels"]), **extra)

    def video_block(self, video: Any, options: dict[str, Any]) -> VisualBlock:
        if isinstance(video, (str, os.PathLike)):
            video = self.tokenize(video, options)
        if not isinstance(video, VisualInput):
            raise TypeError(
                f"videos must be file paths or ov2.VisualInput objects (from ov2.tokenize), got {type(video).__name__}"
            )
        settings = PixelSettings(patch_size=int(options["patch_size"]), merge_size=int(options["merge_size"]),
                                 mean=np.asarray(options["image_mean"], np.float32),
                                 std=np.asarray(options["image_std"], np.float32))
        return video_block(video, settings, int(options["frame_windows_size"]), int(options["timestamp_decimals"]))


def check_video_options(options: dict[str, Any]) -> None:
    """One clear error for a backend, budget or tokenizer option that cannot be honoured, before any decoding."""
    extra = dict(options.get("codec_config") or {})
    unknown = sorted(set(extra) - {f.name for f in fields(TokenizeOptions)})
    if unknown:
        raise InvalidOptionError(f"codec_config has unknown tokenizer options {unknown}; see docs/algorithm.md")
    # The tokenizer's own option check (backend, budget a multiple of images_per_group, ranges).
    TokenizeOptions(backend=options["video_backend"], canvases=options["canvases"], max_pixels=options["max_pixels"],
                    min_pixels=options["min_pixels"], **extra)
    if options["timestamp_decimals"] not in (1, 2):
        raise InvalidOptionError(f"timestamp_decimals must be 1 or 2, got {options['timestamp_decimals']!r}")


def flatten(items: Any) -> list[Any]:
    """One visual item or a (nested, per-sample) list of them, as one flat list in order.

    ``None`` entries (a batch sample without images or videos) are dropped. A numpy array
    or PIL image is one item, never iterated.
    """
    if items is None:
        return []
    if isinstance(items, (list, tuple)):
        return [v for item in items for v in flatten(item)]
    return [items]


def videos_to_features(blocks: list[VisualBlock], return_tensors: Any = "pt") -> BatchFeature:
    """Concatenate per-video blocks into the model's batch-less visual inputs (+ prompt text per video)."""
    if not blocks:
        return BatchFeature({"video_metadata": []})
    data = {
        "pixel_values": torch.from_numpy(np.concatenate([b.rows for b in blocks])),
        "image_grid_thw": torch.as_tensor([g for b in blocks for g in b.grid], dtype=torch.long),
        "patch_positions": torch.from_numpy(np.concatenate([b.positions for b in blocks])),
        "window_lengths": torch.as_tensor([w for b in blocks for w in b.windows], dtype=torch.long),
        "video_metadata": [{"text": b.text, "timestamps": b.timestamps, "rows": int(b.rows.shape[0]),
                            "grid_rows": len(b.grid), "windows": len(b.windows)} for b in blocks],
    }
    return BatchFeature(data, skip_tensor_conversion=["video_metadata"])
