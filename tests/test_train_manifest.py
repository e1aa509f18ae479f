"""Training manifests: both input forms normalize to one Sample; every bad line is skipped with its reason."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ov2.errors import VideoNotFoundError
from ov2.train import manifest as mf
from ov2.train.manifest import Media, Sample, SampleError, parse_record, read_manifest


@pytest.fixture()
def media(tmp_path: Path) -> Path:
    for name in ("a.mp4", "b.png", "c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_llava_video_form_normalizes(media: Path) -> None:
    rec = {"id": 7, "video": "a.mp4", "source": "jr",
           "conversations": [{"from": "system", "value": "Be brief."},
                             {"from": "human", "value": "<video>\nHow many jumps?"},
                             {"from": "gpt", "value": " Five. "},
                             {"from": "human", "value": "And now?"}, {"from": "gpt", "value": "Six."}]}
    s = parse_record(rec, media, line=3)
    assert (s.id, s.source, s.line, s.kind) == ("7", "jr", 3, "video")
    assert s.media == [Media("video", str(media / "a.mp4"))]
    assert s.messages == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "How many jumps?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Five."}]},
        {"role": "user", "content": [{"type": "text", "text": "And now?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Six."}]},
    ]
    assert Sample.from_json(json.loads(json.dumps(s.to_json()))) == s


def test_llava_images_follow_placeholder_order_across_turns(media: Path) -> None:
    rec = {"id": "x", "images": ["b.png", "c.jpg"],
           "conversations": [{"from": "human", "value": "<image> first"}, {"from": "gpt", "value": "ok"},
                             {"from": "human", "value": "and <image>?"}, {"from": "gpt", "value": "ok"}]}
    s = parse_record(rec, media)
    assert [m.path for m in s.media] == [str(media / "b.png"), str(media / "c.jpg")]
    assert s.messages[2]["content"] == [{"type": "text", "text": "and"}, {"type": "image"}, {"type": "text", "text": "?"}]
    assert parse_record({**rec, "images": None, "image": ["b.png", "c.jpg"]}, media).media == s.media
    assert s.source == mf.DEFAULT_SOURCE and s.kind == "image"


def test_hf_messages_forms(media: Path) -> None:
    explicit = {"id": "m1", "messages": [
        {"role": "user", "content": [{"type": "image", "image": "c.jpg"}, {"type": "video", "path": "a.mp4"},
                                     {"type": "text", "text": "Compare."}]},
        {"role": "assistant", "content": "Same."}]}
    s = parse_record(explicit, media)
    assert s.kinds == ["image", "video"] and s.media[0].path == str(media / "c.jpg")
    assert s.messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "Same."}]}
    top_level = {"id": "m2", "video": "a.mp4", "messages": [
        {"role": "user", "content": "<video>\nWhat?"}, {"role": "assistant", "content": [{"type": "text", "text": "X"}]}]}
    s2 = parse_record(top_level, media)
    assert s2.media == [Media("video", str(media / "a.mp4"))]
    assert s2.messages[0]["content"] == [{"type": "video"}, {"type": "text", "text": "What?"}]
    parts_without_path = {"id": "m3", "image": "b.png", "messages": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]},
        {"role": "assistant", "content": "A."}]}
    assert parse_record(parts_without_path, media).media == [Media("image", str(media / "b.png"))]


def test_absolute_paths_are_kept(media: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("elsewhere")
    rec = {"id": "a", "video": str(media / "a.mp4"),
           "conversations": [{"from": "human", "value": "<video>"}, {"from": "gpt", "value": "y"}]}
    assert parse_record(rec, other).media[0].path == str(media / "a.mp4")


BAD = [
    ("not json at all", mf.MALFORMED_JSON),
    ([1, 2], mf.MALFORMED_RECORD),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, mf.MALFORMED_RECORD),
    ({"id": "both", "conversations": [], "messages": []}, mf.MALFORMED_RECORD),
    ({"id": "val", "conversations": [{"from": "human", "value": None}]}, mf.MALFORMED_RECORD),
    ({"id": "part", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}, mf.MALFORMED_RECORD),
    ({"id": "nomedia", "video": "gone.mp4",
      "conversations": [{"from": "human", "value": "<video>q"}, {"from": "gpt", "value": "a"}]}, mf.MISSING_MEDIA),
    ({"id": "noanswer", "conversations": [{"from": "human", "value": "q"}]}, mf.NO_ASSISTANT_TURN),
    ({"id": "empty", "conversations": []}, mf.NO_ASSISTANT_TURN),
    ({"id": "more_ph", "video": "a.mp4",
      "conversations": [{"from": "human", "value": "<video><video>q"}, {"from": "gpt", "value": "a"}]},
     mf.PLACEHOLDER_MISMATCH),
    ({"id": "fewer_ph", "images": ["b.png", "c.jpg"],
      "conversations": [{"from": "human", "value": "<image>q"}, {"from": "gpt", "value": "a"}]}, mf.PLACEHOLDER_MISMATCH),
    ({"id": "no_ph", "video": "a.mp4",
      "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, mf.PLACEHOLDER_MISMATCH),
    ({"id": "ph_in_answer", "image": "b.png",
      "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "<image> a"}]},
     mf.PLACEHOLDER_MISMATCH),
    ({"id": "role", "conversations": [{"from": "bot", "value": "q"}, {"from": "gpt", "value": "a"}]}, mf.UNKNOWN_ROLE),
    ({"id": "role2", "messages": [{"role": "tool", "content": "q"}, {"role": "assistant", "content": "a"}]},
     mf.UNKNOWN_ROLE),
    ({"id": "blank_answer", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "  "}]},
     mf.EMPTY_TEXT),
    ({"id": "blank_question", "conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "a"}]},
     mf.EMPTY_TEXT),
]


BAD_RECORDS = [(rec, reason) for rec, reason in BAD if reason != mf.MALFORMED_JSON]  # JSON errors are per line


@pytest.mark.parametrize("rec,reason", BAD_RECORDS, ids=[r for _, r in BAD_RECORDS])
def test_each_bad_record_has_its_reason(media: Path, rec, reason: str) -> None:
    with pytest.raises(SampleError) as info:
        parse_record(rec, media)
    assert info.value.reason == reason


def test_read_manifest_counts_every_reason_and_keeps_good_lines(media: Path) -> None:
    good = {"id": "good", "video": "a.mp4",
            "conversations": [{"from": "human", "value": "<video>q"}, {"from": "gpt", "value": "a"}]}
    lines: list = [good]
    for rec, _ in BAD:
        lines.append(rec)
    lines += ["", {**good, "conversations": good["conversations"][:1] + [{"from": "gpt", "value": "b"}]},
              {**good, "id": "good2"}]
    path = write_lines(media / "m.jsonl", lines)
    with path.open("ab") as fh:
        fh.write(b'{"id": "\xff\xfe"}\n')  # not UTF-8
    report = read_manifest(path)
    assert [s.id for s in report.samples] == ["good", "good2"]
    expected = {}
    for _, reason in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    expected[mf.DUPLICATE_ID] = 1
    expected[mf.MALFORMED_JSON] += 1
    assert dict(report.skipped) == expected
    assert report.lines == len(lines) - 1 + 1  # the blank line is not counted, the non-UTF-8 line is
    assert all(p.reason in mf.REASONS for p in report.problems) and report.problems[0].line == 2
    assert "skipped" in report.summary() and "duplicate_id=1" in report.summary()


def test_log_lines_are_capped(media: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(media / "bad.jsonl", ["{"] * 30)
    with caplog.at_level(logging.WARNING, logger="ov2.train.manifest"):
        report = read_manifest(path, max_log_lines=5)
    assert report.skipped[mf.MALFORMED_JSON] == 30 and not report.samples
    assert len(caplog.records) == 6  # five lines, then one summary
    assert "25 more skipped lines" in caplog.records[-1].getMessage()


def test_missing_media_can_be_left_to_precompute(media: Path) -> None:
    rec = {"id": "later", "video": "later.mp4",
           "conversations": [{"from": "human", "value": "<video>q"}, {"from": "gpt", "value": "a"}]}
    path = write_lines(media / "m.jsonl", [rec])
    assert read_manifest(path).skipped == {mf.MISSING_MEDIA: 1}
    report = read_manifest(path, check_media=False)
    assert report.samples[0].media == [Media("video", str(media / "later.mp4"))]


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match="manifest not found"):
        read_manifest(tmp_path / "nope.jsonl")
