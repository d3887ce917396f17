"""Data-only exchange between the supervisor and the processes that run student code.

Nothing here unpickles: a message is a JSON header plus raw NumPy buffers. Decoding
can only ever produce plain data (None, bool, int, float, str, bytes, list, tuple,
dict, set, and NumPy arrays of non-object dtype), so an object whose ``__eq__``
always answers True cannot survive the trip. ``plain()`` applies the same
conversion inside one process, for the in-kernel self-check.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from .errors import WireError

MAX_DEPTH = 64
_HINT = "return plain data: numbers, strings, lists, tuples, dicts, sets or NumPy arrays"


def _where(path: str) -> str:
    return path or "the result"


class _Encoder:
    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def buffer(self, data: bytes) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def tree(self, obj: Any, path: str = "", depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"{_where(path)} is nested deeper than {MAX_DEPTH} levels; {_HINT}")
        # bool before int: bool is a subclass of int.
        if obj is None or type(obj) in (bool, str):
            return obj
        if isinstance(obj, (bool, np.bool_)):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            value = int(obj)
            return value if abs(value) < 2**53 else {"t": "int", "v": str(value)}
        if isinstance(obj, (float, np.floating)):
            return {"t": "f", "v": float(obj).hex()}
        if isinstance(obj, (complex, np.complexfloating)):
            return {"t": "c", "v": [complex(obj).real.hex(), complex(obj).imag.hex()]}
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"t": "b", "i": self.buffer(bytes(obj))}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject or obj.dtype.fields is not None:
                raise WireError(
                    f"{_where(path)} is a NumPy array of dtype {obj.dtype}; "
                    "use a numeric, boolean or fixed-width string dtype"
                )
            arr = np.ascontiguousarray(obj)
            return {"t": "nd", "d": arr.dtype.str, "s": list(arr.shape), "i": self.buffer(arr.tobytes())}
        if isinstance(obj, (list, tuple)):
            items = [self.tree(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else {"t": "tu", "v": items}
        if isinstance(obj, (set, frozenset)):
            return {"t": "se", "v": [self.tree(v, f"{path}{{}}", depth + 1) for v in obj]}
        if isinstance(obj, dict):
            keys = list(obj.keys())
            return {
                "t": "di",
                "k": [self.tree(k, f"{path}<key>", depth + 1) for k in keys],
                "v": [self.tree(dict.__getitem__(obj, k), f"{path}[{k!r}]", depth + 1) for k in keys],
            }
        raise WireError(f"{_where(path)} is a {type(obj).__name__}, which cannot be graded; {_advice(obj)}")


def _advice(obj: Any) -> str:
    """What to return instead: device arrays are the classic case, named precisely."""
    if hasattr(obj, "copy_to_host"):
        return "it is still on the GPU: return d_array.copy_to_host(), a NumPy array"
    if type(obj).__module__.split(".")[0] == "cupy":
        return "it is a CuPy array on the GPU: return cupy.asnumpy(array) (or array.get())"
    if callable(obj):
        return "it is a function: return the value it computes, not the function"
    return _HINT


def _untree(node: Any, buffers: list[bytes]) -> Any:
    if isinstance(node, list):
        return [_untree(v, buffers) for v in node]
    if not isinstance(node, dict):
        return node
    tag = node.get("t")
    if tag == "f":
        return float.fromhex(node["v"])
    if tag == "int":
        return int(node["v"])
    if tag == "c":
        return complex(float.fromhex(node["v"][0]), float.fromhex(node["v"][1]))
    if tag == "b":
        return buffers[node["i"]]
    if tag == "nd":
        return np.frombuffer(buffers[node["i"]], dtype=np.dtype(node["d"])).reshape(node["s"]).copy()
    if tag == "tu":
        return tuple(_untree(v, buffers) for v in node["v"])
    if tag == "se":
        return {_untree(v, buffers) for v in node["v"]}
    if tag == "di":
        return {_untree(k, buffers): _untree(v, buffers) for k, v in zip(node["k"], node["v"])}
    raise WireError(f"malformed message: unknown tag {tag!r}")


def encode(obj: Any) -> bytes:
    """Serialise plain data to bytes: [header length][JSON header][buffers...]."""
    enc = _Encoder()
    tree = enc.tree(obj)
    header = json.dumps({"tree": tree, "sizes": [len(b) for b in enc.buffers]}).encode()
    return b"".join([struct.pack("<Q", len(header)), header, *enc.buffers])


def decode(data: bytes) -> Any:
    """Inverse of encode(); raises WireError on anything malformed."""
    try:
        (hlen,) = struct.unpack_from("<Q", data, 0)
        header = json.loads(data[8 : 8 + hlen])
        buffers, pos = [], 8 + hlen
        for size in header["sizes"]:
            buffers.append(data[pos : pos + size])
            pos += size
        if pos != len(data):
            raise ValueError("trailing bytes")
        return _untree(header["tree"], buffers)
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a malformed message
        raise WireError(f"malformed message ({exc})") from None


def plain(obj: Any) -> Any:
    """Convert to plain data exactly as the trip between processes would."""
    return decode(encode(obj))
