"""Stand-in ``torchvision.transforms.v2`` (see tests/vllm_stub/README.md)."""
