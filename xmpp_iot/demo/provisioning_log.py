"""What the components did during a demo run, read back from their logs after they stopped.

The components are separate processes with no event stream of their own; their INFO lines are
the record an operator would read too. The summary (and the demo's test) uses these counts to
show that the chain really ran through provisioning: ownership pushed by the registry, nodes
created and owned by provisioning, canRead/canControl/isFriend answered by it, subscriptions
approved by it, and measurement nodes followed (and samples stored) by the sensor-data component.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = ["read_component_logs"]

_DECISION = re.compile(r" (read|control) (\S+) -> (\S+): (.*)$")
_FRIEND = re.compile(r" isFriend (\S+) -> (\S+): (True|False)$")
_OWNED = re.compile(r" (\S+) is now owned by (\S+) \(seq")
_NODES = re.compile(r" nodes of (\S+) ready \((\w+)\): publisher")
_SUBSCRIPTION = re.compile(r" subscription of (\S+) to (\S+): (approved|denied)$")
_RULE = re.compile(r" added rule ")
_FOLLOWING = re.compile(r": following (meas/\S+) on ")


def read_component_logs(workdir: Path) -> dict[str, Any]:
    """Counts from ``provisioning.log`` and ``sensordata.log`` in the run's work directory."""
    prov: dict[str, Any] = {"owned_things": 0, "things_with_nodes": 0, "node_access_model": "",
                            "rules_added": 0, "can_read": {"allowed": 0, "refused": 0},
                            "can_control": {"allowed": 0, "refused": 0}, "is_friend": {"allowed": 0, "refused": 0},
                            "subscriptions": {"approved": 0, "denied": 0}}
    owned: set[str] = set()
    with_nodes: set[str] = set()
    for line in _lines(workdir / "provisioning.log"):
        if m := _DECISION.search(line):
            verdict = "allowed" if m.group(4).startswith("Subset(") else "refused"
            prov["can_read" if m.group(1) == "read" else "can_control"][verdict] += 1
        elif m := _FRIEND.search(line):
            prov["is_friend"]["allowed" if m.group(3) == "True" else "refused"] += 1
        elif m := _OWNED.search(line):
            owned.add(m.group(1))
        elif m := _NODES.search(line):
            with_nodes.add(m.group(1))
            prov["node_access_model"] = m.group(2)
        elif m := _SUBSCRIPTION.search(line):
            prov["subscriptions"][m.group(3)] += 1
        elif _RULE.search(line):
            prov["rules_added"] += 1
    prov["owned_things"], prov["things_with_nodes"] = len(owned), len(with_nodes)
    followed = {m.group(1) for line in _lines(workdir / "sensordata.log") if (m := _FOLLOWING.search(line))}
    return {"provisioning": prov, "sensordata": {"measurement_nodes_followed": len(followed),
                                                 "samples_stored": _samples(workdir / "sensordata.sqlite3")}}


def _samples(db: Path) -> int | None:
    """Samples the historian committed (its database, read-only, once it has stopped)."""
    if not db.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []
