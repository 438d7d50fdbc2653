"""One JSON object per line on stdout: how the fleet and the apps tell the orchestrator what happens.

Logs go to stderr (the orchestrator keeps them in files); stdout carries only these events, so
the terminal display and the ``--duration`` summary are computed from what actually happened.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

__all__ = ["emit", "parse", "use_json"]

_json = True


def use_json(enabled: bool) -> None:
    """JSON lines (for the orchestrator) or readable lines (a person running an example)."""
    global _json
    _json = enabled


def emit(event: str, **fields: Any) -> None:
    """Write one event line (``{"ev": ..., "ts": ..., ...}``) and flush."""
    if _json:
        line = json.dumps({"ev": event, "ts": round(time.time(), 3), **fields}, default=str)
    else:
        line = f"{time.strftime('%H:%M:%S')} {event} " + " ".join(f"{k}={v}" for k, v in fields.items())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse(line: str | bytes) -> dict[str, Any] | None:
    """An event from a line, or None for anything else (a stray print must not break the display)."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("ev"), str) else None
