"""Bad input: one exception family (ov2.VideoError), a message naming the problem, no hang."""

from __future__ import annotations

import os

import av
import cv2
import numpy as np
import pytest

import ov2
from ov2.io.encode import VideoWriter
from ov2.samples import make_bursts_clip


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    return make_bursts_clip(tmp_path_factory.mktemp("bad") / "ok.mp4", duration=3.0, width=160, height=96).path


def _assert_raises(exc_type, path, match, **kw):
    with pytest.raises(exc_type, match=match) as info:
        ov2.tokenize(path, **kw)
    assert isinstance(info.value, ov2.VideoError)
    return info.value


def test_missing_path(tmp_path):
    _assert_raises(ov2.VideoNotFoundError, tmp_path / "nope.mp4", "no such file")


def test_directory_instead_of_file(tmp_path):
    _assert_raises(ov2.VideoNotFoundError, tmp_path, "not a regular file")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    _assert_raises(ov2.VideoFormatError, p, "empty")


def test_random_bytes(tmp_path):
    p = tmp_path / "noise.mp4"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    _assert_raises(ov2.VideoError, p, "noise.mp4")


def test_truncated_mp4(tmp_path, small_clip):
    data = small_clip.read_bytes()
    for cut in (len(data) // 2, 100):
        p = tmp_path / f"cut{cut}.mp4"
        p.write_bytes(data[:cut])
        _assert_raises(ov2.VideoFormatError, p, "truncated")


def test_truncated_stream_with_index_first_keeps_what_it_has(tmp_path):
    # A fragmented/fast-start mp4 keeps its index at the front: cutting it loses only the tail.
    src = make_bursts_clip(tmp_path / "fs.mp4", duration=4.0, width=160, height=96,
                           options={"movflags": "+faststart"}).path
    data = src.read_bytes()
    p = tmp_path / "fs_cut.mp4"
    p.write_bytes(data[: int(len(data) * 0.6)])
    try:
        vi = ov2.tokenize(p, canvases=4)
    except ov2.VideoError as exc:  # acceptable: one clear error
        assert "fs_cut.mp4" in str(exc)
    else:
        assert vi.canvases.shape[0] == 4


def test_audio_only_file(tmp_path):
    p = tmp_path / "sound.wav"
    with av.open(str(p), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in s.encode(frame):
            out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    _assert_raises(ov2.NoVideoStreamError, p, "no video stream")


def test_still_image(tmp_path):
    p = tmp_path / "photo.png"
    cv2.imwrite(str(p), np.full((64, 64, 3), 100, np.uint8))
    _assert_raises(ov2.EmptyVideoError, p, "still image")


def test_one_frame_video(tmp_path):
    p = tmp_path / "one.mp4"
    with VideoWriter(p, 64, 64) as out:
        out.write(np.zeros((64, 64, 3), np.uint8))
    _assert_raises(ov2.EmptyVideoError, p, "single frame")


def test_huge_frames_are_refused_before_decoding(tmp_path):
    p = tmp_path / "huge.mkv"
    with VideoWriter(p, 16400, 16, fps=1, encoder="mjpeg", pix_fmt="yuvj420p") as out:
        for _ in range(2):
            out.write(np.zeros((16, 16400, 3), np.uint8))
    _assert_raises(ov2.UnsupportedVideoError, p, "frame size")


def test_large_frames_are_downscaled(tmp_path):
    p = make_bursts_clip(tmp_path / "big.mp4", duration=0.4, width=3840, height=2160, fps=10).path
    vi = ov2.tokenize(p, canvases=4)
    assert vi.canvases.shape[1] * vi.canvases.shape[2] <= 150_000


@pytest.mark.parametrize("kw,match", [
    (dict(canvases=6), "multiple of images_per_group"),
    (dict(canvases=0), "positive integer"),
    (dict(canvases=-4), "positive integer"),
    (dict(canvases=4.0), "positive integer"),
    (dict(canvases=8, images_per_group=0), "positive integer"),
    (dict(backend="uniform"), "backend must be one of"),
    (dict(start=2.0, end=1.0), "must be after start"),
    (dict(start=100.0), "does not overlap"),
    (dict(energy="bits"), "energy must be one of"),
    (dict(frobnicate=1), "unknown option"),
    (dict(max_pixels=100), "min_pixels <= max_pixels"),
    (dict(max_pixels=500, min_pixels=100), "below one"),
    (dict(canvases=400), "groups requested"),
])
def test_bad_options(small_clip, kw, match):
    kw = {"canvases": 8, **kw}
    with pytest.raises(ov2.InvalidOptionError, match=match):
        ov2.tokenize(small_clip, **kw)


def test_errors_leave_no_partial_output(tmp_path, small_clip):
    vi = ov2.tokenize(small_clip, canvases=4)
    out = tmp_path / "out"
    vi.save(out)
    before = sorted(os.listdir(out))
    with pytest.raises(ov2.VideoError):
        ov2.tokenize(tmp_path / "missing.mp4")
    assert sorted(os.listdir(out)) == before
