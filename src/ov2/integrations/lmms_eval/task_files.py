"""Writing lmms-eval task YAMLs bound to a directory that ``ov2 data`` wrote.

One YAML per benchmark file found: ``jumpscore.jsonl`` -> ``ov2_jumprope``,
``grounding.jsonl`` -> ``ov2_grounding``, ``pointing.jsonl`` / ``tracking.jsonl`` / ``traces.jsonl``
-> ``ov2_pointing`` / ``ov2_tracking`` / ``ov2_traces`` (these read a copy with absolute paths). Each reads the jsonl in place
(``dataset_path: json``, no hub access) and names its functions in
:mod:`ov2.integrations.lmms_eval.tasks`. The generation length and the timestamp decimals
come from ``ov2.eval.runner.TASKS``, so lmms-eval asks exactly what ``ov2 eval`` asks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidOptionError, VideoNotFoundError
from ...eval.runner import TASKS
from ...fileio import atomic_write_text
from . import MODEL_ID

FUNCTIONS = "ov2.integrations.lmms_eval.tasks"


@dataclass(frozen=True)
class TaskKind:
    """One benchmark: its lmms-eval task name, the ``ov2 eval`` task it mirrors, its metrics."""

    task_name: str
    runner_task: str  # key of ov2.eval.runner.TASKS
    prefix: str  # of the functions in ov2.integrations.lmms_eval.tasks
    metrics: tuple[tuple[str, str, bool], ...]  # (metric, aggregation function, higher is better)
    # Perception tasks score against mask files: the YAML reads a copy of the jsonl with absolute paths
    # (written next to the YAML), because lmms-eval hands doc_to_target / process_results no data_dir.
    resolved_copy: bool = False
    visual: str = "video"

    @property
    def data_file(self) -> str:
        return TASKS[self.runner_task].default_file


KINDS = (
    TaskKind("ov2_jumprope", "jumpscore", "jumprope", (
        ("mAP", "jumprope_map", True),
        ("AP@0.1", "jumprope_ap_01", True),
        ("AP@0.2", "jumprope_ap_02", True),
        ("AP@0.3", "jumprope_ap_03", True),
        ("unparsed", "jumprope_unparsed", False),
    )),
    TaskKind("ov2_grounding", "grounding", "grounding", (
        ("R1@0.3", "grounding_r1_03", True),
        ("R1@0.5", "grounding_r1_05", True),
        ("R1@0.7", "grounding_r1_07", True),
        ("mIoU", "grounding_miou", True),
        ("unparsed", "grounding_unparsed", False),
    )),
    TaskKind("ov2_pointing", "pointing", "pointing", (
        ("accuracy", "pointing_accuracy", True),
        ("precision", "pointing_precision", True),
        ("recall", "pointing_recall", True),
        ("F1", "pointing_f1", True),
        ("unparsed", "pointing_unparsed", False),
    ), resolved_copy=True, visual="image"),
    TaskKind("ov2_tracking", "tracking", "tracking", (
        ("F1", "tracking_f1", True),
        ("HOTA", "tracking_hota", True),
        ("DetA", "tracking_deta", True),
        ("AssA", "tracking_assa", True),
        ("unparsed", "tracking_unparsed", False),
    ), resolved_copy=True),
    TaskKind("ov2_traces", "traces", "traces", (
        ("endpoint", "traces_endpoint", False),
        ("frechet", "traces_frechet", False),
        ("mean_displacement", "traces_mean_displacement", False),
        ("depth_endpoint", "traces_depth_endpoint", False),
        ("unparsed", "traces_unparsed", False),
    ), resolved_copy=True),
)


def _q(text: str) -> str:
    # A JSON string is a valid double-quoted YAML scalar: safe for any path.
    return json.dumps(text)


def task_yaml(kind: TaskKind, data_file: Path, task_dir: Path) -> str:
    """The YAML text of ``kind``'s task over ``data_file`` (an absolute path), to be written into ``task_dir``."""
    task = TASKS[kind.runner_task]
    fn = f"!function {FUNCTIONS}."
    metrics = "".join(
        f"  - metric: {_q(name)}\n    aggregation: {fn}{agg}\n    higher_is_better: {str(better).lower()}\n"
        for name, agg, better in kind.metrics)
    return (
        f"# Written by `ov2 lmms-tasks` for {data_file}.\n"
        f"# Run: lmms-eval --model {MODEL_ID} --model_args pretrained=CKPT --tasks {kind.task_name} "
        f"--include_path {task_dir}\n"
        f"task: {kind.task_name}\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {_q(str(data_file))}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        f"doc_to_visual: {fn}{'image_doc_to_visual' if kind.visual == 'image' else 'doc_to_visual'}\n"
        f"doc_to_text: {fn}{kind.prefix}_doc_to_text\n"
        f"doc_to_target: {fn}{kind.prefix}_doc_to_target\n"
        f"doc_to_messages: {fn}{kind.prefix}_doc_to_messages\n"
        f"process_results: {fn}{kind.prefix}_process_results\n"
        "# Greedy, no stop strings (an explicit empty list keeps lmms-eval from adding its \"\\n\\n\"),\n"
        "# the generation length ov2 eval uses.\n"
        "generation_kwargs:\n"
        f"  max_new_tokens: {task.max_new_tokens}\n"
        "  temperature: 0\n"
        "  do_sample: false\n"
        "  num_beams: 1\n"
        "  until: []\n"
        "# Only the ov2 model reads this: the decimals of its <t seconds> tags, as ov2 eval asks.\n"
        "model_specific_generation_kwargs:\n"
        f"  {MODEL_ID}:\n"
        f"    timestamp_decimals: {task.timestamp_decimals}\n"
        "# Score the raw answer, as ov2 eval does (lmms-eval would cut <think>...</think> blocks first).\n"
        "reasoning_tags: none\n"
        "metric_list:\n"
        f"{metrics}"
        "lmms_eval_specific_kwargs:\n"
        "  default:\n"
        f"    data_dir: {_q(str(data_file.parent))}\n"
        "metadata:\n"
        "  version: 1.0\n"
    )


def find_data_files(data_dirs: list[str | Path]) -> dict[TaskKind, Path]:
    """Benchmark files in ``data_dirs`` (directories ``ov2 data`` wrote, or the jsonl files themselves)."""
    found: dict[TaskKind, Path] = {}
    for entry in data_dirs:
        path = Path(entry).expanduser().resolve()
        if not path.exists():
            raise VideoNotFoundError(f"--data {entry}: no such file or directory")
        hits = [k for k in KINDS if (path.is_dir() and (path / k.data_file).is_file()) or path.name == k.data_file]
        if not hits:
            names = " or ".join(k.data_file for k in KINDS)
            raise VideoNotFoundError(f"--data {entry}: holds no {names}; write one with `ov2 data`")
        for kind in hits:
            file = path / kind.data_file if path.is_dir() else path
            if kind in found:
                raise InvalidOptionError(
                    f"two {kind.data_file} files ({found[kind]} and {file}); one task name {kind.task_name} "
                    "can hold one; write them to two task folders")
            found[kind] = file
    return found


def write_tasks(data_dirs: list[str | Path], out: str | Path) -> dict[str, Path]:
    """Write one YAML per benchmark file found; returns ``{task name: yaml path}``."""
    found = find_data_files(data_dirs)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidOptionError(f"--out {out} is a file; give a folder for the task YAMLs")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, file in found.items():
        if kind.resolved_copy:
            file = _resolved_copy(kind, file, out.resolve())
        written[kind.task_name] = atomic_write_text(out / f"{kind.task_name}.yaml", task_yaml(kind, file, out.resolve()))
    return written


def _resolved_copy(kind: TaskKind, file: Path, out: Path) -> Path:
    """``out/<task>.jsonl``: the benchmark's records with every media and mask path absolute."""
    from ...eval.io import load_records
    from ...fileio import atomic_write_jsonl

    return atomic_write_jsonl(out / f"{kind.task_name}.jsonl", load_records(file, kind.data_file))
