"""The video options of one request: ``mm_processor_kwargs`` over server defaults over the checkpoint's.

vLLM merges the server's ``--mm-processor-kwargs`` with a request's ``mm_processor_kwargs``
(the request wins); what neither sets comes from the checkpoint's video processor
(``video_preprocessor_config.json``, else ov2's defaults). Recognised keys:

* ``video_backend`` (``codec`` | ``fixed`` | ``frames``), ``canvases``, ``max_pixels``,
  ``min_pixels``, ``timestamp_decimals`` (1 | 2);
* any :func:`ov2.tokenize` option, either at the top level (``"energy": "log1p"``) or in
  ``codec_config`` (the processor's spelling); top-level keys win.

An unknown key is an error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ...errors import InvalidOptionError
from ...options import TokenizeOptions
from ...visual_input import VisualInput

VIDEO_KEYS = ("video_backend", "canvases", "max_pixels", "min_pixels", "timestamp_decimals", "codec_config")
# Tokenizer options a request may set besides the video keys; the rest are fixed by the model or server.
TOKENIZER_KEYS = tuple(
    f.name for f in fields(TokenizeOptions)
    if f.name not in ("backend", "canvases", "max_pixels", "min_pixels", "patch_size", "progress")
)
# Keys vLLM itself may put into mm_processor_kwargs; not ours, not an error.
_VLLM_KEYS = frozenset({"return_tensors", "truncation", "use_audio_in_video"})


@dataclass(frozen=True)
class VideoCall:
    """Everything that decides one video's tokens (hashable: it keys the prefetch)."""

    backend: str
    canvases: int
    max_pixels: int
    min_pixels: int
    extra: tuple[tuple[str, Any], ...]  # tokenizer options, sorted by name
    timestamp_decimals: int

    @property
    def tokenize_key(self) -> tuple[Any, ...]:
        """What ``ov2.tokenize`` sees (``timestamp_decimals`` only changes the prompt text)."""
        return self.backend, self.canvases, self.max_pixels, self.min_pixels, self.extra

    def tokenize(self, data: bytes, name: str = "<bytes>") -> VisualInput:
        """Run :func:`ov2.tokenize` on the video's bytes."""
        import ov2
        from ...io.media import MediaBytes

        return ov2.tokenize(MediaBytes(data, name), backend=self.backend, canvases=self.canvases,
                            max_pixels=self.max_pixels, min_pixels=self.min_pixels, **dict(self.extra))


def resolve_call(merged: Mapping[str, Any], defaults: Any) -> VideoCall:
    """Build and validate the :class:`VideoCall` for ``merged`` kwargs over ``defaults`` (a video processor).

    Raises :class:`~ov2.InvalidOptionError` (a ``ValueError``: vLLM answers HTTP 400) for an
    unknown key, an unknown backend or a budget the tokenizer cannot honour.
    """
    unknown = sorted(set(merged) - set(VIDEO_KEYS) - set(TOKENIZER_KEYS) - _VLLM_KEYS)
    if unknown:
        raise InvalidOptionError(
            f"mm_processor_kwargs has unknown key(s) {unknown}; ov2 takes {list(VIDEO_KEYS)} and the "
            f"ov2.tokenize options {list(TOKENIZER_KEYS)}"
        )

    def pick(key: str) -> Any:
        value = merged.get(key)
        return getattr(defaults, key) if value is None else value

    codec_config = dict(pick("codec_config") or {})
    codec_config.update({k: merged[k] for k in TOKENIZER_KEYS if k in merged})
    call = VideoCall(
        backend=pick("video_backend"),
        canvases=pick("canvases"),
        max_pixels=pick("max_pixels"),
        min_pixels=pick("min_pixels"),
        extra=tuple(sorted((k, _hashable(v)) for k, v in codec_config.items())),
        timestamp_decimals=pick("timestamp_decimals"),
    )
    # The tokenizer's own checks (backend, budget, ranges), before any byte is decoded.
    TokenizeOptions.build(backend=call.backend, canvases=call.canvases, max_pixels=call.max_pixels,
                          min_pixels=call.min_pixels, **dict(call.extra))
    if call.timestamp_decimals not in (1, 2):
        raise InvalidOptionError(f"timestamp_decimals must be 1 or 2, got {call.timestamp_decimals!r}")
    return call


def _hashable(value: Any) -> Any:
    # JSON gives lists (valley_band); the key must hash.
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value
