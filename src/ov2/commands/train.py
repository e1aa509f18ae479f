"""``ov2 train``: train with a recipe preset or a config file, on one process or under torchrun / accelerate.

    ov2 train stage4_tiny --out runs/tiny --data-root data/precomputed
    ov2 train stage4 --out runs/s4 --init runs/s3/final
    torchrun --nproc-per-node 2 -m ov2 train stage4_tiny --out runs/tiny2
    accelerate launch --config_file configs/accelerate/fsdp2.yaml -m ov2 train stage4 --out runs/s4 --init ...
    ov2 train stage4_tiny --out runs/tiny --resume        # continue from the last complete checkpoint

Every config field can be set on the command line; the flags are generated from the config
dataclass (ov2's recipe fields plus the common TrainingArguments), so defaults live in one place.
List and mapping values are YAML: --train-modules "[merger]" --lr-multipliers "{vision: 0.1}".
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

# TrainingArguments fields worth a flag; everything else stays settable in a config file.
COMMON_FIELDS = (
    "learning_rate", "weight_decay", "adam_beta2", "warmup_steps", "seed", "per_device_train_batch_size",
    "logging_steps", "save_steps", "save_total_limit", "activation_checkpointing", "dataloader_num_workers",
    "report_to",
)


def _flag_fields() -> list[dataclasses.Field]:
    from transformers import TrainingArguments

    from ..train.config import Ov2TrainingArguments

    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    skip = {"init"}  # has its own flag below
    return [f for f in dataclasses.fields(Ov2TrainingArguments)
            if f.init and f.name not in skip and (f.name not in base or f.name in COMMON_FIELDS)]


def _yaml_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the model with a recipe preset (configs/train) or a config file",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="preset name (stage1 ... stage4, align, *_tiny) or a YAML config file")
    p.add_argument("--out", required=True, help="run directory: checkpoints, train_log.jsonl, final/")
    p.add_argument("--init", default=argparse.SUPPRESS, help="checkpoint directory to start from, or 'tiny'")
    p.add_argument("--max-steps", type=int, default=argparse.SUPPRESS, help="optimiser steps")
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group = p.add_argument_group("config fields (override the preset)")
    for f in _flag_fields():
        flag = "--" + f.name.replace("_", "-")
        if flag in ("--max-steps",):
            continue
        help_text = f.metadata.get("help", "") if f.metadata else ""
        if f.type in (bool, "bool") or isinstance(f.default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=_yaml_value, default=argparse.SUPPRESS, help=help_text,
                               metavar="VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..train.config import build_config
    from ..train.run import summary, train, write_run_config

    overrides = {k: v for k, v in vars(args).items()
                 if k not in ("config", "out", "resume", "no_progress", "func", "command")}
    overrides["output_dir"] = args.out
    config = build_config(args.config, overrides)
    write_run_config(config, Path(args.out))
    result = train(config, resume=args.resume, progress=not args.no_progress)
    if config.process_index == 0:
        print(summary(result, config))
    return 0
