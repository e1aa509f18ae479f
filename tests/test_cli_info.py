"""``ov2 info``: what the packet pass sees, as text and as JSON equal to probe's values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run_cli

import ov2
from ov2.io.probe import inspect
from ov2.samples import make_bursts_clip
from ov2.viz.packets import per_second_bytes, sparkline


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_bursts_clip(tmp_path_factory.mktemp("cli_info") / "clip.mp4", duration=6.0, width=192, height=112)


def test_json_equals_probe(clip):
    code, stdout, stderr = run_cli(["info", str(clip.path), "--json"])
    assert code == 0, stderr
    r = json.loads(stdout)
    info, packets = inspect(clip.path)
    assert r["frame_count"] == packets.frame_count == len(clip.times)
    assert r["keyframes"] == int(packets.key.sum()) == info.keyframes
    np.testing.assert_allclose(r["keyframe_times"], packets.pts[packets.key], atol=1e-6)
    assert r["b_frames"] == bool(packets.reordered.any())
    assert r["reordered_packets"] == int(packets.reordered.sum())
    assert (r["width"], r["height"], r["codec"], r["rotation"]) == (192, 112, "h264", 0)
    assert r["duration"] == pytest.approx(packets.duration)
    assert r["fps"] == pytest.approx(25.0)
    assert r["stream_bytes"] == int(packets.size.sum())
    assert r["motion_source"] == "exported" and r["intra_only"] is False
    # P/B bytes per bin add up to every non-key packet
    assert sum(r["pb_bytes"]["values"]) == int(packets.size[~packets.key].sum())
    assert r["energy_profile"]["bins"] == len(r["energy_profile"]["values"]) == 12  # 6 s / 0.5 s


def test_per_second_bytes_bins_by_pts(clip):
    _, packets = inspect(clip.path)
    t0, v = per_second_bytes(packets, 1.0)
    assert len(v) == 6
    second = packets.pts.astype(int)
    for k in range(6):
        assert v[k] == packets.size[(second == k) & ~packets.key].sum()
    # the ball moves in (0.72, 1.08), (2.4, 2.64), ... : the second holding a burst costs more than a still one
    assert v[2] > v[3]


def test_text_report(clip):
    code, stdout, _ = run_cli(["info", str(clip.path)])
    assert code == 0
    assert f"{len(clip.times)} frames" in stdout
    assert "motion       exported" in stdout
    assert stdout.count("|") == 4  # two sparklines


@pytest.mark.parametrize("codec,ext,expected", [("mjpeg", ".mkv", "frame-difference"),
                                                  ("libx265", ".mp4", "estimated")])
def test_motion_source_matches_what_tokenize_uses(codec, ext, expected, tmp_path):
    clip = make_bursts_clip(tmp_path / f"c{ext}", duration=2.0, width=160, height=96, codec=codec)
    info, _ = inspect(clip.path)
    assert info.planned_motion_source == expected
    vi = ov2.tokenize(clip.path, backend="codec", canvases=4, max_pixels=20000)
    assert vi.meta["motion_source"] == expected
    code, stdout, _ = run_cli(["info", str(clip.path), "--json"])
    assert json.loads(stdout)["motion_source"] == expected


def test_sparkline_scales_min_to_max():
    s = sparkline(np.array([0.0, 5.0, 10.0]))
    assert len(s) == 3 and s[0] == "▁" and s[-1] == "█" and s[1] not in "▁█"
    assert sparkline(np.array([3.0, 3.0])) == "▁▁"
    assert sparkline(np.array([1.0, 2.0]), ascii_only=True).isascii()


@pytest.mark.parametrize("kind", ["missing", "random"])
def test_bad_input_exits_2(kind, tmp_path):
    path = tmp_path / "x.mp4"
    if kind == "random":
        path.write_bytes(np.random.default_rng(2).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    code, stdout, stderr = run_cli(["info", str(path)])
    assert code == 2 and stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ov2 info: error:") and "x.mp4" in lines[0]
