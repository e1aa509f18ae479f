"""The visual-reliance check: a model that cannot see scores no gap; one whose visuals reach the answer does."""

import shutil

import pytest
from safetensors.torch import load_file, save_file

from ov2.errors import InvalidOptionError
from ov2.eval.reliance import visual_reliance
from ov2.model.tiny import make_tiny_checkpoint
from train_data import make_training_set


@pytest.fixture(scope="module")
def codec_samples(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("rel")) / "codec_8"


def test_a_blind_model_has_no_gap_and_a_seeing_one_has(codec_samples, tmp_path):
    seeing = make_tiny_checkpoint(tmp_path / "seeing", seed=3)
    result = visual_reliance(seeing, codec_samples, n=16)
    assert result["n"] == 5  # 3 jump-rope + 2 grounding clips, one canvas shape at 160x96
    assert result["gap"] == pytest.approx(result["swapped_loss"] - result["own_loss"])
    assert abs(result["gap"]) > 1e-5 and result["own_loss"] > 0
    # Blind: the merger's last layer zeroed, so every visual token is the same vector (its bias).
    blind = tmp_path / "blind"
    shutil.copytree(seeing, blind)
    weights = load_file(blind / "model.safetensors")
    weights["model.visual.merger.mlp.2.weight"].zero_()
    save_file(weights, blind / "model.safetensors", metadata={"format": "pt"})
    blind_result = visual_reliance(blind, codec_samples, n=16)
    assert blind_result["gap"] == pytest.approx(0.0, abs=1e-6)
    assert blind_result["own_loss"] != pytest.approx(result["own_loss"], abs=1e-6)  # the edit took effect


def test_too_few_samples_is_a_clear_error(codec_samples, tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / "m")
    with pytest.raises(InvalidOptionError, match="at least 2 samples"):
        visual_reliance(ckpt, codec_samples, n=1)
