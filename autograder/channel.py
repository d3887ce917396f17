"""Length-prefixed messages of plain data over a socket (see wire.py: no pickle)."""

from __future__ import annotations

import socket
import struct
from typing import Any

from . import wire
from .errors import WireError

MAX_MESSAGE = 2 * 1024**3  # a reply larger than this is refused, not allocated


def send_bytes(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("<Q", len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the other process closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_bytes(sock: socket.socket) -> bytes:
    (size,) = struct.unpack("<Q", _recv_exact(sock, 8))
    if size > MAX_MESSAGE:
        raise WireError(f"a message of {size} bytes is over the {MAX_MESSAGE}-byte limit")
    return _recv_exact(sock, size)


def send(sock: socket.socket, obj: Any) -> None:
    send_bytes(sock, wire.encode(obj))


def recv(sock: socket.socket) -> Any:
    return wire.decode(recv_bytes(sock))
