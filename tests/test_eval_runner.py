"""Model runs with a scripted model: append-as-you-go, resumption, torn lines, config guard, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ov2.errors import InvalidOptionError, VideoFormatError
from ov2.eval import io as evio
from ov2.eval import runner


class Scripted:
    """Stands in for model loading + ov2.model.answer: replies from a dict keyed by video file name."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.loads = 0
        self.asked: list[str] = []
        self.kwargs: list[dict] = []

    def load(self, model_dir, device):
        self.loads += 1
        return "model", "processor", self.answer

    def answer(self, model, processor, question, *, video, max_new_tokens, timestamp_decimals):
        self.asked.append(video)
        self.kwargs.append({"max_new_tokens": max_new_tokens, "timestamp_decimals": timestamp_decimals})
        reply = self.replies[Path(video).name]
        if reply == "RAISE":
            raise VideoFormatError("cannot decode")
        return reply


def fake_tokenize(path, backend, canvases, max_pixels):
    return str(path)  # the scripted answer() receives it as `video`


def js_records(tmp_path: Path) -> list[dict]:
    gts = {"v1": "[1.0, 2.0, 3.0]", "v2": "[1.0, 2.0]", "v3": "[4.0]"}
    return [{"id": k, "video_path": str(tmp_path / f"{k}.mp4"), "question": "When? ", "answer": v}
            for k, v in gts.items()]


def test_jumpscore_run_appends_resumes_and_summarises(tmp_path: Path) -> None:
    records = js_records(tmp_path)
    model = Scripted({"v1.mp4": "1.05s, 2.5s, 3.0s", "v2.mp4": "[0.5, 1.0, 2.0]", "v3.mp4": "no idea"})
    out = tmp_path / "res.jsonl"
    r = runner.run("jumpscore", "ckpt", records, out, backend="frames", canvases=8, max_new_tokens=50,
                   load_model=model.load, tokenize=fake_tokenize, progress=False)
    assert r.computed == 3 and r.reused == 0 and model.loads == 1
    assert model.kwargs[0] == {"max_new_tokens": 50, "timestamp_decimals": 2}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["v1", "v2", "v3"]
    assert rows[0]["map"] == pytest.approx(5 / 9) and rows[0]["backend"] == "frames" and rows[0]["canvases"] == 8
    assert rows[0]["question"] == "When?" and rows[2]["unparsed"] is True
    # mAP = (5/9 + 7/12 + 0) / 3 x 100 (the hand-computed cases of test_eval_jumpscore).
    assert r.summary["map"] == pytest.approx(100 * (5 / 9 + 7 / 12) / 3)
    assert r.summary["unparsed"] == 1 and r.summary["n"] == 3

    # Re-run: nothing recomputed, the model is not even loaded, same summary.
    again = runner.run("jumpscore", "ckpt", records, out, backend="frames", canvases=8,
                       load_model=model.load, tokenize=fake_tokenize, progress=False)
    assert again.computed == 0 and again.reused == 3 and model.loads == 1
    assert again.summary == r.summary
    assert len(out.read_text().splitlines()) == 3

    table = runner.format_summary(r.summary)
    assert "mAP" in table.splitlines()[0] and f"{100 * (5 / 9 + 7 / 12) / 3:.1f}" in table.splitlines()[1]


def test_limit_and_torn_last_line(tmp_path: Path) -> None:
    records = js_records(tmp_path)
    model = Scripted({"v1.mp4": "1s", "v2.mp4": "2s", "v3.mp4": "4s"})
    out = tmp_path / "res.jsonl"
    runner.run("jumpscore", "ckpt", records, out, limit=1, load_model=model.load, tokenize=fake_tokenize,
               progress=False)
    assert len(out.read_text().splitlines()) == 1
    # Simulate a crash mid-append: a partial JSON line at the end.
    with open(out, "a") as f:
        f.write('{"id": "v2", "task": "jumps')
    r = runner.run("jumpscore", "ckpt", records, out, load_model=model.load, tokenize=fake_tokenize,
                   progress=False)
    assert r.reused == 1 and r.computed == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line parses again
    assert [row["id"] for row in rows] == ["v1", "v2", "v3"]


def test_failures_are_skipped_and_retried(tmp_path: Path) -> None:
    records = js_records(tmp_path)
    model = Scripted({"v1.mp4": "1s", "v2.mp4": "RAISE", "v3.mp4": "4s"})
    out = tmp_path / "res.jsonl"
    r = runner.run("jumpscore", "ckpt", records, out, load_model=model.load, tokenize=fake_tokenize, progress=False)
    assert [f["id"] for f in r.failed] == ["v2"] and r.computed == 2 and r.summary["n"] == 2
    model.replies["v2.mp4"] = "1s 2s"
    r2 = runner.run("jumpscore", "ckpt", records, out, load_model=model.load, tokenize=fake_tokenize, progress=False)
    assert r2.computed == 1 and r2.summary["n"] == 3


def test_config_mismatch_is_refused(tmp_path: Path) -> None:
    records = js_records(tmp_path)
    model = Scripted({"v1.mp4": "1s", "v2.mp4": "2s", "v3.mp4": "4s"})
    out = tmp_path / "res.jsonl"
    runner.run("jumpscore", "ckpt", records, out, canvases=8, load_model=model.load, tokenize=fake_tokenize,
               progress=False)
    with pytest.raises(InvalidOptionError, match="another --out"):
        runner.run("jumpscore", "ckpt", records, out, canvases=16, load_model=model.load,
                   tokenize=fake_tokenize, progress=False)
    with pytest.raises(InvalidOptionError):
        runner.run("nope", "ckpt", records, tmp_path / "x.jsonl")


def test_canvas_backends_tokenize_as_the_checkpoint_was_trained(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "processor_config.json").write_text(json.dumps(
        {"video_processor": {"codec_config": {"candidates_per_group": 24}}}))
    seen: list[dict] = []

    def tokenize(path, backend, canvases, max_pixels, **options):
        seen.append(options)
        return str(path)

    records = js_records(tmp_path)
    model = Scripted({"v1.mp4": "1s", "v2.mp4": "2s", "v3.mp4": "4s"})
    out = tmp_path / "codec.jsonl"
    runner.run("jumpscore", ckpt, records[:1], out, backend="codec", canvases=8, load_model=model.load,
               tokenize=tokenize, progress=False)
    assert seen == [{"candidates_per_group": 24}]
    assert json.loads(out.read_text())["codec_config"] == {"candidates_per_group": 24}
    # Results tokenized another way are not mixed in.
    with pytest.raises(InvalidOptionError, match="another --out"):
        runner.run("jumpscore", ckpt, records, out, backend="codec", canvases=8,
                   codec_config={"candidates_per_group": 16}, load_model=model.load, tokenize=tokenize, progress=False)
    # An explicit choice wins; the frames backend takes no codec options.
    runner.run("jumpscore", ckpt, records[:1], tmp_path / "c32.jsonl", backend="fixed", canvases=8,
               codec_config={"candidates_per_group": 32}, load_model=model.load, tokenize=tokenize, progress=False)
    runner.run("jumpscore", ckpt, records[:1], tmp_path / "f.jsonl", backend="frames", canvases=8,
               load_model=model.load, tokenize=tokenize, progress=False)
    assert seen[1:] == [{"candidates_per_group": 32}, {}]


def test_grounding_run(tmp_path: Path) -> None:
    records = [
        {"id": "g1", "video_path": str(tmp_path / "g1.mp4"), "query": "a person opens a door", "span": [0, 10]},
        {"id": "g2", "video_path": str(tmp_path / "g2.mp4"), "query": "a person sits", "span": [4, 8]},
    ]
    model = Scripted({"g1.mp4": "The event happens in 5 - 15 seconds.", "g2.mp4": "sorry"})
    r = runner.run("grounding", "ckpt", records, tmp_path / "g.jsonl", load_model=model.load,
                   tokenize=fake_tokenize, progress=False)
    # IoUs: 5/15 and 0 -> R1@0.3 = 50, R1@0.5 = 0, mIoU = 100 * (1/3) / 2.
    assert r.summary["recall"] == {"0.3": 50.0, "0.5": 0.0, "0.7": 0.0}
    assert r.summary["miou"] == pytest.approx(100 / 6) and r.summary["unparsed"] == 1
    assert model.kwargs[0]["timestamp_decimals"] == 1
    row = json.loads((tmp_path / "g.jsonl").read_text().splitlines()[0])
    assert "'a person opens a door'" in row["question"] and row["pred_span"] == [5.0, 15.0]
    assert "R1@0.5" in runner.format_summary(r.summary)


def test_read_results_missing_and_foreign_lines(tmp_path: Path) -> None:
    assert evio.read_results(tmp_path / "none.jsonl") == []
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": 1}\nnot json\n[1, 2]\n{"id": 2}\n')
    assert [r["id"] for r in evio.read_results(p)] == [1, 2]
    assert p.read_text() == '{"id": 1}\n{"id": 2}\n'
