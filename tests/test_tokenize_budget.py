"""Exact budgets, group tiling, token/position structure and pixel provenance on real H.264."""

from __future__ import annotations

import av
import numpy as np
import pytest

import ov2
from ov2.io.frames import to_rgb


@pytest.mark.parametrize("backend", ["codec", "fixed"])
@pytest.mark.parametrize("canvases", [4, 16, 40])
def test_codec_and_fixed_give_exact_canvases_and_groups(bikes, backend, canvases):
    vi = ov2.tokenize(bikes, backend=backend, canvases=canvases)
    h, w = vi.grid_hw
    assert vi.canvases.shape == (canvases, vi.meta["processed"]["height"], vi.meta["processed"]["width"], 3)
    assert vi.canvases.dtype == np.uint8
    assert len(vi.groups) == canvases // 4
    assert [g.canvases for g in vi.groups] == [list(range(4 * i, 4 * i + 4)) for i in range(canvases // 4)]
    assert len(vi.tokens) == canvases * h * w
    assert np.array_equal(np.bincount(vi.tokens.canvas, minlength=canvases), np.full(canvases, h * w))
    kinds = vi.tokens.kind.reshape(canvases, h * w)[:, 0]
    assert list(kinds) == ["I", "P", "P", "P"] * (canvases // 4)


@pytest.mark.parametrize("canvases", [1, 7, 32])
def test_frames_gives_exactly_n_whole_frames(bikes, canvases):
    vi = ov2.tokenize(bikes, backend="frames", canvases=canvases)
    assert vi.canvases.shape[0] == canvases
    assert set(vi.tokens.kind) == {"F"}
    per_canvas = vi.tokens.frame.reshape(canvases, -1)
    assert (per_canvas == per_canvas[:, :1]).all()  # one source frame per canvas
    frames = per_canvas[:, 0]
    assert (np.diff(frames) > 0).all()  # distinct, in time order (bikes has 250 frames)
    # uniform in time: every frame sits in its own slice of the video
    for g, f in zip(vi.groups, frames):
        t = vi.tokens.time[vi.tokens.frame == f][0]
        assert g.start - 1e-6 <= t < g.end + 1e-6


@pytest.mark.parametrize("backend", ["codec", "fixed", "frames"])
def test_groups_tile_the_window_and_tokens_stay_in_their_group(bikes, backend):
    vi = ov2.tokenize(bikes, backend=backend, canvases=16, start=1.3, end=8.7)
    assert vi.groups[0].start == pytest.approx(1.3)
    assert vi.groups[-1].end == pytest.approx(8.7)
    for a, b in zip(vi.groups, vi.groups[1:]):
        assert a.end == pytest.approx(b.start)  # no gap, no overlap
        assert a.end > a.start
    v = vi.tokens.valid
    assert ((vi.tokens.time[v] >= 1.3 - 1e-6) & (vi.tokens.time[v] < 8.7)).all()
    for g in vi.groups:
        sel = v & (vi.tokens.group == g.index)
        assert sel.any()
        assert (vi.tokens.time[sel] >= g.start - 1e-6).all() and (vi.tokens.time[sel] < g.end + 1e-6).all()


def test_blocks_are_four_adjacent_patches_of_one_frame_and_positions_agree(bikes):
    vi = ov2.tokenize(bikes, backend="codec", canvases=8)
    t = vi.tokens
    n = len(t) // 4
    f = t.frame.reshape(n, 4)
    assert (f == f[:, :1]).all()
    for rows, cols in ((t.src_row, t.src_col), (t.canvas_row, t.canvas_col)):
        r, c = rows.reshape(n, 4), cols.reshape(n, 4)
        valid = f[:, 0] >= 0
        assert (r[valid] - r[valid, :1] == [0, 0, 1, 1]).all()
        assert (c[valid] - c[valid, :1] == [0, 1, 0, 1]).all()
        assert (r[valid, 0] % 2 == 0).all() and (c[valid, 0] % 2 == 0).all()
    # blocks fill each canvas in raster order
    h, w = vi.grid_hw
    cr = t.canvas_row.reshape(-1, h * w)[0, ::4] // 2
    cc = t.canvas_col.reshape(-1, h * w)[0, ::4] // 2
    assert np.array_equal(cr * (w // 2) + cc, np.arange(h * w // 4))
    pos = vi.positions
    assert pos.dtype == np.int64 and pos.shape == (int(t.valid.sum()), 3)
    assert np.array_equal(pos[:, 0], t.frame[t.valid])
    assert np.array_equal(pos[:, 1], t.src_row[t.valid])
    assert np.array_equal(pos[:, 2], t.src_col[t.valid])
    # inside a P-canvas, blocks are laid out in time order, then block row, then column
    for canvas in range(1, 4):
        sel = (t.canvas == canvas) & t.valid
        key = np.stack([t.frame[sel][::4], t.src_row[sel][::4], t.src_col[sel][::4]], 1)
        assert (np.lexsort(key.T[::-1]) == np.arange(len(key))).all()


def test_canvas_pixels_come_from_the_named_source_patches(bikes):
    """Re-decode every source frame independently and compare each patch's pixels."""
    vi = ov2.tokenize(bikes, backend="codec", canvases=8)
    h, w = vi.meta["processed"]["height"], vi.meta["processed"]["width"]
    needed = set(vi.tokens.frame[vi.tokens.valid].tolist())
    decoded = {}
    with av.open(str(bikes)) as c:
        for i, frame in enumerate(c.decode(video=0)):  # bikes: constant rate, index == decode-output order
            if i in needed:
                decoded[i] = to_rgb(frame, h, w)
    p = vi.patch_size
    pix = vi.patch_pixels()
    t = vi.tokens
    v = t.valid
    for k, (f, r, c) in enumerate(zip(t.frame[v], t.src_row[v], t.src_col[v])):
        assert np.array_equal(pix[k], decoded[f][r * p : (r + 1) * p, c * p : (c + 1) * p])


def test_save_and_load_round_trip(tmp_path, bikes):
    vi = ov2.tokenize(bikes, backend="codec", canvases=8)
    vi.save(tmp_path / "vi")
    back = ov2.VisualInput.load(tmp_path / "vi")
    assert np.array_equal(back.canvases, vi.canvases)
    for name, col in vi.tokens.as_dict().items():
        assert np.array_equal(getattr(back.tokens, name), col, equal_nan=name == "time")
    assert [(g.start, g.end, g.canvases) for g in back.groups] == [(g.start, g.end, g.canvases) for g in vi.groups]
    assert back.meta["params"] == vi.meta["params"]
    vi.save(tmp_path / "vi")  # overwriting an existing save works
    assert (tmp_path / "vi" / "canvases.npy").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_meta_records_video_facts_parameters_and_timings(bbb):
    vi = ov2.tokenize(bbb, canvases=8, max_pixels=100_000, w_bits=0.25)
    m = vi.meta
    assert m["video"]["codec"] == "h264" and (m["video"]["width"], m["video"]["height"]) == (1280, 720)
    assert m["video"]["frame_count"] == 132
    assert m["video"]["duration"] == pytest.approx(132 / 25, abs=0.05)
    assert m["params"]["w_bits"] == 0.25 and m["params"]["max_pixels"] == 100_000
    assert m["processed"]["height"] * m["processed"]["width"] <= 100_000
    assert m["motion_source"] == "exported"
    assert {"packet_pass", "decode_and_score", "total"} <= set(m["timings"])
    prof = m["profile"]
    assert len(prof["energy"]) == int(np.ceil(m["window"]["end"] / prof["bin_seconds"] - 1e-9))


@pytest.mark.parametrize("backend", ["codec", "fixed"])
def test_candidates_per_group_bounds_the_source_frames_of_each_group(bikes, backend):
    # Each source frame of a P-canvas becomes one `<t seconds>` run of the prompt: fewer candidates
    # per group give fewer, fuller runs at the same number of visual tokens.
    def frames_per_group(vi):
        p = vi.tokens.valid & (vi.tokens.kind == "P")
        return [len(np.unique(vi.tokens.frame[p & (vi.tokens.group == g)])) for g in range(len(vi.groups))]

    default = ov2.tokenize(bikes, backend=backend, canvases=8)
    few = ov2.tokenize(bikes, backend=backend, canvases=8, candidates_per_group=6)
    assert len(few.tokens) == len(default.tokens)
    assert max(frames_per_group(few)) <= 6 < max(frames_per_group(default))
    assert few.meta["params"]["candidates_per_group"] == 6
