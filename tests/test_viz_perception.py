"""Perception pictures: which frames a strip shows, JumpScore hit colours, and that every figure and the
gallery page are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ov2.eval.points import PointRecord
from ov2.viz.demo import page_images
from ov2.viz.gallery import write_gallery
from ov2.viz.perception import (
    jump_marks,
    save_frame_strip,
    save_jumpscore_timeline,
    save_trajectory,
    strip_frames,
)


def test_strip_frames_prefers_marked_frames():
    assert strip_frames(100, [50, 10, 90], count=5) == [0, 10, 50, 90, 99]
    assert strip_frames(100, range(0, 100, 10), count=4) == [0, 30, 60, 90]
    assert strip_frames(3, [], count=6) == [0, 1, 2]


def test_jump_marks_use_the_jumpscore_tolerance():
    marks = jump_marks([1.05, 2.5, 0.9, 1.1], [1.0, 3.0], tau=0.1)
    # |1.1 - 1.0| is 0.10000000000000009 in float64: outside, as in the metric.
    assert marks == [(0.9, True), (1.05, True), (1.1, False), (2.5, False)]
    assert jump_marks([1.0], []) == [(1.0, False)]


def test_figures_and_gallery(tmp_path: Path):
    frames = np.zeros((6, 40, 60, 3), np.uint8)
    frames[:, 10:20, 10:30] = 200
    masks = np.zeros((6, 40, 60), bool)
    masks[:, 10:20, 10:30] = True
    pred = [PointRecord(t, 0, 300, 400) for t in (0.0, 1.0, 2.0)]
    gt = [PointRecord(t, 1, 330, 380) for t in (0.0, 1.0, 2.0)]
    paths = [
        save_frame_strip(tmp_path / "strip.png", frames, fps=2, pred_points=pred, gt_points=gt,
                         pred_masks=masks, gt_masks=masks, title="the box"),
        save_trajectory(tmp_path / "trace.png", None, [[100, 800, 1.2], [400, 500, 1.5], [800, 300, 2.0]],
                        [[120, 780, 1.2], [780, 320, 2.1]], title="put the cup on the shelf"),
        save_jumpscore_timeline(tmp_path / "jumps.png", {"codec": [0.9, 2.0, 3.1], "frames": [1.3]},
                                [1.0, 2.05, 3.0], duration=4.0),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = write_gallery(tmp_path, "perception", [(p.name, p.stem) for p in paths], metrics={"f1": 0.5})
    assert sorted(page_images(page.read_text())) == sorted(p.name for p in paths)
