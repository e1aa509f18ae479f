"""Training configuration: ``Ov2TrainingArguments`` (a ``TrainingArguments`` dataclass) and the YAML presets.

Presets live in ``configs/train/`` (shipped in the package as ``ov2/train/configs``): one
file per recipe stage (``align``, ``stage1`` ... ``stage4``) and a ``*_tiny`` variant of each
that runs on a CPU in minutes. A file may name a ``base`` preset and change a few fields,
as variants should. Every field is checked before any work starts: unknown keys,
mixture weights <= 0, codec/fixed budgets that are not a multiple of 4, unknown modules.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import yaml
from transformers import TrainingArguments

from ..errors import InvalidOptionError
from ..options import CANVAS_BACKENDS

MODULES = ("vision", "merger", "language_model")
# Module name -> parameter-name prefixes of LlavaOnevision2ForConditionalGeneration.
MODULE_PREFIXES = {
    "vision": ("model.visual.",),
    "merger": ("model.visual.merger.",),
    "language_model": ("model.language_model.", "lm_head."),
}
VIDEO_BACKENDS = ("codec", "fixed", "frames")
LOSS_MEANS = ("token", "pack")
PACK_LAYOUTS = ("flat", "bfd")
# ov2.model.varlen.LM_ATTENTION_CHOICES, repeated so that reading a config imports no model code.
LM_ATTENTION_CHOICES = ("auto", "ov2_varlen", "sdpa", "eager", "flash_attention_2", "flash_attention_3",
                        "flex_attention")


class TrainConfigError(InvalidOptionError):
    """A training config with unknown keys or impossible values (names the key and the fix)."""


def check_train_modules(modules: Sequence[str]) -> None:
    """``modules`` must be a non-empty subset of :data:`MODULES` (else a :class:`TrainConfigError`)."""
    if not modules or set(modules) - set(MODULES):
        raise TrainConfigError(f"train_modules {list(modules)} must be a non-empty subset of {list(MODULES)}")


@dataclass
class SourceConfig:
    """One mixture source: a precomputed directory (relative paths resolve against ``data_root``).

    ``backend`` / ``canvases`` state what the directory must hold (checked against its
    ``index.json``); ``backend: null`` is an image source. This is how a stage's codec
    schedule is enforced: stages 1-3 train codec-shaped samples from ``fixed`` groups,
    stage 4 from the adaptive ``codec`` backend.
    """

    name: str
    path: str
    weight: float
    backend: str | None = None
    canvases: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TrainConfigError(f"a source needs a non-empty name, got {self.name!r}")
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight) \
                or self.weight <= 0:
            raise TrainConfigError(f"source {self.name!r}: weight must be a number > 0, got {self.weight!r}")
        if self.backend is not None and self.backend not in VIDEO_BACKENDS:
            raise TrainConfigError(f"source {self.name!r}: backend {self.backend!r} is not one of {VIDEO_BACKENDS} or null")
        if self.canvases is not None:
            if isinstance(self.canvases, bool) or not isinstance(self.canvases, int) or self.canvases < 1:
                raise TrainConfigError(f"source {self.name!r}: canvases must be a positive integer, got {self.canvases!r}")
            if self.backend in CANVAS_BACKENDS and self.canvases % 4:
                raise TrainConfigError(
                    f"source {self.name!r}: a {self.backend} budget must be a multiple of 4 (one I- and three "
                    f"P-canvases per group), got {self.canvases}"
                )


# transformers 5.23 renamed TrainingArguments.gradient_checkpointing to activation_checkpointing; ov2's configs
# use the new name in every version.
_HAS_ACTIVATION_CHECKPOINTING = "activation_checkpointing" in {f.name for f in fields(TrainingArguments)}


@dataclass
class Ov2TrainingArguments(TrainingArguments):
    """``TrainingArguments`` plus ov2's recipe fields. Each has a default and help, checked in ``__post_init__``."""

    stage: str = field(default="custom", metadata={"help": "recipe stage this config implements (informational)"})
    init: str | None = field(
        default=None, metadata={"help": "checkpoint directory to start from, or 'tiny' for ov2's tiny random model"}
    )
    tiny_size: str = field(default="64", metadata={"help": "with init=tiny: width of the tiny model (64, 128 or 256)"})
    tiny_text_layers: int = field(default=2, metadata={"help": "with init=tiny: language-model layers (1-8)"})
    tiny_patch_positions: bool = field(default=False, metadata={
        "help": "with init=tiny: the merger's absolute (row, col) patch embeddings (use_patch_position_encoding)"})
    data_root: str = field(default="data", metadata={"help": "directory that relative source paths resolve against"})
    sources: list = field(default_factory=list, metadata={"help": "mixture sources: [{name, path, weight, backend, canvases}]"})
    train_modules: list = field(
        default_factory=lambda: list(MODULES), metadata={"help": f"modules that train; the rest are frozen: {MODULES}"}
    )
    lr_multipliers: dict = field(
        default_factory=lambda: {m: 1.0 for m in MODULES},
        metadata={"help": "per-module learning-rate multipliers (vision / merger / language_model)"},
    )
    global_batch_size: int = field(
        default=8, metadata={"help": "samples per optimiser step over all ranks (kept whatever the process count)"}
    )
    max_length: int = field(default=32768, metadata={"help": "tokens per (packed) training sequence"})
    packing: bool = field(
        default=True, metadata={"help": "pack a micro-batch's samples without padding (attention never crosses samples)"}
    )
    packing_layout: str = field(
        default="flat", metadata={"help": "packed batches: 'flat' (one row) or 'bfd' (rows of max_length, best fit)"}
    )
    lm_attention: str = field(
        default="auto",
        metadata={"help": "language-model attention: 'auto' (packed: flash_attention_2 on CUDA if installed, else "
                          "ov2_varlen; padded: the model's), or ov2_varlen / sdpa / eager / flash_attention_2 / "
                          "flash_attention_3 / flex_attention"},
    )
    loss_mean: str = field(
        default="token", metadata={"help": "'token': global token-weighted mean per step; 'pack': mean per sample, "
                                           "then over samples (the release's per-pack mean, per sample)"}
    )
    timestamp_decimals: int = field(default=1, metadata={"help": "decimals of <t seconds> tags (2 for jump-rope tasks)"})
    source_timestamp_decimals: dict = field(
        default_factory=dict,
        metadata={"help": "per manifest source decimals, e.g. {jumpscore: 2, grounding: 1} (others: timestamp_decimals)"},
    )
    min_lr: float = field(default=1e-6, metadata={"help": "cosine decay floor"})
    precision: str = field(default="auto", metadata={"help": "'auto' (bf16 on a bf16-capable GPU, else fp32), 'bf16', 'fp32'"})
    plot: bool = field(default=True, metadata={"help": "write loss_curve.png at the end"})
    if not _HAS_ACTIVATION_CHECKPOINTING:  # transformers < 5.23 names it gradient_checkpointing (ov2.compat)
        activation_checkpointing: bool = field(
            default=False, metadata={"help": "recompute activations in backward (both towers) to save memory"}
        )

    def __post_init__(self) -> None:
        if not _HAS_ACTIVATION_CHECKPOINTING:
            self.gradient_checkpointing = bool(self.gradient_checkpointing or self.activation_checkpointing)
        self.sources = [s if isinstance(s, SourceConfig) else _source(s) for s in self.sources]
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise TrainConfigError(f"source names must be unique, got {names}")
        check_train_modules(self.train_modules)
        bad = sorted(set(self.lr_multipliers) - set(MODULES))
        if bad:
            raise TrainConfigError(f"lr_multipliers has unknown modules {bad}; known: {list(MODULES)}")
        if any(not isinstance(v, (int, float)) or v <= 0 for v in self.lr_multipliers.values()):
            raise TrainConfigError(f"lr_multipliers must be > 0, got {self.lr_multipliers}")
        self.lr_multipliers = {m: float(self.lr_multipliers.get(m, 1.0)) for m in MODULES}
        if self.loss_mean not in LOSS_MEANS:
            raise TrainConfigError(f"loss_mean {self.loss_mean!r} is not one of {LOSS_MEANS}")
        if self.packing_layout not in PACK_LAYOUTS:
            raise TrainConfigError(f"packing_layout {self.packing_layout!r} is not one of {PACK_LAYOUTS}")
        if self.lm_attention not in LM_ATTENTION_CHOICES:
            raise TrainConfigError(f"lm_attention {self.lm_attention!r} is not one of {LM_ATTENTION_CHOICES}")
        for where, value in [("timestamp_decimals", self.timestamp_decimals),
                             *((f"source_timestamp_decimals[{k}]", v) for k, v in self.source_timestamp_decimals.items())]:
            if value not in (1, 2):
                raise TrainConfigError(f"{where} must be 1 or 2, got {value}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise TrainConfigError(f"precision {self.precision!r} is not 'auto', 'bf16' or 'fp32'")
        self.tiny_size = str(self.tiny_size)  # YAML and the command line give 64, presets "64"
        if self.tiny_size not in ("64", "128", "256"):
            raise TrainConfigError(f"tiny_size {self.tiny_size!r} is not '64', '128' or '256'")
        if not isinstance(self.tiny_text_layers, int) or not 1 <= self.tiny_text_layers <= 8:
            raise TrainConfigError(f"tiny_text_layers must be an integer in 1..8, got {self.tiny_text_layers!r}")
        for name in ("global_batch_size", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.precision == "bf16" or (self.precision == "auto" and _bf16_gpu()):
            self.bf16 = True
        if str(self.lr_scheduler_type).endswith("cosine_with_min_lr"):
            # As a rate of the base lr: with "min_lr" the scheduler reads optimizer.defaults, which DeepSpeed's wrapped optimiser lacks.
            self.lr_scheduler_kwargs = {**(self.lr_scheduler_kwargs or {}), "min_lr_rate": self.min_lr / self.learning_rate}
        if self.report_to == "auto":  # TensorBoard where installed, nothing else (no accidental wandb logins)
            self.report_to = ["tensorboard"] if _installed("tensorboard") else "none"
        if not _cuda():
            # CPU runs (gloo under torchrun) need use_cpu for transformers to set up the process group.
            self.use_cpu = True
            self.dataloader_pin_memory = False
        # Our collator reads raw samples; the Trainer must not drop "unused" columns or shuffle again
        # (the mixture sampler already orders samples deterministically).
        self.remove_unused_columns = False
        self.train_sampling_strategy = "sequential"
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (TensorBoard and checkpoints serialise the arguments)."""
        out = super().to_dict()
        out["sources"] = [asdict(s) if isinstance(s, SourceConfig) else s for s in self.sources]
        return out

    def resolved_sources(self) -> list[SourceConfig]:
        """Sources with paths resolved against ``data_root``."""
        root = Path(self.data_root)
        return [SourceConfig(s.name, str(Path(s.path) if Path(s.path).is_absolute() else root / s.path), s.weight,
                             s.backend, s.canvases) for s in self.sources]

    def gradient_accumulation_for(self, world_size: int) -> int:
        """Accumulation steps that keep ``global_batch_size`` for ``world_size`` processes."""
        per_step = self.per_device_train_batch_size * world_size
        if self.global_batch_size % per_step:
            raise TrainConfigError(
                f"global_batch_size {self.global_batch_size} is not a multiple of per_device_train_batch_size "
                f"{self.per_device_train_batch_size} x {world_size} processes"
            )
        return self.global_batch_size // per_step


def _source(value: Any) -> SourceConfig:
    if not isinstance(value, dict):
        raise TrainConfigError(f"each source is a mapping {{name, path, weight, backend, canvases}}, got {value!r}")
    known = {f.name for f in fields(SourceConfig)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise TrainConfigError(f"source {value.get('name')!r} has unknown keys {unknown}; known: {sorted(known)}")
    return SourceConfig(**value)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _bf16_gpu() -> bool:
    import torch

    return bool(_cuda() and torch.cuda.is_bf16_supported())


def preset_dir() -> Path:
    """Where the shipped presets are (``configs/train`` in the repository)."""
    return Path(str(resources.files("ov2.train") / "configs"))


def preset_names() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml") if not p.stem.startswith("_"))


def read_config_file(name_or_path: str | os.PathLike[str], _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset's (or a YAML file's) fields, with its ``base`` chain applied (base first)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = preset_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise TrainConfigError(f"no preset named {name_or_path!r}; presets: {', '.join(preset_names())}")
    elif not path.is_file():
        raise TrainConfigError(f"config file not found: {path}")
    if str(path.resolve()) in _seen:
        raise TrainConfigError(f"{path}: 'base' chain loops back to itself")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise TrainConfigError(f"{path} must hold a mapping of config fields")
    base = doc.pop("base", None)
    values = read_config_file(base, _seen + (str(path.resolve()),)) if base else {}
    values.update(doc)
    return values


def build_config(name_or_path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> Ov2TrainingArguments:
    """The full config: preset / file values, then ``overrides`` (command-line flags); checked."""
    values = read_config_file(name_or_path)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in fields(Ov2TrainingArguments) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TrainConfigError(f"{name_or_path}: unknown config keys {unknown} (see docs/training.md for the fields)")
    try:
        return Ov2TrainingArguments(**values)
    except TrainConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"{name_or_path}: {exc}") from exc
