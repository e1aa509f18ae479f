"""vLLM's multimodal processor for LLaVA-OneVision-2, built on ov2's processor and tokenizer.

vLLM tokenizes the prompt itself and calls the processor on the images and videos alone;
the processor returns their tensors plus, per item, the tokens that replace its
placeholder. ov2's ``LlavaOnevision2Processor`` is called once per item on the bare
placeholder text, so the replacement tokens (``<t seconds>`` tags, vision markers, one
``<|image_pad|>`` per merged 2x2 block, newlines) are exactly what the HF path writes for
the same item. Videos are tokenized by :func:`ov2.tokenize` from their compressed bytes
(:mod:`.media`), in parallel across requests (:mod:`.prefetch`).

Every ov2 input error becomes a ``ValueError`` whose message starts with the error's class
name (``VideoFormatError: <bytes>: not a readable video file ...``): vLLM's server answers
those with HTTP 400 and keeps serving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import torch
from transformers import BatchFeature

from vllm.multimodal.inputs import MultiModalFieldConfig, MultiModalKwargsItems
from vllm.multimodal.parse import MultiModalDataItems, MultiModalDataParser
from vllm.multimodal.processing import (
    BaseDummyInputsBuilder,
    BaseMultiModalProcessor,
    BaseProcessingInfo,
    PromptReplacement,
    PromptUpdate,
    PromptUpdateDetails,
)

from ...errors import VideoError
from ...io.resize import smart_resize
from ...model.tiny import synthetic_visual_input
from ...processing.processor import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START, LlavaOnevision2Processor
from ...visual_input import VisualInput
from .media import NAME_KEY, item_source
from .options import VideoCall, resolve_call
from .prefetch import PREFETCH

IMAGE_MARKER = VISION_START + IMAGE_PAD + VISION_END
VIDEO_MARKER = VISION_START + VIDEO_PAD + VISION_END


@lru_cache(maxsize=4)
def load_processor(model: str) -> LlavaOnevision2Processor:
    """ov2's processor for a checkpoint directory (one per process; loading reads the tokenizer)."""
    return LlavaOnevision2Processor.from_pretrained(model)


class Ov2ProcessingInfo(BaseProcessingInfo):
    """Where vLLM gets the processor (ov2's, never remote code) and the per-item token limits."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        try:  # publish the server's defaults, so videos are tokenized as soon as they are fetched
            PREFETCH.configure(self.default_call())
        except ValueError:
            PREFETCH.configure(None)  # a bad server default then surfaces per request, as a 400

    def get_hf_processor(self, **kwargs: object) -> LlavaOnevision2Processor:
        return load_processor(self.ctx.model_config.model)

    def default_call(self) -> VideoCall:
        """The video call of a request that sets nothing (server defaults over the checkpoint's)."""
        return resolve_call(self.server_kwargs(), self.get_hf_processor().video_processor)

    def server_kwargs(self, request: Mapping[str, object] | None = None) -> dict[str, Any]:
        """``--mm-processor-kwargs`` with the request's ``mm_processor_kwargs`` over them."""
        merged = self.ctx.model_config.get_multimodal_config().merge_mm_processor_kwargs(dict(request or {}))
        return dict(merged)

    def get_data_parser(self) -> MultiModalDataParser:
        # video_needs_metadata keeps the (bytes-array, metadata) tuples the ov2 loader makes.
        return MultiModalDataParser(video_needs_metadata=True)

    def get_supported_mm_limits(self) -> Mapping[str, int | None]:
        return {"image": None, "video": None}

    def get_mm_max_tokens_per_item(self, seq_len: int, mm_counts: Mapping[str, int]) -> Mapping[str, int]:
        """Image: the image processor's pixel cap. Video: the default budget (canvases x canvas size).

        A request may ask for more canvases than the server default; vLLM then needs an
        encoder cache large enough for it (raise the default with --mm-processor-kwargs).
        """
        return {"image": self.max_image_tokens(), "video": self.max_video_tokens()}

    def max_image_tokens(self) -> int:
        h, w = _largest_grid(*_image_pixel_caps(self.get_hf_processor().image_processor))
        return h * w // 4

    def max_video_tokens(self) -> int:
        call = self.safe_default_call()
        h, w = _largest_grid(call.max_pixels, call.min_pixels)
        return call.canvases * h * w // 4

    def safe_default_call(self) -> VideoCall:
        """:meth:`default_call`, or the checkpoint's alone when the server defaults are invalid."""
        try:
            return self.default_call()
        except ValueError:
            return resolve_call({}, self.get_hf_processor().video_processor)


def _image_pixel_caps(image_processor: Any) -> tuple[int, int]:
    """(max, min) pixels of the image processor (attributes in some transformers versions, ``size`` in others)."""
    size = getattr(image_processor, "size", None) or {}
    high = getattr(image_processor, "max_pixels", None) or size.get("longest_edge")
    low = getattr(image_processor, "min_pixels", None) or size.get("shortest_edge")
    return int(high), int(low)


def _largest_grid(max_pixels: int, min_pixels: int) -> tuple[int, int]:
    """(rows, cols) of patches of the largest square-ish frame under ``max_pixels``."""
    h, w = smart_resize(4096, 4096, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
    return h // 14, w // 14


class Ov2DummyInputsBuilder(BaseDummyInputsBuilder[Ov2ProcessingInfo]):
    """Worst-case items for vLLM's start-up profiling: a big image and a full-budget tokenized video."""

    def get_dummy_text(self, mm_counts: Mapping[str, int]) -> str:
        return IMAGE_MARKER * mm_counts.get("image", 0) + VIDEO_MARKER * mm_counts.get("video", 0)

    def get_dummy_mm_data(self, seq_len: int, mm_counts: Mapping[str, int], mm_options: Any = None) -> dict[str, Any]:
        from .media import video_input

        out: dict[str, Any] = {}
        if mm_counts.get("image", 0):
            h, w = _largest_grid(*_image_pixel_caps(self.info.get_hf_processor().image_processor))
            out["image"] = self._get_dummy_images(width=w * 14, height=h * 14, num_images=mm_counts["image"])
        if mm_counts.get("video", 0):
            call = self.info.safe_default_call()
            grid = _largest_grid(call.max_pixels, call.min_pixels)
            canvases = call.canvases if call.backend == "frames" else max(4, call.canvases // 4 * 4)
            # A hand-built VisualInput: no video file is needed to profile.
            vi = synthetic_visual_input(canvases, grid=grid, backend="frames" if call.backend == "frames" else "codec")
            out["video"] = [video_input(vi) for _ in range(mm_counts["video"])]
        return out


class Ov2MultiModalProcessor(BaseMultiModalProcessor[Ov2ProcessingInfo]):
    """Images through ov2's processor (the release's PIL Qwen2-VL pixels); videos through ``ov2.tokenize``."""

    def _call_hf_processor(self, hf_data: Mapping[str, object], hf_kwargs: Mapping[str, object]) -> BatchFeature:
        processor = self.info.get_hf_processor()
        images = _as_list(hf_data.get("images"))
        videos = _as_list(hf_data.get("videos"))
        try:
            call = resolve_call(self.info.server_kwargs(hf_kwargs), processor.video_processor) if videos else None
            image_parts = [_process(processor, IMAGE_MARKER, images=[_rgb_array(im)]) for im in images]
            video_parts = [_process(processor, VIDEO_MARKER, videos=[self._visual_input(v, call)],
                                    timestamp_decimals=call.timestamp_decimals) for v in videos]
        except VideoError as exc:
            # ValueError -> HTTP 400; the class name tells the user which kind of problem it is.
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        return _features(image_parts, video_parts)

    def _apply_hf_processor_main(self, mm_items: MultiModalDataItems, hf_kwargs: Mapping[str, object]) -> BatchFeature:
        hf_data: dict[str, Any] = {}
        for items in mm_items.values():
            hf_data.update(items.get_processor_data())
        return self._call_hf_processor(hf_data, hf_kwargs)

    @staticmethod
    def _visual_input(item: Any, call: VideoCall) -> VisualInput:
        source = item_source(item)
        if isinstance(source, VisualInput):
            return source
        if isinstance(source, bytes):
            name = item[1].get(NAME_KEY, "<bytes>")
            return PREFETCH.take(source, call, name)
        raise ValueError(
            "ov2 got this video already decoded into frames; ov2 tokenizes the compressed file. Serve with "
            "`ov2 serve` (or --media-io-kwargs '{\"video\": {\"video_backend\": \"ov2\"}}'), and offline pass "
            "multi_modal_data={'video': ov2.integrations.vllm.video_input(path)}"
        )

    def _get_mm_fields_config(self, hf_inputs: BatchFeature,
                              hf_processor_mm_kwargs: Mapping[str, object]) -> Mapping[str, MultiModalFieldConfig]:
        return _fields_config(hf_inputs)

    def _get_prompt_updates(self, mm_items: MultiModalDataItems, hf_processor_mm_kwargs: Mapping[str, Any],
                            out_mm_kwargs: MultiModalKwargsItems) -> Sequence[PromptUpdate]:
        tokenizer = self.info.get_tokenizer()
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in (IMAGE_PAD, VIDEO_PAD, VISION_START, VISION_END)}
        pad = ids[IMAGE_PAD]

        def image_tokens(i: int) -> PromptUpdateDetails:
            return PromptUpdateDetails.select_token_id(out_mm_kwargs["image"][i]["image_prompt_ids"].data.tolist(), pad)

        def video_tokens(i: int) -> PromptUpdateDetails:
            return PromptUpdateDetails.select_token_id(out_mm_kwargs["video"][i]["video_prompt_ids"].data.tolist(), pad)

        # The chat template writes <|vision_start|><|image_pad|><|vision_end|> per image (ov2's processor
        # expands the pad) and the same with <|video_pad|> per video (ov2 replaces the whole block).
        return [
            PromptReplacement(modality="image", target=[ids[VISION_START], pad, ids[VISION_END]], replacement=image_tokens),
            PromptReplacement(modality="video", target=[ids[VISION_START], ids[VIDEO_PAD], ids[VISION_END]],
                              replacement=video_tokens),
        ]


def _as_list(items: Any) -> list[Any]:
    if items is None:
        return []
    return list(items) if isinstance(items, list) else [items]


def _rgb_array(image: Any) -> Any:
    """vLLM hands images over as PIL; ov2's processor takes uint8 HxWx3 arrays (or paths)."""
    import numpy as np

    return np.asarray(image.convert("RGB")) if hasattr(image, "convert") else image


def _process(processor: LlavaOnevision2Processor, marker: str, **kwargs: Any) -> dict[str, torch.Tensor]:
    """ov2's processor on one item's bare placeholder: its tensors and its replacement tokens."""
    out = processor(text=marker, return_tensors="pt", **kwargs)
    return {k: out[k] for k in ("pixel_values", "image_grid_thw", "patch_positions", "window_lengths")} | {
        "prompt_ids": out["input_ids"][0]
    }


def _features(images: list[dict[str, torch.Tensor]], videos: list[dict[str, torch.Tensor]]) -> BatchFeature:
    """Concatenated per-modality tensors plus the per-item counts the field config splits them by."""
    data: dict[str, torch.Tensor] = {}
    for prefix, parts, pixel_key, grid_key, pos_key in (
        ("image", images, "pixel_values", "image_grid_thw", "patch_positions"),
        ("video", videos, "pixel_values_videos", "video_grid_thw", "patch_positions_videos"),
    ):
        if not parts:
            continue
        data[pixel_key] = torch.cat([p["pixel_values"] for p in parts])
        data[grid_key] = torch.cat([p["image_grid_thw"] for p in parts])
        data[pos_key] = torch.cat([p["patch_positions"] for p in parts])
        data[f"{prefix}_window_lengths"] = torch.cat([p["window_lengths"] for p in parts])
        data[f"{prefix}_prompt_ids"] = torch.cat([p["prompt_ids"] for p in parts])
        data[f"{prefix}_counts"] = torch.tensor(
            [[p["pixel_values"].shape[0], p["image_grid_thw"].shape[0], p["window_lengths"].shape[0],
              p["prompt_ids"].shape[0]] for p in parts], dtype=torch.long)
    if videos:
        # vLLM's model reads video_num_frames as "grid rows per video".
        data["video_num_frames"] = data["video_counts"][:, 1].clone()
    return BatchFeature(data)


def _fields_config(hf_inputs: Mapping[str, torch.Tensor]) -> dict[str, MultiModalFieldConfig]:
    """How vLLM cuts the concatenated tensors back into items (counts: rows, grid rows, windows, prompt ids)."""
    empty = torch.zeros((0, 4), dtype=torch.long)
    img = hf_inputs.get("image_counts", empty)
    vid = hf_inputs.get("video_counts", empty)
    flat = MultiModalFieldConfig.flat_from_sizes
    return {
        "pixel_values": flat("image", img[:, 0]),
        "patch_positions": flat("image", img[:, 0]),
        "image_grid_thw": flat("image", img[:, 1], keep_on_cpu=True),
        "image_window_lengths": flat("image", img[:, 2], keep_on_cpu=True),
        "image_prompt_ids": flat("image", img[:, 3], keep_on_cpu=True),
        "image_counts": MultiModalFieldConfig.batched("image", keep_on_cpu=True),
        "pixel_values_videos": flat("video", vid[:, 0]),
        "patch_positions_videos": flat("video", vid[:, 0]),
        "video_grid_thw": flat("video", vid[:, 1], keep_on_cpu=True),
        "video_window_lengths": flat("video", vid[:, 2], keep_on_cpu=True),
        "video_prompt_ids": flat("video", vid[:, 3], keep_on_cpu=True),
        "video_counts": MultiModalFieldConfig.batched("video", keep_on_cpu=True),
        "video_num_frames": MultiModalFieldConfig.batched("video", keep_on_cpu=True),
    }
