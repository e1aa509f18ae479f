"""``Ov2Trainer``: transformers' ``Trainer`` with two overrides, the optimiser's parameter groups and the loss.

Everything else is the library's: DDP / FSDP2 / DeepSpeed through accelerate, gradient
accumulation, clipping, bf16, checkpoints with optimiser / scheduler / RNG state,
resuming, logging and the progress bar.

* ``create_optimizer``: only trainable parameters (frozen modules hold no optimiser
  state), one group per (module, decay) with the module's learning-rate multiplier.
* ``compute_loss``: counts the step's real tokens for the log, and offers a per-sample
  mean (``loss_mean: pack``, the release's per-pack mean redefined per sample, because a
  packed micro-batch is now one flattened row) as an alternative to the default global
  token-weighted mean. The token-weighted mean is the library's: ``num_items_in_batch``
  counts the labelled tokens of all micro-batches of the optimiser step on all ranks, and
  packing does not change it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer

from .config import MODULES, Ov2TrainingArguments


def module_of(parameter_name: str) -> str:
    """Which recipe module (vision / merger / language_model) a parameter belongs to."""
    name = parameter_name
    for prefix in ("_orig_mod.", "module.", "base_model.model."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith("model.visual.merger."):
        return "merger"
    if name.startswith("model.visual."):
        return "vision"
    return "language_model"


def freeze_modules(model: torch.nn.Module, train_modules: list[str]) -> dict[str, int]:
    """``requires_grad`` on exactly the parameters of ``train_modules``; returns trainable counts per module."""
    counts = {m: 0 for m in MODULES}
    for name, p in model.named_parameters():
        module = module_of(name)
        p.requires_grad_(module in train_modules)
        if p.requires_grad:
            counts[module] += p.numel()
    return counts


class Ov2Trainer(Trainer):
    """See the module docstring. ``step_tokens`` holds the real tokens of the current step over all ranks."""

    args: Ov2TrainingArguments

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_tokens = 0

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is not None:
            return self.optimizer
        model = model if model is not None else self.model
        decay = set(self.get_decay_parameter_names(model))
        groups: dict[tuple[str, bool], list[torch.nn.Parameter]] = defaultdict(list)
        for name, p in model.named_parameters():
            if p.requires_grad:
                groups[(module_of(name), name in decay)].append(p)
        param_groups = [
            {"params": params, "lr": self.args.learning_rate * self.args.lr_multipliers[module],
             "weight_decay": self.args.weight_decay if decays else 0.0}
            for (module, decays), params in sorted(groups.items(), key=lambda kv: kv[0])
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        optimizer_kwargs.pop("lr", None)  # each group carries its own
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        tokens = inputs.pop("num_tokens", None)
        if tokens is not None and model.training:
            self.step_tokens += int(self.accelerator.gather(tokens.reshape(1).to(self.args.device)).sum())
        if self.args.loss_mean == "pack":
            return self._per_sample_mean_loss(model, inputs, return_outputs)
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    def _per_sample_mean_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool) -> Any:
        """Mean over labelled tokens within each sample, then over the samples that have any.

        Samples are the batch's ``cu_seq_lens_q`` segments when packed, else its rows (one
        sample per padded row). Scaled so that, after the library multiplies by the process
        count and DDP averages gradients, each micro-batch on each rank weighs the same.
        """
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        target = F.pad(labels[:, 1:], (0, 1), value=-100).to(logits.device)  # position p predicts label p + 1
        per_token = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction="none")
        segment = F.pad(sample_ids(inputs.get("cu_seq_lens_q"), labels.shape)[:, 1:], (0, 1), value=0)
        segment = segment.reshape(-1).to(logits.device)
        counted = (target != -100).reshape(-1)
        n = int(segment.max()) + 1
        sums = torch.zeros(n, device=logits.device).index_add(0, segment[counted], per_token.reshape(-1)[counted])
        counts = torch.bincount(segment[counted], minlength=n)
        has = counts > 0
        loss = (sums[has] / counts[has]).mean() if bool(has.any()) else per_token.sum() * 0.0
        loss = loss / (self.current_gradient_accumulation_steps * self.accelerator.num_processes)
        return (loss, outputs) if return_outputs else loss


def sample_ids(cu_seq_lens: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
    """``[B, W]`` sample index of every token: from the packed batch's boundaries, else one sample per row."""
    b, w = shape
    if cu_seq_lens is None:
        return torch.arange(b).unsqueeze(1).expand(b, w)
    lengths = torch.diff(cu_seq_lens.to("cpu", torch.int64))
    return torch.repeat_interleave(torch.arange(len(lengths)), lengths).view(b, w)
