"""`ov2 data pointing|tracking|traces`: exact ground truth, seeded, resumable, typed errors on bad ground truth."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ov2.cli import main
from ov2.data import load_jsonl, pointing, traces, tracking
from ov2.data.grounding import COLOURS
from ov2.data.scene import load_labels
from ov2.data.shapes import GroundTruthError
from ov2.eval.points import parse_points, parse_trace

CLIP = dict(width=160, height=96, duration=(2.0, 3.0), fps=10, workers=1, progress=False)


def _inside(labels: np.ndarray, label: int, x: float, y: float) -> bool:
    """A 0-1000 point mapped back to pixels (round and floor) lies on ``label``."""
    h, w = labels.shape
    px, py = x / 1000 * w, y / 1000 * h
    return all(labels[int(f(py)), int(f(px))] == label for f in (round, np.floor))


@pytest.fixture(scope="module")
def pt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pt")
    pointing.generate(out, 4, seed=3, width=160, height=128, progress=False)
    return out


def test_pointing_ground_truth_is_exact(pt: Path) -> None:
    for rec in load_jsonl(pt / "pointing.jsonl"):
        img = cv2.imread(rec["image_path"])[..., ::-1]
        labels = cv2.imread(rec["masks_path"], cv2.IMREAD_UNCHANGED)
        assert img.shape[:2] == labels.shape == (128, 160)
        for k, obj in enumerate(rec["objects"]):
            mask = labels == k + 1
            assert mask.any()
            # Lossless picture: the object's pixels are exactly its colour, and no background pixel is.
            assert (img[mask] == COLOURS[obj["colour"]]).all()
        colours = np.array(list(COLOURS.values()))
        exact = (img[:, :, None, :] == colours[None, None]).all(-1).any(-1)
        assert not (exact & (labels == 0)).any()
        kinds = {(rec["objects"][k]["colour"], rec["objects"][k]["shape"]) for k in rec["targets"]}
        assert len(kinds) == 1  # every target is of the queried kind, and every object of that kind is a target
        assert [k for k, o in enumerate(rec["objects"]) if (o["colour"], o["shape"]) in kinds] == sorted(rec["targets"])
        parsed = parse_points(rec["answer"])
        assert parsed.unparsed == 0 and len(parsed.records) == len(rec["targets"])
        assert sorted((r.id, r.x, r.y) for r in parsed.records) == sorted((p[1], p[2], p[3]) for p in rec["points"])
        for t, j, x, y in rec["points"]:
            assert t == 1 and _inside(labels, rec["targets"][j] + 1, x, y)


def test_pointing_is_seeded_and_resumable(pt: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    pointing.generate(again, 4, seed=3, width=160, height=128, progress=False)
    for name in ("pointing.jsonl", "images/pointing_s3_00002.png", "masks/pointing_s3_00002.png"):
        assert (again / name).read_bytes() == (pt / name).read_bytes()
    png = again / "images" / "pointing_s3_00001.png"
    before = png.stat().st_mtime_ns
    (again / "images" / "pointing_s3_00003.json").write_text("{")  # a sample cut off before its json landed
    pointing.generate(again, 4, seed=3, width=160, height=128, progress=False)
    assert png.stat().st_mtime_ns == before  # complete samples are kept
    assert json.loads((again / "images" / "pointing_s3_00003.json").read_text())["signature"]
    other = tmp_path / "other"
    pointing.generate(other, 1, seed=4, width=160, height=128, progress=False)
    assert load_jsonl(other / "pointing.jsonl")[0]["points"] != load_jsonl(again / "pointing.jsonl")[0]["points"]


def test_pointing_empty_mask_is_an_error(tmp_path: Path) -> None:
    plan = pointing.plan_image(0, 0, width=160, height=128)
    hidden = dataclasses.replace(plan.objects[0], x=-500.0)  # off the image: no pixel, no exact point
    plan.objects[0] = hidden
    with pytest.raises(GroundTruthError, match="object 0 .* has an empty mask"):
        pointing.write_sample(plan, tmp_path)
    assert not (tmp_path / "images").exists()


@pytest.fixture(scope="module")
def tr(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tr")
    tracking.generate(out, 3, seed=2, answer_fps=2.0, **CLIP)
    return out


def test_tracking_ground_truth_is_exact(tr: Path) -> None:
    import av

    for rec in load_jsonl(tr / "tracking.jsonl"):
        labels = load_labels(rec["masks_path"])
        assert labels.shape == (rec["n_frames"], 96, 160)
        with av.open(rec["video_path"]) as c:
            assert sum(1 for _ in c.decode(video=0)) == rec["n_frames"]
        plan = tracking.TrackingPlan.from_json(json.loads(Path(rec["boxes_path"]).read_text())["plan"])
        assert len(plan.movers) >= 3 and 1 <= len(rec["targets"]) <= 3
        parsed = parse_points(rec["answer"])
        assert parsed.kind == "tracks" and parsed.unparsed == 0
        assert [(r.t, r.id, r.x, r.y) for r in parsed.records] == [tuple(p) for p in rec["points"]]
        times = sorted({p[0] for p in rec["points"]})
        assert all(abs(t * 2 - round(t * 2)) < 1e-9 for t in times)  # on the 2-per-second answer grid
        for t, j, x, y in rec["points"]:
            frame = round(t * rec["fps"])
            assert _inside(labels[frame], rec["targets"][j] + 1, x, y)
        # A target missing at an answer time is hidden there: no visible pixel safe to point at.
        for t, frame in plan.answer_frames():
            for j, k in enumerate(rec["targets"]):
                if not any(p[0] == t and p[1] == j for p in rec["points"]):
                    assert (labels[frame] == k + 1).sum() < 9


def test_tracking_boxes_follow_the_masks_and_are_resumable(tr: Path, tmp_path: Path) -> None:
    rec = load_jsonl(tr / "tracking.jsonl")[0]
    doc = json.loads(Path(rec["boxes_path"]).read_text())
    labels = load_labels(rec["masks_path"])
    for i in (0, rec["n_frames"] - 1):
        for k, box in enumerate(doc["boxes"][i]):
            rows, cols = np.nonzero(labels[i] == k + 1)
            assert box == ([int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]
                           if rows.size else None)
    again = tmp_path / "tr"
    tracking.generate(again, 3, seed=2, answer_fps=2.0, **CLIP)
    assert (again / "tracking.jsonl").read_text() == (tr / "tracking.jsonl").read_text()
    assert np.array_equal(load_labels(again / "clips" / "tracking_s2_0001.masks.npz"),
                          load_labels(tr / "clips" / "tracking_s2_0001.masks.npz"))
    mp4 = again / "clips" / "tracking_s2_0000.mp4"
    before = mp4.stat().st_mtime_ns
    (again / "clips" / "tracking_s2_0002.masks.npz").unlink()  # interrupted clip: redone
    tracking.generate(again, 3, seed=2, answer_fps=2.0, **CLIP)
    assert mp4.stat().st_mtime_ns == before and (again / "clips" / "tracking_s2_0002.masks.npz").is_file()


def test_tracking_target_that_never_appears_is_an_error(tmp_path: Path) -> None:
    plan = tracking.plan_clip(0, 0, width=160, height=96, duration=(2.0, 2.0), fps=10)
    plan.occluder = [0, 160]  # a pillar over the whole frame hides every target throughout
    job = (plan.to_json(), str(tmp_path))
    with pytest.raises(GroundTruthError, match="never appears at an answer time"):
        tracking.render_clip(job)
    assert not list(tmp_path.iterdir())


def test_tracking_target_range() -> None:
    """``targets`` narrows how many objects are tracked; the default range draws the same clips as before."""
    counts = {r: [len(tracking.plan_clip(1, i, targets=r).targets) for i in range(24)] for r in ((1, 1), (3, 3), (1, 3))}
    assert set(counts[(1, 1)]) == {1} and set(counts[(3, 3)]) == {3} and set(counts[(1, 3)]) == {1, 2, 3}
    assert tracking.plan_clip(1, 5) == tracking.plan_clip(1, 5, targets=(1, 3))
    single = tracking.plan_clip(1, 5, targets=(1, 1))
    assert len(single.movers) >= 3  # distractors stay: only the tracked count changes
    for bad in ((0, 1), (2, 1), (1, 4)):
        with pytest.raises(ValueError, match="targets must be a range"):
            tracking.plan_clip(1, 0, targets=bad)


def test_traces_waypoints_follow_the_rendered_object(tmp_path: Path) -> None:
    traces.generate(tmp_path, 2, seed=1, **CLIP)
    for rec in load_jsonl(tmp_path / "traces.jsonl"):
        wp = np.array(rec["waypoints"])
        assert 5 <= len(wp) <= 10 and wp.shape[1] == 3
        assert np.allclose(parse_trace(rec["answer"]).points, wp)
        labels = load_labels(rec["masks_path"])
        mover = rec["mover"] + 1
        for frame, point in ((0, wp[0]), (rec["n_frames"] - 1, wp[-1])):  # the object rests at both ends
            rows, cols = np.nonzero(labels[frame] == mover)
            centre = ((cols.mean() + 0.5) / 160 * 1000, (rows.mean() + 0.5) / 96 * 1000)
            assert np.hypot(centre[0] - point[0], centre[1] - point[1]) < 40  # ~6 px: the shape's own centroid
        # Nearer means bigger: the mover's area follows 1 / depth^2 between the two ends.
        a0, a1 = (labels[0] == mover).sum(), (labels[-1] == mover).sum()
        if abs(wp[0, 2] - wp[-1, 2]) > 0.3:
            assert (a0 > a1) == (wp[0, 2] < wp[-1, 2])


def test_traces_object_off_frame_is_an_error(tmp_path: Path) -> None:
    plan = traces.plan_clip(0, 0, width=160, height=96, duration=(2.0, 2.0), fps=10)
    plan.control[0] = [-400.0, -400.0]
    with pytest.raises(GroundTruthError, match="not visible in frame 0"):
        traces.render_clip((plan.to_json(), str(tmp_path)))


def test_data_cli_writes_and_reports_bad_sizes(tmp_path: Path, capsys) -> None:
    assert main(["data", "tracking", "--out", str(tmp_path / "t"), "--n", "1", "--width", "128", "--height", "96",
                 "--duration", "1.5", "2", "--fps", "10", "--answer-fps", "1", "--targets", "2", "2", "--quiet"]) == 0
    rec = load_jsonl(tmp_path / "t" / "tracking.jsonl")[0]
    assert rec["answer_fps"] == 1.0 and {p[0] for p in rec["points"]} <= {0.0, 1.0} and len(rec["targets"]) == 2
    assert main(["data", "tracking", "--out", str(tmp_path / "u"), "--n", "1", "--targets", "0", "2", "--quiet"]) == 2
    assert "targets must be a range MIN MAX" in capsys.readouterr().err and not (tmp_path / "u").exists()
    assert main(["data", "traces", "--out", str(tmp_path / "c"), "--n", "1", "--width", "128", "--height", "96",
                 "--duration", "0.5", "0.5", "--quiet"]) == 2
    assert "duration range must satisfy 1 <= lo <= hi" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["jumprope", "grounding", "pointing", "tracking", "traces"])
def test_data_cli_size_defaults_and_help_are_the_generators(name: str, capsys) -> None:
    import importlib
    import inspect

    from ov2.cli import build_parser

    params = inspect.signature(importlib.import_module(f"ov2.data.{name}").generate).parameters
    args = build_parser().parse_args(["data", name, "--out", "x", "--n", "1"])
    assert (args.width, args.height) == (params["width"].default, params["height"].default)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", name, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"frame width (default {args.width})" in text or f"image width (default {args.width})" in text
    assert f"height (default {args.height})" in text
