"""Points -> masks: the prompting/propagation order (a recording fake), and `ov2 track` with the real
sam2 package and a tiny random model (skipped when sam2 is not installed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from ov2.cli import main
from ov2.eval.points import PointRecord
from ov2.eval.sam2_track import prompt_map, segment

# A Hiera of 5 blocks, 64 px input, one memory-attention layer: seconds on a CPU, random weights.
TINY_SAM2 = [
    "++model.image_size=64",
    "++model.image_encoder.trunk.embed_dim=8",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.neck.backbone_channel_list=[64,32,16,8]",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.layer.dim_feedforward=64",
    "++model.num_maskmem=2",
]
TINY_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


class FakePredictor:
    """Records SAM2 calls; each propagated frame gets a mask with one pixel per tracked object."""

    image_size = 16

    def __init__(self, t: int, h: int, w: int):
        self.t, self.h, self.w = t, h, w
        self.calls: list[tuple] = []
        self.objects: list[int] = []

    def init_state(self, video_path, offload_video_to_cpu=False):
        import sam2.sam2_video_predictor as svp

        images, h, w = svp.load_video_frames(video_path, self.image_size, offload_video_to_cpu)
        assert tuple(images.shape) == (self.t, 3, 16, 16) and (h, w) == (self.h, self.w)
        return {}

    def add_new_points_or_box(self, inference_state, frame_idx, obj_id, points, labels, **kw):
        self.calls.append(("add", frame_idx, obj_id, points.tolist(), labels.tolist()))
        if obj_id not in self.objects:
            self.objects.append(obj_id)

    def propagate_in_video(self, state, start_frame_idx, max_frame_num_to_track, reverse=False):
        import torch

        self.calls.append(("prop", start_frame_idx, max_frame_num_to_track, reverse))
        step = -1 if reverse else 1
        end = start_frame_idx + step * max_frame_num_to_track
        for f in range(start_frame_idx, end + step, step):
            logits = -torch.ones(len(self.objects), 1, self.h, self.w)
            for k, oid in enumerate(self.objects):
                logits[k, 0, oid, f] = 1.0  # object oid marks pixel (row oid, column f)
            yield f, list(self.objects), logits


def test_prompt_order_propagation_and_union():
    pytest.importorskip("sam2", reason="sam2 not installed (pip install --no-deps sam2 and the [sam2] extra)")
    t, h, w = 8, 6, 10
    recs = [PointRecord(0.5, 1, 500, 500), PointRecord(1.0, 2, 100, 0), PointRecord(1.0, 1, 1000, 1000),
            PointRecord(1.05, 1, 0, 0)]
    prompts = prompt_map(recs, fps=4, width=w, height=h, n_frames=t)
    # 0.5 s -> frame 2; 1.0 and 1.05 s -> frame 4 (two clicks for object 1, clamped into the image).
    assert prompts == {2: {1: [(5.0, 3.0)]}, 4: {2: [(1.0, 0.0)], 1: [(9.0, 5.0), (0.0, 0.0)]}}
    fake = FakePredictor(t, h, w)
    masks = segment(fake, np.zeros((t, h, w, 3), np.uint8), prompts)
    assert fake.calls == [
        ("add", 2, 1, [[5.0, 3.0]], [1]),
        ("prop", 2, 1, False),           # frames 2..3, up to the next prompt frame
        ("add", 4, 1, [[9.0, 5.0], [0.0, 0.0]], [1, 1]),
        ("add", 4, 2, [[1.0, 0.0]], [1]),
        ("prop", 4, 3, False),           # frames 4..7, to the end
        ("prop", 2, 2, True),            # back from the first prompt frame to frame 0
    ]
    assert masks.shape == (t, h, w)
    # Every frame got output and the objects are OR-ed. The last pass (backward over frames 2..0) tracks
    # both objects, so it overwrites frames 0-2; frame 3 keeps the first forward pass (object 1 only).
    assert all(masks[f, 1, f] for f in range(t))
    assert masks[:, 2, :].any(axis=1).tolist() == [True, True, True, False, True, True, True, True]
    assert not masks[:, 3:, :].any()


def test_segment_without_prompts_is_empty():
    masks = segment(object(), np.zeros((3, 4, 5, 3), np.uint8), {})
    assert masks.shape == (3, 4, 5) and not masks.any()


@pytest.mark.skipif(importlib.util.find_spec("sam2") is None,
                    reason="sam2 not installed (pip install --no-deps sam2==1.1.0 && pip install -e '.[sam2]')")
def test_ov2_track_with_random_sam2(tmp_path: Path, capsys):
    import torch

    from ov2.io.encode import VideoWriter

    torch.manual_seed(0)
    video = tmp_path / "clip.mp4"
    n, fps = 5, 5
    with VideoWriter(video, 64, 48, fps=fps) as wr:
        for i in range(n):
            img = np.full((48, 64, 3), 30, np.uint8)
            img[10:30, 5 + 6 * i:25 + 6 * i] = 220
            wr.write(img)
    answer = tmp_path / "answer.txt"
    answer.write_text('<tracks coords="0.20 0 300 400;0.60 0 500 400">\nthe square\n</tracks>')
    out = tmp_path / "out"
    rc = main(["track", "--video", str(video), "--answer", str(answer), "--sam2-config", TINY_CONFIG,
               "--random-weights", "--out", str(out), "--device", "cpu",
               *[f"--sam2-override={o}" for o in TINY_SAM2]])
    assert rc == 0
    pngs = sorted((out / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(n)]
    import cv2

    assert cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED).shape == (48, 64)
    rep = json.loads((out / "track.json").read_text())
    assert rep["frames"] == n and rep["fps"] == pytest.approx(fps)
    assert rep["meta"]["prompt_frames"] == [1, 3]  # round(0.2 * 5), round(0.6 * 5)
    assert rep["prompts"][0]["clicks_px"] == [[19.2, 19.2]]
    assert rep["sam2"]["random_weights"] is True and rep["parsed"]["unparsed"] == 0
    assert (out / "strip.png").stat().st_size > 0 and (out / "index.html").is_file()
    assert "RANDOM WEIGHTS" in capsys.readouterr().out


def test_ov2_track_bad_input(tmp_path: Path, capsys):
    assert main(["track", "--video", str(tmp_path / "nope.mp4"), "--answer", "x", "--sam2-config", "c",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no such video file" in capsys.readouterr().err
    video = tmp_path / "v.mp4"
    video.write_bytes(b"0")
    assert main(["track", "--video", str(video), "--answer", "x", "--sam2-config", "c",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--sam2-checkpoint is required" in capsys.readouterr().err
