"""Owners' rules decide friendship, readouts (with subsets) and control, seen from real devices."""

from __future__ import annotations

from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.errors import Forbidden
from xmpp_iot.provisioning import client as prov
from xmpp_iot.provisioning.device import DelegatedGate
from xmpp_iot.trust import ControlRequest, ReadRequest, TrustGate

from ...helpers import EventRecorder, error_of


async def test_device_finds_provisioning_by_disco(make_client, provisioning_jid) -> None:
    device = await make_client("meter", connect=False)
    device.xmpp.register_plugin("iot_provisioning")
    await device.connect()
    found = await device.xmpp.plugin["iot_provisioning"].find_server()
    assert found.bare == provisioning_jid
    assert isinstance(device.xmpp.plugin["iot_provisioning"], TrustGate)


async def test_presence_subscription_follows_is_friend(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    owner, app, stranger = [await make_client(p) for p in ("owner", "app", "stranger")]
    await ownership_feed.push(device.jid.bare, owner.jid.bare)
    await prov.add_rule(owner.xmpp, provisioning_jid, device.jid.bare, app.jid.bare, "friend")
    await prov.add_rule(owner.xmpp, provisioning_jid, device.jid.bare, "*", "friend", allow=False)
    for c in (app, stranger):
        await c.xmpp.get_roster()  # servers tell roster-interested resources about subscription answers
    decided = EventRecorder(device, "iotp_subscription_decided")
    app_answers, stranger_answers = (
        EventRecorder(app, "presence_subscribed"),
        EventRecorder(stranger, "presence_unsubscribed"),
    )

    app.xmpp.send_presence(pto=device.jid.bare, ptype="subscribe")
    stranger.xmpp.send_presence(pto=device.jid.bare, ptype="subscribe")

    await decided.wait_for(2)
    assert {(str(j.bare), ok) for j, ok in decided.items} == {
        (app.jid.bare, True),
        (stranger.jid.bare, False),
    }
    await app_answers.wait_for(1)
    await stranger_answers.wait_for(1)
    # the owner is always a friend, without any rule
    assert await device.xmpp.plugin["iot_provisioning"].is_friend(owner.jid.bare) is True


async def test_readout_and_control_subsets(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    gate = device.xmpp.plugin["iot_provisioning"]
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, app.jid.bare, "read", names=["Energy", "Power"])
    await prov.add_rule(
        owner.xmpp,
        provisioning_jid,
        thing,
        app.jid.bare,
        "control",
        names=["Output"],
        nodes=["DigitalOutput2"],
    )

    asked = await gate.can_read(ReadRequest(str(app.jid), field_names=("Energy", "Voltage")))
    assert asked.allowed and asked.field_names == ("Energy",)
    everything = await gate.can_read(ReadRequest(str(app.jid)))
    assert everything.allowed and everything.field_names == ("Energy", "Power")
    assert not (await gate.can_read(ReadRequest(str(app.jid), field_names=("Voltage",)))).allowed

    control = await gate.can_control(
        ControlRequest(
            str(app.jid),
            nodes=(NodeRef("DigitalOutput1"), NodeRef("DigitalOutput2")),
            parameter_names=("Output",),
        )
    )
    assert (
        control.allowed and control.nodes == (NodeRef("DigitalOutput2"),) and control.parameter_names is None
    )
    assert not (await gate.can_control(ControlRequest(str(app.jid), parameter_names=("Reset",)))).allowed


async def test_cache_answers_until_clear_cache(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    gate = device.xmpp.plugin["iot_provisioning"]
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    cleared = EventRecorder(device, "iotp_cache_cleared")
    rule = await prov.add_rule(owner.xmpp, provisioning_jid, thing, app.jid.bare, "read")
    await cleared.wait_for(1)  # adding the rule cleared the (empty) cache of the online device
    assert (await gate.can_read(ReadRequest(str(app.jid)))).allowed
    misses = gate.cache.misses
    assert (await gate.can_read(ReadRequest(str(app.jid)))).allowed
    assert gate.cache.misses == misses  # answered from the cache

    await prov.remove_rule(owner.xmpp, provisioning_jid, thing, rule)
    await cleared.wait_for(2)
    assert len(gate.cache) == 0
    assert not (await gate.can_read(ReadRequest(str(app.jid)))).allowed


async def test_clear_cache_on_reconnect(
    make_device, make_client, ownership_feed, provisioning_jid, server_info
) -> None:
    device = await make_device()
    gate = device.xmpp.plugin["iot_provisioning"]
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, "*", "read", allow=False)
    assert not (await gate.can_read(ReadRequest(str(app.jid)))).allowed  # cached refusal
    await device.close()

    await prov.add_rule(owner.xmpp, provisioning_jid, thing, app.jid.bare, "read")  # while the device is away
    cleared = EventRecorder(device, "iotp_cache_cleared")
    await device.connect()
    await cleared.wait_for(1, timeout=15)
    assert (await gate.can_read(ReadRequest(str(app.jid)))).allowed


async def test_unfriend_when_a_rule_is_withdrawn(
    make_device, make_client, ownership_feed, provisioning_jid
) -> None:
    device = await make_device()
    owner, app = await make_client("owner"), await make_client("app")
    thing = device.jid.bare
    await ownership_feed.push(thing, owner.jid.bare)
    rule = await prov.add_rule(owner.xmpp, provisioning_jid, thing, app.jid.bare, "friend")
    unfriended = EventRecorder(device, "iotp_unfriend")
    await prov.remove_rule(owner.xmpp, provisioning_jid, thing, rule)
    await unfriended.wait_for(1)
    assert str(unfriended.items[0]) == app.jid.bare


async def test_trusted_service_asks_on_a_devices_behalf(
    own_provisioning, make_client, ownership_feed
) -> None:
    """The sensor-data historian serves a device's history: it asks as if the device asked."""
    server = own_provisioning.jid
    owner, app, meter, mallory = [await make_client(p) for p in ("owner", "app", "meter", "mallory")]
    thing = meter.jid.bare
    await ownership_feed.push(thing, owner.jid.bare, to=server)
    await prov.add_rule(owner.xmpp, server, thing, app.jid.bare, "read", names=["Energy"])
    await prov.add_rule(owner.xmpp, server, thing, "*", "read", allow=False)
    gate = DelegatedGate(ownership_feed.xmpp, server, thing)  # scratch4 is a --trusted-service there
    assert isinstance(gate, TrustGate)
    allowed = await gate.can_read(ReadRequest(str(app.jid)))
    assert allowed.allowed and allowed.field_names == ("Energy",)
    assert not (await gate.can_read(ReadRequest(str(mallory.jid)))).allowed
    assert await gate.is_friend(owner.jid.bare)
    # an untrusted account cannot ask about someone else's device
    impostor = DelegatedGate(mallory.xmpp, server, thing)
    assert isinstance(await error_of(impostor.can_read(ReadRequest(str(mallory.jid)))), Forbidden)


async def test_unknown_owner_is_asked_of_the_registry(make_device, make_client, ownership_feed) -> None:
    """A device that asks before the ownership push arrived: the server queries the registry."""
    device = await make_device()
    owner = await make_client("owner")
    ownership_feed.answer_queries({device.jid.bare: owner.jid.bare})
    assert await device.xmpp.plugin["iot_provisioning"].is_friend(owner.jid.bare)
