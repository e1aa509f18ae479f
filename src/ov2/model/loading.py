"""One way to load a checkpoint directory for inference: the model and its processor, through the Auto classes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError
from .config import ConfigError, check_model_type


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_checkpoint_dir(directory: str | os.PathLike[str]) -> Path:
    """A local llava_onevision2 checkpoint directory, or one clear error naming what is wrong."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"model directory not found: {d}")
    config = d / "config.json"
    if not config.is_file():
        raise CheckpointError(f"{d} has no config.json (is it a checkpoint directory?)")
    try:
        raw = json.loads(config.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{config} is not valid JSON: {exc}") from exc
    check_model_type(raw, str(config))
    return d


def load_model_and_processor(
    directory: str | os.PathLike[str],
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, processor)`` from a local checkpoint directory, model in eval mode.

    Goes through ``AutoModelForImageTextToText`` / ``AutoProcessor`` after
    :func:`ov2.register_auto_classes`. ``device`` defaults to :func:`default_device`;
    ``dtype`` ``None``/``"auto"`` takes the checkpoint's dtype on GPU and float32 on CPU
    (CPU half precision is slow and inexact).
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .registration import register_auto_classes

    d = check_checkpoint_dir(directory)
    register_auto_classes()
    device = device or default_device()
    if dtype is None or dtype == "auto":
        dtype = torch.float32 if str(device).startswith("cpu") else "auto"
    model = AutoModelForImageTextToText.from_pretrained(d, dtype=dtype, device_map=device)
    model.eval()
    processor = AutoProcessor.from_pretrained(d)
    return model, processor


def codec_config_for(directory: str | os.PathLike[str], backend: str,
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tokenizer options to run the checkpoint in ``directory`` with ``backend``.

    The options it was trained with (:func:`saved_codec_config`), updated by ``overrides``;
    none for the frames backend, which takes no codec options.
    """
    from ..options import CANVAS_BACKENDS

    if backend not in CANVAS_BACKENDS:
        return {}
    return {**saved_codec_config(directory), **(overrides or {})}


def saved_codec_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The tokenizer options a checkpoint's video processor was saved with (``codec_config``), or ``{}``.

    Training records there the non-default options its codec / fixed data was precomputed
    with (e.g. ``candidates_per_group``), so evaluation can tokenize the way the model was
    trained without loading the model.
    """
    path = Path(directory) / "processor_config.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    return dict((doc.get("video_processor") or {}).get("codec_config") or {})
