"""Reading video fast without changing what is read: reference flags, conversions, motion painting."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter

from ov2.io.frames import FrameConverter
from ov2.io.motion import CELL, exported_field
from ov2.io.packets import read_packets
from ov2.samples import make_bursts_clip
from video_helpers import remux_video


def _kept_by_nonref_decode(path, packets) -> list[int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.codec_context.skip_frame = "NONREF"
        tb = float(s.time_base)
        return sorted(packets.index_of(f.pts * tb) for f in c.decode(s))


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_reference_flags_are_the_pictures_a_nonref_decode_keeps(tmp_path, encoder):
    truth = make_bursts_clip(tmp_path / "c.mp4", duration=4.0, width=256, height=144, codec=encoder,
                             bursts=[(1.0, 3.0)])
    pk = read_packets(truth.path)
    assert pk.reordered.any() and (pk.marked_reference >= 0).all()
    assert np.flatnonzero(pk.reference).tolist() == _kept_by_nonref_decode(truth.path, pk)


def test_reference_flags_of_a_real_clip_with_a_b_pyramid(bikes):
    pk = read_packets(bikes)
    assert (pk.reference & pk.reordered).any()  # some B-frames are references: reordering alone cannot tell
    assert np.flatnonzero(pk.reference).tolist() == _kept_by_nonref_decode(bikes, pk)


def test_reference_flags_read_the_same_from_annex_b_framing(tmp_path, bikes):
    raw = remux_video(bikes, tmp_path / "bikes.h264", "h264")

    def in_decode_order(pk):
        marks = np.empty_like(pk.marked_reference)
        marks[pk.decode_order] = pk.marked_reference
        return marks

    mp4, annexb = read_packets(bikes), read_packets(raw)
    assert (mp4.marked_reference >= 0).all()
    assert np.array_equal(in_decode_order(mp4), in_decode_order(annexb))


def _frames(path, count: int, export_mvs: bool = False) -> list[av.VideoFrame]:
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if export_mvs:
            s.codec_context.options = {"flags2": "+export_mvs"}
        for i, f in enumerate(c.decode(s)):
            if i % 7 == 3:
                out.append(f)
            if len(out) == count:
                break
    return out


def test_rgb_and_luma_through_i420_match_direct_conversions(bikes):
    conv = FrameConverter(112, 252, 0, (56, 126))
    direct_rgb, direct_gray = VideoReformatter(), VideoReformatter()
    for f in _frames(bikes, 6):
        yuv = conv.yuv(f)
        rgb = conv.rgb_of(yuv)
        ref = direct_rgb.reformat(f, width=252, height=112, format="rgb24", interpolation="AREA").to_ndarray()
        assert rgb.shape == ref.shape and np.abs(rgb.astype(int) - ref).mean() < 3.0  # colours right (no swapped planes)
        gray = direct_gray.reformat(f, width=126, height=56, format="gray", interpolation="AREA").to_ndarray()
        assert np.abs(conv.luma_of(yuv).astype(int) - gray).max() <= 3  # same full-range luma either way
        assert np.array_equal(conv.luma(f), gray)


def _painted_one_by_one(frame: av.VideoFrame, height: int, width: int) -> np.ndarray | None:
    """The motion field painted vector by vector (the definition the vectorised painter must match)."""
    side = frame.side_data.get("MOTION_VECTORS")
    if side is None or len(side) == 0:
        return None
    mv = side.to_ndarray()
    gh, gw = -(-frame.height // CELL), -(-frame.width // CELL)
    field = np.zeros((gh, gw, 2), np.float32)
    order = sorted(range(len(mv)), key=lambda k: mv["source"][k] <= 0)  # future references first, past ones win
    for k in order:
        v = mv[k]
        sign = -1.0 if v["source"] > 0 else 1.0
        scale = max(int(v["motion_scale"]), 1)
        x0, y0 = (int(v["dst_x"]) - int(v["w"]) // 2) // CELL, (int(v["dst_y"]) - int(v["h"]) // 2) // CELL
        for y in range(y0, y0 + max(int(v["h"]) // CELL, 1)):
            for x in range(x0, x0 + max(int(v["w"]) // CELL, 1)):
                field[min(max(y, 0), gh - 1), min(max(x, 0), gw - 1)] = (
                    sign * v["motion_x"] / scale * width / frame.width,
                    sign * v["motion_y"] / scale * height / frame.height)
    return cv2.resize(field, (width, height), interpolation=cv2.INTER_NEAREST).transpose(2, 0, 1)


def test_vectorised_motion_painting_matches_painting_vector_by_vector(bikes):
    frames = _frames(bikes, 5, export_mvs=True)
    checked = 0
    for f in frames:
        fast, slow = exported_field(f, 68, 160), _painted_one_by_one(f, 68, 160)
        assert (fast is None) == (slow is None)
        if fast is not None:
            assert np.allclose(fast, slow, atol=1e-5) and np.abs(fast).max() > 0
            checked += 1
    assert checked >= 3


def test_slices_per_picture_choose_the_decoder_threading(tmp_path):
    from ov2.io.decode import thread_type_for

    # PyAV's default encoder threading makes x264 cut pictures into slices; x264's own frame threading does not
    sliced = make_bursts_clip(tmp_path / "sliced.mp4", duration=2.0, width=256, height=144,
                              options={"x264-params": "slices=4"})
    whole = make_bursts_clip(tmp_path / "whole.mp4", duration=2.0, width=256, height=144,
                             options={"x264-params": "sliced-threads=0"})
    a, b = read_packets(sliced.path), read_packets(whole.path)
    assert np.median(a.slices) >= 2 and a.sliced and thread_type_for(a) == "SLICE"
    assert np.median(b.slices) == 1 and not b.sliced and thread_type_for(b) == "AUTO"  # frame threads


class _FakeSideData:
    def __init__(self, mv: np.ndarray) -> None:
        self.mv = mv

    def __len__(self) -> int:
        return len(self.mv)

    def to_ndarray(self) -> np.ndarray:
        return self.mv


class _FakeFrame:
    """Just what exported_field reads: size and side data (not an av.VideoFrame, so its own side_data is used)."""

    def __init__(self, mv: np.ndarray, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.side_data = {"MOTION_VECTORS": _FakeSideData(mv)}


def test_motion_painting_of_partitions_larger_than_a_macroblock(bikes):
    # codecs with 32x32 or 64x16 partitions take the multi-cell path; it must paint like vector by vector,
    # including past-reference vectors winning over future ones where both cover a cell
    with av.open(str(bikes)) as c:
        s = c.streams.video[0]
        s.codec_context.options = {"flags2": "+export_mvs"}
        dtype = next(f.side_data["MOTION_VECTORS"].to_ndarray().dtype for f in c.decode(s)
                     if "MOTION_VECTORS" in f.side_data)
    rng = np.random.default_rng(3)
    n = 300
    mv = np.zeros(n, dtype=dtype)
    shapes = np.array([(16, 16), (32, 32), (64, 16), (8, 8), (16, 64)])
    pick = shapes[rng.integers(0, len(shapes), n)]
    mv["w"], mv["h"] = pick[:, 0], pick[:, 1]
    mv["dst_x"] = rng.integers(0, 320, n)
    mv["dst_y"] = rng.integers(0, 176, n)
    mv["source"] = rng.choice([-1, 1], n)
    mv["motion_x"], mv["motion_y"] = rng.integers(-64, 64, n), rng.integers(-64, 64, n)
    mv["motion_scale"] = 4
    frame = _FakeFrame(mv, 320, 176)
    fast, slow = exported_field(frame, 88, 160), _painted_one_by_one(frame, 88, 160)
    assert fast.shape == slow.shape == (2, 88, 160)
    assert np.allclose(fast, slow, atol=1e-5) and np.abs(fast).max() > 0
