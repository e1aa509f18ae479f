"""Training configs: every preset builds; bad configs fail with one clear error before any work."""

import re

import pytest

from ov2.train.config import TrainConfigError, build_config, preset_names


def test_every_stage_has_a_preset_and_a_tiny_variant():
    names = preset_names()
    for stage in ("align", "stage1", "stage2", "stage3", "stage4"):
        assert stage in names and f"{stage}_tiny" in names
    for name in names:
        config = build_config(name, {"output_dir": "unused"})
        assert config.stage == name
        # The experiment preset gets its one source from `ov2 experiment`; every recipe preset names its own.
        assert bool(config.sources) == (not name.startswith("experiment_"))


def test_recipe_values():
    s1, s2, s4 = (build_config(n, {"output_dir": "x"}) for n in ("stage1", "stage2", "stage4"))
    align = build_config("align", {"output_dir": "x"})
    assert align.train_modules == ["merger"] and align.learning_rate == 1e-4
    assert s1.train_modules == ["vision", "merger", "language_model"] and s1.learning_rate == 1e-5
    assert (s1.weight_decay, s1.adam_beta2) == (0.01, 0.95) and (s2.weight_decay, s2.adam_beta2) == (0.0, 0.99)
    assert (s1.adam_beta1, s1.adam_epsilon, s1.max_grad_norm, s1.warmup_steps) == (0.9, 1e-5, 1.0, 0.002)
    assert s1.lr_scheduler_kwargs == {"min_lr_rate": pytest.approx(1e-6 / 1e-5)}
    # The codec schedule: fixed groups before stage 4, the adaptive codec in stage 4; budgets grow.
    assert [s.backend for s in s1.sources] == ["fixed", "frames", None]
    assert [s.backend for s in s4.sources] == ["codec", "frames", None, "codec", "codec"]
    assert [s.canvases for s in s1.sources[:2]] == [32, 30] and [s.canvases for s in s4.sources[:2]] == [384, 768]
    assert [s.weight for s in s4.sources] == [0.5, 0.375, 0.125, 0.0625, 0.0625]
    # Stage 4 adds the Molmo2 point and track data (raw rows read by ov2.train.molmo2).
    assert [s.name for s in s4.sources[3:]] == ["molmo2_videopoint", "molmo2_videotrack"]


def test_overrides_and_accumulation_keep_the_global_batch():
    config = build_config("stage4_tiny", {"output_dir": "x", "learning_rate": 0.5, "global_batch_size": 8})
    assert config.learning_rate == 0.5
    assert [config.gradient_accumulation_for(w) for w in (1, 2, 4, 8)] == [8, 4, 2, 1]
    with pytest.raises(TrainConfigError, match="not a multiple of per_device_train_batch_size"):
        config.gradient_accumulation_for(3)


@pytest.mark.parametrize("overrides, message", [
    ({"warmup_stepz": 3}, "unknown config keys ['warmup_stepz']"),
    ({"sources": [{"name": "a", "path": "p", "weight": 0}]}, "source 'a': weight must be a number > 0, got 0"),
    ({"sources": [{"name": "a", "path": "p", "weight": 1, "backend": "codec", "canvases": 30}]},
     "a codec budget must be a multiple of 4"),
    ({"sources": [{"name": "a", "path": "p", "weight": 1, "frames": 3}]}, "unknown keys ['frames']"),
    ({"train_modules": ["vision", "projector"]}, "must be a non-empty subset of ['vision', 'merger', 'language_model']"),
    ({"lr_multipliers": {"llm": 2.0}}, "lr_multipliers has unknown modules ['llm']"),
    ({"timestamp_decimals": 3}, "timestamp_decimals must be 1 or 2"),
])
def test_bad_configs_fail_clearly(overrides, message):
    with pytest.raises(TrainConfigError, match=re.escape(message)):
        build_config("stage4_tiny", {"output_dir": "x", **overrides})


def test_config_files_and_bases(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: stage4_tiny\nlearning_rate: 0.01\n")
    assert build_config(path, {"output_dir": "x"}).learning_rate == 0.01
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(TrainConfigError, match="loops back"):
        build_config(loop, {"output_dir": "x"})
    with pytest.raises(TrainConfigError, match="no preset named 'stage9'"):
        build_config("stage9", {"output_dir": "x"})


def test_tiny_size_accepts_the_number_the_command_line_and_yaml_give(tmp_path):
    # `--tiny-size 128` reaches the config as the YAML integer 128; presets spell it "64".
    assert build_config("experiment_jumprope", {"output_dir": "x", "tiny_size": 128}).tiny_size == "128"
    path = tmp_path / "wide.yaml"
    path.write_text("base: stage4_tiny\ntiny_size: 256\n")
    assert build_config(path, {"output_dir": "x"}).tiny_size == "256"
    with pytest.raises(TrainConfigError, match="tiny_size '96' is not"):
        build_config("stage4_tiny", {"output_dir": "x", "tiny_size": 96})
