"""Reads a PyTorch checkpoint (`torch.save`) into NumPy arrays without PyTorch.

Both formats torch.save has written: the legacy one (torch < 1.6, e.g. torchvision's mobilenet_v2-b0353104.pth:
five pickles in a row, the storages' raw bytes after the last) and the zip one (archive/data.pkl with one file per
storage under archive/data/). Only what state dicts hold is understood: tensors (torch._utils._rebuild_tensor_v2)
of the usual storage types, OrderedDicts, numbers and strings. No code from the file is run: every class the pickle
names is looked up in a fixed table, and anything else is refused.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C

DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage:
    def __init__(self, dtype):
        self.dtype = dtype


class _Lazy:
    """A tensor whose storage bytes come later in the file."""

    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _Lazy(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages  # key -> dtype, filled as persistent ids are seen

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return _Storage(DTYPES[name])
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint (not a plain state dict)")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, storage_type, key = pid[:3]
        self.storages[str(key)] = storage_type.dtype
        return str(key)


def _materialise(obj, data):
    if isinstance(obj, _Lazy):
        base = data[obj.key]
        item = base.dtype.itemsize
        if not obj.size:
            return np.array(base[obj.offset])
        return np.lib.stride_tricks.as_strided(
            base[obj.offset :], shape=obj.size, strides=tuple(s * item for s in obj.stride)
        ).copy()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialise(v, data)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, data) for v in obj)
    return obj


def load_state_dict(path: str) -> "collections.OrderedDict[str, np.ndarray]":
    """The checkpoint's state dict as NumPy arrays (a {'state_dict': …} wrapper is unwrapped)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            prefix = names[0].split("/")[0]
            storages: dict[str, type] = {}
            obj = _Unpickler(io.BytesIO(z.read(f"{prefix}/data.pkl")), storages).load()
            data = {k: np.frombuffer(z.read(f"{prefix}/data/{k}"), dtype=dt) for k, dt in storages.items()}
    else:
        with open(path, "rb") as f:
            raw = f.read()
        f = io.BytesIO(raw)
        magic = pickle.load(f)
        if magic != MAGIC:
            raise ValueError(f"{path}: not a PyTorch checkpoint (magic {magic!r})")
        version = pickle.load(f)
        if version != 1001:
            raise ValueError(f"{path}: unsupported checkpoint protocol {version}")
        pickle.load(f)  # sys info
        storages = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        data = {}
        for k in keys:
            (n,) = struct.unpack("<q", f.read(8))
            dt = np.dtype(storages[str(k)])
            data[str(k)] = np.frombuffer(f.read(n * dt.itemsize), dtype=dt)
    out = _materialise(obj, data)
    if isinstance(out, dict) and "state_dict" in out and isinstance(out["state_dict"], dict):
        out = out["state_dict"]
    return out
