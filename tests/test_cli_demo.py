"""``ov2 demo``: the page references every image it needs, the files exist, the table is right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

import ov2
from ov2.samples import default_bursts, make_bursts_clip
from ov2.viz.demo import burst_coverage, page_images

CANVASES = 8


@pytest.fixture(scope="module")
def sample_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo_out"
    code, stdout, stderr = run_cli(["demo", "--out", str(out), "--canvases", str(CANVASES), "--no-progress"])
    assert code == 0, stderr
    return out, stdout


def _check_page(out: Path) -> str:
    page = (out / "index.html").read_text()
    images = page_images(page)
    assert images, "page shows no image"
    for src in images:
        assert not Path(src).is_absolute()
        assert (out / src).is_file(), src
    for backend in ("codec", "frames"):
        canvases = [s for s in images if s.startswith(f"{backend}/canvas_")]
        assert len(canvases) == CANVASES == len(list((out / backend).glob("canvas_*.png")))
    assert "timelines.png" in images
    return page


def test_sample_page_is_complete(sample_demo):
    out, stdout = sample_demo
    _check_page(out)
    assert (out / "sample.mp4").is_file()
    assert f"page       {out / 'index.html'}" in stdout


def test_sample_table_matches_tokens(sample_demo):
    out, stdout = sample_demo
    summary = json.loads((out / "summary.json").read_text())
    bursts = [tuple(b) for b in summary["bursts"]]
    assert bursts == [tuple(b) for b in default_bursts(40.0)]
    for backend in ("codec", "frames"):
        vi = ov2.VisualInput.load(out / backend / "visual_input")
        assert vi.num_canvases == CANVASES and vi.backend == backend
        row = summary["backends"][backend]
        t = vi.tokens.time[vi.tokens.valid]
        inside = np.zeros(len(t), dtype=bool)
        for a, b in bursts:
            inside |= (t >= a) & (t < b)
        assert row["burst_token_share"] == pytest.approx(inside.mean())
        assert row["source_frames"] == len(np.unique(vi.tokens.frame[vi.tokens.valid]))
        line = next(s for s in stdout.splitlines() if s.startswith(backend))
        assert f"{100 * row['burst_token_share']:.0f}%" in line
    # the point of the demo: the codec backend spends its budget on the motion, uniform frames do not
    assert summary["backends"]["codec"]["burst_token_share"] > summary["backends"]["frames"]["burst_token_share"]
    assert summary["backends"]["codec"]["bursts_seen_share"] == 1.0


def test_demo_with_video_has_no_ground_truth(tmp_path):
    clip = make_bursts_clip(tmp_path / "own.mp4", duration=6.0, width=192, height=112)
    out = tmp_path / "d"
    code, stdout, stderr = run_cli(["demo", "--video", str(clip.path), "--out", str(out), "--canvases",
                                    str(CANVASES), "--no-progress"])
    assert code == 0, stderr
    _check_page(out)
    assert not (out / "sample.mp4").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bursts"] is None
    assert summary["backends"]["codec"]["burst_token_share"] is None
    assert "no ground truth" in stdout
    vi = ov2.VisualInput.load(out / "codec" / "visual_input")
    assert burst_coverage(vi, None)["source_frames"] == summary["backends"]["codec"]["source_frames"]


@pytest.mark.parametrize("extra", [["--video", "none.mp4"], ["--canvases", "6"]])
def test_demo_bad_input_exits_2(extra, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(["demo", *extra, "--out", str(tmp_path / "d"), "--no-progress"])
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ov2 demo: error:")
    assert not (tmp_path / "d").exists()
