"""The supported transformers range: one clear line outside it, and checkpoints whose processor files another
transformers version (or the release) wrote load to the same processor."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import ov2
from model_helpers import image_inputs, video_inputs
from ov2.compat import TRANSFORMERS_RANGE, check_transformers_version
from ov2.errors import UnsupportedDependencyError
from ov2.model.tiny import make_tiny_checkpoint, synthetic_visual_input

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "processor_configs"


@pytest.mark.parametrize("installed", ["5.15.0", "5.16.0", "4.57.1", "6.0.0", "6.1.0.dev0"])
def test_a_version_outside_the_range_is_one_line_naming_version_range_and_fix(installed):
    expected = (f"ov2 supports transformers>=5.16.1,<6, but transformers {installed} is installed: "
                "pip install 'transformers>=5.16.1,<6'")
    with pytest.raises(UnsupportedDependencyError, match=re.escape(expected)):
        check_transformers_version(installed)


@pytest.mark.parametrize("installed", ["5.16.1", "5.19.0", "5.25.0", "5.99.3"])
def test_versions_inside_the_range_pass(installed):
    assert check_transformers_version(installed) == installed


def test_pyproject_declares_the_range_ov2_checks():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (declared,) = [Requirement(d) for d in deps if Requirement(d).name == "transformers"]
    assert declared.specifier == SpecifierSet(TRANSFORMERS_RANGE)


def test_import_ov2_with_an_unsupported_transformers_stops_with_one_line(tmp_path):
    # A distribution record earlier on sys.path is what importlib.metadata reports as installed.
    info = tmp_path / "transformers-4.57.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 4.57.1\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}
    result = subprocess.run([sys.executable, "-c", "import ov2"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("ov2.errors.UnsupportedDependencyError: ov2 supports transformers>=5.16.1,<6, but transformers "
                    "4.57.1 is installed: pip install 'transformers>=5.16.1,<6'")
    assert "site-packages/transformers" not in result.stderr  # raised before transformers is imported


# ------------------------------------------------------------------------------------------ processor files
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("compat") / "tiny")


def load_processor(directory):
    from transformers import AutoProcessor

    ov2.register_auto_classes()
    return AutoProcessor.from_pretrained(directory, trust_remote_code=True)


def with_processor_file(ckpt: Path, target: Path, name: str, content: dict) -> Path:
    shutil.copytree(ckpt, target)
    (target / "processor_config.json").unlink()
    (target / name).write_text(json.dumps(content))
    return target


FILES = sorted(FIXTURES.glob("*.json"))


@pytest.mark.parametrize("fixture", FILES, ids=[f.stem for f in FILES])
def test_processor_config_written_by_another_transformers_version_loads(ckpt, tmp_path, fixture):
    """Files written by ov2 under transformers 5.16.1 and 5.25 (and by ov2 before its own video settings were
    written out in full) give the settings they hold and the same pixels and prompt as today's checkpoint."""
    saved = json.loads(fixture.read_text())
    proc = load_processor(with_processor_file(ckpt, tmp_path / "ckpt", "processor_config.json", saved))
    reference = load_processor(ckpt)
    assert type(proc.video_processor).__name__ == "LlavaOnevision2VideoProcessor"
    for key, value in saved["video_processor"].items():
        if not key.endswith("_type") and value is not None:
            assert np.allclose(getattr(proc.video_processor, key), value) if isinstance(value, list) else \
                getattr(proc.video_processor, key) == value, key
    assert proc.image_processor.size["longest_edge"] == reference.image_processor.size["longest_edge"] == 56 * 56 * 16

    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    got, want = image_inputs(proc, image), image_inputs(reference, image)
    assert torch.equal(got["input_ids"], want["input_ids"])
    assert torch.equal(got["pixel_values"], want["pixel_values"])

    vi = synthetic_visual_input(8)
    decimals = saved["video_processor"].get("timestamp_decimals", 1)
    got, want = video_inputs(proc, vi), video_inputs(reference, vi, timestamp_decimals=decimals)
    assert torch.equal(got["input_ids"], want["input_ids"])
    assert torch.equal(got["pixel_values"], want["pixel_values"])


def test_settings_a_newer_transformers_may_add_are_ignored(ckpt, tmp_path):
    saved = json.loads((FIXTURES / "ov2-0.1.0_transformers-5.25.0.json").read_text())
    saved["video_processor"].update({"do_sample_frames": False, "return_metadata": True, "fps": 2.0, "device": None})
    saved["future_processor_option"] = 1
    proc = load_processor(with_processor_file(ckpt, tmp_path / "ckpt", "processor_config.json", saved))
    assert proc.video_processor.canvases == 16 and proc.video_processor.video_backend == "fixed"
    assert not hasattr(proc.video_processor, "do_sample_frames")


def test_release_style_processor_files_load(ckpt, tmp_path):
    """The release ships ``preprocessor_config.json`` (4.57's slow Qwen2-VL processor, pixel range in
    ``min_pixels``/``max_pixels``), a ``chat_template.json`` and no video settings."""
    release = {
        "min_pixels": 3136, "max_pixels": 200704, "patch_size": 14, "temporal_patch_size": 1, "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "LlavaOnevision2Processor",
        "auto_map": {"AutoProcessor": "processing_llava_onevision2.LlavaOnevision2Processor"},
    }
    target = with_processor_file(ckpt, tmp_path / "release", "preprocessor_config.json", release)
    template = (target / "chat_template.jinja").read_text()
    (target / "chat_template.jinja").unlink()
    (target / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    proc = load_processor(target)
    assert proc.image_processor.size == {"shortest_edge": 3136, "longest_edge": 200704}
    assert proc.chat_template == template
    # No video settings: ov2's video defaults, with the model's merge size and windows.
    assert (proc.video_processor.canvases, proc.video_processor.video_backend) == (32, "codec")
    assert (proc.video_processor.merge_size, proc.video_processor.frame_windows_size) == (2, 4)
    assert proc.video_processor.timestamp_decimals == 1


def test_a_missing_processor_directory_is_one_clear_error(tmp_path):
    from ov2.processing.processor import LlavaOnevision2Processor, ProcessorLoadingError

    missing = tmp_path / "nowhere"
    with pytest.raises(ProcessorLoadingError, match=re.escape(f"processor directory not found: {missing}")):
        LlavaOnevision2Processor.from_pretrained(missing)


def test_generation_reads_the_kv_cache_under_either_name(ckpt):
    """transformers 5.24 passes the KV cache as ``cache=`` (before: ``past_key_values=``). A decode step whose
    token is ``<|image_pad|>`` (a random model can emit one) must be read as a continuation of the cache, not
    as a new prompt whose pixels are missing."""
    from transformers import AutoModelForImageTextToText, LogitsProcessor, LogitsProcessorList

    proc = load_processor(ckpt)
    model = AutoModelForImageTextToText.from_pretrained(ckpt)
    pad = model.config.image_token_id

    class ForcePad(LogitsProcessor):
        def __call__(self, input_ids, scores):
            forced = torch.full_like(scores, float("-inf"))
            forced[:, pad] = 0.0
            return forced

    inputs = video_inputs(proc, synthetic_visual_input(8, backend="frames"))
    seen = []
    hook = model.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs.get("past_key_values") if kwargs.get("past_key_values")
                                                 is not None else kwargs.get("cache")), with_kwargs=True)
    try:
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False, logits_processor=LogitsProcessorList([ForcePad()]))
    finally:
        hook.remove()
    assert out[0, -3:].tolist() == [pad] * 3
    assert len(seen) == 3 and all(cache is not None for cache in seen)
    assert seen[-1].get_seq_length() == inputs["input_ids"].shape[1] + 2


def test_activation_checkpointing_reaches_the_trainer_in_every_version():
    """ov2's configs say ``activation_checkpointing`` (transformers >= 5.23); older versions read
    ``gradient_checkpointing``, which the config then sets."""
    from transformers import TrainingArguments

    from ov2.train.config import build_config

    on = build_config("stage4_tiny", {"activation_checkpointing": True, "output_dir": "unused"})
    off = build_config("stage4_tiny", {"output_dir": "unused"})
    assert on.activation_checkpointing is True and off.activation_checkpointing is False
    if "activation_checkpointing" not in {f.name for f in dataclasses.fields(TrainingArguments)}:
        assert on.gradient_checkpointing is True and off.gradient_checkpointing is False
