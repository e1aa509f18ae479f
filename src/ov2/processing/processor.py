"""``LlavaOnevision2Processor``: chat text + images + videos -> the model's inputs (a ``ProcessorMixin``).

Sub-processors:

* ``image_processor``: transformers' ``Qwen2VLImageProcessorPil``. The release's
  processor uses the *slow* ``Qwen2VLImageProcessor`` of transformers 4.57 for pixel
  parity with its training (PIL bicubic resize, numpy normalisation); in transformers
  5.x that implementation is ``Qwen2VLImageProcessorPil`` (the plain name now means the
  torchvision backend, whose pixels differ slightly). We always load the PIL one.
* ``tokenizer``: the checkpoint's tokenizer (``AutoTokenizer``).
* ``video_processor``: :class:`~ov2.processing.video.LlavaOnevision2VideoProcessor`.

Placeholders come from the chat template: ``<|vision_start|><|image_pad|><|vision_end|>``
per image and ``<|vision_start|><|video_pad|><|vision_end|>`` per video. An image's pad
is expanded to one pad per merged 2x2 block; a video's whole block is replaced by its
timestamped blocks (frames: ``<t seconds><|vision_start|>pads<|vision_end|>`` per frame;
codec/fixed: the same plus ``\\n`` per run of equal source frame). Video reaches the
model as images (``<|image_pad|>``), as in the release.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, Qwen2VLImageProcessorPil
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .pixels import block_positions, load_image
from .text import DEFAULT_CHAT_TEMPLATE
from ..model.config import MODEL_TYPE, LlavaOnevision2Config
from .kwargs import TEXT_DEFAULTS, LlavaOnevision2ProcessingKwargs, LlavaOnevision2VideosKwargs
from ..errors import VideoError
from .video import VIDEO_SETTINGS, LlavaOnevision2VideoProcessor, flatten

IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
# The chat template's video item; the whole block is replaced by the video's timestamped blocks.
_VIDEO_BLOCK = re.compile(re.escape(VISION_START) + r"\s*" + re.escape(VIDEO_PAD) + r"\s*" + re.escape(VISION_END))


class ProcessorLoadingError(VideoError, FileNotFoundError):
    """A processor directory that does not exist (ov2 loads from local disk only)."""


class LlavaOnevision2Processor(ProcessorMixin):
    """Build ``input_ids``, ``attention_mask``, ``pixel_values`` [N, 3*14*14], ``image_grid_thw``,
    ``patch_positions`` [N, 3] and ``window_lengths`` for one prompt or a padded batch.

    Call with keywords: ``processor(text=..., images=..., videos=..., video_backend="codec",
    canvases=32, timestamp_decimals=2, padding_side="left")``. ``padding_side`` is left by
    default (generation); use ``"right"`` to train. Visual inputs are concatenated over the
    batch in the order their placeholders appear.
    """

    valid_processor_kwargs = LlavaOnevision2ProcessingKwargs
    text_kwargs = TEXT_DEFAULTS

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, video_processor: Any = None,
                 chat_template: str | None = None, **kwargs: Any) -> None:
        self.image_token = IMAGE_PAD
        self.video_token = VIDEO_PAD
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_PAD) if tokenizer is not None else None
        super().__init__(image_processor, tokenizer, video_processor,
                         chat_template=chat_template or DEFAULT_CHAT_TEMPLATE, **kwargs)

    def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> type:
        # transformers exports its video-processor base class only when torchvision is installed;
        # ours needs no torchvision, so it is accepted by its own class.
        if argument_name == "video_processor" and isinstance(argument, LlavaOnevision2VideoProcessor):
            return LlavaOnevision2VideoProcessor
        return super().check_argument_for_proper_class(argument_name, argument)

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> "LlavaOnevision2Processor":
        """Load from a local checkpoint directory, the same way in every supported transformers version.

        ``ProcessorMixin.from_pretrained`` changed how it finds sub-processors within 5.x (5.25
        routes the video processor through ``AutoVideoProcessor``, which demands torchvision), so
        the three parts are built here from the checkpoint's files: the tokenizer through
        ``AutoTokenizer``, always the PIL image processor, and ov2's video processor. Settings come
        from ``processor_config.json`` (what ``save_pretrained`` writes) or the separate files an
        older checkpoint or the release has. The chat template comes from ``chat_template.jinja``,
        ``chat_template.json``, ``processor_config.json`` or the tokenizer, in that order; a
        ``chat_template=`` keyword overrides it. Other keywords go to ``AutoTokenizer``.
        """
        directory = Path(pretrained_model_name_or_path)
        if not directory.is_dir():
            raise ProcessorLoadingError(
                f"processor directory not found: {directory} (ov2 loads checkpoints from local disk; download "
                "one first, e.g. `hf download REPO --local-dir DIR`, and pass DIR)"
            )
        kwargs.pop("trust_remote_code", None)  # ov2's classes are registered; nothing remote runs
        chat_template = kwargs.pop("chat_template", None)
        processor_dict = _read_json(directory / "processor_config.json")
        image_processor, tokenizer, video_processor = cls._get_arguments_from_pretrained(directory, processor_dict, **kwargs)
        if chat_template is None:
            chat_template = read_chat_template(directory, processor_dict) or getattr(tokenizer, "chat_template", None)
        return cls(image_processor, tokenizer, video_processor, chat_template=chat_template)

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path: Any, processor_dict: Any = None,
                                       **kwargs: Any) -> list[Any]:
        """Tokenizer via AutoTokenizer; always the PIL image processor; our video processor.

        A checkpoint with no video processor settings (the release's) gets ov2's video defaults
        plus the model's patch/merge/window sizes and the image mean/std; the *image* pixel range
        is never used for video canvases. Keys a transformers version wrote that ov2 does not
        know (``*_type``, ``processor_class``, base-class options) are ignored.
        """
        directory = Path(pretrained_model_name_or_path)
        processor_dict = processor_dict or {}
        if "config" not in kwargs and _read_json(directory / "config.json").get("model_type") == MODEL_TYPE:
            # Spares AutoTokenizer a config lookup that fails (with a warning) before ov2 is registered.
            kwargs["config"] = LlavaOnevision2Config.from_pretrained(pretrained_model_name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        image_settings = processor_dict.get("image_processor") or _read_json(directory / "preprocessor_config.json")
        image_processor = Qwen2VLImageProcessorPil.from_dict(_image_settings(image_settings))
        video_settings = processor_dict.get("video_processor") or _read_json(directory / "video_preprocessor_config.json")
        if not video_settings:
            vision = _read_json(directory / "config.json").get("vision_config", {})
            video_settings = {
                "patch_size": int(image_processor.patch_size),
                "merge_size": int(vision.get("spatial_merge_size", image_processor.merge_size)),
                "frame_windows_size": int(vision.get("frame_windows_size", 4)),
                "image_mean": list(image_processor.image_mean),
                "image_std": list(image_processor.image_std),
            }
        video_processor = LlavaOnevision2VideoProcessor(
            **{k: v for k, v in video_settings.items() if k in VIDEO_SETTINGS and v is not None}
        )
        return [image_processor, tokenizer, video_processor]

    # ------------------------------------------------------------------- call
    def __call__(self, images: Any = None, text: str | list[str] | None = None, videos: Any = None,
                 **kwargs: Any) -> BatchFeature:
        """Expand placeholders, tokenize, and attach the visual tensors in prompt order.

        Raises ``ValueError`` (before any video is decoded) when the placeholders don't
        match the images / videos given, or a backend / budget cannot be honoured.
        """
        if text is None:
            raise ValueError("text is required: a prompt (e.g. from apply_chat_template) or a list of prompts")
        texts = [text] if isinstance(text, str) else list(text)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("text must be a string or a list of strings")
        texts = [_VIDEO_BLOCK.sub(VIDEO_PAD, t) for t in texts]
        image_list = flatten(images)
        video_list = flatten(videos)
        check_placeholders(texts, len(image_list), len(video_list))
        merged = self._merge_kwargs(LlavaOnevision2ProcessingKwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs)
        return_tensors = merged["text_kwargs"].pop("return_tensors", None) or "pt"
        videos_kwargs = {k: v for k, v in merged["videos_kwargs"].items() if k in LlavaOnevision2VideosKwargs.__annotations__}

        image_parts = [self._image_part(im) for im in image_list]
        video_feats = self.video_processor(video_list, **videos_kwargs) if video_list else None
        video_parts = split_video_features(video_feats) if video_feats is not None else []

        texts, offsets = self.get_text_with_replacements(
            texts, [p["text"] for p in image_parts], [p["text"] for p in video_parts]
        )
        text_inputs = self.tokenizer(texts, return_tensors=return_tensors, **merged["text_kwargs"])
        self._check_special_mm_tokens(texts, text_inputs, modalities=["image"])
        data = dict(text_inputs)
        ordered = order_parts(offsets, image_parts, video_parts)
        if ordered:
            data.update(concat_parts(ordered))
        return BatchFeature(data, tensor_type=return_tensors)

    def _image_part(self, image: Any) -> dict[str, Any]:
        array = load_image(image)
        out = self.image_processor(images=[array], return_tensors="pt")
        t, h, w = (int(x) for x in out["image_grid_thw"][0])
        merge = int(self.image_processor.merge_size)
        rows = out["pixel_values"]
        return {
            "pixel_values": rows,
            "image_grid_thw": out["image_grid_thw"],
            "patch_positions": torch.from_numpy(block_positions(h, w, merge)),
            "window_lengths": torch.as_tensor([rows.shape[0]]),
            "text": IMAGE_PAD * (t * h * w // merge // merge),
        }

    # --------------------------------------------------------------- helpers
    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "image_grid_thw", "patch_positions", "window_lengths"]

    @property
    def eos_token_ids(self) -> list[int]:
        """``<|im_end|>`` and ``<|endoftext|>``: either ends an answer."""
        ids = [self.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
        return [i for i in ids if i is not None]

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.convert_tokens_to_ids("<|endoftext|>")


def check_placeholders(texts: list[str], n_images: int, n_videos: int) -> None:
    """The prompts must hold one placeholder per image and per video given."""
    found_images = sum(t.count(IMAGE_PAD) for t in texts)
    found_videos = sum(t.count(VIDEO_PAD) for t in texts)
    if found_images != n_images or found_videos != n_videos:
        raise ValueError(
            f"the prompt has {found_images} image and {found_videos} video placeholders, but {n_images} images and "
            f"{n_videos} videos were given; put one {{'type': 'image'}} / {{'type': 'video'}} item per input in the "
            "messages (apply_chat_template writes the placeholders)"
        )


def split_video_features(feats: BatchFeature) -> list[dict[str, Any]]:
    """The video processor's concatenated output, cut back into one part per video."""
    parts, row, grid, win = [], 0, 0, 0
    for meta in feats["video_metadata"]:
        parts.append({
            "pixel_values": feats["pixel_values"][row: row + meta["rows"]],
            "patch_positions": feats["patch_positions"][row: row + meta["rows"]],
            "image_grid_thw": feats["image_grid_thw"][grid: grid + meta["grid_rows"]],
            "window_lengths": feats["window_lengths"][win: win + meta["windows"]],
            "text": meta["text"],
        })
        row, grid, win = row + meta["rows"], grid + meta["grid_rows"], win + meta["windows"]
    return parts


def order_parts(offsets: list[list[dict[str, Any]]], images: list[dict], videos: list[dict]) -> list[dict]:
    """Visual parts in the order their placeholders appear (sample by sample), as the model scatters them."""
    iters = {"image": iter(images), "video": iter(videos)}
    return [next(iters[rep["type"]]) for sample in offsets for rep in sample]


def concat_parts(parts: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {
        "pixel_values": torch.cat([p["pixel_values"].float() for p in parts]),
        "image_grid_thw": torch.cat([p["image_grid_thw"].long() for p in parts]),
        "patch_positions": torch.cat([p["patch_positions"].long() for p in parts]),
        "window_lengths": torch.cat([p["window_lengths"].long() for p in parts]),
    }


def _image_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The image processor's saved settings minus the class markers (``image_processor_type``...)."""
    return {k: v for k, v in settings.items() if not k.endswith("_type") and k != "processor_class"}


def read_chat_template(directory: Path, processor_dict: dict[str, Any]) -> str | None:
    """The chat template a checkpoint stores: ``chat_template.jinja`` (transformers 5.x), ``chat_template.json``
    (4.x processors) or a ``chat_template`` key in ``processor_config.json``; ``None`` when there is none."""
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    template = _read_json(directory / "chat_template.json").get("chat_template") or processor_dict.get("chat_template")
    return template if isinstance(template, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


