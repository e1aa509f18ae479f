"""``ov2 data images`` and ``ov2 data manifest``: training data made from the generators, checked on the pixels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli_helpers import run_cli
from ov2.data.grounding import COLOURS
from ov2.data.images import CELLS
from ov2.eval import grounding as grounding_eval
from ov2.eval import jumpscore
from ov2.train.manifest import read_manifest
from train_data import make_clips


@pytest.fixture(scope="module")
def image_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("images")
    code, stdout, _ = run_cli(["data", "images", "--out", str(out), "--n", "16", "--seed", "3", "--size", "168",
                               "--quiet"])
    assert code == 0 and "16 samples" in stdout
    return out


def components(rgb: np.ndarray) -> list[dict]:
    """Saturated blobs: colour name, centre, and fill ratio of the bounding box (ball ~0.79, square 1, triangle 0.5)."""
    rgb16 = rgb.astype(np.int16)
    saturated = (rgb16.max(-1) - rgb16.min(-1) > 100).astype(np.uint8)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(saturated, connectivity=8)
    out = []
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < 30:
            continue  # anti-aliasing specks
        pix = rgb16[labels == k]
        mean = pix.mean(0)
        colour = min(COLOURS, key=lambda c: float(np.abs(mean - np.array(COLOURS[c])).sum()))
        w, h = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        out.append({"colour": colour, "x": centroids[k][0], "y": centroids[k][1],
                    "fill": stats[k, cv2.CC_STAT_AREA] / float(w * h)})
    return out


def shape_of(fill: float) -> str:
    return "triangle" if fill < 0.65 else "ball" if fill < 0.9 else "square"


def cell_of(x: float, y: float, size: int) -> str:
    return CELLS[int(y // (size / 3))][int(x // (size / 3))]


def test_images_answers_match_the_pixels(image_set: Path) -> None:
    report = read_manifest(image_set / "images.jsonl")
    assert len(report.samples) == 16 and not report.skipped
    checked = 0
    for s in report.samples:
        assert s.source == "images"
        pics = [cv2.imread(m.path)[..., ::-1] for m in s.media]
        blobs = [components(p) for p in pics]
        turns = [(s.messages[i], s.messages[i + 1]) for i in range(0, len(s.messages), 2)]
        for q, a in turns:
            question = next(p["text"] for p in q["content"] if p["type"] == "text")
            answer = a["content"][0]["text"]
            if len(pics) == 2:
                more = "first" if len(blobs[0]) > len(blobs[1]) else "second"
                assert len(blobs[0]) != len(blobs[1]) and answer == f"The {more} image."
            elif m := re.match(r"How many (shapes|balls|squares|triangles)", question):
                noun = m.group(1)
                n = len(blobs[0]) if noun == "shapes" else sum(shape_of(b["fill"]) + "s" == noun for b in blobs[0])
                assert re.search(rf"\b{n}\b", answer), (question, answer, n)
            elif m := re.match(r"What colour is the (\w+)\?", question):
                (only,) = [b for b in blobs[0] if shape_of(b["fill"]) == m.group(1)]
                assert answer == f"The {m.group(1)} is {only['colour']}."
            elif m := re.match(r"What shape is the (\w+) object\?", question):
                (only,) = [b for b in blobs[0] if b["colour"] == m.group(1)]
                assert answer == f"The {m.group(1)} object is a {shape_of(only['fill'])}."
            elif m := re.match(r"Where is the (\w+) (\w+) in the image\?", question):
                (hit,) = [b for b in blobs[0] if b["colour"] == m.group(1) and shape_of(b["fill"]) == m.group(2)]
                assert answer.endswith(f"at the {cell_of(hit['x'], hit['y'], pics[0].shape[0])}.")
            else:
                raise AssertionError(f"unexpected question {question!r}")
            checked += 1
    assert checked >= 30


def test_images_are_deterministic_and_rerun_writes_nothing(image_set: Path, tmp_path: Path) -> None:
    code, _, _ = run_cli(["data", "images", "--out", str(tmp_path), "--n", "16", "--seed", "3", "--size", "168",
                          "--quiet"])
    assert code == 0
    for png in sorted((image_set / "images").glob("*.png")):
        assert (tmp_path / "images" / png.name).read_bytes() == png.read_bytes()
    assert (tmp_path / "images.jsonl").read_text() == (image_set / "images.jsonl").read_text()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()}
    run_cli(["data", "images", "--out", str(tmp_path), "--n", "16", "--seed", "3", "--size", "168", "--quiet"])
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()} == before
    code, _, _ = run_cli(["data", "images", "--out", str(tmp_path / "other"), "--n", "2", "--seed", "4",
                          "--size", "168", "--quiet"])
    assert (tmp_path / "other" / "images" / "images_s4_00000.png").read_bytes() != \
        (tmp_path / "images" / "images_s3_00000.png").read_bytes()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clips(tmp_path_factory.mktemp("clips"))


def test_manifest_from_benchmarks_answers_parse_back(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "train.jsonl"
    code, stdout, _ = run_cli(["data", "manifest", "--data", str(clips), "--out", str(out)])
    assert code == 0 and "grounding 2, jumpscore 3" in stdout
    raw = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(not Path(r["video"]).is_absolute() for r in raw)
    report = read_manifest(out)
    assert len(report.samples) == 5 and not report.skipped
    truth = {json.loads(x)["id"]: json.loads(x) for name in ("jumpscore.jsonl", "grounding.jsonl")
             for x in (clips / name).read_text().splitlines()}
    for s in report.samples:
        rec = truth[s.id]
        assert s.media[0].path == str((clips / rec["video_path"]).resolve())
        question = s.messages[0]["content"][1]["text"]
        answer = s.messages[1]["content"][0]["text"]
        assert question == rec["question"]
        if s.source == "jumpscore":
            assert answer == rec["answer"] and jumpscore.parse(answer) == jumpscore.parse_ground_truth(rec["answer"])
            assert jumpscore.parse(answer) and jumpscore.score(answer, rec["answer"]) == pytest.approx(1.0)
        else:
            assert re.fullmatch(r"The event happens in \d+\.\d\d - \d+\.\d\d seconds\.", answer)
            assert grounding_eval.parse_span(answer) == pytest.approx(tuple(rec["span"]), abs=1e-9)
            assert grounding_eval.score_details(answer, rec["span"]).iou == pytest.approx(1.0)


def test_manifest_task_filter_source_and_errors(clips: Path, tmp_path: Path) -> None:
    code, stdout, _ = run_cli(["data", "manifest", "--data", str(clips), "--task", "grounding", "--source", "video",
                               "--out", str(tmp_path / "g.jsonl")])
    assert code == 0 and "video 2" in stdout
    assert {s.source for s in read_manifest(tmp_path / "g.jsonl").samples} == {"video"}
    code, _, err = run_cli(["data", "manifest", "--data", str(clips), "--data", str(clips), "--out",
                            str(tmp_path / "dup.jsonl")])
    assert code == 2 and "different --seed" in err and not (tmp_path / "dup.jsonl").exists()
    code, _, err = run_cli(["data", "manifest", "--data", str(tmp_path), "--out", str(tmp_path / "none.jsonl")])
    assert code == 2 and "no jumpscore.jsonl or grounding.jsonl" in err
