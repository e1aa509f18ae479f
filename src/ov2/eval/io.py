"""Small file helpers shared by the evaluation jobs: atomic JSON, append-only jsonl, dataset lookup."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import VideoNotFoundError
from ..fileio import atomic_write_bytes, atomic_write_json, json_default

write_json_atomic = atomic_write_json  # the evaluation's historical name


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record as one line and make it durable before returning (flush + fsync)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=json_default) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a results jsonl written by :func:`append_jsonl`; [] if it does not exist.

    A run killed mid-write can leave a partial last line: it is dropped, and the
    file is rewritten without it (atomically) so the next append starts clean.
    """
    target = Path(path)
    if not target.exists():
        return []
    raw = target.read_bytes()
    lines = raw.split(b"\n")
    records: list[dict[str, Any]] = []
    kept: list[bytes] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # torn or foreign line: drop it (the sample is simply recomputed)
        if isinstance(rec, dict):
            records.append(rec)
            kept.append(line)
    clean = b"".join(line + b"\n" for line in kept)
    if clean != raw:
        atomic_write_bytes(target, clean)
    return records


def resolve_jsonl(data: str | os.PathLike[str], default_name: str) -> Path:
    """``data`` itself if it is a file, else ``data/default_name``; a clear error otherwise."""
    p = Path(data)
    if p.is_file():
        return p
    if p.is_dir():
        candidate = p / default_name
        if candidate.is_file():
            return candidate
        found = sorted(x.name for x in p.glob("*.jsonl"))
        hint = f" (found: {', '.join(found)})" if found else ""
        raise VideoNotFoundError(f"no {default_name} in {p}{hint}; pass the jsonl file itself")
    raise VideoNotFoundError(f"data path does not exist: {p}")


def load_records(data: str | os.PathLike[str], default_name: str) -> list[dict[str, Any]]:
    """Benchmark records with ``video_path``/``boxes_path`` resolved (via :func:`ov2.data.load_jsonl`)."""
    from ..data import load_jsonl

    return load_jsonl(resolve_jsonl(data, default_name))


