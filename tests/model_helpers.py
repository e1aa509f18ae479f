"""Shared helpers for model / processor tests: prompts with one video or image through the processor."""

from __future__ import annotations

from typing import Any

from ov2.model.answer import user_message


def video_inputs(processor: Any, video: Any, question: str = "q", **options: Any) -> Any:
    """Processor outputs for one user turn holding ``video`` and ``question`` (generation prompt added)."""
    prompt = processor.apply_chat_template(user_message(question, video=True), add_generation_prompt=True)
    return processor(text=prompt, videos=video, **options)


def image_inputs(processor: Any, image: Any, question: str = "q", **options: Any) -> Any:
    prompt = processor.apply_chat_template(user_message(question, image=True), add_generation_prompt=True)
    return processor(text=prompt, images=image, **options)


def enable_checkpointing(model: Any, use_reentrant: bool) -> None:
    """Activation checkpointing by the installed transformers' name for it (5.23 renamed
    ``gradient_checkpointing_enable`` to ``activation_checkpointing_enable``)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": use_reentrant})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": use_reentrant})
