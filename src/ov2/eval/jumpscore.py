"""JumpScore: parse predicted cycle-start times and score them with start-time mAP.

Behaviour matches the public lmms-eval harness, task ``jumpscore``
(``lmms_eval/tasks/jumpscore/utils.py``, EvolvingLMMs-Lab/lmms-eval at commits
9c25ff5b and 65ef07df, whose scoring code is identical), quirks included, so
that our numbers are comparable with published ones. Every quirk is listed in
docs/evaluation.md; the short version:

* the answer is lower-cased, then parsed in three stages: numbers followed by
  ``s`` (``"12.3s"``, ``"4 s"``; not ``"4 seconds"``), else the longest
  ``[...]`` (non-greedy, so nested lists are cut at the first ``]``) read as
  JSON with trailing commas removed, else every number in the text;
* no stage sees a minus sign except JSON (``[-1.5]`` stays negative);
* duplicates are kept, times are sorted ascending, all confidences are 1;
* a prediction matches the nearest still-unmatched ground-truth start with
  ``abs(p - g) <= tau`` computed in float64 (so ``|1.1 - 1.0| > 0.1``), ties
  going to the earlier ground-truth start;
* AP is the non-interpolated sum of precision x recall increments;
* the 1.0 for "no ground truth" is given whenever the ground truth is an
  explicit ``[]`` and nothing was parsed from the answer (any answer without
  numbers, not only ``[]``).

Arithmetic is done with Python floats in the same order as the harness
(including ``sum()``), so values agree bit for bit on the same interpreter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

TOLERANCES: tuple[float, ...] = (0.1, 0.2, 0.3)

# Stage 1: a number directly followed by optional whitespace and an "s" that ends a word.
_SECONDS = re.compile(r"(?<!\d)(\d+(?:\.\d+)?)\s*s\b")
# Stage 2 (and the ground truth): a fenced ```json [...] ``` block or any [...]; both non-greedy.
_LIST = re.compile(r"```json\s*(\[.*?\])\s*```|(\[.*?\])", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*\]")
# Stage 3 (and the fallback inside an unreadable list): unsigned numbers on word boundaries.
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def _list_items_to_floats(items: list[Any], skip: tuple[type[BaseException], ...]) -> list[float]:
    """Numbers (bools count, being ints) as floats; strings with every "s" removed, if float() takes them."""
    out: list[float] = []
    for item in items:
        if isinstance(item, (int, float)):
            # A JSON integer beyond float range raises OverflowError here, as in the harness.
            out.append(float(item))
        elif isinstance(item, str):
            try:
                out.append(float(item.replace("s", "").strip()))
            except skip:
                continue
    return out


def _longest_list(text: str) -> str | None:
    best: str | None = None
    for fenced, bare in _LIST.findall(text):
        candidate = fenced if fenced else bare
        # Strictly longer: among equal lengths the first one wins.
        if candidate and len(candidate) > len(best or ""):
            best = candidate
    return best


def parse(answer: str) -> list[float]:
    """Predicted cycle-start times (seconds, ascending, duplicates kept) from a model's answer.

    Same result as the harness's ``extract_start_times``; an empty list means
    nothing could be parsed.
    """
    if not isinstance(answer, str):
        raise ValueError(f"parse() expects the answer text (str), got {type(answer).__name__}")
    text = answer.lower()

    direct = _SECONDS.findall(text)
    if direct:
        return sorted(float(s) for s in direct)

    candidate = _longest_list(text)
    if candidate:
        # Candidates always end with "]", so only the trailing-comma repair can change them.
        candidate = _TRAILING_COMMA.sub("]", candidate)
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            inner = _NUMBER.findall(candidate[1:-1])
            if inner:
                return sorted(float(n) for n in inner)
        else:
            if isinstance(data, list):
                times = _list_items_to_floats(data, skip=(ValueError,))
                if times:
                    return sorted(times)

    return sorted(float(n) for n in _NUMBER.findall(text))


def _ground_truth_json(ground_truth: Any) -> Any:
    """The harness's ground-truth reading: first [...] in the string (not the longest), else the whole string."""
    if not isinstance(ground_truth, str):
        return ground_truth
    matches = _LIST.findall(ground_truth)
    if matches:
        fenced, bare = matches[0]
        return json.loads(fenced if fenced else bare)
    return json.loads(ground_truth)


def parse_ground_truth(ground_truth: Any) -> list[float]:
    """Ground-truth start times (ascending) from the raw ``answer`` field; unreadable -> []."""
    try:
        data = _ground_truth_json(ground_truth)
        if isinstance(data, list):
            return sorted(_list_items_to_floats(data, skip=(ValueError, TypeError)))
    except (json.JSONDecodeError, TypeError, AttributeError):
        pass
    return []


def is_explicit_empty(ground_truth: Any) -> bool:
    """True when the raw ground truth is an explicit empty JSON list (``"[]"``)."""
    try:
        data = _ground_truth_json(ground_truth)
    except (json.JSONDecodeError, TypeError, AttributeError):
        return False
    return isinstance(data, list) and len(data) == 0


def average_precision(predictions: Iterable[float], ground_truth: list[float], tolerance: float) -> float:
    """Non-interpolated AP of time predictions (all confidence 1) against ground-truth times.

    Predictions are taken in ascending time; each matches the nearest unmatched
    ground-truth time with ``abs(p - g) <= tolerance`` (ties: earliest ground
    truth), else it is a false positive. ``ground_truth`` must be non-empty.
    """
    ordered = sorted(predictions)
    n_gt = len(ground_truth)
    if n_gt == 0:
        raise ValueError("average_precision needs at least one ground-truth time")
    matched = [False] * n_gt
    tp = fp = 0
    ap = 0.0
    prev_recall = 0.0
    for p in ordered:
        best_i = -1
        best_diff = float("inf")
        for i, g in enumerate(ground_truth):
            if matched[i]:
                continue
            diff = abs(p - g)
            if diff <= tolerance and diff < best_diff:
                best_diff, best_i = diff, i
        if best_i >= 0:
            matched[best_i] = True
            tp += 1
        else:
            fp += 1
        precision = tp / (tp + fp)
        recall = tp / n_gt
        ap += precision * (recall - prev_recall)
        prev_recall = recall
    return ap


@dataclass
class VideoScore:
    """One video's JumpScore: ``map`` in [0, 1] and how it was reached."""

    map: float
    ap: dict[float, float] = field(default_factory=dict)  # per tolerance; {} when there is no ground truth
    pred_starts: list[float] = field(default_factory=list)
    gt_starts: list[float] = field(default_factory=list)

    @property
    def unparsed(self) -> bool:
        """Nothing parsed and nothing scored (the harness's "bad pred" count)."""
        return self.map == 0.0 and not self.pred_starts

    def as_dict(self) -> dict[str, Any]:
        return {
            "map": self.map,
            "ap": {str(t): v for t, v in self.ap.items()},
            "pred_starts": self.pred_starts,
            "gt_starts": self.gt_starts,
            "num_pred": len(self.pred_starts),
            "num_gt": len(self.gt_starts),
            "unparsed": self.unparsed,
        }


def score_details(answer: str, ground_truth: str, tolerances: Iterable[float] = TOLERANCES) -> VideoScore:
    """Score one answer against the raw ground-truth answer field (a JSON-list string)."""
    tolerances = tuple(tolerances)
    answer_raw = str(answer).strip()
    gt_raw = str(ground_truth).strip()
    gt = parse_ground_truth(gt_raw)
    pred = parse(answer_raw)
    if not gt:
        if not pred and is_explicit_empty(gt_raw):
            return VideoScore(1.0, {t: 1.0 for t in tolerances}, pred, gt)
        return VideoScore(0.0, {}, pred, gt)
    ap = {t: average_precision(pred, gt, t) for t in tolerances}
    return VideoScore(sum(ap.values()) / len(ap), ap, pred, gt)


def score(answer: str, ground_truth: str) -> float:
    """One video's JumpScore in [0, 1]: mean AP over tolerances 0.1, 0.2 and 0.3 s."""
    return score_details(answer, ground_truth).map


@dataclass
class DatasetScore:
    """Benchmark-level JumpScore: ``map`` x100, per-tolerance AP x100, unparsed answers, n."""

    map: float
    ap: dict[float, float]
    unparsed: int
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"map": self.map, "ap": {str(t): v for t, v in self.ap.items()}, "unparsed": self.unparsed, "n": self.n}


def aggregate(scores: Iterable[VideoScore]) -> DatasetScore:
    """Mean over videos, x100. Per-tolerance means skip videos without ground truth scored 0 (as the harness)."""
    scores = list(scores)
    if not scores:
        return DatasetScore(0.0, {}, 0, 0)
    maps = [s.map for s in scores]
    per_tol: dict[float, list[float]] = {}
    for s in scores:
        for t, v in s.ap.items():
            per_tol.setdefault(t, []).append(v)
    return DatasetScore(
        map=100.0 * (sum(maps) / len(maps)),
        ap={t: 100.0 * (sum(v) / len(v)) for t, v in sorted(per_tol.items())},
        unparsed=sum(1 for s in scores if s.unparsed),
        n=len(scores),
    )
