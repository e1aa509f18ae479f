"""Stock lmms-eval with `--model ov2` on `ov2 lmms-tasks` tasks gives what `ov2 eval` gives.

One `lmms-eval` run (a subprocess, as a user types it) over 2 jump-rope and 2 grounding
clips with the tiny random checkpoint, against `ov2 eval jumpscore` / `ov2 eval grounding`
on the same data: every response must be identical (so the question, the video tokens and
the timestamp decimals were the same) and so must every aggregate score. Skipped when
lmms-eval is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli

pytest.importorskip("lmms_eval", reason="lmms-eval not installed (make install adds it: docs/evaluation.md)")

SETTINGS = ["--backend", "codec", "--canvases", "8", "--max-pixels", "20000"]
MAX_NEW_TOKENS = 8
# Run lmms-eval's own CLI entry point, then report whether anything imported torchvision.
LMMS_EVAL = (
    "import sys\n"
    "sys.argv = ['lmms-eval'] + sys.argv[1:]\n"
    "from lmms_eval.cli.dispatch import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('TORCHVISION_IMPORTED=' + str('torchvision' in sys.modules))\n"
)


def _ov2_eval(task: str, data: Path, ckpt: Path, out: Path) -> list[dict]:
    code, _, err = run_cli(["eval", task, "--model", str(ckpt), "--data", str(data), *SETTINGS,
                            "--max-new-tokens", str(MAX_NEW_TOKENS), "--out", str(out), "--no-progress"])
    assert code == 0, err
    return [json.loads(line) for line in out.read_text().splitlines()]


def _lmms_samples(out: Path, task: str) -> list[dict]:
    [path] = out.glob(f"*/*_samples_{task}.jsonl")
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda s: s["doc_id"])


@pytest.mark.slow
def test_lmms_eval_matches_ov2_eval(tmp_path: Path) -> None:
    from ov2.eval.runner import TASKS
    from ov2.model.tiny import make_tiny_checkpoint

    small = ["--n", "2", "--width", "256", "--height", "160", "--duration", "5", "6", "--fps", "25", "--workers", "1", "--quiet"]
    for kind, folder in (("jumprope", "jr"), ("grounding", "g")):
        code, _, err = run_cli(["data", kind, "--out", str(tmp_path / folder), "--seed", "3", *small])
        assert code == 0, err
    ckpt = make_tiny_checkpoint(tmp_path / "tiny")
    code, _, err = run_cli(["lmms-tasks", "--data", str(tmp_path / "jr"), "--data", str(tmp_path / "g"),
                            "--out", str(tmp_path / "tasks")])
    assert code == 0, err

    out = tmp_path / "lmms_out"
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    args = ["--model", "ov2", "--model_args", f"pretrained={ckpt},video_backend=codec,canvases=8,max_pixels=20000",
            "--tasks", "ov2_jumprope,ov2_grounding", "--include_path", str(tmp_path / "tasks"),
            "--gen_kwargs", f"max_new_tokens={MAX_NEW_TOKENS}", "--output_path", str(out), "--log_samples"]
    proc = subprocess.run([sys.executable, "-c", LMMS_EVAL, *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    # lmms-eval exits 0 even when the evaluation fails; its results file is the proof it ran.
    assert proc.returncode == 0 and "Error during evaluation" not in log, log[-3000:]
    assert "TORCHVISION_IMPORTED=False" in log
    [results_file] = out.glob("*/*_results.json")
    results = json.loads(results_file.read_text())["results"]

    for lmms_task, runner_task, folder in (("ov2_jumprope", "jumpscore", "jr"), ("ov2_grounding", "grounding", "g")):
        rows = _ov2_eval(runner_task, tmp_path / folder, ckpt, tmp_path / f"{runner_task}.jsonl")
        samples = _lmms_samples(out, lmms_task)
        assert len(samples) == len(rows) == 2
        first_metric = "mAP" if runner_task == "jumpscore" else "mIoU"
        for sample, row in zip(samples, rows):
            assert sample[first_metric]["id"] == row["id"]
            # lmms-eval logs the raw answer as "resps" unless it equals the filtered one.
            assert sample.get("resps", sample["filtered_resps"]) == row["response"]
            assert sample["input"] == row["question"]
        summary = TASKS[runner_task].summarize(rows)
        got = results[lmms_task]
        if runner_task == "jumpscore":
            want = {"mAP": summary["map"], **{f"AP@{t}": v for t, v in summary["ap"].items()}}
        else:
            want = {"mIoU": summary["miou"], **{f"R1@{m}": v for m, v in summary["recall"].items()}}
        want["unparsed"] = summary["unparsed"]
        assert {k: got[f"{k},none"] for k in want} == want
