"""JumpScore metric: parsing quirks (lmms-eval parity), hand-computed AP, edge cases, randomized cross-check."""

from __future__ import annotations

import json
import math
import random

import pytest

from ov2.eval import jumpscore as js

# ---------------------------------------------------------------- parsing: stage 1 (number + "s")


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("12.3s", [12.3]),
        ("4 s", [4.0]),
        ("5S", [5.0]),  # the text is lower-cased first
        ("3s 1s 3s", [1.0, 3.0, 3.0]),  # sorted, duplicates kept
        ("at 1.5 seconds and 2 s", [2.0]),  # "seconds" is not a word-final "s": only "2 s" counts once one does
        ("-1.5s", [1.5]),  # the sign is never read outside JSON
        (".5s", [5.0]),  # the leading "." is not part of the number
        ("1.2.3s", [2.3]),  # "1.2" is followed by ".", the match restarts after the digit run
        ("jump at 2.5s.", [2.5]),
        ('["1.5s", "2.5 s", "x"]', [1.5, 2.5]),  # quoted "1.5s" is caught by stage 1 already
        ("\u0663s", [3.0]),  # Unicode digits are \d and float() reads them
        ("\uff11\uff12s", [12.0]),
    ],
)
def test_parse_seconds_stage(answer: str, expected: list[float]) -> None:
    assert js.parse(answer) == expected


# ---------------------------------------------------------------- stage 2 (longest [...] as JSON)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("[1.0, 2.0,]", [1.0, 2.0]),  # trailing comma repaired
        ("[-1.5, 2]", [-1.5, 2.0]),  # negative numbers survive only here
        ("[1] and [2, 3]", [2.0, 3.0]),  # the longest list wins
        ("[4] [5]", [4.0]),  # equal length: the first one
        ("[[1, 2], [3, 4]]", [1.0, 2.0]),  # non-greedy: "[[1, 2]" is invalid JSON -> numbers inside it only
        ("at 7: [1.5, abc, 2]", [1.5, 2.0]),  # invalid JSON -> numbers inside the brackets, not the 7 outside
        ("[true, 2]", [1.0, 2.0]),  # JSON booleans are ints in Python
        ("[null, 1]", [1.0]),
        ("[1e2]", [100.0]),
        ("```json\n[2.5, 1.5]\n```", [1.5, 2.5]),
        ('["1.5sec"]', [1.0]),  # "1.5ec" is no float -> list empty -> stage 3 reads "1" before "."
        ('["nan"]', None),  # float("nan") is accepted (checked below)
        ("There are 3 jumps: []", [3.0]),  # an empty list falls through to stage 3
        ("[]", []),
    ],
)
def test_parse_list_stage(answer: str, expected: list[float] | None) -> None:
    got = js.parse(answer)
    if expected is None:
        assert len(got) == 1 and math.isnan(got[0])
    else:
        assert got == expected


# ---------------------------------------------------------------- stage 3 (every number)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("-3 and 4", [3.0, 4.0]),
        ("[1, 2", [1.0, 2.0]),  # unclosed list: no candidate
        ("12.5a 7", [7.0, 12.0]),  # "12.5" needs a word boundary after it, "12" has one
        ("1,000", [0.0, 1.0]),
        ("3s1", []),  # "s" followed by a digit: no stage 1, and no word boundary for stage 3
        ("10ms", []),
        ("", []),
        ("no idea", []),
    ],
)
def test_parse_number_stage(answer: str, expected: list[float]) -> None:
    assert js.parse(answer) == expected


def test_parse_ground_truth_takes_first_list_and_is_case_sensitive() -> None:
    assert js.parse_ground_truth("[1.0] [2.0, 3.0]") == [1.0]
    assert js.parse_ground_truth("[3.2, 1.25]") == [1.25, 3.2]
    assert js.parse_ground_truth('["1.5s", "2"]') == [1.5, 2.0]
    assert js.parse_ground_truth('["1.5S"]') == []  # not lower-cased: "S" survives, float() fails
    assert js.parse_ground_truth("[1, 2") == []  # unreadable -> []
    assert js.parse_ground_truth("7") == []  # JSON but not a list
    assert js.is_explicit_empty("[]") and js.is_explicit_empty(" [ ] ")
    assert not js.is_explicit_empty("") and not js.is_explicit_empty('["x"]')


# ---------------------------------------------------------------- AP, computed by hand


def test_ap_one_false_positive_between_hits() -> None:
    # GT 1, 2, 3; predictions 1.05 (TP: P=1, R=1/3), 2.5 (FP, 0.5 from both: P=1/2, R=1/3),
    # 3.0 (TP: P=2/3, R=2/3). AP = 1*(1/3) + (1/2)*0 + (2/3)*(1/3) = 5/9 at every tau.
    d = js.score_details("1.05s, 2.5s, 3.0s", "[1.0, 2.0, 3.0]")
    assert d.ap == {0.1: pytest.approx(5 / 9), 0.2: pytest.approx(5 / 9), 0.3: pytest.approx(5 / 9)}
    assert d.map == pytest.approx(5 / 9)


def test_ap_false_positive_first_costs_precision() -> None:
    # 0.5 (FP: P=0, R=0), 1.0 (TP: P=1/2, R=1/2), 2.0 (TP: P=2/3, R=1): AP = 1/4 + 1/3 = 7/12.
    assert js.score("[0.5, 1.0, 2.0]", "[1.0, 2.0]") == pytest.approx(7 / 12)


def test_ap_depends_on_tolerance() -> None:
    # 1.15 is 0.15 from 1.0, 2.25 is 0.25 from 2.0.
    # tau 0.1: both FP -> 0. tau 0.2: TP (1, 1/2), FP (1/2, 1/2) -> 1/2. tau 0.3: TP, TP -> 1.
    d = js.score_details("1.15s 2.25s", "[1.0, 2.0]")
    assert d.ap[0.1] == 0.0 and d.ap[0.2] == pytest.approx(0.5) and d.ap[0.3] == pytest.approx(1.0)
    assert d.map == pytest.approx(0.5)


def test_duplicates_become_false_positives() -> None:
    # 1 TP (1, 1/2), 1 again FP (1/2, 1/2), 2 TP (2/3, 1): AP = 1/2 + (2/3)(1/2) = 5/6.
    assert js.score("1s 1s 2s", "[1.0, 2.0]") == pytest.approx(5 / 6)
    # A duplicate after full recall adds nothing and costs nothing.
    assert js.score("[1.0, 1.0]", "[1.0]") == 1.0


def test_float64_boundary_is_asymmetric() -> None:
    # 1.1 - 1.0 = 0.10000000000000009 > 0.1, but 1.0 - 0.9 = 0.09999999999999998 <= 0.1.
    assert js.score_details("1.1s", "[1.0]").ap == {0.1: 0.0, 0.2: 1.0, 0.3: 1.0}
    assert js.score("0.9s", "[1.0]") == 1.0


def test_nearest_unmatched_ground_truth_is_taken() -> None:
    # GT 1.0, 1.2. tau 0.1: 1.1 is 0.1000..09 from 1.0 (out) and 0.0999..87 from 1.2 (in) -> takes 1.2;
    # 1.15 is 0.15 from 1.0 -> FP. AP = 1*(1/2) + (1/2)*0 = 1/2. tau 0.2 / 0.3: 1.1 -> 1.2 (nearer),
    # 1.15 -> 1.0 -> AP 1. mAP = (1/2 + 1 + 1) / 3 = 5/6.
    d = js.score_details("1.1s 1.15s", "[1.0, 1.2]")
    assert d.ap[0.1] == pytest.approx(0.5) and d.map == pytest.approx(5 / 6)


def test_exact_tie_goes_to_earlier_ground_truth() -> None:
    # 2.0 is exactly 1.0 from both 1.0 and 3.0: it takes 1.0, so 3.0 is left for the second prediction.
    assert js.average_precision([2.0, 3.0], [1.0, 3.0], tolerance=1.0) == 1.0
    # If it had taken 3.0, 3.0 would be a FP (2.0 from 1.0) and AP would be 1/2.


def test_average_precision_needs_ground_truth() -> None:
    with pytest.raises(ValueError):
        js.average_precision([1.0], [], 0.1)


# ---------------------------------------------------------------- edge cases of the spec


@pytest.mark.parametrize(
    "answer, gt, expected, unparsed",
    [
        ("[]", "[]", 1.0, False),  # no GT, explicit empty answer
        ("no jumps at all", "[]", 1.0, False),  # quirk: any answer with nothing parsed counts as empty
        ("1.5s", "[]", 0.0, False),  # no GT but predictions
        ("", "not json", 0.0, True),  # GT unreadable is not an explicit empty list
        ("no idea", "[1.0]", 0.0, True),  # nothing parsed
        ("[]", "[1.0, 2.0]", 0.0, True),
        ("  1.0s  ", " [1.0] ", 1.0, False),
    ],
)
def test_edge_cases(answer: str, gt: str, expected: float, unparsed: bool) -> None:
    d = js.score_details(answer, gt)
    assert d.map == expected
    assert d.unparsed is unparsed


def test_aggregate_by_hand() -> None:
    videos = [
        js.score_details("[]", "[]"),  # 1.0, ap 1/1/1
        js.score_details("1.05s, 2.5s, 3.0s", "[1.0, 2.0, 3.0]"),  # 5/9 at every tau
        js.score_details("1s", "[]"),  # 0.0 and ap {} (harness: excluded from per-tau means)
        js.score_details("nothing", "[2.0]"),  # 0.0, unparsed, ap 0/0/0
    ]
    agg = js.aggregate(videos)
    assert agg.n == 4 and agg.unparsed == 1
    assert agg.map == pytest.approx(100 * (1 + 5 / 9 + 0 + 0) / 4)
    assert agg.ap[0.1] == pytest.approx(100 * (1 + 5 / 9 + 0) / 3)
    assert js.aggregate([]).n == 0


# ---------------------------------------------------------------- randomized cross-check


def _reference_map(pred: list[float], gt: list[float]) -> float:
    """Independent AP: recall rises by 1/|GT| at each TP only, so AP = mean over TPs of precision x (1/|GT|)."""
    aps = []
    for tau in (0.1, 0.2, 0.3):
        free = list(gt)
        total, tp = 0.0, 0
        for k, p in enumerate(sorted(pred), start=1):
            close = [(abs(p - g), j) for j, g in enumerate(free) if g is not None and abs(p - g) <= tau]
            if close:
                _, j = min(close)  # smallest difference, then smallest index
                free[j] = None
                tp += 1
                total += tp / k
        aps.append(total / len(gt))
    return sum(aps) / 3


def _render(times: list[float], style: str, rng: random.Random) -> str:
    """An answer whose correct parse is ``sorted(times)`` by construction (no digits in the filler)."""
    words = ["the rope passes at", "then", "and", "jump", "Cycle starts:"]
    if style == "seconds":
        return " ".join(f"{rng.choice(words)} {t:.2f}{rng.choice(['s', ' s', 'S'])}" for t in times)
    if style == "json":
        body = ", ".join(f"{t:.2f}" for t in times) + rng.choice(["", ","])
        text = f"[{body}]"
        return rng.choice([text, f"```json\n{text}\n```", f"Here: {text} done"])
    return " ".join(f"{rng.choice(words)} {t:.2f}" for t in times)  # bare numbers


def test_random_answers_match_reference() -> None:
    rng = random.Random(1234)
    for _ in range(1500):
        gt = sorted(round(rng.uniform(0, 30), 2) for _ in range(rng.randint(1, 15)))
        pred = [round(g + rng.uniform(-0.4, 0.4), 2) for g in gt if rng.random() < 0.8]
        pred += [round(rng.uniform(0, 30), 2) for _ in range(rng.randint(0, 4))]
        pred = [max(p, 0.0) for p in pred]
        rng.shuffle(pred)
        answer = _render(pred, rng.choice(["seconds", "json", "bare"]), rng)
        parsed = js.parse(answer)
        assert parsed == sorted(pred), answer
        if parsed:
            assert js.score(answer, json.dumps(gt)) == pytest.approx(_reference_map(pred, gt), abs=1e-12)
        else:
            assert js.score(answer, json.dumps(gt)) == 0.0
