"""The transformers contract: Auto classes, checkpointing, attention kernels, Trainer, LoRA, device maps, meta init."""

import json
import subprocess
import sys

import pytest
import torch
from torch.utils.data import Dataset

import ov2
from model_helpers import enable_checkpointing, video_inputs
from ov2.model import LlavaOnevision2ForConditionalGeneration
from ov2.model.answer import user_message
from ov2.model.rope import inverse_frequencies, split_sizes
from ov2.model.tiny import make_tiny_checkpoint, make_tiny_model, synthetic_visual_input
from ov2.processing import Processor


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("train") / "tiny", seed=5)


@pytest.fixture(scope="module")
def proc(ckpt):
    return Processor.from_pretrained(ckpt)


def labelled_sample(proc, answer_text="twelve jumps"):
    """One codec-video conversation with labels on the assistant answer only."""
    vi = synthetic_visual_input(8, (4, 4), padded_blocks=[(5, 1)])
    messages = user_message("How many?", video=True) + [{"role": "assistant", "content": answer_text}]
    inp = proc(text=proc.apply_chat_template(messages), videos=vi)
    labels = inp["input_ids"].clone()
    labels[:, : -len(proc.tokenizer(answer_text + "<|im_end|>\n")["input_ids"])] = -100
    return {**inp, "labels": labels}


def gradients(model, batch):
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_registration_is_explicit_and_auto_classes_load_ov2(ckpt):
    code = f"""
import json
from ov2.model import LlavaOnevision2ForConditionalGeneration
from transformers import AutoConfig
from transformers.conversion_mapping import get_checkpoint_conversion_mapping
try:
    AutoConfig.from_pretrained({str(ckpt)!r}); known = True
except ValueError:
    known = False
model = LlavaOnevision2ForConditionalGeneration.from_pretrained({str(ckpt)!r})
print(json.dumps({{"known": known, "mapping": get_checkpoint_conversion_mapping("llava_onevision2") is not None}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"known": False, "mapping": False}

    from transformers import AutoModelForImageTextToText, AutoProcessor

    ov2.register_auto_classes()
    direct = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    ids = torch.tensor([[3, 4, 5, 6]])
    for remote in (False, True):
        auto = AutoModelForImageTextToText.from_pretrained(ckpt, trust_remote_code=remote)
        assert type(auto) is LlavaOnevision2ForConditionalGeneration
        assert torch.equal(auto(input_ids=ids).logits, direct(input_ids=ids).logits)
        assert type(AutoProcessor.from_pretrained(ckpt, trust_remote_code=remote)) is Processor


def test_release_config_with_remote_code_map_loads_through_auto(ckpt, tmp_path):
    """A directory as the release ships it (auto_map to remote code that is not there) resolves to ov2."""
    from transformers import AutoModelForImageTextToText

    d = tmp_path / "release"
    d.mkdir()
    for f in ckpt.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((d / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_llava_onevision2.LlavaOnevision2Config",
                       "AutoModelForImageTextToText": "modeling_llava_onevision2.LlavaOnevision2ForConditionalGeneration"}
    (d / "config.json").write_text(json.dumps(cfg))
    ov2.register_auto_classes()
    model = AutoModelForImageTextToText.from_pretrained(d, trust_remote_code=True)
    assert type(model) is LlavaOnevision2ForConditionalGeneration


def test_checkpointing_gives_the_same_gradients(ckpt, proc):
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    model.train()
    batch = labelled_sample(proc)
    loss_a, plain = gradients(model, batch)
    enable_checkpointing(model, use_reentrant=False)
    layers = [m for m in model.modules() if getattr(m, "gradient_checkpointing", False)]
    assert {type(m).__name__ for m in layers} >= {"OneVisionEncoderLayer", "Qwen3DecoderLayer"}
    loss_b, ckpt_grads = gradients(model, batch)
    assert torch.equal(loss_a, loss_b)
    assert plain.keys() == ckpt_grads.keys() and any(k.startswith("model.visual.") for k in plain)
    for name in plain:
        assert torch.allclose(plain[name], ckpt_grads[name], atol=1e-6, rtol=1e-5), name


def test_sdpa_and_eager_agree(ckpt, proc):
    batch = labelled_sample(proc)
    logits = {}
    for impl in ("sdpa", "eager"):
        model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt, attn_implementation=impl)
        assert model.config.vision_config._attn_implementation == impl
        with torch.no_grad():
            logits[impl] = model(**batch).logits
    assert torch.allclose(logits["sdpa"], logits["eager"], atol=1e-5)


class _Repeat(Dataset):
    def __init__(self, sample, n):
        self.sample, self.n = sample, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.sample


def test_hf_trainer_steps_lower_the_loss(ckpt, proc, tmp_path):
    from transformers import Trainer, TrainingArguments

    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    sample = labelled_sample(proc)
    first = model(**sample).loss.item()
    args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=1, max_steps=8,
                             learning_rate=3e-3, report_to=[], save_strategy="no", logging_steps=1,
                             use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=_Repeat(sample, 8), data_collator=lambda items: items[0])
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == 8 and all(torch.isfinite(torch.tensor(losses)))
    model.eval()
    with torch.no_grad():
        assert model(**sample).loss.item() < 0.75 * first
    assert losses[-1] < losses[0]


def test_lora_on_the_language_model_with_frozen_vit_and_checkpointing(ckpt, proc):
    from peft import LoraConfig, get_peft_model

    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt)
    enable_checkpointing(model, use_reentrant=True)
    model.enable_input_require_grads()
    config = LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q_proj|v_proj)")
    peft_model = get_peft_model(model, config)
    peft_model.train()
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    loss = peft_model(**labelled_sample(proc)).loss
    loss.backward()
    grads = {n: p.grad for n, p in peft_model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    # lora_B starts at zero (so lora_A's first gradient is zero too); B must get a real gradient through
    # the re-entrant checkpoints, which needs the input-embedding hook.
    assert all(float(g.abs().sum()) > 0 for n, g in grads.items() if "lora_B" in n)
    assert all(p.grad is None for n, p in peft_model.named_parameters() if "visual" in n)


def test_device_map_never_splits_a_block():
    from accelerate import infer_auto_device_map
    from accelerate.utils import compute_module_sizes

    model, _ = make_tiny_model()
    budget = compute_module_sizes(model)[""] // 5  # forces the model across several (planned) devices
    plan = infer_auto_device_map(model, max_memory={i: budget for i in range(6)} | {"cpu": 10**9},
                                 no_split_module_classes=model._no_split_modules)
    assert len(set(plan.values())) > 2
    blocks = [n for n, m in model.named_modules() if type(m).__name__ in model._no_split_modules]
    for key in plan:
        assert not any(key.startswith(b + ".") for b in blocks), f"{key} splits a block"


def test_meta_device_load_builds_rope_tables(ckpt):
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(ckpt, device_map="cpu")  # built on meta
    rope = model.visual.video_rope
    for name, n in zip(("inv_freq_t", "inv_freq_h", "inv_freq_w"), split_sizes(rope.head_dim)):
        table = getattr(rope, name)
        assert not table.is_meta and table.dtype == torch.float32
        assert torch.equal(table, inverse_frequencies(n, rope.theta))
    text = model.language_model.rotary_emb
    theta = model.config.text_config.rope_parameters["rope_theta"]
    dim = model.config.text_config.head_dim
    want = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    assert torch.allclose(text.inv_freq, want)
    assert not any(b.is_meta for b in model.buffers())
