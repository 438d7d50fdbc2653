"""Security review, over real XMPP: certificate-challenge relay, field-restricted readers on the
pub/sub stream, and area nodes that are not open to everybody."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import Element

from slixmpp.exceptions import IqError, IqTimeout

from xmpp_iot.errors import BadRequest, from_iq_error
from xmpp_iot.nodes import measurement_node
from xmpp_iot.provisioning import client as prov
from xmpp_iot.provisioning.stanza import q

from .conftest import ADMIN
from .test_pubsub_nodes import _item, _state, _subscribe

REFUSED = ("forbidden", "not-authorized", "not-allowed", "closed-node")


async def test_a_device_cannot_relay_a_get_token_challenge_to_the_holder(own_provisioning, make_client) -> None:
    """The rogue device was shown the app's token. It asks getToken for the app's certificate and
    sends that challenge to the app as a tokenChallenge: the app must not decrypt it."""
    server = own_provisioning.jid
    app, rogue = await make_client("amr"), await make_client("rogue")
    cert, key = prov.self_signed_certificate("amr.example.org")
    token = await prov.get_token(app.xmpp, server, cert, key)
    prov.TokenHolder(app.xmpp, key).sent(token, rogue.jid.bare)  # the app controlled the device with it

    seqnr, challenge = await prov.request_challenge(rogue.xmpp, server, cert)
    relay = rogue.xmpp.make_iq_get(ito=app.jid)
    el = Element(q("tokenChallenge"), token=token)
    el.text = challenge
    relay.xml.append(el)
    try:
        reply = await relay.send(timeout=10)
    except (IqError, IqTimeout) as exc:
        assert isinstance(from_iq_error(exc), BadRequest)
        return
    answer = reply.xml.find(q("tokenChallengeResponse"))
    stolen = await prov.answer_challenge(rogue.xmpp, server, seqnr, answer.text if answer is not None else "")
    raise AssertionError(f"the rogue device got a token bound to the app's certificate: {stolen[:20]}...")


async def test_a_reader_of_some_fields_cannot_subscribe_to_the_stream(
    make_device, make_client, ownership_feed, provisioning_jid, server_info
) -> None:
    ps = server_info.pubsub_jid
    device = await make_device()
    owner, partial = await make_client("owner"), await make_client("partial")
    thing = device.jid.bare
    node = measurement_node(thing)
    await ownership_feed.push(thing, owner.jid.bare)
    disco = device.xmpp.plugin["xep_0030"]
    async with asyncio.timeout(10):  # the server creates the node as soon as it learns the owner
        while True:
            try:
                await disco.get_info(jid=ps, node=node, timeout=10)
                break
            except IqError:
                await asyncio.sleep(0.2)
    await prov.wait_until_owned(owner.xmpp, provisioning_jid, thing)
    await prov.add_rule(owner.xmpp, provisioning_jid, thing, partial.jid.bare, "read", names=["voltage"])
    await asyncio.sleep(0.5)  # membership changes (whitelist mode) would be applied by now
    result = await _subscribe(partial, ps, node)
    assert result in (*REFUSED, "pending"), result
    await asyncio.sleep(1.0)  # authorize mode: the provisioning server answers the authorization form
    assert await _state(partial, ps, node) != "subscribed"


async def test_an_area_node_without_readers_is_not_open(pubsub_provisioning, make_client, server_info) -> None:
    ps, server = server_info.pubsub_jid, pubsub_provisioning.jid
    admin = await make_client("admin", user=ADMIN, password="admin-pw")
    se_app, stranger = await make_client("se-app"), await make_client("stranger")
    node = await prov.create_area_node(admin.xmpp, server, "feeder-8", [se_app.jid.bare])
    await se_app.xmpp.plugin["xep_0060"].publish(ps, node, payload=_item("overload"), timeout=10)
    assert await _subscribe(stranger, ps, node) in REFUSED
