"""``ov2 lmms-tasks``: lmms-eval task YAMLs over benchmark data that ``ov2 data`` wrote.

    ov2 data jumprope --out data/jr --n 50
    ov2 lmms-tasks --data data/jr --out lmms_tasks
    lmms-eval --model ov2 --model_args pretrained=CKPT,video_backend=codec,canvases=32 \\
        --tasks ov2_jumprope --include_path lmms_tasks

A jumpscore.jsonl becomes the task ov2_jumprope (mAP, AP@0.1/0.2/0.3), a grounding.jsonl
ov2_grounding (R1@0.3/0.5/0.7, mIoU); pointing.jsonl, tracking.jsonl and traces.jsonl become
ov2_pointing, ov2_tracking and ov2_traces (the metrics of ov2 eval pointing|tracking|traces).
Scores are x100 (trace errors on 0-1000), as ov2 eval prints them. --data can
be given twice (a jump-rope and a grounding folder). The YAMLs read the jsonl files where
they are: regenerate the YAMLs if the data moves.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lmms-tasks", help="write lmms-eval task YAMLs for ov2 benchmark data",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, action="append", metavar="DIR",
                   help="folder written by `ov2 data jumprope|grounding|pointing|tracking|traces` (or its jsonl); repeatable")
    p.add_argument("--out", required=True, metavar="TASKDIR", help="folder for the YAMLs (lmms-eval --include_path)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from ..errors import VideoNotFoundError
    from ..eval.io import load_records
    from ..integrations.lmms_eval import MODEL_ID, TESTED_LMMS_EVAL
    from ..integrations.lmms_eval.task_files import find_data_files, write_tasks

    found = find_data_files(args.data)
    counts = {}
    for kind, file in found.items():
        records = load_records(file, kind.data_file)
        media = [r.get("video_path") or r.get("image_path") for r in records]
        missing = [m for m in media if not _is_file(m)]
        if missing:
            raise VideoNotFoundError(f"{file}: {len(missing)} of {len(records)} videos are missing "
                                     f"(first: {missing[0]}); regenerate the data with `ov2 data`")
        counts[kind.task_name] = len(records)
    written = write_tasks(args.data, args.out)

    width = max(len(name) for name in written)
    for name, path in written.items():
        print(f"{name.ljust(width)}  {counts[name]:>5} samples  {path}")
    names = ",".join(written)
    print(f"\nrun: lmms-eval --model {MODEL_ID} --model_args pretrained=CKPT,video_backend=codec,canvases=32 "
          f"--tasks {names} --include_path {args.out}")
    if importlib.util.find_spec("lmms_eval") is None:
        print(f"lmms-eval is not installed here: pip install -e \".[lmms-eval]\" && "
              f"pip install --no-deps lmms-eval=={TESTED_LMMS_EVAL} (docs/evaluation.md says why)")
    return 0


def _is_file(path: str) -> bool:
    import os

    return os.path.isfile(path)
