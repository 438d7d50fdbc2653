"""Loopback port helpers: find free ports and wait until a server speaks XMPP on them."""

from __future__ import annotations

import socket
import time


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_is_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def answers_stream(port: int, namespace: str, to: str, host: str = "127.0.0.1") -> bool:
    """True when the port answers an XMPP stream header with one of its own."""
    header = (
        f"<?xml version='1.0'?><stream:stream xmlns='{namespace}' "
        f"xmlns:stream='http://etherx.jabber.org/streams' to='{to}' version='1.0'>"
    )
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(header.encode())
            data = s.recv(4096)
            return b"stream" in data
    except OSError:
        return False


def wait_for_stream(port: int, namespace: str, to: str, timeout: float, alive=lambda: True) -> None:
    """Poll until the port answers a stream header; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers_stream(port, namespace, to):
            return
        if not alive():
            raise RuntimeError(f"server exited before port {port} answered")
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not answer an XMPP stream header within {timeout:.0f} s")
