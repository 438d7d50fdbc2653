"""A second, independent XMPP library (aioxmpp) reads our device with a hand-built XEP-0323 request.

Nothing of ours runs on the application side: aioxmpp's own XSO classes, its own SASL and STARTTLS.
"""

from __future__ import annotations

import asyncio

import aioxmpp
import aioxmpp.dispatcher
import aioxmpp.xso as xso
import pytest

pytestmark = pytest.mark.integration

NS = "urn:xmpp:iot:sensordata"


@aioxmpp.IQ.as_payload_class
class Req(xso.XSO):
    TAG = (NS, "req")
    seqnr = xso.Attr("seqnr", type_=xso.Integer())
    momentary = xso.Attr("momentary", default=None)


@aioxmpp.IQ.as_payload_class
class Accepted(xso.XSO):
    TAG = (NS, "accepted")
    seqnr = xso.Attr("seqnr", type_=xso.Integer())
    queued = xso.Attr("queued", default=None)


class Fields(xso.XSO):
    TAG = (NS, "fields")
    seqnr = xso.Attr("seqnr", type_=xso.Integer())
    done = xso.Attr("done", default=None)
    nodes = xso.Collector()


aioxmpp.Message.xep0323_fields = xso.Child([Fields])


async def test_aioxmpp_reads_our_device(pair, make_client, server_info):
    reader = await make_client("aio", registry=None)  # creates the account (IBR)
    jid, password = reader.xmpp.boundjid.bare, reader.xmpp.password
    await reader.close()
    pair.gate.allow.add(jid)
    pair.source.add_field("Temperature", lambda: 23.4, unit="°C", nr_decimals=1)
    pair.source.add_field("Relay", lambda: True)

    client = aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(jid),
        aioxmpp.make_security_layer(password, no_verify=True),  # loopback test server, self-signed
        override_peer=[(server_info.host, server_info.c2s_port, aioxmpp.connector.STARTTLSConnector())],
    )
    got: asyncio.Future[Fields] = asyncio.get_running_loop().create_future()

    def on_message(msg: aioxmpp.Message) -> None:
        if msg.xep0323_fields is not None and not got.done():
            got.set_result(msg.xep0323_fields)

    async with client.connected() as stream:
        client.summon(aioxmpp.dispatcher.SimpleMessageDispatcher).register_callback(
            aioxmpp.MessageType.NORMAL, None, on_message)
        iq = aioxmpp.IQ(type_=aioxmpp.IQType.GET, to=aioxmpp.JID.fromstr(pair.target),
                        payload=Req())
        iq.payload.seqnr = 7
        iq.payload.momentary = "true"
        accepted = await stream.send(iq)
        assert isinstance(accepted, Accepted) and accepted.seqnr == 7
        fields = await asyncio.wait_for(got, 10)
    assert fields.seqnr == 7 and fields.done == "true"
    values = {el.get("name"): (el.tag, el.get("value"), el.get("unit"))
              for node in fields.nodes for ts in node for el in ts}
    assert values == {"Temperature": (f"{{{NS}}}numeric", "23.4", "°C"),
                      "Relay": (f"{{{NS}}}boolean", "true", None)}
