"""The whole chain, as the platform design draws it (Figure 10), with the real registry feed:
a heat pump registers, its owner claims it, an app befriends it, gets a token and controls it;
readouts are gated with field subsets. Device code is the real XEP-0323/0325 library."""

from __future__ import annotations

import hashlib
import uuid

import xmpp_iot.control.plugin  # registers iot_control
import xmpp_iot.sensordata.plugin  # noqa: F401 - registers iot_sensordata
from xmpp_iot.control.device import ControlDevice
from xmpp_iot.discovery import KEY, str_tag
from xmpp_iot.errors import Forbidden, ProtocolError
from xmpp_iot.provisioning import client as prov
from xmpp_iot.sensordata.source import DeviceSource
from xmpp_iot.trust import Tokens

from ...helpers import EventRecorder, error_of


async def _claimed_via_registry(make_device, make_client, provisioning_jid, prefix: str):
    device = await make_device(prefix)
    owner = await make_client("owner")
    tags = [str_tag("SN", uuid.uuid4().hex), str_tag("CLASS", "HeatPump"), str_tag(KEY, uuid.uuid4().hex)]
    await device.discovery.register(tags)
    await owner.discovery.claim(tags)
    # the registry tells the provisioning server; the owner can manage rules once it has
    await prov.wait_until_owned(owner.xmpp, provisioning_jid, device.jid.bare)  # via the ownership feed
    return device, owner


async def test_whole_control_sequence_of_figure_10(
    registry_process, make_device, make_client, provisioning_jid
) -> None:
    device, owner = await _claimed_via_registry(make_device, make_client, provisioning_jid, "heatpump")
    thing = device.jid.bare
    gate = device.xmpp.plugin["iot_provisioning"]
    written: list[object] = []
    controls = ControlDevice()
    controls.add_parameter("OutputPercent", "int", written.append, lambda: 0, minimum=0, maximum=100)
    controls.add_parameter("Reset", "boolean", written.append, lambda: False)
    device.xmpp.register_plugin("iot_control")
    device.xmpp.plugin["iot_control"].serve(controls, gate)

    app = await make_client("dr-app")
    app.xmpp.register_plugin("iot_control")
    cert, key = prov.self_signed_certificate("dr-app.dso.example")
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, app.jid.bare, "friend")
    await prov.add_rule(
        owner.xmpp,
        provisioning_jid,
        thing,
        "cert:" + hashlib.sha256(cert).hexdigest(),
        "control",
        names=["OutputPercent"],
    )

    # 1. the app asks for friendship; the device asks isFriend and accepts
    await app.xmpp.get_roster()
    accepted = EventRecorder(app, "presence_subscribed")
    app.xmpp.send_presence(pto=thing, ptype="subscribe")
    await accepted.wait_for(1)
    # 2. the app gets its token (certificate challenge)
    token = await prov.get_token(app.xmpp, provisioning_jid, cert, key)
    # 3. IQ set with the token -> the device asks canControl -> allowed -> executed
    control = app.xmpp.plugin["iot_control"]
    result = await control.set(device.jid, {"OutputPercent": 40}, tokens=Tokens(service=token))
    assert not result.restricted and written == [40]
    # the same request without the token, or for a parameter the owner did not allow, is refused
    assert isinstance(await error_of(control.set(device.jid, {"OutputPercent": 90})), Forbidden)
    refused = await error_of(control.set(device.jid, {"Reset": True}, tokens=Tokens(service=token)))
    assert isinstance(refused, ProtocolError) and written == [40]


async def test_readout_gating_with_subsets(
    registry_process, make_device, make_client, provisioning_jid
) -> None:
    device, owner = await _claimed_via_registry(make_device, make_client, provisioning_jid, "meter")
    source = DeviceSource()
    for name, value in (("Energy", 1234.5), ("Power", 2.25), ("Voltage", 231.0)):
        source.add_field(name, lambda v=value: v, type="numeric", unit="x")
    device.xmpp.register_plugin("iot_sensordata")
    device.xmpp.plugin["iot_sensordata"].serve(source, device.xmpp.plugin["iot_provisioning"])
    app, stranger = await make_client("amr"), await make_client("stranger")
    for c in (app, stranger):
        c.xmpp.register_plugin("iot_sensordata")
    await prov.add_rule(
        owner.xmpp, provisioning_jid, device.jid.bare, app.jid.bare, "read", names=["Energy", "Power"]
    )
    await prov.add_rule(owner.xmpp, provisioning_jid, device.jid.bare, "*", "read", allow=False)

    everything = await app.xmpp.plugin["iot_sensordata"].read(device.jid)
    assert sorted({f.name for f in everything.fields}) == ["Energy", "Power"]  # Voltage withheld
    some = await app.xmpp.plugin["iot_sensordata"].read(device.jid, fields=["Energy", "Voltage"])
    assert {f.name for f in some.fields} == {"Energy"}
    assert isinstance(
        await error_of(app.xmpp.plugin["iot_sensordata"].read(device.jid, fields=["Voltage"])), Forbidden
    )
    assert isinstance(await error_of(stranger.xmpp.plugin["iot_sensordata"].read(device.jid)), Forbidden)
