"""ov2: LLaVA-OneVision-2 with codec-stream tokenization on stock FFmpeg.

The main entry point is :func:`tokenize`, which turns a video into a
:class:`VisualInput` (canvases + per-patch source metadata) with one of three
backends: ``"codec"`` (adaptive groups from the compressed stream), ``"frames"``
(uniform frames) or ``"fixed"`` (equal-duration groups, same packing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    EmptyVideoError,
    InvalidOptionError,
    NoVideoStreamError,
    UnsupportedVideoError,
    VideoError,
    VideoFormatError,
    VideoNotFoundError,
)
from .visual_input import Group, Tokens, VisualInput
from .compat import check_transformers_version

# One clear line for an unsupported transformers, before anything imports it (ov2.compat).
check_transformers_version()

__version__ = "0.1.0"

__all__ = [
    "tokenize",
    "VisualInput",
    "Tokens",
    "Group",
    "VideoError",
    "VideoNotFoundError",
    "VideoFormatError",
    "NoVideoStreamError",
    "EmptyVideoError",
    "UnsupportedVideoError",
    "InvalidOptionError",
    "Processor",
    "register_auto_classes",
    "__version__",
]


def tokenize(path: Any, backend: str = "codec", canvases: int = 32, **options: Any) -> VisualInput:
    """Tokenize a video (a file path, its bytes or a binary file object) into canvases (see :func:`ov2.tokenizer.tokenize`)."""
    from .tokenizer import tokenize as _tokenize

    return _tokenize(path, backend=backend, canvases=canvases, **options)


def register_auto_classes() -> None:
    """Register ov2's config, model and processor with transformers' Auto classes (see
    :func:`ov2.model.registration.register_auto_classes`). Nothing global changes without this call."""
    from .model.registration import register_auto_classes as _register

    _register()


def __getattr__(name: str) -> Any:
    # The processor pulls in torch/transformers; import it only when asked for.
    if name == "Processor":
        from .processing import Processor

        return Processor
    raise AttributeError(f"module 'ov2' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from .processing import Processor  # noqa: F401
