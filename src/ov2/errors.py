"""One exception family for everything a user can get wrong.

Every error ov2 raises on bad input derives from :class:`VideoError`, so callers
can catch one class; the subclasses say what kind of problem it was, and the
message says what to do about it.
"""

from __future__ import annotations


class VideoError(Exception):
    """Base class of every input error raised by ov2."""


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist or is not a file."""


class VideoFormatError(VideoError):
    """The file is not a readable media container (empty, random bytes, truncated)."""


class NoVideoStreamError(VideoError):
    """The container holds no video stream (audio-only file, subtitles...)."""


class EmptyVideoError(VideoError):
    """The video stream has no decodable frame (in the requested time window)."""


class UnsupportedVideoError(VideoError):
    """The stream is readable but cannot be used (absurd size, no decoder...)."""


class InvalidOptionError(VideoError, ValueError):
    """A tokenizer option is out of range or inconsistent with another."""


class UnsupportedDependencyError(VideoError, ImportError):
    """An installed library (transformers) is outside the range ov2 supports; the message names the fix."""
