"""`ov2 eval pointing|tracking|traces`, their lmms-eval tasks, and Molmo2 rows in training manifests."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml

from ov2.cli import main
from ov2.data import load_jsonl, pointing, traces, tracking
from ov2.eval import perception
from ov2.eval.runner import TASKS, run
from ov2.train.manifest import parse_record

CLIP = dict(width=160, height=96, duration=(2.0, 3.0), fps=10, workers=1, progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("perception")
    pointing.generate(root / "pt", 3, seed=1, width=160, height=128, progress=False)
    tracking.generate(root / "tr", 3, seed=1, **CLIP)
    traces.generate(root / "tc", 2, seed=1, **CLIP)
    return {"pointing": root / "pt", "tracking": root / "tr", "traces": root / "tc"}


def _summary(task: str, records: list[dict], responses: list[str]) -> dict:
    t = TASKS[task]
    return t.summarize([{"response": a, "ground_truth": t.target(r)} for r, a in zip(records, responses)])


def test_ground_truth_answers_score_perfectly_and_baselines_do_not(data: dict[str, Path]) -> None:
    for task in ("pointing", "tracking"):
        records = load_jsonl(data[task] / f"{task}.jsonl")
        s = _summary(task, records, [r["answer"] for r in records])
        assert s["f1"] == pytest.approx(100) and s["precision"] == 100 and s["recall"] == 100 and s["unparsed"] == 0
    records = load_jsonl(data["tracking"] / "tracking.jsonl")
    assert _summary("tracking", records, [r["answer"] for r in records])["hota"] == pytest.approx(100)
    none = _summary("tracking", records, ["No tracks available."] * 3)
    assert none["f1"] == 0 and none["hota"] == 0 and none["unparsed"] == 0  # an explicit "none" is parsed
    junk = _summary("tracking", records, ["I see a ball."] * 3)
    assert junk["unparsed"] == 3
    # The baseline keeps each target where it starts: right at t = 0, so above 0, but not a tracker.
    base = _summary("tracking", records, [perception.first_frame_baseline(r) for r in records])
    assert 0 < base["f1"] < 100
    first = perception.parse_points(perception.first_frame_baseline(records[0])).records
    assert {(r.x, r.y) for r in first if r.id == 0} == {tuple(p[2:]) for p in records[0]["points"] if p[1] == 0
                                                     and p[0] == min(q[0] for q in records[0]["points"] if q[1] == 0)}
    tr = load_jsonl(data["traces"] / "traces.jsonl")
    exact = _summary("traces", tr, [r["answer"] for r in tr])
    assert exact["endpoint"] == 0 and exact["frechet"] == 0 and exact["depth_endpoint"] == 0
    # Reversing the GT trace keeps its shape but swaps the ends: endpoint error = |end - start|.
    rev = [json.dumps(r["waypoints"][::-1]) for r in tr]
    want = sum(((r["waypoints"][0][0] - r["waypoints"][-1][0]) ** 2 + (r["waypoints"][0][1] - r["waypoints"][-1][1]) ** 2)
               ** 0.5 for r in tr) / len(tr)
    assert _summary("traces", tr, rev)["endpoint"] == pytest.approx(want)


def test_pointing_hungarian_scores_a_wrong_object_as_a_miss(data: dict[str, Path]) -> None:
    rec = next(r for r in load_jsonl(data["pointing"] / "pointing.jsonl") if len(r["objects"]) > len(r["targets"]))
    other = next(k for k in range(len(rec["objects"])) if k not in rec["targets"])
    # Point at one true target and at a distractor: P = 1/2, R = 1/len(targets), accuracy 1/2.
    import cv2
    import numpy as np

    labels = cv2.imread(rec["masks_path"], cv2.IMREAD_UNCHANGED)
    rows, cols = np.nonzero(labels == other + 1)
    d = (int(round((cols.mean() + 0.5) / 160 * 1000)), int(round((rows.mean() + 0.5) / 128 * 1000)))
    t = rec["points"][0]
    answer = f'<points coords="1 0 {t[2]:03d} {t[3]:03d} 1 {d[0]:03d} {d[1]:03d}">x</points>'
    s = perception.score_pointing(answer, TASKS["pointing"].target(rec))
    n = len(rec["targets"])
    assert s["accuracy"] == 0.5 and s["precision"] == 0.5 and s["recall"] == pytest.approx(1 / n)


class Scripted:
    """Stands in for a model: replies with each record's own answer, keyed by the visual's file name."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies, self.visuals = replies, []

    def load(self, model_dir, device):
        return "model", "processor", self.answer

    def answer(self, model, processor, question, *, max_new_tokens, timestamp_decimals, video=None, image=None):
        self.visuals.append("image" if image is not None else "video")
        return self.replies[Path(image or video).name]


def test_runner_asks_images_for_pointing_and_videos_for_tracking(data: dict[str, Path], tmp_path: Path) -> None:
    for task, key in (("pointing", "image_path"), ("tracking", "video_path")):
        records = load_jsonl(data[task] / f"{task}.jsonl")
        model = Scripted({Path(r[key]).name: r["answer"] for r in records})
        result = run(task, "ckpt", records, tmp_path / f"{task}.jsonl", backend="frames", canvases=4,
                     load_model=model.load, tokenize=lambda path, **kw: str(path), progress=False)
        assert result.computed == 3 and set(model.visuals) == {key.split("_")[0]}
        assert result.summary["f1"] == pytest.approx(100)


def test_tracking_eval_with_tiny_model_resumes(data: dict[str, Path], tmp_path: Path, capsys) -> None:
    from ov2.model.tiny import make_tiny_checkpoint

    ckpt = make_tiny_checkpoint(tmp_path / "tiny")
    out = tmp_path / "tr.jsonl"
    args = ["eval", "tracking", "--model", str(ckpt), "--data", str(data["tracking"]), "--backend", "frames",
            "--canvases", "2", "--max-new-tokens", "8", "--limit", "2", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "hota" in printed and "unparsed" in printed and "2 computed, 0 reused" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert row["f1"] == perception.score_tracking(row["response"], row["ground_truth"])["f1"]
    assert main(args) == 0 and "0 computed, 2 reused" in capsys.readouterr().out
    args = ["eval", "pointing", "--model", str(ckpt), "--data", str(data["pointing"]), "--max-new-tokens", "8",
            "--limit", "1", "--out", str(tmp_path / "pt.jsonl"), "--no-progress"]
    assert main(args) == 0 and "accuracy" in capsys.readouterr().out


def test_lmms_tasks_score_like_ov2_eval(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "tasks"
    assert main(["lmms-tasks", *[a for d in data.values() for a in ("--data", str(d))], "--out", str(out)]) == 0

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))

    def fn(name: str):
        module, attr = name.rsplit(".", 1)
        return getattr(importlib.import_module(module), attr)

    for task in ("pointing", "tracking", "traces"):
        cfg = yaml.load((out / f"ov2_{task}.yaml").read_text(), Loader=Loader)
        docs = [json.loads(line) for line in Path(cfg["dataset_kwargs"]["data_files"]["test"]).read_text().splitlines()]
        records = load_jsonl(data[task] / f"{task}.jsonl")
        assert [d["id"] for d in docs] == [r["id"] for r in records]
        messages = fn(cfg["doc_to_messages"])(docs[0], cfg["lmms_eval_specific_kwargs"]["default"])
        assert messages[0]["content"][0]["type"] == ("image" if task == "pointing" else "video")
        assert cfg["generation_kwargs"]["max_new_tokens"] == TASKS[task].max_new_tokens
        responses = [r["answer"] if i else "nothing" for i, r in enumerate(records)]
        process = fn(cfg["process_results"])
        items = {}
        for doc, response in zip(docs, responses):
            for metric, row in process(doc, [response]).items():
                items.setdefault(metric, []).append(row)
        expected = _summary(task, records, responses)
        for metric in cfg["metric_list"]:
            value = fn(metric["aggregation"])(items[metric["metric"]])
            key = {"F1": "f1", "HOTA": "hota", "DetA": "deta", "AssA": "assa"}.get(metric["metric"], metric["metric"])
            assert value == pytest.approx(expected[key], nan_ok=True), (task, metric)


def test_molmo2_rows_become_exact_ov2_answers(tmp_path: Path) -> None:
    point_row = {"id": "p", "video": "v.mp4", "label": "dog", "timestamps": [0.0, 0.5, 1.0],
                 "points": [[{"x": 50.0, "y": 20.0}, {"x": 10.5, "y": 30.0}], [], [{"x": 100, "y": 0}]]}
    sample = parse_record(point_row, tmp_path, check_media=False)
    assert sample.messages[0]["content"] == [{"type": "video"}, {"type": "text", "text": "Point to every dog in the video."}]
    # 0-100 -> 0-1000, sorted by x in a frame, ids counting up from 0 across frames, times as written (1 decimal).
    assert sample.messages[1]["content"][0]["text"] == (
        '<points coords="0.0 0 105 300 1 500 200;1.0 2 1000 000">\ndog\n</points>')
    track_row = {"id": "t", "video": "v.mp4", "expression": "the cat", "width": 200, "height": 100,
                 "question": "Track the cat.",
                 "frame_trajectories": [
                     {"frame": 0, "time": 0.0, "points": [{"id": 7, "point": [100, 50], "occluded": False}]},
                     {"frame": 6, "time": 0.25, "points": [{"id": 7, "point": [20, 10], "occluded": True},
                                                          {"id": 3, "point": [50, 25], "occluded": False}]}]}
    text = parse_record(track_row, tmp_path, check_media=False).messages[1]["content"][0]["text"]
    # Pixels -> 0-1000 of 200x100; ids renumbered in order of appearance; 0.25 needs two decimals.
    assert text == '<tracks coords="0.00 0 500 500;0.25 1 250 250">\nthe cat\n</tracks>'
    from ov2.eval.points import parse_points

    assert [tuple(r) for r in parse_points(text).records] == [(0.0, 0, 500, 500), (0.25, 1, 250, 250)]
    from ov2.train.manifest import SampleError

    with pytest.raises(SampleError, match="video's size"):
        parse_record({**track_row, "width": None, "height": None}, tmp_path, check_media=False)
