"""Decoding in keyframe-aligned segments in parallel: same tokens as one pass, safe fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

import ov2
import ov2.codec.pipeline as pipeline
from ov2.codec.saliency import _magnitude
from ov2.codec.scoring import reference_frames
from ov2.codec.segments import split_segments
from ov2.io.packets import read_packets
from video_helpers import remux_video


def _same(a: ov2.VisualInput, b: ov2.VisualInput) -> bool:
    return (np.array_equal(a.canvases, b.canvases)
            and all(np.array_equal(getattr(a.tokens, f), getattr(b.tokens, f)) for f in ("frame", "src_row", "src_col"))
            and [g.anchor_frame for g in a.groups] == [g.anchor_frame for g in b.groups])


def test_segments_start_at_keyframes_and_own_the_candidates_of_their_references(bikes):
    packets = read_packets(bikes)
    frames = np.arange(packets.frame_count)
    refs = reference_frames(frames[1::3], packets)
    segments = split_segments(packets, frames, refs, workers=3)
    keys = set(np.flatnonzero(packets.key).tolist())
    assert len(segments) == 3
    assert segments[0].first == 0 and all(s.first in keys for s in segments[1:])
    assert sorted(c for s in segments for c in s.refs) == sorted(refs)  # every candidate exactly once
    for s, nxt in zip(segments, segments[1:] + [None]):
        stop = nxt.first if nxt else packets.frame_count
        for c, (r, _) in s.refs.items():
            assert s.first <= r < stop and s.first <= c <= stop  # a keyframe candidate may close the segment
    # bytes stand for decoding work: no segment holds more than twice its share
    work = [packets.size[s.first : (nxt.first if nxt else packets.frame_count)].sum()
            for s, nxt in zip(segments, segments[1:] + [None])]
    assert max(work) < 2 * packets.size.sum() / 3
    assert len(split_segments(packets, frames, refs, workers=1)) == 1


@pytest.mark.parametrize("backend", ["codec", "fixed"])
def test_segmented_decoding_gives_the_tokens_of_one_pass(bikes, backend):
    one = ov2.tokenize(bikes, backend=backend, canvases=16, threads=1)
    three = ov2.tokenize(bikes, backend=backend, canvases=16, threads=3)
    assert one.meta["decode_segments"] == 1 and three.meta["decode_segments"] == 3
    assert _same(one, three)
    assert one.meta["motion_frames"] == three.meta["motion_frames"]


def test_a_window_is_split_inside_itself(bikes):
    # keyframes at 1.2, 3.0, 5.5, 7.5 s: in [1.3, 9.1) only those 2 s from both ends may start a segment
    one = ov2.tokenize(bikes, canvases=8, threads=1, start=1.3, end=9.1)
    vi = ov2.tokenize(bikes, canvases=8, threads=3, start=1.3, end=9.1)
    assert vi.meta["decode_segments"] == 2 and _same(one, vi)
    t = vi.tokens.time[vi.tokens.valid]
    assert t.min() >= 1.3 - 1e-6 and t.max() < 9.1


def test_inexact_seeking_falls_back_to_one_pass(bikes, monkeypatch):
    # a container that lands after the keyframe it was sent to (MPEG-TS can) loses frames: detect and redo
    one = ov2.tokenize(bikes, canvases=16, threads=1)
    real = pipeline.iter_frames

    def lands_late(path, packets, start=None, end=None, **kw):
        frames = real(path, packets, start, end, **kw)
        if start is not None and start > packets.start + 1e-6:
            next(frames)  # the keyframe is lost
        yield from frames

    monkeypatch.setattr(pipeline, "iter_frames", lands_late)
    vi = ov2.tokenize(bikes, canvases=16, threads=3)
    assert vi.meta["decode_segments"] == 1 and _same(one, vi)


def test_streams_without_timestamps_are_not_split(bikes, tmp_path):
    raw = remux_video(bikes, tmp_path / "bikes.h264", "h264")
    packets = read_packets(raw)
    assert not packets.timestamped and packets.key.sum() >= 3
    vi = ov2.tokenize(raw, canvases=16, threads=3)
    assert vi.meta["decode_segments"] == 1


def test_motion_magnitude_does_not_depend_on_memory_alignment():
    # cv2.magnitude rounded differently at different alignments: scores moved by an ulp run to run
    rng = np.random.default_rng(0)
    dx, dy = (rng.standard_normal((2, 140, 252)) * 3).astype(np.float32)
    ref = _magnitude(dx.copy(), dy.copy())
    assert np.allclose(ref, np.hypot(dx.astype(np.float64), dy.astype(np.float64)), rtol=1e-6)
    buf = np.empty(3 * dx.size + 64, np.float32)
    for off in range(16):
        a = buf[off : off + dx.size].reshape(dx.shape)
        b = buf[off + dx.size + 17 : off + 2 * dx.size + 17].reshape(dy.shape)
        a[...], b[...] = dx, dy
        assert np.array_equal(_magnitude(a, b), ref)
