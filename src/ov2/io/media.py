"""A video held in memory: what ``ov2.tokenize`` gets when it is given bytes or a binary file object.

A server receives videos as request bodies (a base64 data URL, an http download); writing
them to disk only to read them back would cost a file per request and a cleanup. The codec
backends open the same video several times (packet pass, first frame, keyframe thumbnails,
one decoder per parallel segment), so the bytes are kept once and every open gets its own
``io.BytesIO`` over them: readers never share a file position, and no copy is made.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO, Union

from ..errors import VideoFormatError

BytesLike = Union[bytes, bytearray, memoryview]


class MediaBytes:
    """The bytes of one video plus the name its error messages use (``<bytes>`` when nothing better is known)."""

    def __init__(self, data: BytesLike, name: str = "<bytes>") -> None:
        self.data = bytes(data)  # bytes(bytes) is the same object: no copy for the common case
        self.label = name

    @property
    def name(self) -> str:
        """The label, as ``Path.name`` would give it (progress bars use ``.name``)."""
        return self.label

    def open(self) -> io.BytesIO:
        """A fresh reader positioned at byte 0 (one per PyAV container)."""
        return io.BytesIO(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"MediaBytes({self.label!r}, {len(self.data)} bytes)"


VideoSource = Union[str, "os.PathLike[str]", BytesLike, BinaryIO, MediaBytes]


def as_media(video: Any) -> str | os.PathLike[str] | MediaBytes:
    """A path is returned as it is (so messages keep the caller's spelling); bytes and binary file objects become :class:`MediaBytes`.

    A file object is read from its current position to the end (it is not closed). Text
    (``str``) is always a path, never data. Raises :class:`VideoNotFoundError` for a value
    that is neither, and :class:`VideoFormatError` for a text-mode file object.
    """
    if isinstance(video, MediaBytes):
        return video
    if isinstance(video, (str, os.PathLike)):
        return video
    if isinstance(video, (bytes, bytearray, memoryview)):
        return MediaBytes(video)
    read = getattr(video, "read", None)
    if callable(read):
        data = read()
        label = getattr(video, "name", None)
        label = f"<file object {label}>" if isinstance(label, (str, os.PathLike)) else "<file object>"
        if isinstance(data, str):
            raise VideoFormatError(f"{label}: opened in text mode; open the video with mode 'rb' (binary)")
        return MediaBytes(data if data is not None else b"", label)
    raise TypeError(
        f"expected a video file path, the video's bytes or a binary file object (open(path, 'rb')), "
        f"got {type(video).__name__}"
    )
