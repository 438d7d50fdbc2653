"""Fixtures of the EFI binding's end-to-end tests.

The nodes ``efi/<bare jid>`` and ``meas/<bare jid>`` are created and owned by the provisioning server in
production. Here an in-process component on ``scratch7`` (a pub/sub admin on both test servers) plays
that part: it creates each node with the open access model and makes the device its publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from slixmpp import ComponentXMPP
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

from xmpp_iot.client import IotClient
from xmpp_iot.connection import ConnectError, start_session, stop_session
from xmpp_iot.devserver import ServerInfo

pytestmark = pytest.mark.integration

NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"
SUBSCRIBE_AUTHORIZATION = "http://jabber.org/protocol/pubsub#subscribe_authorization"


@dataclass
class NodeAdmin:
    """Creates device nodes the way provisioning does (owner: this component)."""

    xmpp: ComponentXMPP
    service: str
    approved: list[str] = field(default_factory=list)

    async def create(self, node: str, publisher: IotClient | str, access_model: str = "open") -> str:
        bare = publisher.jid.bare if isinstance(publisher, IotClient) else publisher
        form = self.xmpp.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value=NODE_CONFIG)
        form.add_field(var="pubsub#access_model", value=access_model)
        form.add_field(var="pubsub#publish_model", value="publishers")
        form.add_field(var="pubsub#max_items", value="32")
        ps = self.xmpp.plugin["xep_0060"]
        await ps.create_node(self.service, node, config=form, ifrom=self.xmpp.boundjid, timeout=10)
        await ps.modify_affiliations(self.service, node, [(bare, "publisher")], ifrom=self.xmpp.boundjid,
                                     timeout=10)
        return node

    def approve_subscriptions(self, delay: float = 0.3) -> None:
        """Answer XEP-0060 §8.6 authorization requests with allow (after ``delay``, as an owner would)."""

        async def on_message(msg) -> None:
            values = {k: v[0] if isinstance(v, list) and v else v for k, v in msg["form"].get_values().items()}
            if values.get("FORM_TYPE") != SUBSCRIBE_AUTHORIZATION:
                return
            await asyncio.sleep(delay)
            answer = self.xmpp.make_message(mto=msg["from"], mfrom=self.xmpp.boundjid)
            form = self.xmpp.plugin["xep_0004"].make_form(ftype="submit")
            form.add_field(var="FORM_TYPE", ftype="hidden", value=SUBSCRIBE_AUTHORIZATION)
            for var in ("pubsub#subid", "pubsub#node", "pubsub#subscriber_jid"):
                if values.get(var):
                    form.add_field(var=var, value=values[var])
            form.add_field(var="pubsub#allow", ftype="boolean", value=True)
            answer.append(form)
            answer.send()
            self.approved.append(str(values.get("pubsub#subscriber_jid")))

        # slixmpp's "message" event is for messages with a body only
        self.xmpp.register_handler(CoroutineCallback("approve", StanzaPath("message/form"), on_message))


@pytest.fixture
async def node_admin(server_info: ServerInfo) -> AsyncIterator[NodeAdmin]:
    jid = server_info.component_jid("scratch7")
    component = None
    for attempt in range(20):  # Prosody refuses a second connection while the last test's one closes
        component = ComponentXMPP(jid, server_info.secret(jid), server_info.host, server_info.port_for(jid),
                                  fix_error_ns=True)
        for plugin in ("xep_0030", "xep_0004", "xep_0060"):
            component.register_plugin(plugin)
        try:
            await start_session(component, timeout=5)
            break
        except ConnectError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.1)
    assert component is not None
    try:
        yield NodeAdmin(component, server_info.pubsub_jid)
    finally:
        await stop_session(component)
