"""The functions the ``ov2_jumprope`` / ``ov2_grounding`` / ``ov2_pointing`` / ``ov2_tracking`` / ``ov2_traces``
task YAMLs name.

The YAMLs (written by ``ov2 lmms-tasks``) refer to them as
``!function ov2.integrations.lmms_eval.tasks.<name>``; lmms-eval 0.7.x imports such
module paths. Questions, targets and scores all come from ``ov2.eval.runner.TASKS``,
the table ``ov2 eval`` uses, so both ask the same question and score the same way.
Scores are x100, as ``ov2 eval`` prints them.

The data directory reaches these functions through the task's
``lmms_eval_specific_kwargs: {default: {data_dir: ...}}``: the jsonl's ``video_path``
values are relative to it, as ``ov2 data`` writes them.

This module imports neither lmms-eval nor torch.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ...errors import VideoNotFoundError
from ...eval.runner import TASKS


def video_path(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The sample's video file: ``video_path`` resolved against the task's ``data_dir``."""
    data_dir = (lmms_eval_specific_kwargs or {}).get("data_dir") or ""
    path = os.path.join(data_dir, str(doc["video_path"]))
    if not os.path.isfile(path):
        raise VideoNotFoundError(
            f"{path}: video of sample {doc.get('id')!r} not found; the task was written for data in "
            f"{data_dir or '(no data_dir)'} - re-run `ov2 lmms-tasks --data DIR` if the data moved")
    return path


def doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[str]:
    return [video_path(doc, lmms_eval_specific_kwargs)]


def image_doc_to_visual(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[str]:
    """The sample's image file (pointing); ``image_path`` is absolute in the task's jsonl copy."""
    path = str(doc["image_path"])
    if not os.path.isfile(path):
        raise VideoNotFoundError(f"{path}: image of sample {doc.get('id')!r} not found; re-run `ov2 lmms-tasks`")
    return [path]


class TaskFunctions:
    """``doc_to_text`` / ``doc_to_target`` / ``doc_to_messages`` / ``process_results`` for one ``ov2 eval`` task."""

    def __init__(self, task: Any, metrics: tuple[str, ...]) -> None:
        self.task = task
        self.metrics = metrics

    def doc_to_text(self, doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
        return self.task.question(doc)

    def doc_to_target(self, doc: dict[str, Any]) -> Any:
        return self.task.target(doc)

    def doc_to_messages(self, doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        # The video before the question: the order ov2's processor lays out a prompt in.
        if self.task.media == "image":
            visual = {"type": "image", "url": image_doc_to_visual(doc)[0]}
        else:
            visual = {"type": "video", "url": video_path(doc, lmms_eval_specific_kwargs)}
        content = [visual, {"type": "text", "text": self.task.question(doc)}]
        return [{"role": "user", "content": content}]

    def process_results(self, doc: dict[str, Any], results: list[Any]) -> dict[str, Any]:
        response, target = (str(results[0]) if results else ""), self.task.target(doc)
        # Every metric gets the whole row; the aggregations re-score from response + ground_truth.
        row = {"id": doc.get("id"), "response": response, "ground_truth": target, **self.task.score(response, target)}
        return {metric: row for metric in self.metrics}

    def aggregation(self, pick: Callable[[dict[str, Any]], float]) -> Callable[[list[dict[str, Any]]], float]:
        """An lmms-eval aggregation: ``pick`` applied to ``ov2 eval``'s summary of the rows."""
        return lambda items: pick(self.task.summarize(items))


# ------------------------------------------------------------------ jump rope (JumpScore)
JUMPROPE_METRICS = ("mAP", "AP@0.1", "AP@0.2", "AP@0.3", "unparsed")
_JUMPROPE = TaskFunctions(TASKS["jumpscore"], JUMPROPE_METRICS)
jumprope_doc_to_text = _JUMPROPE.doc_to_text
jumprope_doc_to_target = _JUMPROPE.doc_to_target
jumprope_doc_to_messages = _JUMPROPE.doc_to_messages
jumprope_process_results = _JUMPROPE.process_results
jumprope_map = _JUMPROPE.aggregation(lambda s: float(s["map"]))  # x100, the number ov2 eval prints
jumprope_ap_01 = _JUMPROPE.aggregation(lambda s: float(s["ap"].get("0.1", 0.0)))
jumprope_ap_02 = _JUMPROPE.aggregation(lambda s: float(s["ap"].get("0.2", 0.0)))
jumprope_ap_03 = _JUMPROPE.aggregation(lambda s: float(s["ap"].get("0.3", 0.0)))
jumprope_unparsed = _JUMPROPE.aggregation(lambda s: int(s["unparsed"]))  # answers with no time in them

# ------------------------------------------------------------------ temporal grounding
GROUNDING_METRICS = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "unparsed")
_GROUNDING = TaskFunctions(TASKS["grounding"], GROUNDING_METRICS)
grounding_doc_to_text = _GROUNDING.doc_to_text
grounding_doc_to_target = _GROUNDING.doc_to_target
grounding_doc_to_messages = _GROUNDING.doc_to_messages
grounding_process_results = _GROUNDING.process_results
grounding_r1_03 = _GROUNDING.aggregation(lambda s: float(s["recall"]["0.3"]))
grounding_r1_05 = _GROUNDING.aggregation(lambda s: float(s["recall"]["0.5"]))
grounding_r1_07 = _GROUNDING.aggregation(lambda s: float(s["recall"]["0.7"]))
grounding_miou = _GROUNDING.aggregation(lambda s: float(s["miou"]))
grounding_unparsed = _GROUNDING.aggregation(lambda s: int(s["unparsed"]))


# ------------------------------------------------------------------ pointing, tracking, traces
def _bind(task: str, metrics: dict[str, Callable[[dict[str, Any]], float]]) -> dict[str, Any]:
    """The task functions and one aggregation per metric, as module-level names ``<task>_<name>``."""
    fns = TaskFunctions(TASKS[task], tuple(metrics))
    names = {f"{task}_doc_to_text": fns.doc_to_text, f"{task}_doc_to_target": fns.doc_to_target,
             f"{task}_doc_to_messages": fns.doc_to_messages, f"{task}_process_results": fns.process_results}
    for metric, pick in metrics.items():
        names[f"{task}_{metric.lower().replace('@', '_')}"] = fns.aggregation(pick)
    return names


def _key(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda s: float(s[name])


globals().update(_bind("pointing", {"accuracy": _key("accuracy"), "precision": _key("precision"),
                                    "recall": _key("recall"), "F1": _key("f1"), "unparsed": _key("unparsed")}))
globals().update(_bind("tracking", {"F1": _key("f1"), "HOTA": _key("hota"), "DetA": _key("deta"),
                                    "AssA": _key("assa"), "unparsed": _key("unparsed")}))
globals().update(_bind("traces", {"endpoint": _key("endpoint"), "frechet": _key("frechet"),
                                  "mean_displacement": _key("mean_displacement"),
                                  "depth_endpoint": _key("depth_endpoint"), "unparsed": _key("unparsed")}))
