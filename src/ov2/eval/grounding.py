"""Temporal grounding: parse a predicted span, IoU against the annotated span, R1@m and mIoU.

Parsing follows ../shared/spec/evaluation.md literally (there is no single
public harness for it; lmms-eval's charades_sta ``eval_tvg.py`` differs, see
docs/evaluation.md). The first span found wins, in this order:

1. two clock times (``HH:MM:SS`` or ``MM:SS``, optional fraction): the first two;
2. ``a - b`` (hyphen, en or em dash) or ``a to b``: the first such pair;
3. the first two numbers in the text.

A reversed span is swapped; a text with fewer than two numbers gives ``None``
(IoU 0). Numbers are unsigned: a "-" is read as a range dash, never a sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)

QUESTION_TEMPLATE = (
    "Please find the visual event described by the sentence '{query}', determining its starting and "
    "ending times. The format should be: 'The event happens in <start time> - <end time> seconds'."
)

_CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d{1,3}:\d{2}(?:\.\d+)?"
_PLAIN = r"\d+(?:\.\d+)?"
# A clock time or a plain number, never the tail of a longer number or clock time.
_VALUE = rf"(?<![\d.:])(?:{_CLOCK}|{_PLAIN})(?![\d:]|\.\d)"
_CLOCK_RE = re.compile(rf"(?<![\d.:])(?:{_CLOCK})(?![\d:]|\.\d)")
_RANGE_RE = re.compile(rf"({_VALUE})\s*(?:-|\u2013|\u2014|\bto\b)\s*({_VALUE})", re.IGNORECASE)
_VALUE_RE = re.compile(_VALUE)


def question(query: str) -> str:
    """The grounding question for a query sentence (the spec's template)."""
    return QUESTION_TEMPLATE.format(query=query)


def to_seconds(value: str) -> float:
    """``"1:02:03.5"`` -> 3723.5, ``"02:03"`` -> 123.0, ``"12.5"`` -> 12.5."""
    seconds = 0.0
    for part in value.split(":"):
        seconds = seconds * 60.0 + float(part)
    return seconds


def _ordered(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


def parse_span(answer: str) -> tuple[float, float] | None:
    """The first (start, end) span in seconds found in ``answer``, start <= end; ``None`` if none."""
    clocks = _CLOCK_RE.findall(answer)
    if len(clocks) >= 2:
        return _ordered(to_seconds(clocks[0]), to_seconds(clocks[1]))
    pair = _RANGE_RE.search(answer)
    if pair:
        return _ordered(to_seconds(pair.group(1)), to_seconds(pair.group(2)))
    values = _VALUE_RE.findall(answer)
    if len(values) >= 2:
        return _ordered(to_seconds(values[0]), to_seconds(values[1]))
    return None


def iou(pred: tuple[float, float] | None, gt: tuple[float, float]) -> float:
    """Temporal IoU of two [start, end] spans; 0 for no prediction or an empty union."""
    if pred is None:
        return 0.0
    s1, e1 = pred
    s2, e2 = gt
    union = max(e1, e2) - min(s1, s2)
    if union <= 0:
        # Both spans are the same single instant: IoU is undefined, count it as a miss.
        return 0.0
    return max(0.0, min(e1, e2) - max(s1, s2)) / union


@dataclass
class GroundingScore:
    """One query: parsed span (None = unparsed) and its IoU with the annotation."""

    pred: tuple[float, float] | None
    gt: tuple[float, float]
    iou: float

    @property
    def unparsed(self) -> bool:
        return self.pred is None

    def as_dict(self) -> dict:
        return {"pred_span": list(self.pred) if self.pred else None, "gt_span": list(self.gt), "iou": self.iou,
                "unparsed": self.unparsed}


def score_details(answer: str, span: Iterable[float]) -> GroundingScore:
    """Parse ``answer`` and score it against the annotated ``span`` = (start, end) seconds."""
    values = [float(v) for v in span]
    if len(values) != 2:
        raise ValueError(f"a ground-truth span needs 2 values, got {len(values)}")
    gt = _ordered(values[0], values[1])
    pred = parse_span(answer)
    return GroundingScore(pred, gt, iou(pred, gt))


@dataclass
class GroundingSummary:
    """R1@m (percent of queries with IoU >= m), mIoU x100, unparsed answers, n."""

    recall: dict[float, float]
    miou: float
    unparsed: int
    n: int

    def as_dict(self) -> dict:
        return {"recall": {str(m): v for m, v in self.recall.items()}, "miou": self.miou,
                "unparsed": self.unparsed, "n": self.n}


def aggregate(ious: Iterable[float], unparsed: int = 0, thresholds: Iterable[float] = THRESHOLDS) -> GroundingSummary:
    """Summarise per-query IoUs."""
    values = list(ious)
    n = len(values)
    if n == 0:
        return GroundingSummary({m: 0.0 for m in thresholds}, 0.0, unparsed, 0)
    recall = {m: 100.0 * sum(1 for v in values if v >= m) / n for m in thresholds}
    return GroundingSummary(recall, 100.0 * sum(values) / n, unparsed, n)
