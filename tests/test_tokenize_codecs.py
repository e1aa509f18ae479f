"""Every codec family, variable frame rate and rotation, on clips encoded with PyAV."""

from __future__ import annotations

import av
import numpy as np
import pytest

import ov2
from ov2.io.encode import VideoWriter
from ov2.samples import make_bursts_clip
from video_helpers import remux_video

FAMILIES = [
    # encoder, container, expected decoder name, expected motion source
    ("libx264", "mp4", "h264", "exported"),
    ("mpeg4", "mp4", "mpeg4", "exported"),
    ("mpeg2video", "mkv", "mpeg2video", "exported"),
    ("libx265", "mp4", "hevc", "estimated"),
    ("libvpx-vp9", "webm", "vp9", "estimated"),
    ("libsvtav1", "mkv", "av1", "estimated"),
]


@pytest.mark.parametrize("encoder,ext,decoder,motion", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_each_codec_family_tokenizes_with_the_right_motion_source(tmp_path, encoder, ext, decoder, motion):
    truth = make_bursts_clip(tmp_path / f"clip.{ext}", duration=6.0, width=256, height=144, codec=encoder,
                             bursts=[(1.0, 2.0), (4.0, 4.6)])
    vi = ov2.tokenize(truth.path, backend="codec", canvases=8)
    assert vi.meta["video"]["codec"] == decoder
    assert vi.meta["motion_source"] == motion
    assert vi.canvases.shape[0] == 8 and len(vi.groups) == 2
    # the moving ball dominates the P-canvases whatever the codec
    v = vi.tokens.valid & (vi.tokens.kind == "P")
    assert np.mean([truth.moving(t) for t in vi.tokens.time[v]]) > 0.7


def test_intra_only_stream_uses_equal_groups_and_frame_differences(tmp_path):
    truth = make_bursts_clip(tmp_path / "clip.avi", duration=4.0, width=160, height=96, codec="mjpeg")
    vi = ov2.tokenize(truth.path, backend="codec", canvases=8)
    assert vi.meta["video"]["intra_only"] is True
    assert vi.meta["motion_source"] == "frame-difference"
    assert any(f.startswith("equal-groups") for f in vi.meta["fallback"])
    assert [round(g.duration, 1) for g in vi.groups] == [2.0, 2.0]


def test_variable_frame_rate_tokens_carry_their_frames_own_pts(tmp_path):
    truth = make_bursts_clip(tmp_path / "vfr.mkv", duration=8.0, width=224, height=128, vfr=True)
    with av.open(str(truth.path)) as c:
        s = c.streams.video[0]
        decoded = sorted(float(f.pts * s.time_base) for f in c.decode(s))
    steps = np.diff(decoded)
    assert steps.max() > 1.5 * steps.min()  # really variable
    for backend in ("codec", "frames"):
        vi = ov2.tokenize(truth.path, backend=backend, canvases=8)
        v = vi.tokens.valid
        for f, t in zip(vi.tokens.frame[v], vi.tokens.time[v]):
            assert t == pytest.approx(decoded[f], abs=1e-3)


@pytest.mark.parametrize("rotation", [90, -90])
def test_rotated_phone_clip_comes_out_upright(tmp_path, rotation):
    # Upright portrait picture 96 wide x 160 tall: red band on top, blue at the bottom.
    up = np.full((160, 96, 3), 128, np.uint8)
    up[:30] = (255, 0, 0)
    up[-30:] = (0, 0, 255)
    coded = np.ascontiguousarray(np.rot90(up, -rotation // 90))  # what the camera stores
    path = tmp_path / "phone.mp4"
    with VideoWriter(path, coded.shape[1], coded.shape[0], rotation=rotation) as out:
        for i in range(30):
            img = coded.copy()
            img[40 + i : 50 + i, 40:50] = 255  # a little motion
            out.write(img)
    for backend in ("codec", "frames"):
        vi = ov2.tokenize(path, backend=backend, canvases=4, min_pixels=10_000)
        assert (vi.meta["video"]["width"], vi.meta["video"]["height"]) == (96, 160)
        img = vi.canvases[0].astype(int)
        assert img.shape[0] > img.shape[1]  # portrait
        top, bottom = img[: img.shape[0] // 8].mean((0, 1)), img[-img.shape[0] // 8 :].mean((0, 1))
        assert top[0] > 200 and top[2] < 60, top
        assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_tiny_frames_work(tmp_path):
    truth = make_bursts_clip(tmp_path / "tiny.mp4", duration=3.0, width=16, height=16)
    vi = ov2.tokenize(truth.path, canvases=4)
    assert vi.canvases.shape[1] * vi.canvases.shape[2] >= 3136
    assert vi.canvases.shape[0] == 4


def test_stream_starting_at_a_nonzero_pts(tmp_path):
    truth = make_bursts_clip(tmp_path / "a.mp4", duration=6.0, width=224, height=128, bursts=[(1.0, 2.5)])
    shifted = tmp_path / "shifted.mp4"
    with av.open(str(truth.path)) as inp, av.open(str(shifted), "w") as out:
        ins = inp.streams.video[0]
        outs = out.add_stream_from_template(ins)
        offset = int(7.0 / ins.time_base)
        for pkt in inp.demux(ins):
            if pkt.dts is None:
                continue
            pkt.pts += offset
            pkt.dts += offset
            pkt.stream = outs
            out.mux(pkt)
    vi = ov2.tokenize(shifted, canvases=8)
    assert vi.meta["video"]["start_time"] == pytest.approx(7.0, abs=0.05)
    assert vi.groups[0].start == pytest.approx(7.0, abs=0.05)
    assert vi.groups[-1].end == pytest.approx(13.0, abs=0.1)
    t = vi.tokens.time[vi.tokens.valid]
    assert t.min() >= 7.0 - 1e-6
    # the burst (1.0-2.5 s in the original) is where its group's P-canvases look, 7 s later
    g = next(g for g in vi.groups if g.start <= 8.5 < g.end)
    p = vi.tokens.valid & (vi.tokens.kind == "P") & (vi.tokens.group == g.index)
    assert np.mean((vi.tokens.time[p] >= 8.0) & (vi.tokens.time[p] < 9.6)) > 0.7


def test_raw_elementary_stream_without_timestamps(tmp_path):
    truth = make_bursts_clip(tmp_path / "a.mp4", duration=6.0, width=224, height=128, bursts=[(1.0, 2.0), (4.0, 5.0)])
    raw = remux_video(truth.path, tmp_path / "a.h264", "h264")
    vi = ov2.tokenize(raw, canvases=8)
    assert vi.meta["video"]["frame_count"] == len(truth.times)
    assert vi.meta["video"]["duration"] == pytest.approx(6.0, abs=0.1)
    p = vi.tokens.valid & (vi.tokens.kind == "P")
    assert np.mean([truth.moving(t) for t in vi.tokens.time[p]]) > 0.7


@pytest.mark.parametrize("backend", ["codec", "fixed"])
def test_tokenize_is_deterministic(bikes, backend):
    """Same input, same output: exported motion vectors under threaded decoding once varied run to run."""
    runs = [ov2.tokenize(bikes, backend=backend, canvases=8, max_pixels=20000) for _ in range(3)]
    for vi in runs[1:]:
        assert np.array_equal(vi.canvases, runs[0].canvases)
        assert all(np.array_equal(getattr(vi.tokens, f), getattr(runs[0].tokens, f)) for f in ("frame", "src_row", "src_col"))
