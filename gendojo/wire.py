"""The grader's wire format between the grading process and a student's sandboxed process.

Only data crosses: None, booleans, numbers, strings, lists, tuples, dicts, NumPy arrays of plain
dtypes, dataclass instances (as their field values) and opaque handles to objects that stay in
the child (networks, optimizers). No pickle, so nothing a student's process sends can run code in
the grader. A message is a 4-byte length, a JSON header and the arrays' raw bytes.
"""

import dataclasses
import json
import keyword
import struct

import numpy as np

DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
}  # fmt: skip
MAX_MESSAGE = 1 << 31  # 2 GiB: a larger header or array is refused, not allocated


class WireError(Exception):
    """A message that does not follow the format (a damaged or hostile peer)."""


@dataclasses.dataclass(frozen=True)
class Handle:
    """An object that lives in the other process, named by a number."""

    id: int
    type: str = ""

    def __repr__(self):
        return f"<{self.type or 'object'} in the answer's process>"


def encode(value, blobs, fallback=None):
    """``value`` as a JSON-able tree; arrays go to ``blobs``. ``fallback(value)`` turns anything
    else into a JSON-able tree (the child: a handle), or raises ``WireError``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.name not in DTYPES:
            raise WireError(f"arrays of dtype {array.dtype} cannot be sent")
        blobs.append(array.tobytes())
        return {"~": "array", "i": len(blobs) - 1, "dtype": array.dtype.name, "shape": list(array.shape)}
    if isinstance(value, Handle):
        return {"~": "handle", "id": value.id, "type": value.type}
    if isinstance(value, list | tuple):
        items = [encode(v, blobs, fallback) for v in value]
        return {"~": "tuple" if isinstance(value, tuple) else "list", "items": items}
    if isinstance(value, dict):
        return {
            "~": "dict",
            "items": [[encode(k, blobs, fallback), encode(v, blobs, fallback)] for k, v in value.items()],
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), blobs, fallback) for f in dataclasses.fields(value)}
        return {"~": "dataclass", "name": type(value).__name__, "fields": fields}
    if fallback is not None:
        return fallback(value)
    raise WireError(f"a {type(value).__name__} cannot be sent")


def decode(tree, blobs, dataclass_for=None):
    """The inverse of ``encode``. ``dataclass_for(name, fields)`` rebuilds a dataclass instance
    (default: a plain dataclass made on the fly with those fields)."""
    if tree is None or isinstance(tree, bool | int | float | str):
        return tree
    if not isinstance(tree, dict) or "~" not in tree:
        raise WireError("malformed message")
    kind = tree["~"]
    if kind == "array":
        dtype, shape, index = tree["dtype"], tree["shape"], tree["i"]
        if dtype not in DTYPES or not isinstance(index, int) or not 0 <= index < len(blobs):
            raise WireError("malformed array")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError("malformed array shape")
        array = np.frombuffer(blobs[index], dtype=dtype)
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise WireError("array size does not match its shape")
        return array.reshape(shape).copy()
    if kind == "handle":
        return Handle(int(tree["id"]), str(tree.get("type", "")))
    if kind in ("list", "tuple"):
        items = [decode(v, blobs, dataclass_for) for v in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        result = {}
        for key, value in tree["items"]:
            key = decode(key, blobs, dataclass_for)
            if isinstance(key, list | dict):
                raise WireError("unhashable dict key")
            result[key] = decode(value, blobs, dataclass_for)
        return result
    if kind == "dataclass":
        name, fields = str(tree["name"]), tree["fields"]
        if not isinstance(fields, dict) or not all(_safe_name(n) for n in [name, *fields]):
            raise WireError("malformed dataclass")
        values = {n: decode(v, blobs, dataclass_for) for n, v in fields.items()}
        return (dataclass_for or plain_dataclass)(name, values)
    raise WireError(f"unknown kind {kind!r}")


def _safe_name(name):
    return (
        isinstance(name, str)
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("__")
    )


_classes = {}


def plain_dataclass(name, values):
    """An instance of a dataclass called ``name`` with exactly these fields (made once per shape):
    the grader's copy of a student's ``Config``, which ``dataclasses.replace`` and ``asdict`` read."""
    key = (name, tuple(values))
    if key not in _classes:
        _classes[key] = dataclasses.make_dataclass(name, list(values))
    return _classes[key](**values)


def pack(message, fallback=None):
    """The bytes of one message."""
    blobs = []
    return pack_tree(encode(message, blobs, fallback), blobs)


def pack_tree(tree, blobs):
    """The bytes of a message already encoded (``tree``, ``blobs``)."""
    header = json.dumps(tree).encode()
    parts = [struct.pack("<I", len(header)), header, struct.pack("<I", len(blobs))]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def receive(read, dataclass_for=None):
    """One message from ``read(size)``, which returns exactly ``size`` bytes or raises EOFError."""

    def chunk(size):
        if size > MAX_MESSAGE:
            raise WireError("message too large")
        return read(size)

    (length,) = struct.unpack("<I", chunk(4))
    try:
        header = json.loads(chunk(length))
    except ValueError:
        raise WireError("malformed header") from None
    (count,) = struct.unpack("<I", chunk(4))
    if count > 100_000:
        raise WireError("too many arrays")
    blobs = [chunk(struct.unpack("<Q", chunk(8))[0]) for _ in range(count)]
    return decode(header, blobs, dataclass_for)
