"""One way to load a checkpoint directory for inference: the model and its processor."""

from __future__ import annotations

import os
from typing import Any

import torch


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model_and_processor(
    directory: str | os.PathLike[str],
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, processor)`` from a local checkpoint directory, model in eval mode.

    ``device`` defaults to :func:`default_device`; ``dtype`` ``None``/``"auto"`` takes the
    checkpoint's dtype on GPU and float32 on CPU (CPU half precision is slow and inexact).
    """
    from ..processing import Processor
    from .modeling import LlavaOnevision2ForConditionalGeneration

    device = device or default_device()
    if dtype in (None, "auto") and str(device).startswith("cpu"):
        dtype = "float32"
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(directory, dtype=None if dtype == "auto" else dtype, device=device)
    model.eval()
    processor = Processor.from_pretrained(directory)
    return model, processor
