"""Is a packet's picture a reference picture? Read from its NAL unit headers (H.264, HEVC).

Decoders skip non-reference pictures cheaply (``skip_frame=NONREF``), so the
tokenizer prefers reference pictures as candidate frames: they are decoded
anyway. Reordering alone does not say it: with B-pyramids some B-frames are
references. H.264 marks each slice with ``nal_ref_idc`` (0 = not a
reference); HEVC with its NAL unit type (the ``_N`` types are sub-layer
non-reference pictures, which FFmpeg's NONREF skipping drops).

Both packet framings are read: length-prefixed (MP4/MKV, the length size
from the ``avcC``/``hvcC`` extradata) and Annex B start codes (raw streams,
MPEG-TS). Anything unexpected gives None ("unknown"). The same pass counts
slices per picture, which decides how FFmpeg should thread the decode.
"""

from __future__ import annotations

H264_SLICES = (1, 5)  # coded slice of a non-IDR / IDR picture
HEVC_NONREF_TYPES = frozenset({0, 2, 4, 6, 8, 10, 12, 14})  # TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N*
SCAN_LIMIT = 16  # NAL units looked at per packet before giving up


def length_size(codec: str, extradata: bytes | None) -> int | None:
    """NAL length-prefix size of a length-prefixed stream, or None for Annex B framing."""
    if not extradata or extradata[0] != 1:
        return None
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return None


def _nal_headers(data: memoryview, prefix: int | None):
    """Yield the offset of each NAL unit's first header byte (at most SCAN_LIMIT units)."""
    n = len(data)
    if prefix is None:  # Annex B: 00 00 01 start codes (bytes.find runs at C speed)
        raw = bytes(data)
        pos = raw.find(b"\x00\x00\x01")
        for _ in range(SCAN_LIMIT):
            if pos < 0 or pos + 3 >= n:
                return
            yield pos + 3
            pos = raw.find(b"\x00\x00\x01", pos + 3)
        return
    pos = 0
    for _ in range(SCAN_LIMIT):
        if pos + prefix >= n:
            return
        size = int.from_bytes(data[pos : pos + prefix], "big")
        yield pos + prefix
        pos += prefix + size


def picture_info(data: memoryview, codec: str, prefix: int | None) -> tuple[bool | None, int]:
    """(is a reference picture, number of slices) of one packet; (None, 0) when unknown.

    The reference flag comes from the first slice NAL unit; slices are counted
    up to ``SCAN_LIMIT`` NAL units (several slices per picture let FFmpeg
    decode one picture on several cores).
    """
    if codec not in ("h264", "hevc"):
        return None, 0
    n = len(data)
    ref: bool | None = None
    slices = 0
    for at in _nal_headers(data, prefix):
        if at >= n:
            break
        b = data[at]
        if codec == "h264":
            if (b & 0x1F) in H264_SLICES:
                slices += 1
                if ref is None:
                    ref = (b >> 5) & 3 != 0
        else:
            kind = (b >> 1) & 0x3F
            if kind <= 31:  # a VCL (slice segment) NAL unit
                slices += 1
                if ref is None:
                    ref = kind not in HEVC_NONREF_TYPES
    return ref, slices
