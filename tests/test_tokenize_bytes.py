"""``ov2.tokenize`` on a video's bytes or a binary file object equals tokenizing its path."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import ov2
from ov2.samples import make_bursts_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("bytes") / "clip.mp4"
    make_bursts_clip(path, duration=3.0, width=160, height=96)
    return path


@pytest.mark.parametrize("backend", ["codec", "frames"])
def test_bytes_and_file_object_equal_path(clip, backend):
    ref = ov2.tokenize(clip, backend=backend, canvases=4, max_pixels=20000)
    data = clip.read_bytes()
    with open(clip, "rb") as f:
        from_file = ov2.tokenize(f, backend=backend, canvases=4, max_pixels=20000)
    for vi in (ov2.tokenize(data, backend=backend, canvases=4, max_pixels=20000), from_file):
        assert np.array_equal(vi.canvases, ref.canvases)
        assert np.array_equal(vi.positions, ref.positions)
    assert from_file.meta["video"]["path"] == f"<file object {clip}>"


def test_bad_bytes_raise_ov2_errors(clip):
    with pytest.raises(ov2.VideoFormatError, match=re.escape("<bytes>: the video is empty (0 bytes)")):
        ov2.tokenize(b"")
    with pytest.raises(ov2.VideoFormatError, match=re.escape("<bytes>: not a readable video file")):
        ov2.tokenize(b"\\x00" * 4096, canvases=4)
    with pytest.raises(ov2.VideoFormatError, match="opened in text mode"):
        ov2.tokenize(io.StringIO("not bytes"))
    with pytest.raises(TypeError, match="got int"):
        ov2.tokenize(12)
