"""How a video reaches ov2's processor inside vLLM: undecoded, as its compressed bytes.

vLLM's media connector fetches a ``video_url`` (a file under ``--allowed-local-media-path``,
http(s) within ``--allowed-media-domains``, or a base64 data URL) with its own access checks,
then hands the bytes to a *video loader*. vLLM's loaders decode frames; the codec backend
needs the compressed stream itself (packet sizes, motion vectors). ov2's loader
(:class:`Ov2VideoLoader`, registered as ``"ov2"``) therefore decodes nothing: it wraps the
bytes as a ``uint8`` array and tags the metadata, and :func:`ov2.tokenize` reads them in the
processor with the request's options. Nothing is written to the server's disk.

Offline (``LLM.generate``), :func:`video_input` builds the same item from a path, bytes or an
already tokenized :class:`~ov2.VisualInput`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ...errors import VideoNotFoundError
from ...visual_input import VisualInput

LOADER_NAME = "ov2"
# Metadata keys of a video item (the parser keeps metadata; only the array is hashed).
BYTES_KEY = "ov2_video_bytes"
VISUAL_INPUT_KEY = "ov2_visual_input"
NAME_KEY = "ov2_video_name"


def bytes_item(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, dict[str, Any]]:
    """A vLLM video item carrying ``data`` undecoded.

    The array *is* the bytes (shape ``[1, 1, n, 1]``: vLLM's parser wants a 4-D video), so
    vLLM's cache hashes the whole content and two different videos never share an entry.
    """
    array = np.frombuffer(data, dtype=np.uint8).reshape(1, 1, -1, 1)
    return array, {BYTES_KEY: True, NAME_KEY: name, "video_backend": LOADER_NAME}


def video_input(video: str | os.PathLike[str] | bytes | BinaryIO | VisualInput) -> tuple[np.ndarray, dict[str, Any]]:
    """``multi_modal_data={"video": video_input(x)}`` for the offline ``LLM`` API.

    ``x`` is a file path, the video's bytes, a binary file object, or a
    :class:`~ov2.VisualInput` from :func:`ov2.tokenize` (used as it is: tokenize many videos
    in parallel first, e.g. with a thread pool, then generate). Paths and bytes are
    tokenized in the processor with the request's ``mm_processor_kwargs``.
    """
    if isinstance(video, VisualInput):
        # The canvases are the hashed array, so distinct inputs get distinct cache entries.
        return np.ascontiguousarray(video.canvases), {VISUAL_INPUT_KEY: video, "video_backend": LOADER_NAME}
    if isinstance(video, (str, os.PathLike)):
        path = Path(video)
        if not path.is_file():
            raise VideoNotFoundError(f"{path}: no such file")
        return bytes_item(path.read_bytes(), str(path))
    if isinstance(video, (bytes, bytearray, memoryview)):
        return bytes_item(bytes(video))
    read = getattr(video, "read", None)
    if callable(read):
        return bytes_item(read(), str(getattr(video, "name", "<file object>")))
    raise TypeError(f"video_input takes a path, bytes, a binary file object or an ov2.VisualInput, got {type(video).__name__}")


def item_source(item: Any) -> bytes | VisualInput | None:
    """What a parsed vLLM video item carries for ov2: the video bytes, a VisualInput, or None (decoded frames)."""
    if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict)):
        return None
    array, meta = item
    if VISUAL_INPUT_KEY in meta:
        return meta[VISUAL_INPUT_KEY]
    if meta.get(BYTES_KEY):
        array = getattr(array, "media", array)  # vLLM's MediaWithBytes wrapper, if still there
        return np.asarray(array, dtype=np.uint8).tobytes()
    return None


def register_loader() -> None:
    """Register the ``"ov2"`` video loader with vLLM, as the loader for ov2's video processor class.

    vLLM picks a loader from the checkpoint's ``video_processor_type``
    (``LlavaOnevision2VideoProcessor``, which ov2 writes); a checkpoint without it (the
    release's) needs ``--media-io-kwargs '{"video": {"video_backend": "ov2"}}'``, which
    ``ov2 serve`` adds.
    """
    from vllm.multimodal.video import VIDEO_LOADER_REGISTRY, VideoLoader

    if LOADER_NAME in VIDEO_LOADER_REGISTRY.name2class:
        return

    @VIDEO_LOADER_REGISTRY.register(LOADER_NAME, video_processor="LlavaOnevision2VideoProcessor")
    class Ov2VideoLoader(VideoLoader):
        """Keeps the compressed bytes; ov2 tokenizes them in the processor (no decoding here)."""

        @classmethod
        def load_bytes(cls, data: bytes, num_frames: int = -1, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
            from .prefetch import PREFETCH

            PREFETCH.start(data)  # tokenizing with the server's defaults starts now, in parallel
            return bytes_item(data)


CONNECTOR_NAME = "ov2"


def register_connector() -> None:
    """Register the ``"ov2"`` media connector: vLLM's, with a missing local file answered as HTTP 400.

    vLLM's own connector lets ``FileNotFoundError`` escape, which its server answers with a
    500. A missing file is the client's mistake, so this one raises ov2's
    ``VideoNotFoundError`` message as a ``ValueError`` (400). Selected with
    ``VLLM_MEDIA_CONNECTOR=ov2``, which ``ov2 serve`` sets.
    """
    from vllm.multimodal.media.connector import MEDIA_CONNECTOR_REGISTRY, MediaConnector

    if CONNECTOR_NAME in getattr(MEDIA_CONNECTOR_REGISTRY, "name2class", {}):
        return

    @MEDIA_CONNECTOR_REGISTRY.register(CONNECTOR_NAME)
    class Ov2MediaConnector(MediaConnector):
        """vLLM's connector (same access checks), with local-file errors turned into 400s."""

        def _load_file_url(self, url_spec: Any, media_io: Any) -> Any:
            try:
                return super()._load_file_url(url_spec, media_io)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                name = os.path.basename(str(getattr(exc, "filename", "") or url_spec.path or ""))
                raise ValueError(f"VideoNotFoundError: {name}: no such file under --allowed-local-media-path") from None
