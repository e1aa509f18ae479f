"""Stand-in ``torchvision.transforms.functional`` (see tests/vllm_stub/README.md)."""

from torchvision import unavailable

pil_to_tensor = unavailable("torchvision.transforms.functional.pil_to_tensor")


def __getattr__(name: str) -> object:
    return unavailable(f"torchvision.transforms.functional.{name}")
