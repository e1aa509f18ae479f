"""The point probe (``ov2 experiment point-probe``): its images, its scoring, and that its control task learns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ov2.errors import InvalidOptionError
from ov2.experiments.point_probe import HEIGHT, RADIUS, WIDTH, Disc, ProbeConfig, draw_disc, hit, run_probe


def test_disc_is_inside_the_frame_and_its_answer_is_its_centre_on_0_1000():
    rng = np.random.default_rng(3)
    for _ in range(20):
        image, disc = draw_disc(rng)
        assert image.shape == (HEIGHT, WIDTH, 3)
        area = int(disc.mask.sum())
        assert abs(area - np.pi * RADIUS**2) < 0.1 * np.pi * RADIUS**2  # a whole disc, not clipped
        ys, xs = np.nonzero(disc.mask)
        assert abs(xs.mean() + 0.5 - disc.cx) < 0.5 and abs(ys.mean() + 0.5 - disc.cy) < 0.5
        x, y = (int(v) for v in disc.answer("point").split())
        assert x == round(disc.cx / WIDTH * 1000) and y == round(disc.cy / HEIGHT * 1000)
        assert disc.answer("color") == f"{100 * disc.colour:03d} {100 * disc.colour:03d}"


def test_hit_is_true_inside_the_disc_only():
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[60:70, 100:110] = True
    disc = Disc(105.0, 65.0, 0, mask)
    assert hit("469 508", disc)          # (105/224, 65/128) on 0-1000
    assert not hit("100 508", disc)      # right row, wrong column
    assert not hit("469 900", disc)
    assert not hit("46x 508", disc)      # unparsable: a miss, not an error


def test_bad_configs_are_typed_errors():
    with pytest.raises(InvalidOptionError, match="task"):
        ProbeConfig(task="count")
    with pytest.raises(InvalidOptionError, match="width"):
        ProbeConfig(width=65)
    with pytest.raises(InvalidOptionError, match="modules"):
        ProbeConfig(train_modules=("decoder",))
    with pytest.raises(InvalidOptionError, match="modules"):
        ProbeConfig(train_modules=())
    with pytest.raises(InvalidOptionError, match=">= 1"):
        ProbeConfig(steps=0)


def test_the_colour_control_is_learned_and_written(tmp_path):
    # The control needs the image but not the disc's place: if this fails, the probe (or the model's
    # visual path) is broken, and a failing "point" run would say nothing about localisation.
    out = tmp_path / "probe.jsonl"
    rows = run_probe(ProbeConfig(task="color", steps=300, eval_every=150), out)
    assert [r["step"] for r in rows] == [0, 150, 300]
    assert rows[0]["first_digit_acc"] < 0.5
    assert rows[-1]["first_digit_acc"] >= 0.9
    assert rows[-1]["val_loss"] < 0.5 * rows[0]["val_loss"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["config"]["task"] == "color" and [r["step"] for r in lines[1:]] == [0, 150, 300]


def test_cli_writes_scores_and_a_checkpoint_training_can_start_from(tmp_path):
    from ov2.cli import main
    from ov2.model.loading import load_model_and_processor

    out, save = tmp_path / "scores.jsonl", tmp_path / "ckpt"
    assert main(["experiment", "point-probe", "--steps", "2", "--eval-every", "1", "--batch", "2",
                 "--train-modules", "vision,merger,language_model", "--out", str(out), "--save", str(save)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["config"]["train_modules"] == ["vision", "merger", "language_model"]
    assert [r["step"] for r in lines[1:]] == [0, 1, 2]
    model, processor = load_model_and_processor(save)
    assert model.config.vision_config.use_patch_position_encoding  # the probe's default, kept in the checkpoint
    assert processor.tokenizer.decode(processor.tokenizer("123 456")["input_ids"]) == "123 456"
