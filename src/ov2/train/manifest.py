"""Training manifests: JSONL in the LLaVA conversation form or the HF ``messages`` form, normalized.

One sample per line. Two input forms are accepted:

* LLaVA: ``{"id", "video": path | "image": path(s) | "images": [paths], "conversations":
  [{"from": "human" | "gpt" | "system", "value": "<video>\\n..."}], "source"?}``; the k-th
  ``<image>`` placeholder is ``images[k]``, the k-th ``<video>`` is the k-th video.
* HF messages: ``{"id", "messages": [{"role": "user" | "assistant" | "system", "content": str |
  [{"type": "text", "text"} | {"type": "image", "image"?} | {"type": "video", "video"?}]}]}``; a
  media part without a path takes the next entry of the top-level ``image(s)`` / ``video`` list.

Raw Molmo2-VideoPoint / VideoTrack rows (points or ``frame_trajectories``, no conversation) are
accepted too: :mod:`ov2.train.molmo2` writes their answers in the OV2 points / tracks format.

All of them become one :class:`Sample`: ``messages`` as role + content parts, where media parts
(``{"type": "video"}`` / ``{"type": "image"}``) appear in conversation order and the k-th
media part is ``media[k]``. Text segments are stripped of surrounding whitespace (the newline
after a placeholder is template formatting, not content). Relative media paths resolve against
the manifest's folder, so a dataset folder can be moved as a whole.

Bad lines never stop a read: :func:`read_manifest` skips them and counts them per reason
(:data:`REASONS`), logging the first few.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import VideoError, VideoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
MEDIA_KINDS = ("video", "image")
PLACEHOLDERS = {"<video>": "video", "<image>": "image"}
_PLACEHOLDER_RE = re.compile("(<video>|<image>)")
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

MALFORMED_JSON = "malformed_json"
MALFORMED_RECORD = "malformed_record"
DUPLICATE_ID = "duplicate_id"
MISSING_MEDIA = "missing_media"
NO_ASSISTANT_TURN = "no_assistant_turn"
PLACEHOLDER_MISMATCH = "placeholder_mismatch"
UNKNOWN_ROLE = "unknown_role"
EMPTY_TEXT = "empty_text"
REASONS = (MALFORMED_JSON, MALFORMED_RECORD, DUPLICATE_ID, MISSING_MEDIA, NO_ASSISTANT_TURN,
           PLACEHOLDER_MISMATCH, UNKNOWN_ROLE, EMPTY_TEXT)
MAX_KEPT_PROBLEMS = 200  # problems kept in memory as examples; all of them are counted


class ManifestError(VideoError, ValueError):
    """A manifest cannot be used as a whole (for example: it holds no usable sample)."""


class SampleError(ValueError):
    """One manifest record is unusable; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Media:
    """One media file of a sample: ``kind`` "video" or "image", ``path`` absolute."""

    kind: str
    path: str


@dataclass
class Sample:
    """A normalized training sample.

    ``messages``: ``[{"role": "system" | "user" | "assistant", "content": [part, ...]}]`` with
    parts ``{"type": "text", "text": str}``, ``{"type": "video"}`` or ``{"type": "image"}``; the
    k-th media part is ``media[k]``. ``line`` is the 1-based manifest line (0 if built in code).
    """

    id: str
    messages: list[dict[str, Any]]
    media: list[Media] = field(default_factory=list)
    source: str = DEFAULT_SOURCE
    line: int = 0

    @property
    def kinds(self) -> list[str]:
        return [m.kind for m in self.media]

    @property
    def kind(self) -> str:
        """"video" if any video, else "image" if any image, else "text" (mixture/count bucket)."""
        kinds = set(self.kinds)
        return "video" if "video" in kinds else "image" if "image" in kinds else "text"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "line": self.line,
                "media": [{"kind": m.kind, "path": m.path} for m in self.media], "messages": self.messages}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Sample":
        return cls(id=d["id"], messages=d["messages"], media=[Media(m["kind"], m["path"]) for m in d["media"]],
                   source=d.get("source", DEFAULT_SOURCE), line=int(d.get("line", 0)))


@dataclass
class Problem:
    """A skipped manifest line."""

    line: int
    reason: str
    message: str


@dataclass
class ManifestReport:
    """The usable samples of a manifest, plus what was skipped and why."""

    path: Path
    samples: list[Sample]
    lines: int  # non-blank lines read
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    problems: list[Problem] = field(default_factory=list)  # the first MAX_KEPT_PROBLEMS

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line: how many samples were kept and the skip counts per reason."""
        text = f"{self.path}: {len(self.samples)} samples from {self.lines} lines"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{r}={n}" for r, n in sorted(self.skipped.items()))
        return text


def _as_paths(value: Any, key: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise SampleError(MALFORMED_RECORD, f"'{key}' must be a path or a list of paths")
    return list(values)


def _top_level_media(rec: dict[str, Any]) -> dict[str, list[str]]:
    for one, many in (("image", "images"), ("video", "videos")):  # null counts as absent (table exports)
        if rec.get(one) is not None and rec.get(many) is not None:
            raise SampleError(MALFORMED_RECORD, f"give either '{one}' or '{many}', not both")
    out = {"video": [], "image": []}
    for key, kind in (("video", "video"), ("videos", "video"), ("image", "image"), ("images", "image")):
        if rec.get(key) is not None:
            out[kind] = _as_paths(rec[key], key)
    return out


def _split_text(text: str) -> list[dict[str, Any]]:
    """``"<video>\\nWhat?"`` -> ``[{"type": "video"}, {"type": "text", "text": "What?"}]``."""
    parts: list[dict[str, Any]] = []
    for piece in _PLACEHOLDER_RE.split(text):
        if piece in PLACEHOLDERS:
            parts.append({"type": PLACEHOLDERS[piece]})
        elif piece.strip():
            parts.append({"type": "text", "text": piece.strip()})
    return parts


def _role(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in ROLES:
        raise SampleError(UNKNOWN_ROLE, f"unknown role {value!r} (use one of {sorted(ROLES)})")
    return ROLES[value.lower()]


def _parts_of(content: Any, explicit: list[str | None]) -> list[dict[str, Any]]:
    """Content parts of one HF message; ``explicit`` collects the path of each media part (or None)."""
    if isinstance(content, str):
        parts = _split_text(content)
        explicit.extend(None for p in parts if p["type"] != "text")
        return parts
    if not isinstance(content, list):
        raise SampleError(MALFORMED_RECORD, "message 'content' must be a string or a list of parts")
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise SampleError(MALFORMED_RECORD, "a text part needs a string 'text'")
            for sub in _split_text(text):  # a placeholder written inside a text part counts too
                parts.append(sub)
                if sub["type"] != "text":
                    explicit.append(None)
        elif kind in MEDIA_KINDS:
            path = part.get(kind, part.get("path"))
            if path is not None and not (isinstance(path, str) and path.strip()):
                raise SampleError(MALFORMED_RECORD, f"a {kind} part's path must be a non-empty string")
            parts.append({"type": kind})
            explicit.append(path)
        else:
            raise SampleError(MALFORMED_RECORD, f"unknown content part type {kind!r} (use text, image or video)")
    return parts


def _messages_llava(turns: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
    if not isinstance(turns, list):
        raise SampleError(MALFORMED_RECORD, "'conversations' must be a list of turns")
    messages, explicit = [], []
    for turn in turns:
        if not isinstance(turn, dict) or "from" not in turn or not isinstance(turn.get("value"), str):
            raise SampleError(MALFORMED_RECORD, "every turn needs 'from' and a string 'value'")
        parts = _split_text(turn["value"])
        explicit.extend(None for p in parts if p["type"] != "text")
        messages.append({"role": _role(turn["from"]), "content": parts})
    return messages, explicit


def _messages_hf(msgs: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
    if not isinstance(msgs, list):
        raise SampleError(MALFORMED_RECORD, "'messages' must be a list of messages")
    messages, explicit = [], []
    for msg in msgs:
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise SampleError(MALFORMED_RECORD, "every message needs 'role' and 'content'")
        role = _role(msg["role"])
        messages.append({"role": role, "content": _parts_of(msg["content"], explicit)})
    return messages, explicit


def _resolve(path: str, base: Path) -> str:
    return path if os.path.isabs(path) else str((base / path).resolve())


def _assign_media(messages: list[dict[str, Any]], explicit: list[str | None], top: dict[str, list[str]],
                  base: Path) -> list[Media]:
    """Pair every media part (in order) with its path: its own, or the next top-level one of its kind."""
    kinds = [p["type"] for m in messages for p in m["content"] if p["type"] != "text"]
    queues = {k: list(v) for k, v in top.items()}
    media = []
    for kind, path in zip(kinds, explicit):
        if path is None:
            if not queues[kind]:
                n_parts = kinds.count(kind)
                raise SampleError(PLACEHOLDER_MISMATCH,
                                  f"{n_parts} <{kind}> placeholder(s) but {len(top[kind])} {kind} path(s)")
            path = queues[kind].pop(0)
        media.append(Media(kind, _resolve(path, base)))
    for kind, left in queues.items():
        if left:
            raise SampleError(PLACEHOLDER_MISMATCH, f"{len(top[kind])} {kind} path(s) but only "
                              f"{len(top[kind]) - len(left)} <{kind}> placeholder(s) use them")
    return media


def _check_turns(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        has_text = any(p["type"] == "text" for p in m["content"])
        has_media = any(p["type"] != "text" for p in m["content"])
        if m["role"] == "assistant" and has_media:
            raise SampleError(PLACEHOLDER_MISMATCH, "an assistant turn holds a <video>/<image> placeholder")
        if not has_text and (m["role"] != "user" or not has_media):
            raise SampleError(EMPTY_TEXT, f"a {m['role']} turn has no text")
    if not any(m["role"] == "assistant" for m in messages):
        raise SampleError(NO_ASSISTANT_TURN, "the conversation has no assistant (gpt) turn")


def parse_record(rec: Any, base: str | os.PathLike[str] = ".", *, check_media: bool = True, line: int = 0) -> Sample:
    """Normalize one manifest record; raise :class:`SampleError` with its reason if it is unusable.

    ``base`` is the folder relative media paths resolve against (the manifest's folder).
    """
    if not isinstance(rec, dict):
        raise SampleError(MALFORMED_RECORD, "a line must hold a JSON object")
    sid = rec.get("id")
    if isinstance(sid, bool) or not isinstance(sid, (str, int)) or not str(sid).strip():
        raise SampleError(MALFORMED_RECORD, "a record needs an 'id' (string or integer)")
    from . import molmo2

    if molmo2.is_molmo2(rec):  # raw Molmo2-VideoPoint / VideoTrack rows: the answer is written here
        try:
            rec = molmo2.to_llava(rec, base)
        except (KeyError, TypeError, ValueError, StopIteration) as exc:
            raise SampleError(MALFORMED_RECORD, f"Molmo2 row: {exc}") from None
    source = rec.get("source", DEFAULT_SOURCE)
    if not isinstance(source, str) or not source.strip():
        raise SampleError(MALFORMED_RECORD, "'source' must be a non-empty string")
    if ("conversations" in rec) == ("messages" in rec):
        raise SampleError(MALFORMED_RECORD, "a record needs exactly one of 'conversations' or 'messages'")
    top = _top_level_media(rec)
    if "conversations" in rec:
        messages, explicit = _messages_llava(rec["conversations"])
    else:
        messages, explicit = _messages_hf(rec["messages"])
    media = _assign_media(messages, explicit, top, Path(base))
    _check_turns(messages)
    if check_media:
        for m in media:
            if not Path(m.path).is_file():
                raise SampleError(MISSING_MEDIA, f"{m.kind} file not found: {m.path}")
    return Sample(id=str(sid), messages=messages, media=media, source=source, line=line)


def read_manifest(path: str | os.PathLike[str], *, check_media: bool = True, max_log_lines: int = 10) -> ManifestReport:
    """Read a manifest; unusable lines are skipped, counted per reason, and the first few logged.

    Raises :class:`~ov2.errors.VideoNotFoundError` only if the manifest itself does not exist.
    A repeated ``id`` keeps its first line (reason ``duplicate_id`` for the others).
    """
    path = Path(path)
    if not path.is_file():
        raise VideoNotFoundError(f"manifest not found: {path}")
    base = path.resolve().parent
    report = ManifestReport(path=path, samples=[], lines=0)
    seen: set[str] = set()

    def skip(lineno: int, reason: str, message: str) -> None:
        report.skipped[reason] += 1
        if len(report.problems) < MAX_KEPT_PROBLEMS:
            report.problems.append(Problem(lineno, reason, message))
        if report.n_skipped <= max_log_lines:
            log.warning("%s:%d: skipped (%s): %s", path, lineno, reason, message)

    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            report.lines += 1
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                skip(lineno, MALFORMED_JSON, f"not valid JSON ({exc})")
                continue
            try:
                sample = parse_record(rec, base, check_media=check_media, line=lineno)
            except SampleError as exc:
                skip(lineno, exc.reason, str(exc))
                continue
            if sample.id in seen:
                skip(lineno, DUPLICATE_ID, f"id {sample.id!r} already used by an earlier line")
                continue
            seen.add(sample.id)
            report.samples.append(sample)
    if report.n_skipped > max_log_lines:
        log.warning("%s: %d more skipped lines not shown (%s)", path, report.n_skipped - max_log_lines,
                    ", ".join(f"{r}={n}" for r, n in sorted(report.skipped.items())))
    return report
