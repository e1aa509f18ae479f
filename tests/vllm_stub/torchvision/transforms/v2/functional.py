"""Stand-in ``torchvision.transforms.v2.functional`` (see tests/vllm_stub/README.md)."""

from torchvision import unavailable


def __getattr__(name: str) -> object:
    return unavailable(f"torchvision.transforms.v2.functional.{name}")
