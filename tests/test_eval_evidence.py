"""Evidence check: the pure metric on hand-made numbers, patch->display geometry, caching and resumption."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ov2.eval import evidence as ev
from ov2.eval import evidence_run as er
from ov2.visual_input import Group, Tokens, VisualInput

# ---------------------------------------------------------------- the metric core


def test_covered_events_by_hand() -> None:
    events = [1.0, 2.0, 3.0, 10.0]
    tokens = [9.5, 0.95, 2.1, 2.5, 2.5]  # unsorted, with a duplicate
    # 1.0: 0.95 is 0.05 away -> hit; 2.0: 2.1 is 0.1 away (tolerance inclusive) -> hit;
    # 3.0: nearest 2.5 is 0.5 away -> miss; 10.0: nearest 9.5 -> miss.
    assert ev.covered_events(events, tokens, tau=0.1).tolist() == [True, True, False, False]
    assert ev.evidence_recall(events, tokens, tau=0.1) == 0.5
    # A wider tau reaches 3.0 and 10.0 (both exactly 0.5 away).
    assert ev.evidence_recall(events, tokens, tau=0.5) == 1.0


def test_recall_edge_cases() -> None:
    assert math.isnan(ev.evidence_recall([], [1.0], 0.1))
    assert ev.evidence_recall([1.0, 2.0], [], 0.1) == 0.0
    assert ev.evidence_recall([5.0], [0.0, 100.0], 0.1) == 0.0  # between two far tokens
    assert ev.evidence_recall([0.0], [0.0], 0.0) == 1.0
    with pytest.raises(ValueError):
        ev.covered_events([1.0], [1.0], tau=-0.1)


def test_patch_rects_scale_to_display() -> None:
    # Processed frame 28 x 56 (H x W), display 112 x 56 (W x H): scale 2 on both axes.
    rects = ev.patch_rects_display(np.array([1, 0]), np.array([2, 0]), (28, 56), (112, 56))
    # Patch (row 1, col 2) covers processed x 28..42, y 14..28 -> display x 56..84, y 28..56.
    assert rects.tolist() == [[56.0, 28.0, 84.0, 56.0], [0.0, 0.0, 28.0, 28.0]]
    # Non-uniform scale: display 84 x 56 -> x scale 1.5, y scale 2.
    assert ev.patch_rects_display(np.array([1]), np.array([2]), (28, 56), (84, 56)).tolist() == [
        [42.0, 28.0, 63.0, 56.0]
    ]


def test_on_subject_needs_positive_overlap() -> None:
    rects = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    boxes = np.array([[9, 9, 20, 20], [10, 0, 20, 10], [np.nan] * 4, [-5, -5, 0.5, 0.5]], dtype=float)
    assert ev.on_subject(rects, boxes).tolist() == [True, False, False, True]  # corner overlap, edge touch, no box


def test_subject_track_nearest_frame_and_scaling() -> None:
    track = ev.SubjectTrack.from_json(
        {"width": 100, "height": 50, "times": [0.0, 0.5, 1.0], "boxes": [[0, 0, 10, 10], None, [50, 20, 60, 30]]}
    )
    # 0.2 -> frame 0; 0.25 is a tie between 0.0 and 0.5 -> the earlier; 0.8 -> frame 2; 7 -> last.
    got = track.boxes_at(np.array([0.2, 0.25, 0.8, 7.0]))
    assert got[0].tolist() == [0, 0, 10, 10] and got[1].tolist() == [0, 0, 10, 10]
    assert got[2].tolist() == [50, 20, 60, 30] and got[3].tolist() == [50, 20, 60, 30]
    assert np.isnan(track.boxes_at(np.array([0.5]))).all()
    # Boxes given for 100x50 and a 200x100 display: doubled.
    assert track.boxes_at(np.array([1.0]), (200.0, 100.0))[0].tolist() == [100, 40, 120, 60]
    with pytest.raises(ValueError):
        ev.SubjectTrack.from_json({"width": 1, "height": 1, "times": [0.0], "boxes": []})


# ---------------------------------------------------------------- a hand-made VisualInput


def make_vi(rows: list[tuple[float, int, int]], processed=(28, 28), display=(56, 56)) -> VisualInput:
    """Tokens at (time, src_row, src_col), one 2x2 canvas each (the rest padding)."""
    n = len(rows)
    frame = [int(round(t * 10)) for t, _, _ in rows] + [-1] * 3
    return VisualInput(
        canvases=np.zeros((1, 28, 28, 3), dtype=np.uint8),
        tokens=Tokens(
            canvas=[0] * (n + 3), canvas_row=[0] * (n + 3), canvas_col=[0] * (n + 3), frame=frame,
            time=[t for t, _, _ in rows] + [0.0] * 3, src_row=[r for _, r, _ in rows] + [0] * 3,
            src_col=[c for _, _, c in rows] + [0] * 3, group=[0] * (n + 3), kind=["F"] * (n + 3),
        ),
        groups=[Group(0, 0.0, 1.0, [0])],
        meta={"processed": {"height": processed[0], "width": processed[1]},
              "video": {"width": display[0], "height": display[1]}},
        backend="frames",
    )


def test_token_evidence_separates_subject_tokens() -> None:
    # Display 56x56 = 2x processed 28x28: patch (r, c) covers display [28c, 28c+28) x [28r, 28r+28).
    # The subject sits in the bottom-right quadrant at t=1.0 and the top-left one at t=2.0.
    track = ev.SubjectTrack.from_json(
        {"width": 56, "height": 56, "times": [1.0, 2.0], "boxes": [[30, 30, 50, 50], [2, 2, 20, 20]]}
    )
    vi = make_vi([(1.0, 1, 1), (1.0, 0, 0), (2.0, 1, 1), (3.0, 1, 0)])
    got = ev.token_evidence(vi, track)
    assert got["times_any"] == [1.0, 2.0, 3.0]  # padding (time 0.0) is ignored
    # t=1.0 patch (1,1) hits the box; t=2.0 patch (1,1) misses the top-left box; t=3.0 -> box of 2.0, patch (1,0) misses.
    assert got["times_subject"] == [1.0]
    assert got["n_tokens"] == 4 and got["n_subject_tokens"] == 1
    assert ev.token_evidence(vi, None)["times_subject"] is None


# ---------------------------------------------------------------- the run: caching, resumption, outputs


class FakeTokenizer:
    """Frames at a fixed rate; 'codec' puts one of its frames on each event, 'frames' spreads them evenly."""

    def __init__(self, events: dict[str, list[float]]) -> None:
        self.events = events
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, path, backend, canvases, max_pixels):
        clip = Path(path).stem
        self.calls.append((clip, backend, canvases))
        if backend == "codec":
            times = self.events[clip][:canvases]
        else:
            times = list(np.linspace(0.0, 10.0, canvases))
        return make_vi([(float(t), 1, 1) for t in times])


@pytest.fixture()
def dataset(tmp_path: Path) -> list[dict]:
    records = []
    for name, events in {"a": [1.0, 2.0, 3.0, 4.0], "b": [5.55, 7.0]}.items():
        video = tmp_path / f"{name}.mp4"
        video.write_bytes(b"not a real video")
        boxes = tmp_path / f"{name}.boxes.json"
        boxes.write_text(json.dumps({"width": 56, "height": 56, "times": [0.0], "boxes": [[30, 30, 50, 50]]}))
        records.append({"id": name, "video_path": str(video), "boxes_path": str(boxes), "answer": json.dumps(events)})
    return records


def test_run_pools_caches_and_resumes(dataset: list[dict], tmp_path: Path) -> None:
    events = {r["id"]: json.loads(r["answer"]) for r in dataset}
    tok = FakeTokenizer(events)
    out = tmp_path / "out"
    doc = er.run_evidence(dataset, ["codec", "frames"], [2, 4], out, tau=0.1, tokenize=tok, progress=False)
    assert len(tok.calls) == 2 * 2 * 2
    cells = {(r["backend"], r["canvases"]): r for r in doc["results"]}
    # codec@2: clip a covers 1.0, 2.0 of 4 events, clip b covers both -> 4 of 6 events.
    assert cells[("codec", 2)]["hits_any"] == 4 and cells[("codec", 2)]["events"] == 6
    assert cells[("codec", 4)]["share_any"] == pytest.approx(100.0)
    # frames@4: times 0, 3.33, 6.67, 10 -> no event within 0.1 s in either clip.
    assert cells[("frames", 4)]["hits_any"] == 0
    # Every token sits on patch (1,1), inside the subject box -> subject share equals the any-token share.
    assert cells[("codec", 2)]["hits_subject"] == 4
    assert json.loads((out / "evidence.json").read_text())["results"] == doc["results"]

    # A re-run does no tokenization at all; a new tau is answered from the cache too.
    tok2 = FakeTokenizer(events)
    doc2 = er.run_evidence(dataset, ["codec", "frames"], [2, 4], out, tau=3.5, tokenize=tok2, progress=False)
    assert tok2.calls == [] and doc2["reused_jobs"] == 8
    assert {(r["backend"], r["canvases"]): r["hits_any"] for r in doc2["results"]}[("frames", 4)] == 6

    # Touching a video invalidates only that clip's cache entries.
    Path(dataset[1]["video_path"]).write_bytes(b"changed content!!")
    tok3 = FakeTokenizer(events)
    er.run_evidence(dataset, ["codec", "frames"], [2, 4], out, tokenize=tok3, progress=False)
    assert sorted({c[0] for c in tok3.calls}) == ["b"] and len(tok3.calls) == 4


def test_cache_is_redone_when_the_tokenizer_algorithm_changes(dataset: list[dict], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    events = {r["id"]: json.loads(r["answer"]) for r in dataset}
    out = tmp_path / "out"
    er.run_evidence(dataset, ["codec"], [2], out, tokenize=FakeTokenizer(events), progress=False)
    monkeypatch.setattr(er, "ALGORITHM_VERSION", er.ALGORITHM_VERSION + 1)
    tok = FakeTokenizer(events)
    doc = er.run_evidence(dataset, ["codec"], [2], out, tokenize=tok, progress=False)
    assert len(tok.calls) == 2 and doc["reused_jobs"] == 0


def test_failures_are_reported_not_fatal(dataset: list[dict], tmp_path: Path) -> None:
    from ov2.errors import VideoFormatError

    def broken(path, **kw):
        if Path(path).stem == "b":
            raise VideoFormatError("bad file")
        return make_vi([(1.0, 0, 0)])

    doc = er.run_evidence(dataset, ["frames"], [1], tmp_path / "o", tokenize=broken, progress=False)
    assert doc["results"][0]["failed"] == 1 and doc["results"][0]["clips"] == 1
    assert doc["errors"][0]["id"] == "b" and "bad file" in doc["errors"][0]["error"]
    assert not list((tmp_path / "o" / "cache").glob("b-*/*.json"))  # failures are retried next time


def test_table_and_plot(dataset: list[dict], tmp_path: Path) -> None:
    tok = FakeTokenizer({r["id"]: json.loads(r["answer"]) for r in dataset})
    doc = er.run_evidence(dataset, ["codec", "frames"], [2, 4], tmp_path / "o", tokenize=tok, progress=False)
    table = er.format_table(doc)
    lines = table.splitlines()
    assert "codec any" in lines[0] and "frames subj" in lines[0]
    assert lines[2].split()[0] == "2" and "66.7" in lines[2]  # codec@2 = 4/6
    png = er.plot(doc, tmp_path / "o" / "evidence.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_options(dataset: list[dict], tmp_path: Path) -> None:
    from ov2.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError):
        er.run_evidence(dataset, ["bogus"], [2], tmp_path, tokenize=lambda *a, **k: None, progress=False)
    with pytest.raises(InvalidOptionError):
        er.run_evidence(dataset, ["codec"], [0], tmp_path, tokenize=lambda *a, **k: None, progress=False)
