"""``ov2 tokenize``: every promised file exists, is valid and matches a direct ov2.tokenize call."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from cli_helpers import run_cli

import ov2
from ov2.samples import make_bursts_clip
from ov2.viz.canvases import read_png
from ov2.viz.outputs import MARKER

CANVASES = 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_bursts_clip(tmp_path_factory.mktemp("cli_tok") / "clip.mp4", duration=8.0, width=256, height=144)


@pytest.fixture(scope="module")
def codec_run(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_tok_out") / "tok"
    code, stdout, stderr = run_cli(["tokenize", str(clip.path), "--canvases", str(CANVASES), "--out", str(out),
                                    "--max-pixels", "40000"])
    assert code == 0, stderr
    direct = ov2.tokenize(clip.path, backend="codec", canvases=CANVASES, max_pixels=40000)
    return out, stdout, direct


def test_canvas_pngs_match_visual_input(codec_run):
    out, _, direct = codec_run
    pngs = sorted(out.glob("canvas_*.png"))
    assert len(pngs) == CANVASES == direct.num_canvases
    loaded = ov2.VisualInput.load(out / "visual_input")
    for k, p in enumerate(pngs):
        assert p.name == f"canvas_{k:03d}.png"
        img = read_png(p)
        np.testing.assert_array_equal(img, loaded.canvases[k])
        np.testing.assert_array_equal(img, direct.canvases[k])  # the CLI passed the options through


def test_png_channels_are_rgb(codec_run):
    # The sample's ball is red (230, 40, 30): in RGB order red dominates blue wherever it shows.
    out, _, direct = codec_run
    img = read_png(out / "canvas_000.png").astype(int)
    reddish = (img[..., 0] > 180) & (img[..., 2] < 80)
    bluish = (img[..., 2] > 180) & (img[..., 0] < 80)
    assert reddish.sum() > 20 and reddish.sum() > bluish.sum()


def test_visual_input_round_trips_tokens(codec_run):
    out, _, direct = codec_run
    loaded = ov2.VisualInput.load(out / "visual_input")
    for name, col in direct.tokens.as_dict().items():
        np.testing.assert_array_equal(getattr(loaded.tokens, name), col, err_msg=name)
    assert [g.start for g in loaded.groups] == [g.start for g in direct.groups]
    np.testing.assert_array_equal(loaded.positions, direct.positions)


def test_tokens_csv_has_one_row_per_token(codec_run):
    out, _, direct = codec_run
    with open(out / "tokens.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    t = direct.tokens
    assert len(rows) == len(t)
    assert list(rows[0]) == list(t.as_dict())
    np.testing.assert_array_equal([int(r["frame"]) for r in rows], t.frame)
    np.testing.assert_array_equal([int(r["canvas_col"]) for r in rows], t.canvas_col)
    times = [float(r["time"]) if r["time"] else math.nan for r in rows]
    np.testing.assert_array_equal(times, t.time)  # repr precision: exact
    assert [r["kind"] for r in rows] == t.kind.tolist()


def test_meta_json_parses_and_matches(codec_run):
    out, _, direct = codec_run
    meta = json.loads((out / "meta.json").read_text())
    assert meta["backend"] == "codec"
    assert meta["params"]["canvases"] == CANVASES
    assert meta["params"]["max_pixels"] == 40000
    assert meta["video"]["frame_count"] == direct.meta["video"]["frame_count"]
    assert meta["profile"]["energy"] == pytest.approx(direct.meta["profile"]["energy"])
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / MARKER).exists()


def test_summary_mentions_groups_canvases_and_tokens(codec_run):
    out, stdout, direct = codec_run
    groups = CANVASES // 4
    assert f"groups     {groups}\n" in stdout
    assert f"canvases   {CANVASES} x" in stdout
    v = int(direct.tokens.valid.sum())
    assert f"{v} valid, {len(direct.tokens) - v} padding" in stdout
    n_frames = len(np.unique(direct.tokens.frame[direct.tokens.valid]))
    assert f"{n_frames} distinct source frames" in stdout
    # one table row per group, starting with the group's index and its start/end times
    for g in direct.groups:
        assert any(line.split()[:3] == [str(g.index), f"{g.start:.2f}", f"{g.end:.2f}"]
                   for line in stdout.splitlines()), g
    assert str(out) in stdout


def test_frames_backend_window(clip, tmp_path):
    out = tmp_path / "frames"
    code, stdout, stderr = run_cli(["tokenize", str(clip.path), "--backend", "frames", "--canvases", "5",
                                    "--start", "2", "--end", "6", "--max-pixels", "30000", "--out", str(out),
                                    "--no-progress"])
    assert code == 0, stderr
    vi = ov2.VisualInput.load(out / "visual_input")
    assert vi.backend == "frames" and vi.num_canvases == 5 == len(list(out.glob("canvas_*.png")))
    times = vi.tokens.time[vi.tokens.valid]
    assert times.min() >= 2.0 and times.max() < 6.0
    assert "groups     5\n" in stdout


def test_rerun_replaces_own_output_but_refuses_foreign_directory(clip, tmp_path):
    out = tmp_path / "again"
    argv = ["tokenize", str(clip.path), "--canvases", "4", "--max-pixels", "20000", "--no-progress", "--out", str(out)]
    assert run_cli(argv)[0] == 0
    (out / "canvas_009.png").write_bytes(b"stale")  # left over from an imaginary bigger run
    assert run_cli(argv)[0] == 0
    assert not (out / "canvas_009.png").exists()
    assert len(list(out.glob("canvas_*.png"))) == 4
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code, _, stderr = run_cli(argv[:-1] + [str(foreign)])
    assert code == 2 and "not written by ov2" in stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob(".mine.*"))  # no temp directory left behind


@pytest.mark.parametrize("kind", ["missing", "random", "bad-option"])
def test_bad_input_exits_2_with_one_line(kind, clip, tmp_path):
    path = tmp_path / "in.mp4"
    extra: list[str] = []
    if kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif kind == "bad-option":
        path = clip.path
        extra = ["--canvases", "6"]  # not a multiple of images_per_group
    code, stdout, stderr = run_cli(["tokenize", str(path), "--out", str(tmp_path / "o"), "--no-progress", *extra])
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ov2 tokenize: error:"), stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "o").exists()
