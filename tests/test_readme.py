"""The README's Python examples run as written (in a scratch directory)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(section: str) -> str:
    text = README.read_text()
    body = text[text.index(f"## {section}"):]
    body = body[: body.index("\n## ", 3)]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_use_with_transformers_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = python_block("Use with transformers").replace("max_new_tokens=256", "max_new_tokens=4")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "tiny_checkpoint" / "config.json").is_file()
    assert capsys.readouterr().out.strip() != ""
