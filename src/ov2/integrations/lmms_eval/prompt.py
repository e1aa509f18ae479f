"""lmms-eval requests -> one ov2 question: its text, its visuals and an optional system prompt.

lmms-eval hands a chat model a list of messages (``{"role", "content": [{"type": "text" |
"image" | "video" | "audio", ...}]}``) and a simple model a context string plus the task's
visuals. ov2 answers one user turn with its visuals in front of the text (the release's
prompt layout), so both shapes are reduced to a :class:`Prompt`. Conversations with
several turns and audio are refused with one clear error instead of being answered wrongly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ...errors import VideoError

# The extensions lmms-eval itself reads as images when a visual is a bare path.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tiff", ".webp"})


class UnsupportedRequestError(VideoError, NotImplementedError):
    """An lmms-eval request ov2 cannot answer as asked (several turns, audio, several visuals).

    A typed error, not a stub: it is also a NotImplementedError because that is what lmms-eval's own
    models raise for requests they do not serve, so code that catches that keeps working."""


@dataclass(frozen=True)
class VideoRef:
    """A video file, optionally cut to [start, end) seconds."""

    path: str
    start: float | None = None
    end: float | None = None


@dataclass
class Prompt:
    """One user turn: ``text`` after ``images`` and ``videos``; ``system`` replaces the default system prompt."""

    text: str
    images: list[Any] = field(default_factory=list)  # paths, PIL images or uint8 HxWx3 arrays
    videos: list[VideoRef] = field(default_factory=list)
    system: str | None = None

    @property
    def visual_count(self) -> int:
        return len(self.images) + len(self.videos)


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _video_ref(url: Any, start: Any = None, end: Any = None) -> VideoRef:
    # lmms-eval passes a dict as the url when the task gives video_start / video_end.
    if isinstance(url, Mapping):
        path = url.get("url") or url.get("path") or url.get("video")
        start = url.get("video_start", start)
        end = url.get("video_end", end)
    else:
        path = url
    if not isinstance(path, (str, os.PathLike)):
        raise UnsupportedRequestError(f"a video item must name a file, got {type(path).__name__}")
    return VideoRef(os.fspath(path), _seconds(start), _seconds(end))


def _add_visual(prompt: Prompt, kind: str, item: Any, start: Any = None, end: Any = None) -> None:
    if kind == "video":
        prompt.videos.append(_video_ref(item, start, end))
    elif kind == "image":
        prompt.images.append(item)
    else:
        raise UnsupportedRequestError(f"ov2 reads text, images and video; this request has {kind!r} content")


def _content_items(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [item if isinstance(item, Mapping) else item.model_dump() for item in content]


def from_messages(messages: Iterable[Any]) -> Prompt:
    """A :class:`Prompt` from lmms-eval chat messages (dicts or its pydantic ``ChatMessage`` objects)."""
    system: list[str] = []
    users: list[list[Mapping[str, Any]]] = []
    for message in messages:
        if not isinstance(message, Mapping):
            message = message.model_dump()
        role = message.get("role")
        items = _content_items(message.get("content", []))
        if role == "system":
            system.extend(str(i.get("text", "")) for i in items if i.get("type") == "text")
        elif role == "user":
            users.append(items)
        else:
            raise UnsupportedRequestError(
                f"ov2 answers one user turn; this request has a {role!r} turn (multi-turn chat is not supported)")
    if len(users) != 1:
        raise UnsupportedRequestError(f"ov2 answers one user turn; this request has {len(users)}")
    prompt = Prompt(text="", system="\n".join(system) if system else None)
    texts = []
    for item in users[0]:
        kind = item.get("type")
        if kind == "text":
            texts.append(str(item.get("text", "")))
        else:
            _add_visual(prompt, str(kind), item.get("url"), item.get("start_time"), item.get("end_time"))
    prompt.text = "\n".join(texts)
    return prompt


def from_context(context: str, visuals: Iterable[Any] | None) -> Prompt:
    """A :class:`Prompt` from a simple-model request: the context string and ``doc_to_visual``'s list."""
    prompt = Prompt(text=str(context))
    for visual in visuals or []:
        if isinstance(visual, Mapping):
            # lmms-eval's audio visuals are {"array", "sampling_rate"} dicts without a type.
            kind = "audio" if "array" in visual else str(visual.get("type", "video"))
            _add_visual(prompt, kind, visual)
        elif isinstance(visual, (str, os.PathLike)):
            ext = os.path.splitext(os.fspath(visual))[1].lower()
            _add_visual(prompt, "image" if ext in IMAGE_EXTENSIONS else "video", visual)
        else:  # PIL images (what image tasks return)
            _add_visual(prompt, "image", visual)
    return prompt
