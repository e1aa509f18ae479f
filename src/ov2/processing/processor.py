"""``ov2.Processor``: prompt + images/videos -> the model's input tensors."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from ..visual_input import VisualInput
from .pixels import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGE_MAX_PIXELS,
    IMAGE_MIN_PIXELS,
    PixelSettings,
    load_image,
)
from .text import DEFAULT_SYSTEM, TextTokenizer, TokenizerError, chat_prompt
from .visual import VisualBlock, image_block, video_block

ImageLike = Union[str, os.PathLike, np.ndarray]


class Processor:
    """Builds ``input_ids``, ``attention_mask``, ``pixel_values`` [N, 3*14*14], ``image_grid_thw``,
    ``patch_positions`` (and ``window_lengths`` when codec padding makes windows shorter than
    the grid says) for one prompt or a left-padded batch.

    Images are smart-resized (multiples of 28) and normalised with CLIP mean/std;
    videos come as :class:`~ov2.VisualInput` from :func:`ov2.tokenize` (frames
    backend: one image per frame with ``<X.X seconds>`` before it; codec/fixed
    backends: one grid row of canvases, one prompt block per run of equal source frame).
    """

    def __init__(
        self,
        tokenizer: TextTokenizer,
        settings: PixelSettings | None = None,
        frame_windows_size: int = 4,
        image_token_id: int | None = None,
        system: str | None = DEFAULT_SYSTEM,
    ) -> None:
        self.tokenizer = tokenizer
        self.settings = settings or PixelSettings()
        self.frame_windows_size = frame_windows_size
        self.system = system
        pad_id = tokenizer.token_id("<|image_pad|>")
        if image_token_id is not None and image_token_id != pad_id:
            raise TokenizerError(f"config image_token_id {image_token_id} != tokenizer <|image_pad|> id {pad_id}")
        self.image_token_id = pad_id

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], **overrides: Any) -> "Processor":
        """Read tokenizer.json, preprocessor_config.json (optional) and config.json from a model directory."""
        d = Path(directory)
        if not d.is_dir():
            raise TokenizerError(f"model directory not found: {d}")
        tok = TextTokenizer.from_directory(d)
        pre = _read_json(d / "preprocessor_config.json")
        cfg = _read_json(d / "config.json")
        vc = cfg.get("vision_config", {})
        size = pre.get("size") or {}
        settings = PixelSettings(
            patch_size=int(pre.get("patch_size", vc.get("patch_size", 14))),
            merge_size=int(pre.get("merge_size", vc.get("spatial_merge_size", 2))),
            mean=np.asarray(pre.get("image_mean", CLIP_MEAN), dtype=np.float32),
            std=np.asarray(pre.get("image_std", CLIP_STD), dtype=np.float32),
            min_pixels=int(pre.get("min_pixels", size.get("shortest_edge", IMAGE_MIN_PIXELS))),
            max_pixels=int(pre.get("max_pixels", size.get("longest_edge", IMAGE_MAX_PIXELS))),
        )
        for key in ("min_pixels", "max_pixels"):
            if key in overrides:
                setattr(settings, key, int(overrides.pop(key)))
        return cls(
            tok,
            settings,
            frame_windows_size=int(vc.get("frame_windows_size", 4)),
            image_token_id=cfg.get("image_token_id"),
            **overrides,
        )

    # ------------------------------------------------------------------ main
    def __call__(
        self,
        text: str | Sequence[str],
        images: Any = None,
        videos: Any = None,
        timestamp_decimals: int = 1,
        add_generation_prompt: bool = True,
        return_tensors: str = "pt",
    ) -> dict[str, torch.Tensor]:
        """One user turn per sample: visuals (images, then videos) followed by the text.

        ``text`` is a string (one sample) or a list (a batch); ``images``/``videos``
        are then one item, a list per sample, or None.
        """
        if return_tensors != "pt":
            raise ValueError("only return_tensors='pt' is supported")
        batch = not isinstance(text, str)
        texts = list(text) if batch else [text]
        imgs = _per_sample(images, len(texts), batch, "images")
        vids = _per_sample(videos, len(texts), batch, "videos")
        blocks_per_sample: list[list[VisualBlock]] = []
        prompts = []
        for t, im_list, vid_list in zip(texts, imgs, vids):
            blocks = [image_block(load_image(im), self.settings) for im in im_list]
            for v in vid_list:
                if not isinstance(v, VisualInput):
                    raise TypeError(f"videos must be ov2.VisualInput objects (from ov2.tokenize), got {type(v).__name__}")
                blocks.append(video_block(v, self.settings, self.frame_windows_size, timestamp_decimals))
            content = "".join(b.text for b in blocks) + t
            prompts.append(chat_prompt(content, self.system, add_generation_prompt))
            blocks_per_sample.append(blocks)
        return self._tensors(prompts, [b for bs in blocks_per_sample for b in bs])

    def _tensors(self, prompts: list[str], blocks: list[VisualBlock]) -> dict[str, torch.Tensor]:
        ids = [self.tokenizer.encode(p) for p in prompts]
        length = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(ids), length), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), length), dtype=torch.long)
        for i, x in enumerate(ids):  # left padding, as generation needs
            input_ids[i, length - len(x) :] = torch.as_tensor(x, dtype=torch.long)
            mask[i, length - len(x) :] = 1
        out: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": mask}
        if blocks:
            out["pixel_values"] = torch.from_numpy(np.concatenate([b.rows for b in blocks]))
            out["image_grid_thw"] = torch.as_tensor([g for b in blocks for g in b.grid], dtype=torch.long)
            out["patch_positions"] = torch.from_numpy(np.concatenate([b.positions for b in blocks]))
            windows = [w for b in blocks for w in b.windows]
            from ..model.attention import grid_window_lengths

            if windows != grid_window_lengths(out["image_grid_thw"], self.frame_windows_size):
                out["window_lengths"] = torch.as_tensor(windows, dtype=torch.long)
        return out

    # --------------------------------------------------------------- helpers
    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    @property
    def eos_token_ids(self) -> list[int]:
        return list(self.tokenizer.eos_token_ids)

    @property
    def pad_token_id(self) -> int:
        return self.tokenizer.pad_token_id


def _per_sample(items: Any, n: int, batch: bool, name: str) -> list[list[Any]]:
    if items is None:
        return [[] for _ in range(n)]
    if not batch:
        return [list(items) if isinstance(items, (list, tuple)) else [items]]
    if not isinstance(items, (list, tuple)) or len(items) != n:
        raise ValueError(f"with a batch of {n} texts, {name} must be a list of {n} entries (None, one item or a list)")
    return [[] if x is None else (list(x) if isinstance(x, (list, tuple)) else [x]) for x in items]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())
