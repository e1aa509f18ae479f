"""Two transformers versions agree: the same greedy tokens from a tiny checkpoint loaded through
``AutoModelForImageTextToText`` + ``AutoProcessor`` with a codec video, and a checkpoint saved under either
loads under the other. Runs when ``OV2_OTHER_PYTHON`` names the other venv's python (``make test-oldest``
and ``make test-newest`` set it); skipped otherwise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

OTHER = os.environ.get("OV2_OTHER_PYTHON")
SCRIPT = Path(__file__).with_name("cross_version.py")

pytestmark = pytest.mark.skipif(not OTHER, reason="set OV2_OTHER_PYTHON to another venv's python")


def run(python: str, *args: str) -> dict:
    result = subprocess.run([python, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{python}: transformers {report['transformers']} tokens {report['tokens']}")
    return report


def test_greedy_tokens_and_checkpoints_agree_across_versions(tmp_path, bikes):
    here = run(sys.executable, "--make", str(tmp_path / "a"), "--ckpt", str(tmp_path / "a"), "--video", str(bikes))
    there = run(OTHER, "--ckpt", str(tmp_path / "a"), "--video", str(bikes), "--save", str(tmp_path / "b"))
    back = run(sys.executable, "--ckpt", str(tmp_path / "b"), "--video", str(bikes))
    assert here["transformers"] != there["transformers"], "OV2_OTHER_PYTHON runs the same transformers"
    assert here["prompt_ids"] == there["prompt_ids"] == back["prompt_ids"]
    assert here["tokens"] == there["tokens"] == back["tokens"]
    assert np.abs(np.subtract(here["last_logits"], there["last_logits"])).max() < 1e-5
    assert here["last_logits"] == back["last_logits"]  # the same version on a re-saved checkpoint: bit-exact
