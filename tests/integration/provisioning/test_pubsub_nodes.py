"""The provisioning server creates and owns the things' nodes: publisher affiliation for the
thing, subscriptions approved (and later withdrawn) from the owner's read rules."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import Element

from slixmpp.exceptions import IqError

from xmpp_iot.errors import Forbidden
from xmpp_iot.nodes import measurement_node
from xmpp_iot.provisioning import client as prov

from ...helpers import EventRecorder, error_of
from .conftest import ADMIN

PAYLOAD_NS = "urn:xmpp-iot:test:reading"


def _item(value: str) -> Element:
    el = Element(f"{{{PAYLOAD_NS}}}reading")
    el.text = value
    return el


async def _state(client, service: str, node: str) -> str:
    try:
        result = await client.xmpp.plugin["xep_0060"].get_subscriptions(service, node, timeout=10)
    except IqError:
        return "none"
    states = [s["subscription"] for s in result["pubsub"]["subscriptions"]]
    return states[0] if states else "none"


async def _wait_state(client, service: str, node: str, wanted: str, timeout: float = 10) -> str:
    state = ""
    async with asyncio.timeout(timeout):
        for _ in range(int(timeout / 0.2)):  # polling: the server tells the subscriber nothing on Prosody
            state = await _state(client, service, node)
            if state == wanted:
                break
            await asyncio.sleep(0.2)
    return state


async def _subscribe(client, service: str, node: str) -> str:
    try:
        result = await client.xmpp.plugin["xep_0060"].subscribe(service, node, timeout=10)
    except IqError as exc:
        return exc.iq["error"]["condition"]
    return result["pubsub"]["subscription"]["subscription"]


async def test_node_created_owned_and_subscriptions_decided(
    make_device, make_client, ownership_feed, provisioning_jid, server_info
) -> None:
    ps = server_info.pubsub_jid
    device = await make_device()
    owner, reader, other = await make_client("owner"), await make_client("reader"), await make_client("other")
    thing = device.jid.bare
    node = measurement_node(thing)
    await ownership_feed.push(thing, owner.jid.bare)

    publish = device.xmpp.plugin["xep_0060"].publish
    disco = device.xmpp.plugin["xep_0030"]
    async with asyncio.timeout(10):  # the server creates the node as soon as it learns the owner
        for _ in range(50):  # (publishing first would let ejabberd auto-create it, owned by the device)
            try:
                await disco.get_info(jid=ps, node=node, timeout=10)
                await publish(ps, node, payload=_item("1"), timeout=10)
                break
            except IqError as exc:
                if exc.iq["error"]["condition"] not in ("item-not-found", "forbidden"):  # not ready yet
                    raise
                await asyncio.sleep(0.2)
    try:  # only the thing itself publishes there
        await other.xmpp.plugin["xep_0060"].publish(ps, node, payload=_item("forged"), timeout=10)
        raise AssertionError("a stranger could publish to the thing's node")
    except IqError as exc:
        assert exc.iq["error"]["condition"] in ("forbidden", "not-authorized")

    await prov.add_rule(owner.xmpp, provisioning_jid, thing, reader.jid.bare, "read")
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, "*", "read", allow=False)
    await asyncio.sleep(0.5)  # whitelist mode: the membership is granted right after the rule

    assert await _subscribe(reader, ps, node) in ("subscribed", "pending")
    assert await _wait_state(reader, ps, node, "subscribed") == "subscribed"  # approved
    assert await _subscribe(other, ps, node) in ("forbidden", "not-authorized", "pending", "none")
    assert await _wait_state(other, ps, node, "none") == "none"  # denied

    received = EventRecorder(reader, "pubsub_publish")
    await publish(ps, node, payload=_item("2"), timeout=10)
    items = await received.wait_for(1)
    assert items[-1]["pubsub_event"]["items"]["item"]["payload"].text == "2"

    rule_id = next(
        int(r["id"])
        for r in await prov.list_rules(owner.xmpp, provisioning_jid, thing)
        if r["subject"] == reader.jid.bare
    )
    await prov.remove_rule(owner.xmpp, provisioning_jid, thing, rule_id)  # the owner withdraws the reader
    assert await _wait_state(reader, ps, node, "none") == "none"
    count = len(received.items)
    await publish(ps, node, payload=_item("3"), timeout=10)
    await asyncio.sleep(0.5)
    assert len(received.items) == count


async def test_nodes_still_managed_after_a_restart(
    pubsub_provisioning, make_device, make_client, ownership_feed, server_info
) -> None:
    ps, server = server_info.pubsub_jid, pubsub_provisioning.jid
    device = await make_device(server=server)
    owner, reader = await make_client("owner"), await make_client("reader")
    thing = device.jid.bare
    node = measurement_node(thing)
    await ownership_feed.push(thing, owner.jid.bare, to=server)
    disco = device.xmpp.plugin["xep_0030"]
    async with asyncio.timeout(10):
        for _ in range(50):
            try:
                await disco.get_info(jid=ps, node=node, timeout=10)
                break
            except IqError:
                await asyncio.sleep(0.2)

    pubsub_provisioning.kill()
    pubsub_provisioning.start()
    await prov.add_rule(owner.xmpp, server, thing, reader.jid.bare, "read")
    await asyncio.sleep(0.5)
    assert await _subscribe(reader, ps, node) in ("subscribed", "pending")
    assert await _wait_state(reader, ps, node, "subscribed") == "subscribed"


async def test_area_node_for_alarms(pubsub_provisioning, make_client, server_info) -> None:
    ps, server = server_info.pubsub_jid, pubsub_provisioning.jid
    admin = await make_client("admin", user=ADMIN, password="admin-pw")
    se_app, operator, stranger = [await make_client(p) for p in ("se-app", "operator", "stranger")]
    assert isinstance(await error_of(prov.create_area_node(stranger.xmpp, server, "feeder-9")), Forbidden)
    node = await prov.create_area_node(admin.xmpp, server, "feeder-7", [se_app.jid.bare], [operator.jid.bare])
    assert node == "alarms/feeder-7"
    await se_app.xmpp.plugin["xep_0060"].publish(ps, node, payload=_item("overload"), timeout=10)
    try:
        await stranger.xmpp.plugin["xep_0060"].publish(ps, node, payload=_item("fake"), timeout=10)
        raise AssertionError("a stranger could publish an alarm")
    except IqError as exc:
        assert exc.iq["error"]["condition"] in ("forbidden", "not-authorized")
    assert await _subscribe(operator, ps, node) == "subscribed"
    assert await _subscribe(stranger, ps, node) in ("forbidden", "not-authorized", "not-allowed")
