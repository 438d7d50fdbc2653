"""CPU time of processes, read from Linux /proc: what a benchmark's parts spent per request."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(path: Path) -> list[str] | None:
    """The fields of a /proc/PID/stat after the command name, None when the process is gone."""
    try:
        return path.read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far, 0 when unknown."""
    fields = _stat(Path(f"/proc/{pid}/stat")) if pid is not None else None
    return _cpu(fields) if fields else 0.0


def group_cpu_seconds(pgid: int | None) -> float:
    """CPU time of every process in a process group: the XMPP server with its helpers."""
    if pgid is None:
        return 0.0
    total = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(path)
        if fields and int(fields[2]) == pgid:
            total += _cpu(fields)
    return total
