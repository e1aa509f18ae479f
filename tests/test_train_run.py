"""Training end to end on real precomputed data: steps, frozen modules, export, resume after kill -9, 2 ranks == 1."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ov2.errors import InvalidOptionError
from ov2.model import LlavaOnevision2ForConditionalGeneration
from ov2.model.loading import load_model_and_processor
from ov2.model.tiny import make_tiny_model
from ov2.train.callbacks import LOG_NAME, MARKER, read_log
from ov2.train.config import build_config
from ov2.train.run import train
from train_data import make_training_set

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("train"))


def config(data, out, preset="stage4_tiny", **overrides):
    values = {"output_dir": str(out), "data_root": str(data), "max_steps": 4, "global_batch_size": 2,
              "save_steps": 2, "plot": True, **overrides}
    return build_config(preset, values)


def ov2_cmd(*args):
    return [sys.executable, "-m", "ov2", *args]


def test_tiny_stage4_trains_exports_and_every_trainable_weight_moves(data, tmp_path):
    start, _ = make_tiny_model(seed=0)
    result = train(config(data, tmp_path / "run"), progress=False)
    rows = read_log(tmp_path / "run" / LOG_NAME)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r["loss"])) and r["tokens"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert all(sum(r["mixture"].values()) == 2 for r in rows) and set(rows[0]["mixture"]) == {"codec", "frames", "images"}
    assert rows[1]["lr"] > rows[-1]["lr"]  # cosine decay after the one warm-up step
    assert (tmp_path / "run" / "loss_curve.png").stat().st_size > 1000
    final = LlavaOnevision2ForConditionalGeneration.from_pretrained(result.final)  # strict load
    model, processor = load_model_and_processor(result.final)  # what ov2 chat / ov2 eval do
    assert type(model) is type(final) and processor.video_processor is not None
    before = start.state_dict()
    for name, tensor in final.state_dict().items():
        assert not torch.equal(tensor, before[name]), f"{name} did not change"


def test_frozen_modules_stay_bit_identical_without_optimizer_state(data, tmp_path):
    args = config(data, tmp_path / "align", preset="align_tiny", max_steps=2)
    train(args, progress=False)
    start, _ = make_tiny_model(seed=0)
    trained = load_file(str(tmp_path / "align" / "final" / "model.safetensors"))
    for name, tensor in start.state_dict().items():
        changed = not torch.equal(tensor, trained[name])
        assert changed == name.startswith("model.visual.merger."), name
    optimizer = torch.load(tmp_path / "align" / "checkpoint-2" / "optimizer.pt", weights_only=False)
    n_merger = sum(1 for n, _ in start.named_parameters() if n.startswith("model.visual.merger."))
    assert len(optimizer["state"]) == n_merger


def test_bad_setups_fail_before_training(data, tmp_path):
    with pytest.raises(InvalidOptionError, match="precomputed with backend 'fixed', the config asks for 'codec'"):
        train(config(data, tmp_path / "a", sources=[{"name": "codec", "path": "fixed_8", "weight": 1.0,
                                                       "backend": "codec", "canvases": 8}]))
    no_init = config(data, tmp_path / "b")
    no_init.init = None
    with pytest.raises(InvalidOptionError, match="has no init checkpoint"):
        train(no_init)
    (tmp_path / "c" / "final").mkdir(parents=True)
    with pytest.raises(InvalidOptionError, match="pass --resume"):
        train(config(data, tmp_path / "c"))


def test_a_bf16_checkpoint_trains_from_fp32_master_weights(tmp_path):
    from ov2.model.tiny import make_tiny_checkpoint
    from ov2.train.run import build_model

    make_tiny_checkpoint(tmp_path / "ckpt")
    LlavaOnevision2ForConditionalGeneration.from_pretrained(tmp_path / "ckpt").to(torch.bfloat16).save_pretrained(
        tmp_path / "ckpt")
    bf16 = LlavaOnevision2ForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    assert next(bf16.parameters()).dtype == torch.bfloat16  # what transformers' default dtype="auto" gives
    model, _ = build_model(build_config("stage4_tiny", {"output_dir": str(tmp_path / "out"),
                                                        "init": str(tmp_path / "ckpt")}))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    for (name, a), b in zip(model.state_dict().items(), bf16.state_dict().values()):
        assert torch.equal(a, b.float()), name


def train_cli(data, out, steps=6, extra=()):
    return ov2_cmd("train", "stage4_tiny", "--out", str(out), "--data-root", str(data), "--max-steps", str(steps),
                   "--global-batch-size", "2", "--save-steps", "2", "--no-progress",
                   "--no-plot", *extra)


def test_kill_9_then_resume_gives_the_uninterrupted_losses(data, tmp_path):
    train(config(data, tmp_path / "straight", max_steps=6, plot=False), progress=False)
    want = read_log(tmp_path / "straight" / LOG_NAME)
    run = tmp_path / "killed"
    proc = subprocess.Popen(train_cli(data, run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while not (run / "checkpoint-4" / MARKER).exists():
        assert proc.poll() is None and time.time() < deadline, "training ended before its step-4 checkpoint"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "final").exists()
    done = subprocess.run(train_cli(data, run, extra=("--resume",)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stdout
    got = read_log(run / LOG_NAME)
    assert [r["step"] for r in got] == [1, 2, 3, 4, 5, 6]  # no duplicated or missing lines
    for a, b in zip(got, want):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6), (a, b)
        assert a["mixture"] == b["mixture"]


def test_two_gloo_ranks_log_the_losses_of_one(data, tmp_path):
    train(config(data, tmp_path / "one", max_steps=3, plot=False), progress=False)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ov2",
           *train_cli(data, tmp_path / "two", steps=3)[3:]]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 processes, accumulation 1" in done.stdout
    one, two = read_log(tmp_path / "one" / LOG_NAME), read_log(tmp_path / "two" / LOG_NAME)
    assert len(one) == len(two) == 3
    for a, b in zip(one, two):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) and a["tokens"] == b["tokens"]
    assert json.loads((tmp_path / "two" / "final" / "config.json").read_text())["model_type"] == "llava_onevision2"


def test_a_source_that_cannot_fit_max_length_fails_before_training(data, tmp_path):
    with pytest.raises(InvalidOptionError, match=r"source 'codec': its first sample .* does not fit max_length 300"):
        train(config(data, tmp_path / "tight", max_length=300))


def test_trained_codec_config_keeps_only_options_every_canvas_source_shares():
    from types import SimpleNamespace

    from ov2.train.run import trained_codec_config

    def dataset(*tokenize_params):
        names = [f"s{i}" for i in range(len(tokenize_params))]
        datasets = {n: SimpleNamespace(index={"params": {"tokenize": t}}) for n, t in zip(names, tokenize_params)}
        return SimpleNamespace(sources=[SimpleNamespace(name=n) for n in names],
                               mixture=SimpleNamespace(datasets=datasets))

    codec24 = {"backend": "codec", "canvases": 8, "candidates_per_group": 24, "max_pixels": 50176}
    fixed24 = {"backend": "fixed", "canvases": 16, "candidates_per_group": 24}
    frames = {"backend": "frames", "canvases": 8, "candidates_per_group": 99}
    # Budget and pixels are chosen per call; frames sources do not count.
    assert trained_codec_config(dataset(codec24, fixed24, frames)) == {"candidates_per_group": 24}
    assert trained_codec_config(dataset(codec24, {"backend": "codec", "canvases": 8})) == {}  # they disagree
    assert trained_codec_config(dataset(frames)) == {}
