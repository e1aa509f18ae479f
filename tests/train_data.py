"""Small real training data for the tests: low-resolution benchmark clips, images, a mixed manifest."""

from __future__ import annotations

import json
from pathlib import Path

from ov2.data import grounding, images, jumprope
from ov2.data.conversations import benchmark_records, to_conversation, write_manifest


def make_clips(root: Path, n_jumprope: int = 3, n_grounding: int = 2) -> Path:
    """Jump-rope (5-6 s) and grounding (3-4 s) clips at 160x96 under ``root`` (about a second to make)."""
    jumprope.generate(root, n_jumprope, seed=0, width=160, height=96, duration=(5, 6), workers=1, progress=False)
    grounding.generate(root, n_grounding, seed=0, width=160, height=96, duration=(3, 4), workers=1, progress=False)
    return root


def make_mixed_manifest(root: Path, n_images: int = 4) -> Path:
    """A manifest with every kind of line precompute must handle, in a known order:

    the clips' conversations, image samples (one of them two-image when n_images >= 8), a text-only
    sample, a broken video (random bytes), a missing video, and one malformed JSON line.
    """
    make_clips(root / "clips_data")
    images.generate(root / "img_data", n_images, seed=0, size=112, progress=False)
    records = [to_conversation(t, r) for t, r in benchmark_records(root / "clips_data")]
    img_lines = (root / "img_data" / "images.jsonl").read_text().splitlines()
    for line in img_lines:
        rec = json.loads(line)
        for key in ("image",):
            if key in rec:
                rec[key] = str(root / "img_data" / rec[key])
        if "images" in rec:
            rec["images"] = [str(root / "img_data" / p) for p in rec["images"]]
        records.append(rec)
    (root / "broken.mp4").write_bytes(bytes(range(256)) * 64)
    records.append({"id": "text_only", "conversations": [{"from": "human", "value": "Say hi."},
                                                           {"from": "gpt", "value": "Hi."}]})
    records.append({"id": "broken", "video": str(root / "broken.mp4"),
                    "conversations": [{"from": "human", "value": "<video>\nWhat happens?"},
                                      {"from": "gpt", "value": "Nothing."}]})
    records.append({"id": "missing", "video": str(root / "missing.mp4"),
                    "conversations": [{"from": "human", "value": "<video>\nWhat happens?"},
                                      {"from": "gpt", "value": "Nothing."}]})
    path = write_manifest(records, root / "manifest.jsonl")
    with path.open("a") as fh:
        fh.write('{"id": "torn", "conversations": [\n')
    return path


def make_training_set(root: Path) -> Path:
    """Precomputed codec_8 / fixed_8 / frames_8 / images under ``root/precomputed`` (what the tiny presets read)."""
    from ov2.train.precompute import precompute

    make_clips(root / "clips")
    images.generate(root / "images", 6, seed=0, size=84, progress=False)
    videos = write_manifest([to_conversation(t, r) for t, r in benchmark_records(root / "clips")], root / "videos.jsonl")
    out = root / "precomputed"
    for backend in ("codec", "fixed", "frames"):
        precompute(videos, out / f"{backend}_8", backend=backend, canvases=8, workers=1, progress=False)
    precompute(root / "images" / "images.jsonl", out / "images", backend="frames", canvases=4, workers=1, progress=False)
    return out
