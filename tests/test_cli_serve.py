"""``ov2 serve``: the vLLM command line it builds (no vLLM needed)."""

from __future__ import annotations

import json
import re

import pytest

from ov2.commands.serve import SERVER_MODULE, build_command
from ov2.errors import VideoNotFoundError


@pytest.fixture
def ckpt(tmp_path):
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "config.json").write_text("{}")
    return d


def test_defaults_are_added_before_the_users_flags(ckpt):
    cmd = build_command(str(ckpt), ["--port", "8011"], on_cpu=True, python="py")
    assert cmd[:5] == ["py", "-m", SERVER_MODULE, "--model", str(ckpt)]
    assert json.loads(cmd[cmd.index("--media-io-kwargs") + 1]) == {"video": {"video_backend": "ov2"}}
    assert cmd[cmd.index("--served-model-name") + 1] == "tiny"
    assert "--trust-request-mm-kwargs" in cmd
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.5"
    assert cmd[-2:] == ["--port", "8011"]


def test_user_flags_replace_defaults_in_both_spellings(ckpt):
    cmd = build_command(str(ckpt), ["--gpu-memory-utilization=0.2", "--served-model-name", "m",
                                    "--media-io-kwargs", "{}"], on_cpu=True, python="py")
    assert cmd.count("--served-model-name") == 1 and "--gpu-memory-utilization" not in cmd
    assert cmd.count("--media-io-kwargs") == 1 and cmd[-1] == "{}"


def test_gpu_gets_no_cpu_defaults(ckpt):
    cmd = build_command(str(ckpt), [], on_cpu=False, python="py")
    assert "--gpu-memory-utilization" not in cmd and "--max-num-seqs" not in cmd


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(VideoNotFoundError, match=re.escape(f"{tmp_path}: no config.json there")):
        build_command(str(tmp_path), [], on_cpu=True)
