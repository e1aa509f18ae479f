"""Benchmark records (``ov2 data jumprope|grounding``) as training conversations (a manifest).

Each record becomes one LLaVA-form line: the benchmark's question after a ``<video>``
placeholder, and the answer the evaluation expects:

* jump rope: the record's ``answer``, the JSON list of cycle starts with two decimals, as
  :func:`ov2.eval.jumpscore.parse` reads it;
* grounding: ``"The event happens in S - E seconds."`` with the span to two decimals (spans lie
  on a 0.01 s grid), the format the grounding question asks for and
  :func:`ov2.eval.grounding.parse_span` reads;
* pointing (an ``<image>``), tracking and traces: the record's ``answer`` (OV2 points / tracks /
  waypoint list), as :mod:`ov2.eval.points` reads it.

Media paths are written relative to the manifest's folder, so data and manifest can move together.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TASKS = {"jumpscore": "jumpscore.jsonl", "grounding": "grounding.jsonl", "pointing": "pointing.jsonl",
         "tracking": "tracking.jsonl", "traces": "traces.jsonl"}


def grounding_answer(span: list[float] | tuple[float, float]) -> str:
    """The grounding answer in the question's own format."""
    start, end = (float(v) for v in span)
    return f"The event happens in {start:.2f} - {end:.2f} seconds."


def to_conversation(task: str, rec: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """One manifest record (absolute video path) from one benchmark record of ``task``."""
    if task == "grounding":
        answer = grounding_answer(rec["span"])
    elif task in TASKS:
        answer = str(rec["answer"])  # jump rope, pointing, tracking, traces: already in the evaluated format
    else:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    media, tag = ("image", "<image>") if task == "pointing" else ("video", "<video>")
    return {"id": rec["id"], media: rec[f"{media}_path"], "source": source or task,
            "conversations": [{"from": "human", "value": f"{tag}\n" + rec["question"]},
                              {"from": "gpt", "value": answer}]}


def benchmark_records(data: str | os.PathLike[str], task: str = "both") -> list[tuple[str, dict[str, Any]]]:
    """(task, record) pairs of the benchmark jsonl(s) in ``data`` (a folder, or a jsonl file).

    ``task="both"`` takes whichever benchmark files (:data:`TASKS`) the folder holds
    (at least one); a named task requires its file.
    """
    from ..errors import VideoNotFoundError
    from ..eval.io import load_records

    path = Path(data)
    if task not in (*TASKS, "both"):
        raise ValueError(f"task must be one of {[*TASKS, 'both']}, got {task!r}")
    if path.is_file():
        name = path.name
        tasks = [t for t, f in TASKS.items() if f == name] if task == "both" else [task]
        if not tasks:
            raise VideoNotFoundError(f"{path}: pass --task for a file not named {' or '.join(TASKS.values())}")
    else:
        tasks = list(TASKS) if task == "both" else [task]
        if task == "both":
            tasks = [t for t in tasks if (path / TASKS[t]).is_file()]
            if not tasks:
                raise VideoNotFoundError(f"no {' or '.join(TASKS.values())} in {path}; generate data with ov2 data")
    out = []
    for t in tasks:
        out += [(t, rec) for rec in load_records(path, TASKS[t])]
    return out


def write_manifest(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write manifest records atomically, media paths made relative to the manifest's folder."""
    from ..fileio import atomic_write_jsonl

    path = Path(path)
    base = path.absolute().parent
    rel = []
    for rec in records:
        rec = dict(rec)
        for key in ("video", "image"):
            if isinstance(rec.get(key), str):
                rec[key] = os.path.relpath(rec[key], base)
        if isinstance(rec.get("images"), list):
            rec["images"] = [os.path.relpath(p, base) for p in rec["images"]]
        rel.append(rec)
    return atomic_write_jsonl(path, rel)
