"""The grounding generator: the annotated span is exactly where the event's pixels appear in the decoded video."""

from __future__ import annotations

import json
import math

import av
import numpy as np
import pytest

from ov2.data import grounding, load_jsonl

SMALL = dict(width=480, height=270, duration=(5.0, 7.0), progress=False)


@pytest.fixture(scope="session")
def grounding_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("grounding")
    path = grounding.generate(out, 4, seed=3, hevc_every=4, workers=2, **SMALL)  # the process-pool path
    return path, load_jsonl(path)


def _event_frames(path: str) -> tuple[list[float], list[int], str]:
    """Frame times and, per frame, how many strongly saturated pixels it has."""
    times, counts = [], []
    with av.open(path) as c:
        stream = c.streams.video[0]
        for f in c.decode(stream):
            times.append(float(f.time))
            counts.append(int(grounding.is_event_colour(f.to_ndarray(format="rgb24")).sum()))
        return times, counts, stream.codec_context.name


def test_span_matches_the_decoded_event_pixels(grounding_set):
    _, records = grounding_set
    for r in records:
        times, counts, codec = _event_frames(r["video_path"])
        assert codec == r["codec"]
        start, end = r["span"]
        fps = r["fps"]
        visible = [i for i, n in enumerate(counts) if n >= 10]
        assert visible, f"{r['id']}: event never visible"
        # Object drawn exactly in frames with start <= t < end.
        assert visible[0] == math.ceil(round(start * fps, 6)), (r["id"], visible[0], start)
        assert visible[-1] == math.ceil(round(end * fps, 6)) - 1, (r["id"], visible[-1], end)
        assert len(visible) == visible[-1] - visible[0] + 1  # one contiguous event
        assert times[visible[0]] - start < 1 / fps + 1e-6 and end - times[visible[-1]] <= 1 / fps + 1e-6
        # Outside the span the scene has (nearly) no saturated pixel at all.
        assert max(n for i, n in enumerate(counts) if i not in set(visible)) < 10


def test_records_and_queries(grounding_set):
    path, records = grounding_set
    assert [r["codec"] for r in records].count("hevc") == 1
    for r in records:
        assert set(r) >= {"id", "video_path", "query", "span", "duration"}
        start, end = r["span"]
        assert 0 < start < end < r["duration"]
        assert round(start, 2) == start and round(end, 2) == end
        assert r["query"] in r["question"]
        colour = r["query"].split()[1]
        assert colour in grounding.COLOURS
        assert r["query"].split()[2] in grounding.SHAPES
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(rec["video_path"].startswith("clips/") for rec in raw)


def test_boxes_follow_the_object(grounding_set):
    _, records = grounding_set
    r = records[0]
    meta = json.loads(open(r["boxes_path"]).read())
    start, end = r["span"]
    with av.open(r["video_path"]) as c:
        for i, f in enumerate(c.decode(video=0)):
            box = meta["boxes"][i]
            t = meta["times"][i]
            assert (box is not None) == (start <= t < end)
            if box is None or i % 5:
                continue
            ys, xs = np.nonzero(grounding.is_event_colour(f.to_ndarray(format="rgb24")))
            x0, y0, x1, y1 = box
            inside = (xs >= x0 - 2) & (xs < x1 + 2) & (ys >= y0 - 2) & (ys < y1 + 2)
            assert inside.mean() > 0.98


def test_grounding_is_deterministic():
    a = grounding.plan_clip(11, 2, width=480, height=270)
    b = grounding.plan_clip(11, 2, width=480, height=270)
    c = grounding.plan_clip(12, 2, width=480, height=270)
    assert a == b and a != c
    sa, sb = grounding.GroundingScene(a), grounding.GroundingScene(b)
    i = int((a.event.start + 0.2) * a.fps)
    fa, ba = sa.render(i)
    fa = fa.copy()
    fb, bb = sb.render(i)
    assert np.array_equal(fa, fb) and ba == bb and ba is not None


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="duration"):
        grounding.plan_clip(0, 0, duration=(1.0, 3.0))
    with pytest.raises(ValueError, match="n must be"):
        grounding.generate(tmp_path, 0, workers=1)
