"""Readouts from the historian gated by the provisioning server, asked on the device's behalf.

The whole chain: the meter registers with the registry, its owner claims it, the registry tells the
provisioning server, which creates ``meas/<meter>``; the historian follows it and asks canRead for
each readout as the meter would, and honours the owner's field subset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from xmpp_iot.discovery import KEY, str_tag
from xmpp_iot.errors import Forbidden, ItemNotFound
from xmpp_iot.nodes import measurement_node
from xmpp_iot.provisioning import client as prov

from .conftest import eventually, meter_readout, publish

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


async def _claimed_meter(make_client, provisioning_jid: str):
    device = await make_client("meter")
    owner = await make_client("owner")
    tags = [str_tag("SN", uuid.uuid4().hex), str_tag("CLASS", "Meter"), str_tag(KEY, uuid.uuid4().hex)]
    await device.discovery.register(tags)
    await owner.discovery.claim(tags)
    await prov.wait_until_owned(owner.xmpp, provisioning_jid, device.jid.bare)  # via the ownership feed
    return device, owner


async def test_readouts_refused_and_restricted_by_provisioning(
    sensordata, registry_process, provisioning_process, make_client, server_info
) -> None:
    sensordata.stop()
    sensordata.start(["--provisioning", provisioning_process.jid])
    device, owner = await _claimed_meter(make_client, provisioning_process.jid)
    meter = device.jid.bare
    await prov.add_rule(owner.xmpp, provisioning_process.jid, meter, "*", "read", allow=False)
    app, stranger = await make_client("app"), await make_client("stranger")
    for c in (app, stranger):
        c.xmpp.register_plugin("iot_sensordata")
    await prov.add_rule(owner.xmpp, provisioning_process.jid, meter, app.jid.bare, "read",
                        names=["active_power.total"])  # fmt: skip
    # the provisioning server creates meas/<meter> once the meter is owned
    await eventually(
        lambda: publish(device, server_info.pubsub_jid, meter_readout(meter, T0, 5.0, 10.0), "p1")
    )

    sd = app.xmpp.plugin["iot_sensordata"]
    r = await eventually(lambda: sd.read(sensordata.jid, nodes=[meter], types=["momentary"]))
    assert {f.name: f.value for f in r.fields} == {"active_power.total": 5.0}  # energy_import withheld
    with pytest.raises(Forbidden):
        await sd.read(sensordata.jid, nodes=[meter], fields=["energy_import"], types=["momentary"])
    with pytest.raises(Forbidden):
        await stranger.xmpp.plugin["iot_sensordata"].read(sensordata.jid, nodes=[meter], types=["momentary"])


async def test_with_provisioning_nodes_it_does_not_own_are_not_followed(
    sensordata, provisioning_process, node_admin, make_client, server_info
) -> None:
    """Someone else (here the scratch6 admin, standing in for mallory) creates meas/<meter> and
    publishes readings in the meter's name: the historian does not follow that node."""
    sensordata.stop()
    sensordata.start(["--provisioning", provisioning_process.jid])
    meter = await make_client("meter-squatted", registry=None)
    node = await node_admin.create_measurement_node(meter.jid.bare)
    await publish(meter, server_info.pubsub_jid, meter_readout(meter.jid.bare, T0, 666.0, 1.0), "planted")

    async def refused_in_log():
        assert f"not following {node}: not owned by {provisioning_process.jid}" in sensordata.log()

    await eventually(refused_in_log)
    assert f"following {node} on" not in sensordata.log()
    app = await make_client("app", registry=None)
    app.xmpp.register_plugin("iot_sensordata")
    with pytest.raises(ItemNotFound):
        await app.xmpp.plugin["iot_sensordata"].read(sensordata.jid, nodes=[meter.jid.bare], types=["momentary"])
    assert node == measurement_node(meter.jid.bare)
