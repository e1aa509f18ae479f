"""Temporal grounding: span parsing order, IoU and the R1@m / mIoU summary on hand-made cases."""

from __future__ import annotations

import random

import pytest

from ov2.eval import grounding as g


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("The event happens in 12.5 - 20 seconds.", (12.5, 20.0)),
        ("from 3 to 7.5", (3.0, 7.5)),
        ("12\u201315", (12.0, 15.0)),  # en dash
        ("starts at 00:01:05 and ends at 00:01:10", (65.0, 70.0)),  # HH:MM:SS
        ("01:05 - 01:10", (65.0, 70.0)),  # MM:SS
        ("1:02:03.5 to 1:02:05", (3723.5, 3725.0)),
        ("3 - 4 but really 00:10 and 00:20", (10.0, 20.0)),  # two clock times beat an earlier "a - b"
        ("at 0:05 - 12 s", (5.0, 12.0)),  # a single clock time takes part in "a - b"
        ("In 2023 the event happens in 5 - 8 seconds", (5.0, 8.0)),  # "a - b" beats the first two numbers
        ("between 5 and 9 seconds", (5.0, 9.0)),  # first two numbers
        ("20 - 10", (10.0, 20.0)),  # reversed span swapped
        ("It ends at 9 and starts at 4.", (4.0, 9.0)),
        ("12.5s - 20s", (12.5, 20.0)),  # units between break "a - b"; the first two numbers still give it
        ("from 3 seconds to 7 seconds", (3.0, 7.0)),
        ("starts at 0:05 and lasts until 12", (5.0, 12.0)),  # a lone clock time counts as one number
        ("about 5 seconds", None),
        ("no idea", None),
        ("", None),
    ],
)
def test_parse_span(answer: str, expected: tuple[float, float] | None) -> None:
    assert g.parse_span(answer) == expected


def test_iou_by_hand() -> None:
    gt = (0.0, 10.0)
    assert g.iou((5.0, 15.0), gt) == pytest.approx(5 / 15)  # overlap 5, union 15
    assert g.iou((0.0, 10.0), gt) == 1.0
    assert g.iou((2.0, 4.0), gt) == pytest.approx(0.2)  # inside: 2 / 10
    assert g.iou((10.0, 20.0), gt) == 0.0  # touching
    assert g.iou((20.0, 30.0), gt) == 0.0  # disjoint: union spans the gap, overlap clipped to 0
    assert g.iou(None, gt) == 0.0
    assert g.iou((5.0, 5.0), (5.0, 5.0)) == 0.0  # empty union: counted as a miss


def test_score_details_swaps_and_checks_ground_truth() -> None:
    s = g.score_details("The event happens in 8 - 2 seconds", [0.0, 4.0])
    assert s.pred == (2.0, 8.0) and s.iou == pytest.approx(2 / 8)
    assert g.score_details("nothing", [1, 2]).unparsed
    with pytest.raises(ValueError):
        g.score_details("1 - 2", [1.0])


def test_aggregate_by_hand() -> None:
    # IoUs 1.0, 0.5, 1/3, 0, 0.7: >=0.3 -> 4 of 5, >=0.5 -> 3 (1.0, 0.5, 0.7), >=0.7 -> 2 (1.0, 0.7).
    s = g.aggregate([1.0, 0.5, 1 / 3, 0.0, 0.7], unparsed=1)
    assert s.recall == {0.3: 80.0, 0.5: 60.0, 0.7: 40.0}
    assert s.miou == pytest.approx(100 * (1 + 0.5 + 1 / 3 + 0 + 0.7) / 5)
    assert s.n == 5 and s.unparsed == 1
    assert g.aggregate([]).n == 0


def test_random_spans_round_trip() -> None:
    rng = random.Random(7)
    templates = [
        "The event happens in {a} - {b} seconds.",
        "From {a} to {b}.",
        "start {a}, end {b}",
    ]
    for _ in range(500):
        a, b = round(rng.uniform(0, 100), 1), round(rng.uniform(0, 100), 1)
        text = rng.choice(templates).format(a=a, b=b)
        assert g.parse_span(text) == (min(a, b), max(a, b)), text
        gt = (round(rng.uniform(0, 50), 1), round(rng.uniform(50, 100), 1))
        # Independent IoU: sample-free interval arithmetic on the swapped span.
        lo, hi = min(a, b), max(a, b)
        inter = max(0.0, min(hi, gt[1]) - max(lo, gt[0]))
        union = (hi - lo) + (gt[1] - gt[0]) - inter
        expected = inter / union if union > 0 else 0.0
        # The spec's formula uses the hull as union: they agree when the spans overlap.
        if inter > 0:
            assert g.score_details(text, gt).iou == pytest.approx(expected)
