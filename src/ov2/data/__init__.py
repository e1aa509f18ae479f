"""Synthetic benchmarks (jump rope, temporal grounding) and loading their jsonl files.

* :mod:`ov2.data.jumprope` - JumpScore-style clips with exact cycle starts and subject boxes.
* :mod:`ov2.data.grounding` - clips with one distinct event and a query with its span.
* :mod:`ov2.data.pointing`, :mod:`ov2.data.tracking`, :mod:`ov2.data.traces` - pointing images,
  tracking clips and manipulation traces with exact masks and answers in the points formats.
* :func:`load_jsonl` - read a benchmark jsonl with its media paths resolved.

The generators import PyAV/OpenCV lazily (through their own modules), so
``import ov2.data`` stays light.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import VideoError, VideoNotFoundError

__all__ = ["DatasetError", "load_jsonl", "PATH_KEYS"]

PATH_KEYS = ("video_path", "boxes_path", "image_path", "masks_path")


class DatasetError(VideoError, ValueError):
    """A benchmark file is malformed (bad JSON line, missing field)."""


def load_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a benchmark jsonl; the paths of :data:`PATH_KEYS` become absolute paths.

    Relative paths are resolved against the jsonl's own folder, so a dataset
    folder can be moved as a whole. Blank lines are skipped. Raises
    :class:`~ov2.errors.VideoNotFoundError` if the file is missing and
    :class:`DatasetError` for a malformed line or a record without ``id`` /
    ``video_path``.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoNotFoundError(f"benchmark file not found: {path}")
    base = path.resolve().parent
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or "id" not in rec or ("video_path" not in rec and "image_path" not in rec):
                raise DatasetError(f"{path}:{lineno}: a record needs at least 'id' and 'video_path' (or 'image_path')")
            for key in PATH_KEYS:
                if isinstance(rec.get(key), str):
                    rec[key] = str((base / rec[key]).resolve()) if not os.path.isabs(rec[key]) else rec[key]
            records.append(rec)
    return records
