"""Ingest robustness: invalid items, spoofed notifications, SIGKILL and catch-up, local read policy."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.errors import Forbidden
from xmpp_iot.measurement import MEASUREMENT_NS, encode_element
from xmpp_iot.nodes import measurement_node

from .conftest import eventually, meter_readout, publish

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)  # within raw retention
WINDOW = {"from_": T0 - timedelta(days=1), "to": T0 + timedelta(days=1)}


async def _device_and_app(make_client, node_admin, prefix: str):
    device = await make_client(prefix, registry=None)
    await node_admin.create_measurement_node(device.jid.bare)
    app = await make_client("app", registry=None)
    app.xmpp.register_plugin("iot_sensordata")
    return device, app, app.xmpp.plugin["iot_sensordata"]


def _raw_values(readout, name: str = "active_power.total") -> list[float]:
    return sorted(f.value for f in readout.fields if f.name == name)


async def test_invalid_items_are_counted_and_spoofed_events_ignored(
    sensordata_default, node_admin, make_client, server_info
) -> None:
    device, app, sd = await _device_and_app(make_client, node_admin, "meter-junk")
    node, ps, pubsub = device.jid.bare, device.xmpp.plugin["xep_0060"], server_info.pubsub_jid
    await ps.publish(pubsub, measurement_node(node), id="junk", payload=ET.Element("{urn:example:junk}junk"))
    wrong_unit = ET.fromstring(
        f"<meterReadout xmlns='{MEASUREMENT_NS}' device='{node}' timestamp='2026-02-02T08:00:00Z'>"
        "<reading quantity='active_power' phase='total' unit='V' value='1.0'/></meterReadout>"
    )
    await ps.publish(pubsub, measurement_node(node), id="unit", payload=wrong_unit)
    # a client pretending to be the pub/sub service: the component must not believe it
    spoof = app.xmpp.make_message(mto=sensordata_default.jid)
    spoof["pubsub_event"]["items"]["node"] = measurement_node(node)
    item = ET.SubElement(
        spoof["pubsub_event"]["items"].xml, "{http://jabber.org/protocol/pubsub#event}item", id="x"
    )
    item.append(encode_element(meter_readout(node, T0, 666.0, 1.0)))
    spoof.send()
    await publish(device, pubsub, meter_readout(node, T0 + timedelta(seconds=1), 42.0, 2.0), "good")

    async def good_value_stored():
        r = await sd.read(sensordata_default.jid, nodes=[node], types=["historicalOther"], **WINDOW)
        assert _raw_values(r) == [42.0]

    await eventually(good_value_stored)
    assert sensordata_default.process.running
    log = sensordata_default.log()
    assert "refused item 'junk'" in log and "refused item 'unit'" in log and "ignoring pub/sub event" in log
    with sqlite3.connect(f"file:{sensordata_default.db}?mode=ro", uri=True) as db:
        items, invalid = db.execute("SELECT items, invalid FROM nodes WHERE node=?", (node,)).fetchone()
    # deliveries are counted: an item can arrive twice (notification and catch-up fetch)
    assert items >= 1 and invalid >= 2


async def test_sigkill_loses_nothing_committed_and_catches_up(
    sensordata_default, node_admin, make_client, server_info
) -> None:
    device, _app, sd = await _device_and_app(make_client, node_admin, "meter-kill")
    node, pubsub, target = device.jid.bare, server_info.pubsub_jid, sensordata_default.jid
    for i in range(20):
        await publish(
            device, pubsub, meter_readout(node, T0 + timedelta(seconds=i), float(i), 100.0 + i), f"k{i}"
        )

    async def count_is(n: int):
        r = await sd.read(target, nodes=[node], types=["historicalOther"], **WINDOW)
        assert _raw_values(r) == [float(i) for i in range(n)]

    await eventually(lambda: count_is(20))  # read back = committed (readouts flush first)
    assert sensordata_default.process.kill() == -9
    for i in range(20, 30):  # published while the component is down
        await publish(
            device, pubsub, meter_readout(node, T0 + timedelta(seconds=i), float(i), 100.0 + i), f"k{i}"
        )
    sensordata_default.start()
    await eventually(lambda: count_is(30))
    names = ["active_power.total", "active_power.total, Min", "active_power.total, Max"]
    hour = await sd.read(target, nodes=[node], fields=names, types=["historicalHour", "peak"], from_=T0)
    values = {f.name: f.value for f in hour.fields}
    assert values["active_power.total"] == 14.5  # re-fetched items were not counted twice
    assert (values["active_power.total, Min"], values["active_power.total, Max"]) == (0.0, 29.0)


async def test_local_read_policy(sensordata, node_admin, make_client, server_info) -> None:
    device, app, sd = await _device_and_app(make_client, node_admin, "meter-policy")
    stranger = await make_client("stranger", registry=None)
    stranger.xmpp.register_plugin("iot_sensordata")
    assert sensordata.stop() == 0  # SIGTERM: a clean stop
    assert "items stored" in sensordata.log()
    sensordata.start(["--reader", app.jid.bare])
    await publish(device, server_info.pubsub_jid, meter_readout(device.jid.bare, T0, 7.0, 1.0), "p1")
    r = await eventually(lambda: sd.read(sensordata.jid, nodes=[device.jid.bare], types=["momentary"]))
    assert r.by_name()["active_power.total"].value == 7.0
    with pytest.raises(Forbidden):
        await stranger.xmpp.plugin["iot_sensordata"].read(
            sensordata.jid, nodes=[device.jid.bare], types=["momentary"]
        )
