"""Stand-in ``torchvision.io`` (see tests/vllm_stub/README.md)."""

import enum

from torchvision import unavailable


class ImageReadMode(enum.Enum):
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4


decode_image = unavailable("torchvision.io.decode_image")
