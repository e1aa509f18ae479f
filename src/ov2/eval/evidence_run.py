"""Run the evidence check over a benchmark: tokenize every (clip, backend, budget), cache, summarise, plot.

Per (clip, backend, budget) the selected frame times (all tokens / on-subject
tokens) are cached as one JSON file under ``OUT/cache``; the cache is keyed by
the tokenizer settings, the tokenizer's ``ALGORITHM_VERSION`` and the video file's
size and mtime, and is independent of ``tau``, so a re-run (or a run with another tau) only tokenizes what is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..codec import ALGORITHM_VERSION
from ..errors import InvalidOptionError, VideoError
from . import jumpscore
from .evidence import SubjectTrack, covered_events, token_evidence
from .io import write_json_atomic

BACKENDS = ("codec", "frames", "fixed")
CACHE_VERSION = 1


@dataclass
class Cell:
    """Pooled result of one (backend, budget) over all clips."""

    backend: str
    canvases: int
    events: int = 0
    hits_any: int = 0
    hits_subject: int = 0
    events_with_boxes: int = 0
    clips: int = 0
    failed: int = 0
    frames: list[int] = field(default_factory=list)  # distinct source frames per clip

    @property
    def share_any(self) -> float:
        return 100.0 * self.hits_any / self.events if self.events else float("nan")

    @property
    def share_subject(self) -> float:
        return 100.0 * self.hits_subject / self.events_with_boxes if self.events_with_boxes else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "canvases": self.canvases,
            "events": self.events,
            "hits_any": self.hits_any,
            "share_any": self.share_any,
            "events_with_boxes": self.events_with_boxes,
            "hits_subject": self.hits_subject,
            "share_subject": self.share_subject,
            "clips": self.clips,
            "failed": self.failed,
            "mean_frames": (sum(self.frames) / len(self.frames)) if self.frames else 0.0,
        }


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "clip"


def cache_path(out_dir: Path, record: dict[str, Any], backend: str, canvases: int, max_pixels: int) -> Path:
    # The id alone may collide across datasets: add a short hash of the video path.
    digest = hashlib.sha1(str(record["video_path"]).encode()).hexdigest()[:8]
    clip = f"{_safe_name(str(record['id']))}-{digest}"
    return out_dir / "cache" / clip / f"{backend}_c{canvases}_px{max_pixels}.json"


def _video_stamp(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _load_cached(path: Path, stamp: dict[str, Any]) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if doc.get("version") != CACHE_VERSION or doc.get("video_stamp") != stamp:
        return None
    if doc.get("algorithm") != ALGORITHM_VERSION:  # the tokenizer changed since: redo
        return None
    return doc


def _load_track(record: dict[str, Any]) -> SubjectTrack | None:
    boxes_path = record.get("boxes_path")
    if not boxes_path:
        return None
    return SubjectTrack.from_json(json.loads(Path(boxes_path).read_text()))


def evaluate_clip(
    record: dict[str, Any],
    backend: str,
    canvases: int,
    max_pixels: int,
    tokenize: Callable[..., Any],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Tokenize one clip with one backend/budget and return the tau-independent evidence."""
    t0 = time.perf_counter()
    vi = tokenize(record["video_path"], backend=backend, canvases=canvases, max_pixels=max_pixels,
                  **(options or {}))
    seconds = time.perf_counter() - t0
    evidence = token_evidence(vi, _load_track(record))
    evidence["tokenize_seconds"] = seconds
    evidence["processed"] = vi.meta.get("processed")
    return evidence


def run_evidence(
    records: Sequence[dict[str, Any]],
    backends: Sequence[str],
    canvases: Sequence[int],
    out_dir: str | Path,
    *,
    max_pixels: int = 150_000,
    tau: float = 0.1,
    tokenize: Callable[..., Any] | None = None,
    tokenize_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evidence shares for every backend x budget, pooled over ``records``; writes ``OUT/evidence.json``.

    ``records`` are JumpScore records with resolved ``video_path`` (and ``boxes_path``
    for the on-subject share). ``tokenize_options`` go to the tokenizer as they are
    (e.g. ``threads``; they do not change which tokens are chosen, so they are not
    part of the cache key). Returns the document written to evidence.json.
    """
    from tqdm import tqdm

    backends = list(dict.fromkeys(backends))  # a repeated name would double-count its jobs
    canvases = list(dict.fromkeys(int(c) for c in canvases))
    for b in backends:
        if b not in BACKENDS:
            raise InvalidOptionError(f"unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    for c in canvases:
        if int(c) < 1:
            raise InvalidOptionError(f"canvas budgets must be >= 1, got {c}")
    if tau < 0:
        raise InvalidOptionError(f"tau must be >= 0, got {tau}")
    if tokenize is None:
        import ov2  # the tokenizer pulls in PyAV/OpenCV: import it only when a run needs it

        tokenize = ov2.tokenize

    out = Path(out_dir)
    cells = {(b, int(c)): Cell(b, int(c)) for b in backends for c in canvases}
    per_clip: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    jobs = [(r, b, int(c)) for r in records for b in backends for c in canvases]
    reused = 0
    bar = tqdm(jobs, desc="evidence", unit="job", disable=not progress)
    for record, backend, budget in bar:
        bar.set_postfix_str(f"{record['id']} {backend}@{budget}", refresh=False)
        video = Path(record["video_path"])
        cell = cells[(backend, budget)]
        try:
            stamp = _video_stamp(video)
            path = cache_path(out, record, backend, budget, max_pixels)
            doc = _load_cached(path, stamp)
            if doc is None:
                doc = evaluate_clip(record, backend, budget, max_pixels, tokenize, tokenize_options)
                doc.update({"version": CACHE_VERSION, "algorithm": ALGORITHM_VERSION, "video_stamp": stamp,
                            "id": record["id"], "backend": backend, "canvases": budget, "max_pixels": max_pixels})
                write_json_atomic(path, doc)
            else:
                reused += 1
        except (VideoError, OSError, ValueError, KeyError) as exc:
            cell.failed += 1
            errors.append({"id": record.get("id"), "backend": backend, "canvases": budget,
                           "error": f"{type(exc).__name__}: {exc}"})
            continue
        events = jumpscore.parse_ground_truth(record.get("answer", "[]"))
        hits_any = covered_events(events, doc["times_any"], tau)
        row = {"id": record["id"], "backend": backend, "canvases": budget, "events": len(events),
               "hits_any": int(hits_any.sum()), "frames": len(doc["times_any"]), "tokens": doc["n_tokens"],
               "hits_subject": None}
        cell.events += len(events)
        cell.hits_any += row["hits_any"]
        cell.clips += 1
        cell.frames.append(len(doc["times_any"]))
        if doc.get("times_subject") is not None:
            hits_subject = covered_events(events, doc["times_subject"], tau)
            row["hits_subject"] = int(hits_subject.sum())
            cell.hits_subject += row["hits_subject"]
            cell.events_with_boxes += len(events)
        per_clip.append(row)
    bar.close()

    doc = {
        "params": {"backends": list(backends), "canvases": [int(c) for c in canvases], "tau": tau,
                   "max_pixels": max_pixels, "clips": len(records)},
        "results": [cells[k].as_dict() for k in sorted(cells, key=lambda k: (backends.index(k[0]), k[1]))],
        "per_clip": per_clip,
        "errors": errors,
        "reused_jobs": reused,
    }
    write_json_atomic(out / "evidence.json", doc)
    return doc


def format_table(doc: dict[str, Any]) -> str:
    """Plain-text table: one row per budget, two columns (any / on-subject) per backend, percent."""
    results = doc["results"]
    backends = list(dict.fromkeys(r["backend"] for r in results))
    budgets = sorted({r["canvases"] for r in results})
    by_key = {(r["backend"], r["canvases"]): r for r in results}

    def pct(v: float) -> str:
        return "   -" if v != v else f"{v:5.1f}"  # NaN -> "-"

    head = f"{'canvases':>8} | " + " | ".join(f"{b + ' any':>11} {b + ' subj':>11}" for b in backends)
    lines = [head, "-" * len(head)]
    for c in budgets:
        cells = []
        for b in backends:
            r = by_key[(b, c)]
            cells.append(f"{pct(r['share_any']):>11} {pct(r['share_subject']):>11}")
        lines.append(f"{c:>8} | " + " | ".join(cells))
    p = doc["params"]
    events = max((r["events"] for r in results), default=0)
    lines.append(f"share (%) of {events} cycle starts with a token within {p['tau']} s "
                 f"({p['clips']} clips; subj = token on the subject's box)")
    failed = sum(r["failed"] for r in results)
    if failed:
        lines.append(f"{failed} clip/backend/budget jobs failed (see 'errors' in evidence.json)")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Share vs canvas budget, one colour per backend; solid = any token, dashed = on-subject."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["results"]
    backends = list(dict.fromkeys(r["backend"] for r in results))
    colors = {"codec": "tab:red", "frames": "tab:blue", "fixed": "tab:green"}
    fig, ax = plt.subplots(figsize=(7.6, 4.0), dpi=120)
    for k, b in enumerate(backends):
        rows = sorted((r for r in results if r["backend"] == b), key=lambda r: r["canvases"])
        # A small per-backend x offset keeps coinciding curves (e.g. all at 100 %) visible.
        shift = 1.0 + 0.025 * (k - (len(backends) - 1) / 2)
        xs = [r["canvases"] * shift for r in rows]
        color = colors.get(b)
        ax.plot(xs, [r["share_any"] for r in rows], "-o", color=color, label=f"{b}: any token", alpha=0.9)
        if any(r["share_subject"] == r["share_subject"] for r in rows):
            ax.plot(xs, [r["share_subject"] for r in rows], "--s", color=color, label=f"{b}: on subject",
                    markersize=4, alpha=0.9)
    budgets = sorted({r["canvases"] for r in results})
    if len(budgets) > 1 and budgets[0] > 0:
        ax.set_xscale("log", base=2)
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(c) for c in budgets])
    ax.set_xlabel("canvas budget")
    ax.set_ylabel(f"cycle starts with evidence within {doc['params']['tau']} s (%)")
    ax.set_ylim(0, 102)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides a curve
    ax.set_title(title or "Evidence check: codec vs frame selection")
    fig.tight_layout()
    target = Path(path)
    tmp = target.with_name(f".{target.stem}.tmp{target.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(target)
    return target
