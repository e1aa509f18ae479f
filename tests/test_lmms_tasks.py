"""`ov2 lmms-tasks` and the task functions behind its YAMLs (no lmms-eval needed).

The YAMLs must ask what `ov2 eval` asks (question, decimals, generation length) and the
task functions must score what `ov2 eval` scores; the numbers below are worked out by hand.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from cli_helpers import run_cli
from ov2.eval.io import load_records
from ov2.eval.runner import TASKS
from ov2.integrations.lmms_eval import prompt, tasks


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from ov2.data import grounding, jumprope

    root = tmp_path_factory.mktemp("lmms_data")
    small = dict(width=128, height=96, duration=(5.0, 6.0), fps=25, progress=False, workers=1)
    jumprope.generate(root / "jr", 2, seed=5, **small)
    grounding.generate(root / "g", 2, seed=5, **small)
    return {"jr": root / "jr", "g": root / "g"}


class _Function(str):
    """A `!function a.b.c` tag, kept as its dotted name."""


def _load_yaml(path: Path) -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: _Function(loader.construct_scalar(node)))
    return yaml.load(path.read_text(), Loader=Loader)


def _resolve(name: str):
    module, attr = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), attr)


def test_lmms_tasks_writes_yamls_bound_to_the_data(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "tasks"
    code, printed, err = run_cli(["lmms-tasks", "--data", str(data["jr"]), "--data", str(data["g"]), "--out", str(out)])
    assert code == 0, err
    assert "ov2_jumprope" in printed and "ov2_grounding" in printed and "2 samples" in printed
    assert f"--tasks ov2_jumprope,ov2_grounding --include_path {out}" in printed

    for name, folder, runner_task in (("ov2_jumprope", "jr", "jumpscore"), ("ov2_grounding", "g", "grounding")):
        cfg = _load_yaml(out / f"{name}.yaml")
        task = TASKS[runner_task]
        jsonl = (data[folder] / task.default_file).resolve()
        assert cfg["task"] == name and cfg["dataset_path"] == "json" and cfg["test_split"] == "test"
        assert cfg["dataset_kwargs"] == {"data_files": {"test": str(jsonl)}}
        assert cfg["lmms_eval_specific_kwargs"] == {"default": {"data_dir": str(jsonl.parent)}}
        gen = cfg["generation_kwargs"]
        assert gen["max_new_tokens"] == task.max_new_tokens and gen["until"] == [] and gen["temperature"] == 0
        assert cfg["model_specific_generation_kwargs"] == {"ov2": {"timestamp_decimals": task.timestamp_decimals}}
        assert cfg["reasoning_tags"] == "none"  # scored raw, as ov2 eval scores
        functions = [cfg[k] for k in ("doc_to_visual", "doc_to_text", "doc_to_target", "doc_to_messages", "process_results")]
        functions += [m["aggregation"] for m in cfg["metric_list"]]
        assert all(isinstance(f, _Function) for f in functions)
        fn = {k: _resolve(cfg[k]) for k in ("doc_to_visual", "doc_to_text", "doc_to_target", "doc_to_messages")}
        kwargs = cfg["lmms_eval_specific_kwargs"]["default"]

        # Each doc, read as lmms-eval reads it (the raw jsonl line), gives ov2 eval's question and video.
        raw = [json.loads(line) for line in jsonl.read_text().splitlines()]
        for doc, record in zip(raw, load_records(jsonl, task.default_file)):
            question = task.question(record)
            assert fn["doc_to_text"](doc, kwargs) == question
            assert fn["doc_to_target"](doc) == task.target(record)
            assert fn["doc_to_visual"](doc, kwargs) == [record["video_path"]]
            assert fn["doc_to_messages"](doc, kwargs) == [
                {"role": "user", "content": [{"type": "video", "url": record["video_path"]},
                                             {"type": "text", "text": question}]}]
    jr_metrics = [m["metric"] for m in _load_yaml(out / "ov2_jumprope.yaml")["metric_list"]]
    assert jr_metrics == ["mAP", "AP@0.1", "AP@0.2", "AP@0.3", "unparsed"]


@pytest.mark.parametrize("case", ["missing", "no_jsonl", "missing_video", "twice", "out_is_file"])
def test_lmms_tasks_bad_input(case: str, data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "tasks"
    args = ["lmms-tasks", "--data", str(data["jr"]), "--out", str(out)]
    if case == "missing":
        args[2], expected = str(tmp_path / "nope"), "no such file or directory"
    elif case == "no_jsonl":
        (tmp_path / "empty").mkdir()
        args[2], expected = str(tmp_path / "empty"), "holds no jumpscore.jsonl or grounding.jsonl"
    elif case == "missing_video":
        copy = tmp_path / "jr"
        shutil.copytree(data["jr"], copy)
        next((copy / "clips").glob("*.mp4")).unlink()
        args[2], expected = str(copy), "1 of 2 videos are missing"
    elif case == "twice":
        args += ["--data", str(data["jr"] / "jumpscore.jsonl")]
        expected = "two jumpscore.jsonl files"
    else:
        out.write_text("x")
        expected = "is a file"
    code, _, err = run_cli(args)
    assert code == 2 and expected in err
    assert case == "out_is_file" or not out.exists()


def _rows(process, docs: list[dict], responses: list[str]) -> dict[str, list]:
    per_metric: dict[str, list] = {}
    for doc, response in zip(docs, responses):
        for metric, value in process(doc, [response]).items():
            per_metric.setdefault(metric, []).append(value)
    return per_metric


def test_jumprope_scores_through_the_task_functions() -> None:
    docs = [{"id": "a", "answer": "[1.0, 2.0, 3.0]"}, {"id": "b", "answer": "[0.5]"}, {"id": "c", "answer": "[4.0]"}]
    # a: 1.05 hits, 2.5 misses, 3.0 hits at every tolerance -> AP = 1*(1/3) + (2/3)*(1/3) = 5/9
    # b: 0.45 hits the only start first -> AP = 1;  c: no number -> 0, unparsed
    rows = _rows(tasks.jumprope_process_results, docs, ["1.05s, 2.5s and 3.0s", "[0.45, 0.9]", "no idea"])
    assert rows["mAP"][0]["map"] == pytest.approx(5 / 9) and rows["mAP"][2]["unparsed"]
    expected = 100 * (5 / 9 + 1 + 0) / 3
    assert tasks.jumprope_map(rows["mAP"]) == pytest.approx(expected)
    for fn, metric in ((tasks.jumprope_ap_01, "AP@0.1"), (tasks.jumprope_ap_02, "AP@0.2"), (tasks.jumprope_ap_03, "AP@0.3")):
        assert fn(rows[metric]) == pytest.approx(expected)
    assert tasks.jumprope_unparsed(rows["unparsed"]) == 1
    # Same numbers as ov2 eval's summary of the same responses.
    summary = TASKS["jumpscore"].summarize([{"response": r["response"], "ground_truth": r["ground_truth"]} for r in rows["mAP"]])
    assert summary["map"] == tasks.jumprope_map(rows["mAP"])


def test_grounding_scores_through_the_task_functions() -> None:
    docs = [{"id": "a", "query": "q", "span": [2, 4]}, {"id": "b", "query": "q", "span": [1, 2]},
            {"id": "c", "query": "q", "span": [0, 1]}]
    # IoU: [3, 5] vs [2, 4] = 1/3; [1, 2] vs [1, 2] = 1; nothing parsed = 0
    rows = _rows(tasks.grounding_process_results, docs,
                 ["The event happens in 3 - 5 seconds", "from 1 to 2", "I cannot tell"])
    assert tasks.grounding_r1_03(rows["R1@0.3"]) == pytest.approx(200 / 3)
    assert tasks.grounding_r1_05(rows["R1@0.5"]) == pytest.approx(100 / 3)
    assert tasks.grounding_r1_07(rows["R1@0.7"]) == pytest.approx(100 / 3)
    assert tasks.grounding_miou(rows["mIoU"]) == pytest.approx(100 * (1 / 3 + 1) / 3)
    assert tasks.grounding_unparsed(rows["unparsed"]) == 1
    assert tasks.grounding_doc_to_text(docs[0]) == TASKS["grounding"].question(docs[0])


def test_task_video_path_missing_names_the_file(tmp_path: Path) -> None:
    from ov2.errors import VideoNotFoundError

    with pytest.raises(VideoNotFoundError, match="clips/x.mp4: video of sample 'a' not found"):
        tasks.doc_to_visual({"id": "a", "video_path": "clips/x.mp4"}, {"data_dir": str(tmp_path)})


def test_prompt_from_chat_messages() -> None:
    p = prompt.from_messages([
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "video", "url": "/v.mp4"}, {"type": "text", "text": "When?"}]},
    ])
    assert (p.text, p.system, p.videos, p.images) == ("When?", "Be brief.", [prompt.VideoRef("/v.mp4")], [])
    cut = prompt.from_messages([{"role": "user", "content": [
        {"type": "video", "url": {"url": "/v.mp4", "video_start": 1, "video_end": 2.5}}, {"type": "text", "text": "a"},
        {"type": "text", "text": "b"}]}])
    assert cut.videos == [prompt.VideoRef("/v.mp4", 1.0, 2.5)] and cut.text == "a\nb"
    assert prompt.from_messages([{"role": "user", "content": "plain"}]).text == "plain"


@pytest.mark.parametrize("messages, expected", [
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "'assistant' turn"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "this request has 2"),
    ([{"role": "user", "content": [{"type": "audio", "url": "x.wav"}]}], "'audio' content"),
])
def test_prompt_refuses_what_ov2_cannot_answer(messages: list, expected: str) -> None:
    with pytest.raises(prompt.UnsupportedRequestError, match=expected):
        prompt.from_messages(messages)


def test_prompt_from_simple_context() -> None:
    p = prompt.from_context("What?", ["/a/clip.MP4", "/a/photo.JPG"])
    assert p.videos == [prompt.VideoRef("/a/clip.MP4")] and p.images == ["/a/photo.JPG"] and p.visual_count == 2
    with pytest.raises(prompt.UnsupportedRequestError, match="'audio'"):
        prompt.from_context("x", [{"array": [0.0], "sampling_rate": 16000}])
