"""Reading and writing safetensors checkpoints with strict key checking."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import VideoError

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"

# Older release drops stored the vision tower as "visual.*" and the LLM as "model.*"
# (the release's _checkpoint_conversion_mapping); map them to the current names.
LEGACY_KEY_RULES: tuple[tuple[str, str], ...] = (
    (r"^visual\.", "model.visual."),
    (r"^model\.(?!language_model\.|visual\.)", "model.language_model."),
)


class CheckpointError(VideoError, ValueError):
    """A checkpoint directory that does not match the model (lists the offending keys)."""


def checkpoint_files(directory: Path) -> list[Path]:
    """The safetensors files of a checkpoint directory (single file or sharded with an index)."""
    index = directory / INDEX_NAME
    if index.exists():
        weight_map = json.loads(index.read_text()).get("weight_map", {})
        names = sorted(set(weight_map.values()))
        files = [directory / n for n in names]
    elif (directory / WEIGHTS_NAME).exists():
        files = [directory / WEIGHTS_NAME]
    else:
        files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"no safetensors weights in {directory}")
    missing = [f for f in files if not f.exists()]
    if missing:
        raise CheckpointError(f"shard(s) listed in the index are missing: {', '.join(f.name for f in missing)}")
    return files


def normalise_key(key: str) -> str:
    if key.startswith(("model.visual.", "model.language_model.", "lm_head.")):
        return key
    for pattern, repl in LEGACY_KEY_RULES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return key


def read_state_dict(directory: Path, dtype: torch.dtype | None = None, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in checkpoint_files(directory):
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            for key in f.keys():
                t = f.get_tensor(key)
                if dtype is not None and t.is_floating_point():
                    t = t.to(dtype)
                state[normalise_key(key)] = t
    return state


def stored_dtype(directory: Path) -> torch.dtype | None:
    """dtype of the first floating tensor stored in the checkpoint."""
    for path in checkpoint_files(directory):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                sl = f.get_slice(key)
                name = sl.get_dtype()
                mapping = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}
                if name in mapping:
                    return mapping[name]
    return None


def check_keys(expected: dict[str, torch.Size], found: dict[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` listing missing, unexpected and wrongly shaped keys."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(
        f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(expected[k])}"
        for k in set(expected) & set(found)
        if tuple(found[k].shape) != tuple(expected[k])
    )
    if missing or unexpected or shapes:
        lines = ["checkpoint does not match the model config:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing[:50]) + (" ..." if len(missing) > 50 else ""))
        if unexpected:
            lines.append(
                f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected[:50]) + (" ..." if len(unexpected) > 50 else "")
            )
        if shapes:
            lines.append(f"  shape mismatches ({len(shapes)}): " + "; ".join(shapes[:20]))
        raise CheckpointError("\n".join(lines))


def _parse_size(size: int | str) -> int:
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*", size.upper())
    if not m:
        raise ValueError(f"bad shard size {size!r} (use e.g. '5GB')")
    return int(float(m.group(1)) * {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}[m.group(2)])


def write_state_dict(state: dict[str, torch.Tensor], directory: Path, max_shard_size: int | str = "5GB") -> list[Path]:
    """Write ``state`` as one or more safetensors shards (+ index) into ``directory``.

    Files are written to a temporary directory first and moved into place, so a
    crash never leaves a half-written shard under the final name.
    """
    limit = _parse_size(max_shard_size)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key in sorted(state):
        t = state[key].detach().contiguous().cpu()
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][key] = t
        size += nbytes
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ov2-save-", dir=directory))
    try:
        written: list[Path] = []
        if len(shards) == 1:
            save_file(shards[0], str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
            names = [WEIGHTS_NAME]
        else:
            names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
            weight_map = {}
            for name, shard in zip(names, shards):
                save_file(shard, str(tmp / name), metadata={"format": "pt"})
                weight_map.update({k: name for k in shard})
            total = sum(t.numel() * t.element_size() for t in state.values())
            (tmp / INDEX_NAME).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
            names.append(INDEX_NAME)
        # Remove stale weights of an earlier save so the directory has one consistent set.
        for old in list(directory.glob("model*.safetensors")) + [directory / INDEX_NAME]:
            if old.exists() and old.name not in names:
                old.unlink()
        for name in names:
            os.replace(tmp / name, directory / name)
            written.append(directory / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
