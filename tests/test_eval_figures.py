"""`ov2 eval ... --figures N`: pictures of a run's first answers, drawn from its stored results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ov2
import ov2.eval.runner as runner
from ov2.cli import main
from ov2.data import jumprope, load_jsonl, pointing, traces, tracking
from ov2.eval import jumpscore, run_figures
from ov2.eval.points import parse_points
from ov2.viz.demo import page_images
from ov2.viz.perception import jump_marks

CLIP = dict(width=160, height=96, duration=(2.0, 3.0), fps=10, workers=1, progress=False)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("figures")
    pointing.generate(root / "pointing", 3, seed=2, width=160, height=128, progress=False)
    tracking.generate(root / "tracking", 3, seed=2, **CLIP)
    traces.generate(root / "traces", 3, seed=2, **CLIP)
    jumprope.generate(root / "jumpscore", 2, seed=5, width=192, height=128, duration=(4.0, 5.0), fps=25,
                      progress=False, workers=1)
    return {"pointing": root / "pointing", "tracking": root / "tracking", "traces": root / "traces",
            "jumpscore": root / "jumpscore"}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from ov2.model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny")


def _eval(task: str, model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", task, "--model", str(model), "--data", str(data), "--backend", "frames", "--canvases", "2",
            "--max-new-tokens", "8", "--max-pixels", "20000", "--out", str(out), "--no-progress", *extra]


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("task", ["pointing", "tracking", "traces"])
def test_eval_writes_n_figures_and_a_gallery_and_keeps_them_on_rerun(task, data, ckpt, tmp_path, capsys):
    out = tmp_path / f"{task}.jsonl"
    args = _eval(task, ckpt, data[task], out, "--figures", "2")
    assert main(args) == 0
    folder = tmp_path / f"{task}_figures"
    pngs = sorted(p.name for p in folder.glob("*.png"))
    ids = [r["id"] for r in load_jsonl(data[task] / f"{task}.jsonl")][:2]
    assert pngs == [f"00_{ids[0]}.png", f"01_{ids[1]}.png"]
    assert all((folder / p).read_bytes()[:8] == PNG for p in pngs)
    page = (folder / "index.html").read_text()
    assert sorted(page_images(page)) == pngs
    # The page's metrics are the run's summary, as printed.
    summary_key = {"pointing": "accuracy", "tracking": "hota", "traces": "frechet"}[task]
    assert f"<td>{summary_key}</td>" in page and "<td>n</td><td>3</td>" in page
    assert "2 drawn, 0 kept" in capsys.readouterr().out

    before = _stamps(folder)
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "0 computed, 3 reused" in printed and "0 drawn, 2 kept" in printed
    assert _stamps(folder) == before  # nothing rewritten, not even index.html or figures.json

    assert main(args[:-2] + ["--figures", "3"]) == 0  # one more: only it is drawn
    assert "1 drawn, 2 kept" in capsys.readouterr().out
    assert {k: v for k, v in _stamps(folder).items() if k in before and k.endswith(".png")} == \
        {k: v for k, v in before.items() if k.endswith(".png")}
    assert len(page_images((folder / "index.html").read_text())) == 3


def test_figures_zero_draws_nothing_and_negative_is_refused(data, ckpt, tmp_path, capsys):
    out = tmp_path / "tr.jsonl"
    assert main(_eval("traces", ckpt, data["traces"], out, "--limit", "1", "--figures", "0")) == 0
    assert out.is_file() and not (tmp_path / "tr_figures").exists()
    assert main(_eval("traces", ckpt, data["traces"], tmp_path / "x.jsonl", "--figures", "-1")) == 2
    assert "--figures must be >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()  # refused before any model run


def _independent_hits(response: str, gt: str) -> tuple[int, int]:
    """Green / red counts by plain loops: a predicted start is green iff some GT start is within 0.1 s."""
    gts = jumpscore.parse_ground_truth(gt)
    hits = misses = 0
    for p in jumpscore.parse(response):
        if any(abs(p - g) <= 0.1 for g in gts):
            hits += 1
        else:
            misses += 1
    return hits, misses


def test_jumpscore_timeline_marks_come_from_the_run(data, tmp_path, monkeypatch, capsys):
    records = load_jsonl(data["jumpscore"] / "jumpscore.jsonl")
    # A scripted model: every other GT start shifted by 0.05 s (green) and two starts at least 0.15 s from
    # every GT start (red). The timeline must show exactly these, not the GT or a re-parse of it.
    replies, expected = {}, {}
    for rec in records:
        gt = jumpscore.parse_ground_truth(rec["answer"])
        green = [g + 0.05 for g in gt[::2]]
        red = [t for t in np.arange(0.1, rec["duration"], 0.05) if min(abs(t - g) for g in gt) > 0.15][:2]
        replies[Path(rec["video_path"]).name] = "[" + ", ".join(f"{t:.2f}" for t in sorted(green + red)) + "]"
        expected[rec["id"]] = (len(green), len(red))
        assert len(green) >= 2 and len(red) == 2

    def answer(model, processor, question, *, video, max_new_tokens, timestamp_decimals):
        return replies[Path(video).name]

    monkeypatch.setattr(runner, "_load_model", lambda model_dir, device: (None, None, answer))
    monkeypatch.setattr(ov2, "tokenize", lambda path, **kw: str(path))
    drawn: list[tuple[list[float], list[float]]] = []
    original = run_figures.save_jumpscore_timeline

    def spy(path, pred, gt, **kw):
        drawn.append((list(pred), list(gt)))
        return original(path, pred, gt, **kw)

    monkeypatch.setattr(run_figures, "save_jumpscore_timeline", spy)
    out = tmp_path / "js.jsonl"
    assert main(_eval("jumpscore", Path("scripted"), data["jumpscore"], out)) == 0  # default: 4 figures
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    folder = tmp_path / "js_figures"
    figures = run_figures.read_figures(folder)
    assert len(figures) == len(rows) == len(drawn) == 2
    for fig, row, (pred, gt) in zip(figures, rows, drawn):
        hits, misses = _independent_hits(row["response"], row["ground_truth"])
        assert (hits, misses) == expected[row["id"]]  # as the scripted answer was built
        colours = [ok for _, ok in jump_marks(pred, gt, 0.1)]  # what the timeline colours green / red
        assert (sum(colours), len(colours) - sum(colours)) == (hits, misses)
        assert (fig.info["hits"], fig.info["misses"]) == (hits, misses)
        assert f"{hits} green / {misses} red" in fig.caption
        assert (folder / fig.file).read_bytes()[:8] == PNG
    assert sorted(page_images((folder / "index.html").read_text())) == sorted(f.file for f in figures)


def test_tracking_strip_shows_the_answer_and_the_targets_masks(data, tmp_path, monkeypatch):
    """The strip is drawn at the answer times, with the parsed answer and the queried objects' masks."""
    records = load_jsonl(data["tracking"] / "tracking.jsonl")
    rows = [{"id": r["id"], "response": r["answer"], "ground_truth": runner.TASKS["tracking"].target(r)}
            for r in records]
    seen = []
    monkeypatch.setattr(run_figures, "save_frame_strip", lambda path, frames, **kw: seen.append((frames, kw)))
    run_figures.write_figures("tracking", rows, records, tmp_path / "f", 1)
    frames, kw = seen[0]
    rec = records[0]
    assert kw["fps"] == rec["answer_fps"] and len(frames) == len(kw["times"]) == len(kw["gt_masks"])
    assert kw["pred_points"] == parse_points(rec["answer"]).records
    assert [tuple(p) for p in kw["gt_points"]] == [tuple(p) for p in rec["points"]]
    assert np.allclose(kw["times"], np.arange(len(frames)) / rec["answer_fps"])
    labels = np.load(rec["masks_path"])["labels"]
    for i, t in enumerate(kw["times"]):
        want = np.isin(labels[int(round(t * rec["fps"]))], [k + 1 for k in rec["targets"]])
        assert np.array_equal(kw["gt_masks"][i], want)
    assert kw["gt_masks"].any(axis=(1, 2)).sum() >= len(frames) // 2
