"""Model runs: ask a model every benchmark question, append each result as it lands, summarise.

A run is resumable: each finished sample is appended to the output jsonl (one
line, flushed and fsynced), and a re-run skips ids already there. The summary
re-scores the stored responses, so it always reflects the current metric code.
The model is loaded only when something is left to compute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InvalidOptionError, VideoError
from . import grounding, jumpscore
from .io import append_jsonl, read_results

RUN_BACKENDS = ("codec", "frames", "fixed")
# Settings that must match for stored results to be reused.
CONFIG_KEYS = ("task", "backend", "canvases", "max_pixels", "codec_config")


@dataclass
class Task:
    """What differs between benchmarks: the question, the target, scoring and the summary."""

    name: str
    default_file: str
    timestamp_decimals: int
    max_new_tokens: int  # the default generation length (``ov2 eval`` and the lmms-eval tasks)
    question: Callable[[dict[str, Any]], str]
    target: Callable[[dict[str, Any]], Any]
    score: Callable[[str, Any], dict[str, Any]]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    media: str = "video"  # "image": the record's image_path is the visual input (no tokenizer)
    columns: tuple[str, ...] = ()  # summary keys format_summary prints (perception tasks)


def _jumpscore_score(response: str, target: Any) -> dict[str, Any]:
    try:
        return jumpscore.score_details(response, target).as_dict()
    except (OverflowError, ValueError, RecursionError) as exc:
        # The harness itself raises on these answers (e.g. an integer beyond float range
        # in a JSON list); we record a zero instead of aborting the run.
        return {"map": 0.0, "ap": {}, "pred_starts": [], "gt_starts": [], "num_pred": 0, "num_gt": 0,
                "unparsed": True, "score_error": f"{type(exc).__name__}: {exc}"}


def _jumpscore_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = []
    for row in rows:
        s = _jumpscore_score(row["response"], row["ground_truth"])
        scores.append(jumpscore.VideoScore(s["map"], {float(t): v for t, v in s["ap"].items()},
                                           s["pred_starts"], s["gt_starts"]))
    return jumpscore.aggregate(scores).as_dict()


def _grounding_score(response: str, target: Any) -> dict[str, Any]:
    return grounding.score_details(response, target).as_dict()


def _grounding_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [grounding.score_details(r["response"], r["ground_truth"]) for r in rows]
    return grounding.aggregate([s.iou for s in scored], unparsed=sum(s.unparsed for s in scored)).as_dict()


TASKS: dict[str, Task] = {
    "jumpscore": Task(
        name="jumpscore",
        default_file="jumpscore.jsonl",
        timestamp_decimals=2,
        max_new_tokens=1024,
        question=lambda r: str(r["question"]).strip(),
        target=lambda r: str(r["answer"]).strip(),
        score=_jumpscore_score,
        summarize=_jumpscore_summary,
    ),
    "grounding": Task(
        name="grounding",
        default_file="grounding.jsonl",
        timestamp_decimals=1,
        max_new_tokens=128,
        question=lambda r: str(r["question"]).strip() if r.get("question") else grounding.question(r["query"]),
        target=lambda r: [float(v) for v in r["span"]],
        score=_grounding_score,
        summarize=_grounding_summary,
    ),
}


def _perception_tasks() -> dict[str, Task]:
    """``ov2 eval pointing|tracking|traces`` (:mod:`ov2.eval.perception`)."""
    from . import perception as pc

    def question(r: dict[str, Any]) -> str:
        return str(r["question"]).strip()

    point_keys = ("accuracy", "precision", "recall", "f1")
    track_keys = ("precision", "recall", "f1", "hota", "deta", "assa")
    return {
        "pointing": Task("pointing", "pointing.jsonl", 2, 256, question, pc.pointing_target, pc.score_pointing,
                         lambda rows: pc.summarize(rows, pc.score_pointing, point_keys), media="image",
                         columns=point_keys),
        "tracking": Task("tracking", "tracking.jsonl", 2, 512, question, pc.tracking_target, pc.score_tracking,
                         lambda rows: pc.summarize(rows, pc.score_tracking, track_keys), columns=track_keys),
        "traces": Task("traces", "traces.jsonl", 2, 256, question, lambda r: r["waypoints"], pc.score_trace,
                       lambda rows: pc.summarize(rows, pc.score_trace, (), pc.TRACE_KEYS), columns=pc.TRACE_KEYS),
    }


TASKS.update(_perception_tasks())


@dataclass
class RunResult:
    """Outcome of :func:`run`: the summary, how many samples were computed now / reused / failed."""

    summary: dict[str, Any]
    computed: int
    reused: int
    failed: list[dict[str, Any]]
    out: Path


def _load_model(model_dir: str | Path, device: str | None) -> tuple[Any, Any, Callable[..., str]]:
    from ..model import answer
    from ..model.loading import load_model_and_processor

    model, processor = load_model_and_processor(model_dir, device=device)
    return model, processor, answer


def run(
    task_name: str,
    model_dir: str | Path,
    records: Sequence[dict[str, Any]],
    out: str | Path,
    *,
    backend: str = "codec",
    canvases: int = 32,
    max_pixels: int = 150_000,
    codec_config: dict[str, Any] | None = None,
    max_new_tokens: int = 1024,
    limit: int | None = None,
    device: str | None = None,
    progress: bool = True,
    load_model: Callable[..., tuple[Any, Any, Callable[..., str]]] | None = None,
    tokenize: Callable[..., Any] | None = None,
) -> RunResult:
    """Answer every (pending) record with greedy decoding and append results to ``out``.

    The codec and fixed backends tokenize with the options the checkpoint was trained with,
    updated by ``codec_config`` (e.g. ``{"candidates_per_group": 24}``); see
    :func:`~ov2.model.loading.codec_config_for`.
    """
    from tqdm import tqdm

    if task_name not in TASKS:
        raise InvalidOptionError(f"unknown task {task_name!r}; choose from {', '.join(TASKS)}")
    if backend not in RUN_BACKENDS:
        raise InvalidOptionError(f"unknown backend {backend!r}; choose from {', '.join(RUN_BACKENDS)}")
    if canvases < 1 or max_new_tokens < 1:
        raise InvalidOptionError("canvases and max_new_tokens must be >= 1")
    if limit is not None and limit < 0:
        raise InvalidOptionError(f"limit must be >= 0, got {limit}")
    task = TASKS[task_name]
    records = list(records)[: limit if limit is not None else None]
    out = Path(out)
    from ..model.loading import codec_config_for

    codec_config = codec_config_for(model_dir, backend, codec_config)
    config = {"task": task.name, "backend": backend, "canvases": int(canvases), "max_pixels": int(max_pixels),
              "codec_config": dict(codec_config)}

    stored = read_results(out)
    for row in stored:
        theirs = {k: row.get(k) for k in CONFIG_KEYS}
        theirs["codec_config"] = theirs["codec_config"] or {}  # results written before the key existed
        if theirs != config:
            raise InvalidOptionError(
                f"{out} holds results for {theirs}, not {config}; pass another --out to keep both")
    done = {str(r["id"]): r for r in stored}
    pending = [r for r in records if str(r["id"]) not in done]
    reused = len(records) - len(pending)

    failed: list[dict[str, Any]] = []
    if pending:
        model, processor, answer = (load_model or _load_model)(model_dir, device)
        if tokenize is None:
            import ov2

            tokenize = ov2.tokenize
        bar = tqdm(pending, desc=task.name, unit="sample", disable=not progress)
        for record in bar:
            bar.set_postfix_str(str(record["id"]), refresh=False)
            t0 = time.perf_counter()
            try:
                if task.media == "image":
                    visual = {"image": record["image_path"]}
                else:
                    visual = {"video": tokenize(record["video_path"], backend=backend, canvases=canvases,
                                                max_pixels=max_pixels, **codec_config)}
                response = answer(model, processor, task.question(record), **visual,
                                  max_new_tokens=max_new_tokens, timestamp_decimals=task.timestamp_decimals)
            except (VideoError, OSError, ValueError) as exc:  # one bad sample must not end the run
                failed.append({"id": record["id"], "error": f"{type(exc).__name__}: {exc}"})
                continue
            row = {"id": record["id"], **config, "model": str(model_dir), "question": task.question(record),
                   "response": response, "ground_truth": task.target(record),
                   "seconds": round(time.perf_counter() - t0, 3)}
            row.update(task.score(response, row["ground_truth"]))
            append_jsonl(out, row)
            done[str(record["id"])] = row
        bar.close()

    wanted = [done[str(r["id"])] for r in records if str(r["id"]) in done]
    summary = {**config, **task.summarize(wanted)}
    return RunResult(summary=summary, computed=len(pending) - len(failed), reused=reused, failed=failed, out=out)


def format_summary(summary: dict[str, Any]) -> str:
    """One-row table for a run summary (proportions x100; trace errors on the 0-1000 scale)."""
    task = TASKS.get(summary["task"])
    if task is not None and task.columns:
        head = ["task", "backend", "canvases", "n", "unparsed", "skipped", *task.columns]
        vals = [summary["task"], summary["backend"], str(summary["canvases"]), str(summary["n"]),
                str(summary["unparsed"]), str(summary["skipped"])] + [f"{summary[k]:.1f}" for k in task.columns]
    elif summary["task"] == "jumpscore":
        taus = sorted(summary["ap"], key=float)
        head = ["task", "backend", "canvases", "n", "unparsed", "mAP"] + [f"AP@{t}" for t in taus]
        vals = [summary["task"], summary["backend"], str(summary["canvases"]), str(summary["n"]),
                str(summary["unparsed"]), f"{summary['map']:.1f}"] + [f"{summary['ap'][t]:.1f}" for t in taus]
    else:
        ms = sorted(summary["recall"], key=float)
        head = ["task", "backend", "canvases", "n", "unparsed"] + [f"R1@{m}" for m in ms] + ["mIoU"]
        vals = [summary["task"], summary["backend"], str(summary["canvases"]), str(summary["n"]),
                str(summary["unparsed"])] + [f"{summary['recall'][m]:.1f}" for m in ms] + [f"{summary['miou']:.1f}"]
    widths = [max(len(h), len(v)) for h, v in zip(head, vals)]
    return "\n".join([
        "  ".join(h.rjust(w) for h, w in zip(head, widths)),
        "  ".join(v.rjust(w) for v, w in zip(vals, widths)),
    ])
