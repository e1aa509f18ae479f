"""Timeline data, burst coverage and atomic output helpers of ov2.viz."""

from __future__ import annotations

import numpy as np
import pytest

import ov2
from ov2.samples import make_bursts_clip
from ov2.visual_input import Group, Tokens, VisualInput
from ov2.viz.demo import burst_coverage
from ov2.viz.outputs import MARKER, staged_output
from ov2.viz.report import format_groups_table, group_rows
from ov2.viz.timeline import plot_timelines, timeline_data


@pytest.fixture(scope="module")
def codec_vi(tmp_path_factory):
    clip = make_bursts_clip(tmp_path_factory.mktemp("viz") / "c.mp4", duration=8.0, width=256, height=144)
    return ov2.tokenize(clip.path, backend="codec", canvases=8, max_pixels=30000)


def _toy(times_by_canvas: list[list[float]], kinds: list[str]) -> VisualInput:
    """A 2-canvas-wide toy VisualInput: 4 patches per canvas (one block), given source times (nan = padding)."""
    cols = {k: [] for k in ("canvas", "canvas_row", "canvas_col", "frame", "time", "src_row", "src_col", "group",
                            "kind")}
    for c, times in enumerate(times_by_canvas):
        for j, t in enumerate(times):
            pad = np.isnan(t)
            cols["canvas"].append(c)
            cols["canvas_row"].append(j // 2)
            cols["canvas_col"].append(j % 2)
            cols["frame"].append(-1 if pad else int(round(t * 10)))
            cols["time"].append(t)
            cols["src_row"].append(0)
            cols["src_col"].append(0)
            cols["group"].append(0)
            cols["kind"].append(kinds[c])
    n = len(times_by_canvas)
    return VisualInput(canvases=np.zeros((n, 28, 28, 3), np.uint8), tokens=Tokens(**cols),
                       groups=[Group(0, 0.0, 10.0, list(range(n)))],
                       meta={"profile": {"t0": 0.0, "bin_seconds": 0.5, "raw": [0.0] * 20, "energy": [0.0] * 20},
                             "window": {"start": 0.0, "end": 10.0}, "params": {"energy": "excess"}},
                       patch_size=14)


def test_timeline_ticks_are_the_tokens_source_frames(codec_vi):
    d = timeline_data(codec_vi)
    t = codec_vi.tokens
    v = t.valid
    np.testing.assert_array_equal(d.tick_times, codec_vi.selected_times())
    assert d.tick_counts.sum() == v.sum()
    for frame, count, kind in zip(d.tick_frames, d.tick_counts, d.tick_kinds):
        assert count == int((t.frame[v] == frame).sum())
        assert kind == t.kind[v][t.frame[v] == frame][0]
    anchors = set(d.tick_frames[d.tick_kinds == "I"].tolist())
    assert anchors == {g.anchor_frame for g in codec_vi.groups}
    # an anchor is a whole frame: full-height tick; P-canvas frames are shorter
    rows, cols = codec_vi.grid_hw
    assert d.full_frame_tokens == rows * cols
    assert np.all(d.tick_heights[d.tick_kinds == "I"] == 1.0)
    assert np.all(d.tick_heights[d.tick_kinds == "P"] < 1.0)


def test_timeline_group_spans_and_profile(codec_vi):
    d = timeline_data(codec_vi)
    assert d.group_spans == [(g.start, g.end) for g in codec_vi.groups]
    expected = sorted({g.start for g in codec_vi.groups} | {codec_vi.groups[-1].end})
    np.testing.assert_allclose(d.boundaries, expected)
    prof = codec_vi.meta["profile"]
    assert len(d.bin_left) == len(prof["energy"])
    np.testing.assert_allclose(d.bin_left[1] - d.bin_left[0], prof["bin_seconds"])
    assert d.bin_left[0] == prof["t0"]
    assert d.window == (codec_vi.meta["window"]["start"], codec_vi.meta["window"]["end"])


def test_timeline_counts_on_a_toy_input():
    nan = float("nan")
    vi = _toy([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 3.0, nan]], ["I", "P"])
    d = timeline_data(vi)
    np.testing.assert_array_equal(d.tick_times, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.tick_counts, [4, 2, 1])
    assert d.tick_kinds.tolist() == ["I", "P", "P"]
    assert d.tick_heights[0] == 1.0 and d.tick_heights[1] > d.tick_heights[2] > 0


def test_burst_coverage_counts_tokens_and_bursts():
    nan = float("nan")
    vi = _toy([[1.0, 1.0, 1.0, 1.0], [5.5, 5.5, 9.0, nan]], ["I", "P"])  # 7 valid tokens
    cov = burst_coverage(vi, [(0.5, 1.5), (5.0, 6.0), (7.0, 8.0)])
    assert cov["tokens"] == 7 and cov["source_frames"] == 3
    assert cov["burst_token_share"] == pytest.approx(6 / 7)
    assert cov["bursts_seen"] == 2 and cov["bursts_seen_share"] == pytest.approx(2 / 3)
    # a burst's end is exclusive
    assert burst_coverage(vi, [(0.0, 1.0)])["bursts_seen"] == 0
    none = burst_coverage(vi, None)
    assert none["burst_token_share"] is None and none["source_frames"] == 3


def test_group_rows_count_candidates_and_distinct_frames(codec_vi):
    rows = group_rows(codec_vi)
    t = codec_vi.tokens
    assert [r.index for r in rows] == [g.index for g in codec_vi.groups]
    for r, g in zip(rows, codec_vi.groups):
        assert r.candidates == len(g.candidate_frames)
        frames = set(t.frame[t.valid & (t.group == g.index)].tolist())
        assert r.source_frames == len(frames) and g.anchor_frame in frames
    lines = format_groups_table(rows)
    assert len(lines) == 1 + len(rows)


def test_long_group_table_is_shortened():
    from ov2.viz.report import GroupRow

    rows = [GroupRow(i, float(i), float(i + 1), 1, 1, [i]) for i in range(100)]
    lines = format_groups_table(rows, max_rows=16)
    assert len(lines) == 1 + 16 and lines[-1].split()[0] == "99" and "more groups" in "".join(lines)


def test_plot_timelines_writes_png(codec_vi, tmp_path):
    p = plot_timelines([("a", codec_vi), ("b", codec_vi)], tmp_path / "t.png", bursts=[(1.0, 2.0)])
    import cv2

    img = cv2.imread(str(p))
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 800


def test_staged_output_is_all_or_nothing(tmp_path):
    target = tmp_path / "out"
    with staged_output(target, "test") as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1" and (target / MARKER).exists()
    with pytest.raises(RuntimeError):
        with staged_output(target, "test") as tmp:
            (tmp / "b.txt").write_text("2")
            raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == sorted([MARKER, "a.txt"])  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # temp dir cleaned
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x").write_text("x")
    with pytest.raises(ov2.InvalidOptionError):
        with staged_output(foreign, "test"):
            pass
    assert (foreign / "x").exists()
