"""The demo's summary counts what provisioning and the historian did from their logs: the parser
must count exactly the lines they write, and survive missing files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from xmpp_iot.demo.provisioning_log import read_component_logs

PROVISIONING_LOG = """\
2026-11-22 00:52:16,100 INFO provisioning.service: m1@localhost is now owned by admin@localhost (seq 5)
2026-11-22 00:52:16,101 INFO provisioning.service: m2@localhost is now owned by admin@localhost (seq 6)
2026-11-22 00:52:16,102 INFO provisioning.pubsub_manager: nodes of m1@localhost ready (authorize): publisher m1@localhost
2026-11-22 00:52:16,103 INFO provisioning.service: admin@localhost added rule #1 se@localhost may read m1@localhost (all)
2026-11-22 00:52:16,104 INFO provisioning.protocol: read m1@localhost -> se@localhost: Subset(nodes=None, names=None)
2026-11-22 00:52:16,105 INFO provisioning.protocol: read m1@localhost -> x@localhost: False
2026-11-22 00:52:16,106 INFO provisioning.protocol: control m1@localhost -> dr@localhost: Subset(nodes=None, names=('A',))
2026-11-22 00:52:16,107 INFO provisioning.protocol: control m1@localhost -> x@localhost: None
2026-11-22 00:52:16,108 INFO provisioning.protocol: isFriend m1@localhost -> se@localhost: True
2026-11-22 00:52:16,109 INFO provisioning.protocol: isFriend m1@localhost -> x@localhost: False
2026-11-22 00:52:16,110 INFO provisioning.pubsub_manager: subscription of se@localhost to meas/m1@localhost: approved
2026-11-22 00:52:16,111 INFO provisioning.pubsub_manager: subscription of x@localhost to meas/m1@localhost: denied
"""


def test_counts_each_kind_of_line(tmp_path: Path) -> None:
    (tmp_path / "provisioning.log").write_text(PROVISIONING_LOG)
    (tmp_path / "sensordata.log").write_text(
        "x INFO components.sensordata.main: 0 nodes in /tmp/s.sqlite3; following meas/* on pubsub.localhost\n"
        "x INFO components.sensordata.feed: following meas/m1@localhost on pubsub.localhost\n"
        "x INFO components.sensordata.feed: following meas/m1@localhost on pubsub.localhost\n"
    )
    with sqlite3.connect(tmp_path / "sensordata.sqlite3") as db:
        db.execute("CREATE TABLE samples (v)")
        db.executemany("INSERT INTO samples VALUES (?)", [(1,), (2,), (3,)])
    db.close()
    out = read_component_logs(tmp_path)
    p = out["provisioning"]
    assert p["owned_things"] == 2 and p["things_with_nodes"] == 1 and p["node_access_model"] == "authorize"
    assert p["rules_added"] == 1
    assert p["can_read"] == {"allowed": 1, "refused": 1}
    assert p["can_control"] == {"allowed": 1, "refused": 1}
    assert p["is_friend"] == {"allowed": 1, "refused": 1}
    assert p["subscriptions"] == {"approved": 1, "denied": 1}
    assert out["sensordata"] == {"measurement_nodes_followed": 1, "samples_stored": 3}


def test_missing_logs_count_nothing(tmp_path: Path) -> None:
    out = read_component_logs(tmp_path)
    assert out["provisioning"]["owned_things"] == 0 and out["provisioning"]["can_read"]["allowed"] == 0
    assert out["sensordata"] == {"measurement_nodes_followed": 0, "samples_stored": None}
