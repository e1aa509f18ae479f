"""Point, track and trace answer formats: the release's and Molmo2's documented answers, round trips,
malformed pieces counted and never raised."""

from __future__ import annotations

import numpy as np
import pytest

from ov2.eval.points import (
    NONE_POINTS,
    NONE_TRACKS,
    PointRecord,
    format_points,
    format_trace,
    parse_points,
    parse_trace,
)

R = PointRecord

# EvolvingLMMs-Lab/LLaVA-OneVision-2 docs/page/demo/video/*/info.json (spec 1.2).
OV2_DEMO = ('<tracks coords="0.00 0 231 493;1.00 0 273 500;2.00 0 295 500;3.00 0 408 593;4.00 0 482 600;'
            '5.00 0 445 593">\nthe animal moving forward\n</tracks>')


def test_release_demo_answer():
    p = parse_points(OV2_DEMO)
    assert p.kind == "tracks"
    assert p.unparsed == 0
    assert p.labels == ["the animal moving forward"]
    assert p.records == [R(0.0, 0, 231, 493), R(1.0, 0, 273, 500), R(2.0, 0, 295, 500),
                         R(3.0, 0, 408, 593), R(4.0, 0, 482, 600), R(5.0, 0, 445, 593)]


@pytest.mark.parametrize("text, kind, label, records", [
    ('Counting the <points coords="1 1 900 400 2 911 800">aasdf</points> shows a total of 2.', "points", "aasdf",
     [R(1, 1, 900, 400), R(1, 2, 911, 800)]),
    ('<points coords="1 1 555 169;2 3 649 154 4 709 162;5 5 758 175 6 808 183 7 852 187">Inline text</points>',
     "points", "Inline text",
     [R(1, 1, 555, 169), R(2, 3, 649, 154), R(2, 4, 709, 162), R(5, 5, 758, 175), R(5, 6, 808, 183),
      R(5, 7, 852, 187)]),
    ('<tracks coords="0.0 1 635 522;0.5 1 606 490 2 511 124;1.0 2 515 164;1.5 2 520 168">Inline text</tracks>',
     "tracks", "Inline text",
     [R(0.0, 1, 635, 522), R(0.5, 1, 606, 490), R(0.5, 2, 511, 124), R(1.0, 2, 515, 164), R(1.5, 2, 520, 168)]),
    ('<tracks coords="0.0 1 259 340\t1.0 1 138 427\t2.0 1 248 335">debug</tracks>', "tracks", "debug",
     [R(0.0, 1, 259, 340), R(1.0, 1, 138, 427), R(2.0, 1, 248, 335)]),
    ('<points alt="two cups" coords="1 1 050 007">two cups</points>', "points", "two cups", [R(1, 1, 50, 7)]),
])
def test_molmo2_documented_examples(text, kind, label, records):
    p = parse_points(text)
    assert (p.kind, p.labels, p.unparsed) == (kind, [label], 0)
    assert p.records == records


def test_none_answers_and_legacy_and_plain():
    for text in (NONE_POINTS, NONE_TRACKS, "", "I cannot see it."):
        p = parse_points(text)
        assert (p.records, p.kind, p.unparsed) == ([], "none", 0)
    # Legacy Molmo tags are on 0-100.
    p = parse_points('<point x="12.5" y="40" alt="cup">cup</point>')
    assert p.records == [R(1, 1, 125, 400)] and p.labels == ["cup"]
    p = parse_points('<points x1="10" y1="20" x2="30.5" y2="40" alt="a">a</points>')
    assert p.records == [R(1, 1, 100, 200), R(1, 2, 305, 400)]
    # Plain points: integers on 0-1000, decimals <= 1 on 0-1; a 3D waypoint is not a 2D point.
    p = parse_points("Here: (123, 456) and [0.5, 0.25], not [1, 2, 3.5].")
    assert p.kind == "plain"
    assert p.records == [R(1, 1, 123, 456), R(1, 2, 500, 250)]
    assert parse_points("(1200, 10)").unparsed == 1


@pytest.mark.parametrize("text, n_records, unparsed", [
    ('<points coords="1 1 555 169;2 3 64', 0, 1),                             # cut-off tag
    ('<points coords="1 1 55555 169 2 900 100">x</points>', 1, 1),           # 5-digit coordinate
    ('<points coords="1 1 1001 169 2 900 100">x</points>', 1, 1),            # above 1000
    ('<tracks coords="0.5 1 100 100 1 200 200;1.0 1 300 300">x</tracks>', 2, 1),  # duplicate id in a frame
    ('<tracks coords="abc 1 100 100;1.0 1 300 300">x</tracks>', 1, 1),       # bad key
    ('<tracks coords="0.0 1 100 100 2 200;1.0 1 300 300">x</tracks>', 2, 1),  # dangling pair
    ('<tracks coords="0.0 1 100 100">x</tracks> and <tracks coords="1.0 1 2', 1, 1),  # one good, one cut
])
def test_malformed_pieces_are_skipped_and_counted(text, n_records, unparsed):
    p = parse_points(text)
    assert len(p.records) == n_records
    assert p.unparsed == unparsed


@pytest.mark.parametrize("text", [None, 12, "<points", "<tracks coords=", '<points coords="">x</points>',
                                  "<<<>>>", "(", "[[", "\x00\ud800", "<tracks coords=\"1;;;\">"])
def test_never_raises(text):
    p = parse_points(text)
    assert isinstance(p.records, list)
    t = parse_trace(text)
    assert t.points.ndim == 2


def test_writer_forms():
    recs = [R(0.0, 0, 231, 493), R(1.0, 1, 40, 7), R(1.0, 0, 273, 500)]
    assert format_points(recs, "the dog", kind="tracks") == (
        '<tracks coords="0.00 0 231 493;1.00 0 273 500 1 040 007">\nthe dog\n</tracks>')
    assert format_points(recs, "the dog", kind="tracks", style="molmo2") == (
        '<tracks coords="0.0 0 231 493;1.0 0 273 500 1 040 007">the dog</tracks>')
    assert format_points(recs, "d", kind="tracks", style="v1", decimals=1) == (
        '<tracks coords="0.0 0 231 493\t1.0 0 273 500 1 040 007">d</tracks>')
    # Points sort by x within a frame (Molmo2); images use integer keys.
    img = [R(1, 2, 911, 800), R(1, 1, 900, 400)]
    assert format_points(img, "aasdf", style="molmo2", image=True) == '<points coords="1 1 900 400 2 911 800">aasdf</points>'
    assert format_points([], "x") == NONE_POINTS
    assert format_points([], "x", kind="tracks") == NONE_TRACKS


@pytest.mark.parametrize("style", ["ov2", "molmo2", "v1"])
@pytest.mark.parametrize("decimals", [1, 2])
def test_round_trip(style, decimals):
    rng = np.random.default_rng(7 + decimals)
    recs = []
    for k in range(6):
        t = round(k * 0.5, decimals)
        for oid in range(int(rng.integers(1, 4))):
            recs.append(R(t, oid, float(rng.integers(0, 1001)), float(rng.integers(0, 1001))))
    text = format_points(recs, "a red ball\nand more", kind="tracks", style=style, decimals=decimals)
    p = parse_points(text)
    assert p.unparsed == 0 and p.kind == "tracks"
    assert sorted(p.records) == sorted(recs)


def test_traces():
    t = parse_trace("[[604, 491, 1.75], [488, 472, 1.83], [183, 459, 2.15]]")
    np.testing.assert_allclose(t.points, [[604, 491, 1.75], [488, 472, 1.83], [183, 459, 2.15]])
    assert t.unparsed == 0
    t = parse_trace("Waypoints: [(0.5, 0.25), (0.75, 1.0)]")  # 0-1 scale
    np.testing.assert_allclose(t.points, [[500, 250], [750, 1000]])
    t = parse_trace("[[1, 2, 3.0], [4, 5], [6, 7, 8.5], [2000, 1, 1.0], [3, 3, -1.0]]")
    np.testing.assert_allclose(t.points, [[1, 2, 3.0], [6, 7, 8.5]])
    assert t.unparsed == 3
    pts = np.array([[604, 491, 1.75], [183, 459, 2.15]])
    assert format_trace(pts) == "[[604, 491, 1.75], [183, 459, 2.15]]"
    np.testing.assert_allclose(parse_trace(format_trace(pts)).points, pts)
    assert parse_trace("no list").points.shape == (0, 2)


def test_readme_points_section_runs(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    body = text[text.index("## Points, tracks and traces"):]
    body = body[: body.index("\n## ", 3)]
    exec(compile(re.search(r"```python\n(.*?)```", body, re.S).group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "[0.6 0.6]" in out and "0.5142857" in out
