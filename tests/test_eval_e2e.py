"""End to end on generated clips: `ov2 eval evidence` and `ov2 eval jumpscore` with the tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ov2
from ov2.cli import main
from ov2.eval import jumpscore

SMALL = ["--max-pixels", "20000", "--no-progress"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ov2.data import jumprope

    out = tmp_path_factory.mktemp("jumprope")
    jumprope.generate(out, 2, seed=3, width=256, height=160, duration=(5.0, 6.0), fps=25, progress=False,
                      workers=1)
    return out


@pytest.fixture(scope="module")
def records(clips: Path) -> list[dict]:
    from ov2.data import load_jsonl

    return load_jsonl(clips / "jumpscore.jsonl")


def _brute_force_hits(vi: ov2.VisualInput, events: list[float], boxes_doc: dict, tau: float) -> tuple[int, int]:
    """Covered events, any token / on-subject token, with plain loops over every token."""
    ph, pw = vi.meta["processed"]["height"], vi.meta["processed"]["width"]
    dw, dh = vi.meta["video"]["width"], vi.meta["video"]["height"]
    times_any, times_subj = set(), set()
    for t, r, c, f in zip(vi.tokens.time, vi.tokens.src_row, vi.tokens.src_col, vi.tokens.frame):
        if f < 0:
            continue
        times_any.add(float(t))
        k = min(range(len(boxes_doc["times"])), key=lambda i: abs(boxes_doc["times"][i] - t))
        x0, y0, x1, y1 = boxes_doc["boxes"][k]
        px0, px1 = 14 * c * dw / pw, 14 * (c + 1) * dw / pw
        py0, py1 = 14 * r * dh / ph, 14 * (r + 1) * dh / ph
        if px0 < x1 and x0 < px1 and py0 < y1 and y0 < py1:
            times_subj.add(float(t))
    hit = lambda ts, e: any(abs(t - e) <= tau + 1e-6 for t in ts)  # noqa: E731
    return sum(hit(times_any, e) for e in events), sum(hit(times_subj, e) for e in events)


def test_evidence_cli_on_generated_clips(clips: Path, records: list[dict], tmp_path: Path, capsys) -> None:
    out = tmp_path / "ev"
    args = ["eval", "evidence", "--data", str(clips), "--backends", "codec,frames,fixed", "--canvases", "4,8",
            "--out", str(out), *SMALL]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "codec any" in printed and "0 of 12 jobs reused" in printed
    doc = json.loads((out / "evidence.json").read_text())
    assert (out / "evidence.png").stat().st_size > 1000 and (out / "evidence.txt").exists()
    n_events = sum(len(jumpscore.parse_ground_truth(r["answer"])) for r in records)
    assert len(doc["results"]) == 6 and not doc["errors"]
    for cell in doc["results"]:
        assert cell["events"] == n_events and cell["clips"] == 2
        assert 0 <= cell["hits_subject"] <= cell["hits_any"] <= n_events

    # Recompute one backend/budget from scratch with plain loops and compare per clip.
    rows = {(r["id"], r["backend"], r["canvases"]): r for r in doc["per_clip"]}
    for rec in records:
        for backend in ("codec", "frames"):
            vi = ov2.tokenize(rec["video_path"], backend=backend, canvases=8, max_pixels=20000)
            boxes_doc = json.loads(Path(rec["boxes_path"]).read_text())
            any_hits, subj_hits = _brute_force_hits(vi, jumpscore.parse_ground_truth(rec["answer"]), boxes_doc, 0.1)
            row = rows[(rec["id"], backend, 8)]
            assert (row["hits_any"], row["hits_subject"]) == (any_hits, subj_hits)
            assert row["frames"] == len(np.unique(vi.tokens.time[vi.tokens.valid]))

    # Second run: everything comes from the cache, same numbers.
    assert main(args) == 0
    assert "12 of 12 jobs reused" in capsys.readouterr().out
    assert json.loads((out / "evidence.json").read_text())["results"] == doc["results"]


def test_evidence_cli_bad_data(tmp_path: Path, capsys) -> None:
    assert main(["eval", "evidence", "--data", str(tmp_path / "missing"), *SMALL]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_jumpscore_run_with_tiny_model(clips: Path, tmp_path: Path, capsys) -> None:
    from ov2.model.tiny import make_tiny_checkpoint

    ckpt = make_tiny_checkpoint(tmp_path / "tiny")
    out = tmp_path / "js.jsonl"
    args = ["eval", "jumpscore", "--model", str(ckpt), "--data", str(clips / "jumpscore.jsonl"), "--backend",
            "frames", "--canvases", "2", "--max-new-tokens", "6", "--out", str(out), *SMALL]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "mAP" in printed and "2 computed, 0 reused" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and {r["backend"] for r in rows} == {"frames"}
    for row in rows:
        # The stored score is exactly the metric applied to the stored response.
        assert row["map"] == jumpscore.score(row["response"], row["ground_truth"])
        assert 0.0 <= row["map"] <= 1.0
    before = out.read_bytes()

    assert main(args) == 0
    assert "0 computed, 2 reused" in capsys.readouterr().out
    assert out.read_bytes() == before


def test_grounding_run_with_tiny_model(tmp_path: Path, capsys) -> None:
    from ov2.data import grounding, load_jsonl
    from ov2.model.tiny import make_tiny_checkpoint

    jsonl = grounding.generate(tmp_path / "g", 2, seed=1, width=256, height=160, duration=(5.0, 6.0), fps=25,
                               progress=False, workers=1)
    records = load_jsonl(jsonl)
    ckpt = make_tiny_checkpoint(tmp_path / "tiny")
    out = tmp_path / "g.jsonl"
    args = ["eval", "grounding", "--model", str(ckpt), "--data", str(tmp_path / "g"), "--backend", "codec",
            "--canvases", "4", "--max-new-tokens", "6", "--out", str(out), *SMALL]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "R1@0.5" in printed and "2 computed, 0 reused" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    for row, rec in zip(rows, records):
        assert row["gt_span"] == sorted(float(v) for v in rec["span"]) and 0.0 <= row["iou"] <= 1.0
        assert f"'{rec['query']}'" in row["question"]
        assert row["iou"] == grading_iou(row["response"], rec["span"])
    before = out.read_bytes()
    assert main(args) == 0
    assert "0 computed, 2 reused" in capsys.readouterr().out
    assert out.read_bytes() == before


def grading_iou(response: str, span: list[float]) -> float:
    from ov2.eval import grounding

    return grounding.score_details(response, span).iou
