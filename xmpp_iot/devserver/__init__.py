"""Throwaway Prosody and ejabberd servers on loopback, for tests, demos and developers.

with start_devserver("prosody", workdir) as server:
    info = server.info   # ports, component secrets, CA certificate
"""

from __future__ import annotations

from pathlib import Path

from .base import DEFAULT_COMPONENTS, DevServer, DevServerError, Ports, ServerInfo
from .ejabberd import EjabberdServer
from .prosody import ProsodyServer

SERVER_KINDS: dict[str, type[DevServer]] = {"prosody": ProsodyServer, "ejabberd": EjabberdServer}


def make_devserver(kind: str, workdir: Path, **options) -> DevServer:
    """Build (but do not start) a dev server of the given kind."""
    try:
        cls = SERVER_KINDS[kind]
    except KeyError:
        raise DevServerError(f"unknown server kind {kind!r}; choose one of {sorted(SERVER_KINDS)}") from None
    return cls(workdir, **options)


__all__ = [
    "DEFAULT_COMPONENTS",
    "SERVER_KINDS",
    "DevServer",
    "DevServerError",
    "EjabberdServer",
    "Ports",
    "ProsodyServer",
    "ServerInfo",
    "make_devserver",
]
