"""ov2.data.load_jsonl and the ``ov2 data`` command."""

from __future__ import annotations

import argparse
import json

import pytest

from ov2.commands import data as data_command
from ov2.data import DatasetError, load_jsonl
from ov2.errors import VideoNotFoundError


def test_load_jsonl_resolves_relative_paths(tmp_path):
    sub = tmp_path / "set"
    sub.mkdir()
    lines = [
        {"id": "a", "video_path": "clips/a.mp4", "boxes_path": "clips/a.boxes.json", "answer": "[1.0]"},
        {"id": "b", "video_path": "/abs/b.mp4"},
    ]
    (sub / "x.jsonl").write_text(json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n")
    recs = load_jsonl(sub / "x.jsonl")
    assert [r["id"] for r in recs] == ["a", "b"]
    assert recs[0]["video_path"] == str((sub / "clips" / "a.mp4").resolve())
    assert recs[0]["boxes_path"] == str((sub / "clips" / "a.boxes.json").resolve())
    assert recs[1]["video_path"] == "/abs/b.mp4"
    assert recs[0]["answer"] == "[1.0]"


def test_load_jsonl_errors(tmp_path):
    with pytest.raises(VideoNotFoundError):
        load_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "video_path": "v.mp4"}\n{not json\n')
    with pytest.raises(DatasetError, match=":2:"):
        load_jsonl(bad)
    bad.write_text('{"video_path": "v.mp4"}\n')
    with pytest.raises(DatasetError, match="id"):
        load_jsonl(bad)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ov2")
    data_command.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_writes_both_benchmarks(tmp_path, capsys):
    parser = _parser()
    small = ["--n", "1", "--width", "320", "--height", "180", "--duration", "5", "5", "--quiet", "--workers", "1"]
    args = parser.parse_args(["data", "jumprope", "--out", str(tmp_path / "jr"), "--seed", "2", *small])
    assert args.func(args) == 0
    rec = load_jsonl(tmp_path / "jr" / "jumpscore.jsonl")[0]
    assert rec["width"] == 320 and rec["duration"] == 5.0 and rec["regime"] == "short"
    args = parser.parse_args(["data", "grounding", "--out", str(tmp_path / "gr"), *small])
    assert args.func(args) == 0
    rec = load_jsonl(tmp_path / "gr" / "grounding.jsonl")[0]
    assert rec["height"] == 180 and len(rec["span"]) == 2
    assert "grounding.jsonl" in capsys.readouterr().out


def test_cli_rejects_bad_options(tmp_path, capsys):
    parser = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "jumprope", "--out", str(tmp_path), "--n", "0"])
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "jumprope", "--out", str(tmp_path), "--n", "1", "--width", "641"])
    args = parser.parse_args(["data", "jumprope", "--out", str(tmp_path), "--n", "1", "--duration", "1", "1", "--quiet"])
    assert args.func(args) == 2
    assert "too short" in capsys.readouterr().err
