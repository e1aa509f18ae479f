"""configs/accelerate/*.yaml: each parses with accelerate, sets the launch environment it promises, and
that environment gives FSDP2 one unit per ViT block / decoder layer and DeepSpeed "auto" fields for the Trainer."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DistributedType
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

from ov2.model.tiny import make_tiny_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"
EXPECTED = {"ddp": DistributedType.MULTI_GPU, "fsdp2": DistributedType.FSDP,
            "deepspeed_zero2": DistributedType.DEEPSPEED, "deepspeed_zero3": DistributedType.DEEPSPEED}


def launch_env(name: str) -> dict[str, str]:
    """The ACCELERATE_* / FSDP_* variables `accelerate launch --config_file <name>.yaml` gives each process."""
    path = str(CONFIGS / f"{name}.yaml")
    args = launch_command_parser().parse_args(["--config_file", path, "-m", "ov2", "train", "stage4", "--out", "x"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    return {k: v for k, v in env.items() if k.startswith(("ACCELERATE_", "FSDP_"))}


def test_the_directory_holds_exactly_the_four_launch_modes():
    assert not CONFIGS.is_symlink() and sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_config_parses_and_every_nested_key_is_a_launch_option(name):
    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))  # unknown top-level keys raise here
    assert isinstance(config, ClusterConfig) and config.distributed_type == EXPECTED[name]
    assert config.mixed_precision == "no"  # precision stays the ov2 config's (bf16 autocast on GPUs)
    assert (config.num_machines, config.machine_rank, config.num_processes) == (1, 0, 8)
    # accelerate copies fsdp_config.X to the launch option fsdp_X and deepspeed_config.X to X and
    # silently drops anything else, so a misspelt key would be lost without this check.
    options = {action.dest for action in launch_command_parser()._actions}
    nested = [k if k.startswith("fsdp_") else f"fsdp_{k}" for k in config.fsdp_config] + list(config.deepspeed_config)
    assert set(nested) <= options, sorted(set(nested) - options)
    # Accumulation and clipping come from the ov2 config through the Trainer; fixed values here would clash.
    assert not {"gradient_accumulation_steps", "gradient_clipping"} & set(config.deepspeed_config)


def test_launch_environment_of_each_mode():
    ddp = launch_env("ddp")
    assert ddp["ACCELERATE_MIXED_PRECISION"] == "no" and "ACCELERATE_USE_FSDP" not in ddp
    assert "ACCELERATE_USE_DEEPSPEED" not in ddp
    fsdp = launch_env("fsdp2")
    assert {k: fsdp[k] for k in ("ACCELERATE_USE_FSDP", "FSDP_VERSION", "FSDP_AUTO_WRAP_POLICY", "FSDP_STATE_DICT_TYPE",
                                 "FSDP_ACTIVATION_CHECKPOINTING", "FSDP_CPU_RAM_EFFICIENT_LOADING")} == {
        "ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
        "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT", "FSDP_ACTIVATION_CHECKPOINTING": "false",
        "FSDP_CPU_RAM_EFFICIENT_LOADING": "false"}
    zero2, zero3 = launch_env("deepspeed_zero2"), launch_env("deepspeed_zero3")
    assert zero2["ACCELERATE_USE_DEEPSPEED"] == zero3["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert (zero2["ACCELERATE_DEEPSPEED_ZERO_STAGE"], zero3["ACCELERATE_DEEPSPEED_ZERO_STAGE"]) == ("2", "3")
    assert zero3["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in zero3 and "ACCELERATE_GRADIENT_CLIPPING" not in zero3


def test_fsdp2_puts_every_vit_block_and_decoder_layer_in_its_own_unit(monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from torch.distributed.fsdp import StateDictType

    for key, value in launch_env("fsdp2").items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()  # what the Trainer's Accelerator builds from the launch env
    assert plugin.fsdp_version == 2 and plugin.state_dict_type == StateDictType.FULL_STATE_DICT
    assert plugin.activation_checkpointing is False and plugin.reshard_after_forward is True
    model, _ = make_tiny_model()
    assert sorted(plugin.transformer_cls_names_to_wrap) == sorted(model._no_split_modules)
    plugin.set_auto_wrap_policy(model)  # raises if a class name is not in the model
    wraps = fsdp2_prepare_auto_wrap_policy(plugin, model)
    units = [name for name, module in model.named_modules() if wraps(module)]
    vision, text = model.config.vision_config.num_hidden_layers, model.config.text_config.num_hidden_layers
    assert len(units) == vision + text
    assert sum(u.startswith("model.visual.encoder.layers.") for u in units) == vision
    assert sum(u.startswith("model.language_model.layers.") for u in units) == text


@pytest.mark.parametrize("name, stage", [("deepspeed_zero2", 2), ("deepspeed_zero3", 3)])
def test_deepspeed_config_leaves_batch_accumulation_clipping_and_precision_to_the_trainer(monkeypatch, name, stage):
    from accelerate.utils import DeepSpeedPlugin

    for key, value in launch_env(name).items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()  # what TrainingArguments builds under ACCELERATE_USE_DEEPSPEED
    ds = plugin.deepspeed_config
    assert ds["zero_optimization"]["stage"] == stage
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is (stage == 3)
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert ds[key] == "auto", key  # transformers fills these from the ov2 config
    assert "bf16" not in ds and "optimizer" not in ds and "scheduler" not in ds  # ov2's optimiser and schedule
