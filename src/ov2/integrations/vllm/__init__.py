"""Serve LLaVA-OneVision-2 with vLLM, using ov2's processor, tokenizer and codec tokenization.

Installed as a ``vllm.general_plugins`` entry point (``ov2 = "ov2.integrations.vllm:register"``):
vLLM calls :func:`register` in every process it starts (API server, engine core, workers).
With it, vLLM's in-tree ``LlavaOnevision2ForConditionalGeneration`` network runs on ov2's
processor for checkpoints ov2 saved and for the release's directory, without remote code.

* :mod:`.media`: the ``"ov2"`` video loader (keeps a video's compressed bytes) and
  :func:`video_input` for the offline ``LLM`` API;
* :mod:`.options`: a request's ``mm_processor_kwargs`` -> one ``ov2.tokenize`` call;
* :mod:`.prefetch`: tokenizing fetched videos in parallel;
* :mod:`.processing`: vLLM's processor classes over ov2's processor;
* :mod:`.model`: the network subclass (ov2's windows, config checks).

See docs/serving.md.
"""

from __future__ import annotations

from typing import Any

ARCHITECTURE = "LlavaOnevision2ForConditionalGeneration"

__all__ = ["register", "video_input"]


def register() -> None:
    """The plugin entry point (idempotent; vLLM may call it several times per process).

    Registers ov2's config/processor classes with transformers (so ``llava_onevision2``
    needs no remote code), ov2's network subclass for the release's architecture name
    (lazily, by module path: workers import it only when they build the model), and the
    ``"ov2"`` video loader and media connector.
    """
    import ov2
    from vllm import ModelRegistry

    from .media import register_connector, register_loader

    ov2.register_auto_classes()
    ModelRegistry.register_model(ARCHITECTURE, "ov2.integrations.vllm.model:Ov2LlavaOnevision2ForConditionalGeneration")
    register_loader()
    register_connector()


def video_input(video: Any) -> Any:
    """``multi_modal_data={"video": video_input(path | bytes | file | VisualInput)}`` (see :func:`.media.video_input`)."""
    from .media import video_input as _video_input

    return _video_input(video)
