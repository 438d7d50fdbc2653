"""XEP-0347 for clients: slixmpp plugin `iot_discovery` used by things, owners and applications.

    client.register_plugin("iot_discovery", module=xmpp_iot.discovery.plugin)
    disco = client.plugin["iot_discovery"]
    await disco.find_registry()
    owner = await disco.register([str_tag("SN", "123"), str_tag("KEY", secret)])

Things receive `iot_claimed`, `iot_removed` and `iot_disowned` events (with an
`OwnershipChange`), but only from the registry they use: the same IQs from anyone else are
refused with `forbidden`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import SubElement

from slixmpp import Iq
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.base import register_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from ..errors import Forbidden, ItemNotFound, ProtocolError, reply_error, send_iq
from .model import NS, Condition, NodeRef, Tag, Thing
from .stanza import read_tags, register_stanzas, write_condition, write_tags

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnershipChange:
    """What a thing learns from the registry: claimed (with owner), removed, or disowned."""

    kind: str
    node: NodeRef
    owner: str = ""
    public: bool = True


@dataclass(frozen=True, slots=True)
class Claim:
    """The thing an owner has just claimed: its JID and, behind a concentrator, its node."""

    jid: str
    node: NodeRef


@dataclass(frozen=True, slots=True)
class SearchPage:
    things: list[Thing]
    more: bool


class RegistryNotFound(ProtocolError):
    condition, etype = "item-not-found", "cancel"


class XEP_0347(BasePlugin):
    """Find a Thing registry; register, claim, update, remove, disown and search things."""

    name = "iot_discovery"
    description = "XEP-0347: Internet of Things - Discovery (client side)"
    dependencies = {"xep_0030"}
    default_config = {"registry": None, "timeout": 15.0}

    def plugin_init(self) -> None:
        register_stanzas()
        self.registry_jid: JID | None = JID(self.registry) if self.registry and "." in self.registry else None
        for kind in ("claimed", "removed", "disowned"):
            self.xmpp.register_handler(
                Callback(
                    f"iot {kind} notification", StanzaPath(f"iq@type=set/iot_{kind}"), self._on_notification
                )
            )

    def plugin_end(self) -> None:
        for kind in ("claimed", "removed", "disowned"):
            self.xmpp.remove_handler(f"iot {kind} notification")

    # -- finding the registry (XEP-0347 §3.4) -----------------------------------------------
    async def find_registry(self, preconfigured: str | None = None, patience: float = 5.0) -> JID:
        """Locate the registry in the XEP's order and remember it.

        1-2: a preconfigured component address or bare JID (contains a dot or an @);
        3-4: a preconfigured subdomain or user name, joined to our server's domain;
        5: with nothing preconfigured, disco#items of our server, the first item advertising
        urn:xmpp:iot:discovery.
        A preconfigured registry that does not answer is retried for `patience` seconds and
        never silently replaced by another one: that would let a look-alike hijack the thing
        (XEP-0347 §6.2).
        """
        hint = preconfigured or self.registry
        domain = self.xmpp.boundjid.domain
        found: str | None = None
        if hint:
            candidates = [hint] if "@" in hint or "." in hint else [f"{hint}.{domain}", f"{hint}@{domain}"]
            deadline = asyncio.get_running_loop().time() + patience
            while found is None:
                for jid in candidates:
                    if await self._is_registry(jid):
                        found = jid
                        break
                if found is None:
                    if asyncio.get_running_loop().time() > deadline:
                        raise RegistryNotFound(f"the configured registry {hint} does not answer")
                    await asyncio.sleep(0.25)
        else:
            items = await self.xmpp.plugin["xep_0030"].get_items(jid=domain, timeout=self.timeout)
            for item in items["disco_items"]["items"]:
                if await self._is_registry(item[0]):
                    found = item[0]
                    break
            if found is None:
                raise RegistryNotFound(f"no Thing registry found on {domain}")
        self.registry_jid = JID(found)
        self.announce()
        return self.registry_jid

    def announce(self) -> None:
        """Directed presence to the registry: it delivers what it could not tell us while we were offline."""
        if self.registry_jid is not None:
            self.xmpp.send_presence(pto=self.registry_jid)

    async def _is_registry(self, jid: str) -> bool:
        try:
            info = await self.xmpp.plugin["xep_0030"].get_info(jid=jid, timeout=self.timeout)
        except (IqError, IqTimeout):
            return False
        return NS in info["disco_info"]["features"]

    # -- things -----------------------------------------------------------------------------
    async def register(
        self, tags: Iterable[Tag], node: NodeRef | None = None, self_owned: bool = False
    ) -> str | None:
        """Register meta tags; returns the owner's JID when the thing was claimed already."""
        iq = self._request("set", "register", node)
        write_tags(iq.xml[0], tags)
        if self_owned:
            iq.xml[0].set("selfOwned", "true")
        reply = await self._send(iq)
        claimed = reply.xml.find(f"{{{NS}}}claimed")
        return claimed.get("jid") if claimed is not None else None

    async def update(self, tags: Iterable[Tag], node: NodeRef | None = None, jid: str | None = None) -> bool:
        """Update tags (empty string value removes a tag). False: the thing was disowned.

        With `jid`, an owner updates the tags of a thing it owns.
        """
        iq = self._request("set", "update", node)
        if jid:
            iq.xml[0].set("jid", jid)
        write_tags(iq.xml[0], tags)
        reply = await self._send(iq)
        return reply.xml.find(f"{{{NS}}}disowned") is None

    async def unregister(self, node: NodeRef | None = None) -> None:
        await self._send(self._request("set", "unregister", node))

    # -- owners ----------------------------------------------------------------------------
    async def claim(self, tags: Iterable[Tag], public: bool = True, node: NodeRef | None = None) -> Claim:
        """Claim the thing whose tags (KEY included) are exactly these; ItemNotFound otherwise."""
        iq = self._request("set", "mine", node)
        if not public:
            iq.xml[0].set("public", "false")
        write_tags(iq.xml[0], tags)
        reply = await self._send(iq)
        el = reply.xml.find(f"{{{NS}}}claimed")
        if el is None:
            raise ItemNotFound("the registry confirmed the claim without naming the thing")
        return Claim(
            el.get("jid", ""), NodeRef(el.get("nodeId", ""), el.get("sourceId", ""), el.get("cacheType", ""))
        )

    async def remove(self, jid: str, node: NodeRef | None = None) -> None:
        """Take an owned thing out of the registry (it stays owned, but is no longer searchable)."""
        iq = self._request("set", "remove", node)
        iq.xml[0].set("jid", jid)
        await self._send(iq)

    async def disown(self, jid: str, node: NodeRef | None = None) -> None:
        """Give up ownership; the thing must register again to be claimed anew."""
        iq = self._request("set", "disown", node)
        iq.xml[0].set("jid", jid)
        await self._send(iq)

    # -- applications ------------------------------------------------------------------------
    async def search(
        self, conditions: Iterable[Condition], offset: int = 0, max_count: int = 20
    ) -> SearchPage:
        """One page of things matching all conditions (AND)."""
        iq = self._request("get", "search")
        iq.xml[0].set("offset", str(offset))
        iq.xml[0].set("maxCount", str(max_count))
        for c in conditions:
            write_condition(iq.xml[0], c)
        reply = await self._send(iq)
        return parse_found(reply)

    async def search_all(self, conditions: Iterable[Condition], page_size: int = 50) -> AsyncIterator[Thing]:
        """Every matching thing, page by page."""
        conditions = list(conditions)
        offset = 0
        while True:
            page = await self.search(conditions, offset, page_size)
            for thing in page.things:
                yield thing
            if not page.more or not page.things:
                return
            offset += len(page.things)

    # -- helpers ---------------------------------------------------------------------------
    def _request(self, itype: str, element: str, node: NodeRef | None = None) -> Iq:
        if self.registry_jid is None:
            raise RegistryNotFound("call find_registry() first, or configure 'registry'")
        iq = self.xmpp.make_iq(ito=self.registry_jid, itype=itype)
        el = SubElement(iq.xml, f"{{{NS}}}{element}")
        if node:
            el.attrib.update(node.attributes())
        return iq

    async def _send(self, iq: Iq) -> Iq:
        return await send_iq(iq, self.timeout)

    def _on_notification(self, iq: Iq) -> None:
        sender = iq["from"]
        if self.registry_jid is None or sender.bare != self.registry_jid.bare:
            reply_error(iq, Forbidden("only the registry may send this")).send()
            return
        el = iq.xml[0]
        kind = el.tag.rpartition("}")[2]
        node = NodeRef(el.get("nodeId", ""), el.get("sourceId", ""), el.get("cacheType", ""))
        change = OwnershipChange(kind, node, el.get("jid", ""), el.get("public", "true") != "false")
        iq.reply().send()
        log.info("%s: registry says %s %s", self.xmpp.boundjid.bare, kind, change.owner)
        self.xmpp.event(f"iot_{kind}", change)


def parse_found(reply: Iq) -> SearchPage:
    found = reply.xml.find(f"{{{NS}}}found")
    if found is None:
        return SearchPage([], False)
    things = []
    for item in found.findall(f"{{{NS}}}thing"):
        node = NodeRef(item.get("nodeId", ""), item.get("sourceId", ""), item.get("cacheType", ""))
        tags = {t.name: t for t in read_tags(item)}
        things.append(Thing(item.get("jid", ""), node, tags, item.get("owner") or None, True))
    return SearchPage(things, found.get("more") == "true")


register_plugin(XEP_0347)  # makes `xmpp.register_plugin("iot_discovery")` work anywhere
