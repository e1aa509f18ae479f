"""Stand-in torchvision for the CPU vLLM venv (see ../README.md).

Only what transformers and vLLM touch at import time exists; calling anything raises.
"""

__version__ = "0.0.0+ov2.stub"


def unavailable(name: str):
    """A callable that raises, naming the stand-in (used for every function the stub exports)."""

    def _raise(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{name}: torchvision is not installed here; this is ov2's import-only stand-in "
                           "(tests/vllm_stub/README.md)")

    return _raise


def __getattr__(name: str) -> object:
    raise AttributeError(f"torchvision.{name}: not in ov2's import-only torchvision stand-in (tests/vllm_stub/README.md)")
