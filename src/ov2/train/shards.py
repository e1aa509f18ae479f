"""The precomputed dataset on disk: WebDataset-style tar shards, their offset tables, and a reader.

A precomputed directory holds

* ``shard-000000.tar``, ... : plain (uncompressed) POSIX tar files. Every sample is a run of
  members that share a key (its position in the manifest's list of usable samples, 9 digits):
  ``<key>.json`` (conversation, media descriptions, tokenize parameters), then one member per
  media item: ``<key>.m<k>.npz`` for a tokenized video (canvases + token columns) or
  ``<key>.m<k>.<ext>`` for an image (the original encoded bytes: png, jpg, ...). This is the
  layout the ``webdataset`` library streams, and ``tarfile`` reads it too.
* ``shard-000000.json``, ... : the shard's offset table (per sample: key, id, source and the byte
  offset and size of each member) and its failures. It is written after its tar, so its
  presence marks the shard complete.
* ``index.json``: parameters, counts, failures and the shard list (samples, bytes, first global
  sample index per shard), so sample ``i`` is one bisect and one seek away.

Shard bytes are deterministic (fixed tar headers, fixed zip timestamps, no timings stored), so
the same manifest and parameters give identical shards whatever the worker count or engine.
"""

from __future__ import annotations

import bisect
import io
import json
import os
import tarfile
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VideoNotFoundError
from ..fileio import json_default, umask
from ..visual_input import TOKEN_FIELDS, Group, Tokens, VisualInput

FORMAT = "ov2.precompute/1"
SAMPLE_FORMAT = "ov2.train.sample/1"
INDEX_NAME = "index.json"
PARAMS_NAME = "params.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: npz bytes must not depend on the clock
VOLATILE_META = ("timings",)  # differ run to run; left out so shards are byte-identical
VOLATILE_PARAMS = ("threads", "progress")  # execution knobs that do not change the result


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def table_name(number: int) -> str:
    return f"shard-{number:06d}.json"


def sample_key(position: int) -> str:
    """Tar key of the sample at ``position`` in the manifest's usable samples (sorts in manifest order)."""
    return f"{position:09d}"


# ----------------------------------------------------------------------------- VisualInput <-> bytes


def npz_bytes(arrays: dict[str, np.ndarray], compresslevel: int = 1) -> bytes:
    """An ``.npz`` in memory, deflated, with fixed timestamps (``np.savez`` stamps the clock)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def stable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` without what changes from run to run (timings, thread count)."""
    out = {k: v for k, v in meta.items() if k not in VOLATILE_META}
    if isinstance(out.get("params"), dict):
        out["params"] = {k: v for k, v in out["params"].items() if k not in VOLATILE_PARAMS}
    return out


def encode_visual_input(vi: VisualInput) -> tuple[bytes, dict[str, Any]]:
    """(npz bytes with canvases and token columns, JSON-ready description: backend, groups, meta)."""
    data = npz_bytes({"canvases": vi.canvases, **vi.tokens.as_dict()})
    doc = {"backend": vi.backend, "patch_size": vi.patch_size,
           "groups": [asdict(g) for g in vi.groups], "meta": stable_meta(vi.meta)}
    return data, doc


def decode_visual_input(data: bytes, doc: dict[str, Any]) -> VisualInput:
    """Inverse of :func:`encode_visual_input`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        canvases = z["canvases"]
        tokens = Tokens(**{name: z[name] for name in TOKEN_FIELDS})
    return VisualInput(canvases=canvases, tokens=tokens, groups=[Group(**g) for g in doc["groups"]],
                       meta=doc["meta"], patch_size=int(doc["patch_size"]), backend=doc["backend"])


def decode_image(data: bytes) -> np.ndarray:
    """uint8 HxWx3 RGB from encoded image bytes; ValueError if they do not decode."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable image")
    return np.ascontiguousarray(bgr[..., ::-1])


# ----------------------------------------------------------------------------- writing a shard


class ShardWriter:
    """Append samples to a tar under a temporary name; :meth:`commit` renames it into place.

    Readers never see a partial shard: until the rename the file is a hidden ``.part``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._fh, mode="w", format=tarfile.USTAR_FORMAT)

    def add(self, key: str, members: dict[str, bytes]) -> None:
        """Write ``<key>.<ext>`` for every (ext, bytes) of ``members``, in order."""
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            self._tar.addfile(info, io.BytesIO(data))

    def commit(self) -> tuple[dict[str, dict[str, list[int]]], int]:
        """Close, fsync, read back the member offsets, rename; return ({key: {ext: [offset, size]}}, bytes)."""
        self._tar.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        offsets = member_offsets(self._tmp)
        os.chmod(self._tmp, 0o666 & ~umask())
        size = self._tmp.stat().st_size
        os.replace(self._tmp, self.path)
        return offsets, size

    def abort(self) -> None:
        try:
            self._tar.close()
            self._fh.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def member_offsets(path: str | os.PathLike[str]) -> dict[str, dict[str, list[int]]]:
    """{key: {ext: [data offset, size]}} of every member of a tar (headers only, no data read)."""
    out: dict[str, dict[str, list[int]]] = {}
    with tarfile.open(path, mode="r:") as tar:
        for m in tar:
            key, _, ext = m.name.partition(".")
            out.setdefault(key, {})[ext] = [m.offset_data, m.size]
    return out


def iter_tar_samples(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Stream a shard: (key, {ext: bytes}) per sample, members grouped by key as WebDataset does."""
    key, members = None, {}
    with open(path, "rb") as fh, tarfile.open(fileobj=fh, mode="r|") as tar:
        for m in tar:
            k, _, ext = m.name.partition(".")
            if k != key and key is not None:
                yield key, members
                members = {}
            key = k
            members[ext] = tar.extractfile(m).read()
    if key is not None:
        yield key, members


# ----------------------------------------------------------------------------- reading


@dataclass
class TrainSample:
    """One precomputed sample: the normalized conversation and its decoded media.

    ``media[k]`` is a :class:`~ov2.visual_input.VisualInput` (video) or a uint8 HxWx3 RGB
    array (image) and belongs to the k-th media part of ``messages``.
    """

    id: str
    source: str
    messages: list[dict[str, Any]]
    media: list[Any]
    kinds: list[str]
    key: str = ""
    line: int = 0
    paths: list[str] = field(default_factory=list)
    tokenize: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "video" if "video" in self.kinds else "image" if "image" in self.kinds else "text"


def decode_sample(members: dict[str, bytes]) -> TrainSample:
    """Build a :class:`TrainSample` from one sample's tar members."""
    doc = json.loads(members["json"])
    media: list[Any] = []
    for item in doc["media"]:
        data = members[item["member"]]
        media.append(decode_visual_input(data, item) if item["kind"] == "video" else decode_image(data))
    return TrainSample(id=doc["id"], source=doc["source"], messages=doc["messages"], media=media,
                       kinds=[m["kind"] for m in doc["media"]], key=doc["key"], line=int(doc.get("line", 0)),
                       paths=[m["path"] for m in doc["media"]], tokenize=doc.get("tokenize", {}))


def sample_document(key: str, sample: Any, media_docs: list[dict[str, Any]], tokenize: dict[str, Any]) -> bytes:
    """The ``<key>.json`` member of a sample (``sample`` is a :class:`~ov2.train.manifest.Sample`)."""
    doc = {"format": SAMPLE_FORMAT, "key": key, "id": sample.id, "source": sample.source, "line": sample.line,
           "messages": sample.messages, "media": media_docs, "tokenize": tokenize}
    return json.dumps(doc, default=json_default).encode("utf-8")


def load_index(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """``index.json`` of a precomputed directory, with a clear error if there is none."""
    path = Path(directory) / INDEX_NAME
    if not path.is_file():
        raise VideoNotFoundError(f"{directory}: no {INDEX_NAME}; not a precomputed dataset (run ov2 precompute)")
    doc = json.loads(path.read_text())
    if doc.get("format") != FORMAT:
        raise VideoNotFoundError(f"{path}: format {doc.get('format')!r} is not {FORMAT!r}; precompute it again")
    return doc


def tokenize_params(index: dict[str, Any]) -> dict[str, Any]:
    """The :func:`ov2.tokenize` parameters a precomputed directory's ``index.json`` was written with."""
    params = index.get("params", {})
    return params.get("tokenize", params)


class PrecomputedDataset:
    """Map-style and streaming access to a precomputed directory, in manifest order.

    ``source`` keeps only the samples of that manifest ``source``. ``ds[i]`` reads sample ``i``
    with one seek per member (offset tables are loaded per shard on first use); iterating
    streams the tars in order. Holds no open file, so it can be handed to DataLoader workers.
    """

    def __init__(self, directory: str | os.PathLike[str], source: str | None = None, cache_tables: int = 8) -> None:
        self.directory = Path(directory)
        self.index = load_index(self.directory)
        self.source = source
        self.shards = [s for s in self.index["shards"] if s["samples"] > 0]
        self._starts = [s["first"] for s in self.shards]
        self._tables: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._cache_tables = max(1, cache_tables)
        total = sum(s["samples"] for s in self.shards)
        self._selected: list[int] | None = None
        if source is not None:
            self._selected = [i for i in range(total) if self.entry_global(i)["source"] == source]
        self._len = total if self._selected is None else len(self._selected)

    def __len__(self) -> int:
        return self._len

    @property
    def complete(self) -> bool:
        """False while a precompute run has not finished every shard (the rest is readable)."""
        return bool(self.index.get("complete"))

    def _table(self, shard: dict[str, Any]) -> list[dict[str, Any]]:
        name = shard["table"]
        if name not in self._tables:
            self._tables[name] = json.loads((self.directory / name).read_text())["samples"]
            while len(self._tables) > self._cache_tables:
                self._tables.popitem(last=False)
        self._tables.move_to_end(name)
        return self._tables[name]

    def entry_global(self, i: int) -> dict[str, Any]:
        """Offset-table entry (key, id, source, members) of global sample ``i`` (ignores ``source``)."""
        s = bisect.bisect_right(self._starts, i) - 1
        if s < 0 or i >= self._starts[s] + self.shards[s]["samples"]:
            raise IndexError(f"sample {i} out of range")
        entry = dict(self._table(self.shards[s])[i - self._starts[s]])
        entry["tar"] = self.shards[s]["name"]
        return entry

    def entry(self, i: int) -> dict[str, Any]:
        """Offset-table entry of sample ``i`` of this (possibly source-filtered) view."""
        if not -self._len <= i < self._len:
            raise IndexError(f"sample {i} out of range for {self._len} samples")
        i %= self._len
        return self.entry_global(i if self._selected is None else self._selected[i])

    def read_members(self, i: int) -> dict[str, bytes]:
        """The raw tar members of sample ``i`` (no decoding)."""
        entry = self.entry(i)
        out = {}
        with open(self.directory / entry["tar"], "rb") as fh:
            for ext, (offset, size) in entry["members"].items():
                fh.seek(offset)
                out[ext] = fh.read(size)
        return out

    def __getitem__(self, i: int) -> TrainSample:
        return decode_sample(self.read_members(i))

    def __iter__(self) -> Iterator[TrainSample]:
        for shard in self.shards:
            for _, members in iter_tar_samples(self.directory / shard["name"]):
                sample = decode_sample(members)
                if self.source is None or sample.source == self.source:
                    yield sample

    def ids(self) -> list[str]:
        """Sample ids in order (from the offset tables; nothing is decoded)."""
        return [self.entry(i)["id"] for i in range(self._len)]


def iter_precomputed(directory: str | os.PathLike[str], source: str | None = None) -> Iterator[TrainSample]:
    """Stream every sample of a precomputed directory in manifest order."""
    return iter(PrecomputedDataset(directory, source=source))
