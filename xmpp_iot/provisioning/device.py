"""XEP-0324 for devices: slixmpp plugin `iot_provisioning`, a :class:`xmpp_iot.trust.TrustGate`.

    client.xmpp.register_plugin("iot_provisioning", module=xmpp_iot.provisioning.device)
    gate = client.xmpp.plugin["iot_provisioning"]
    await gate.find_server()              # preconfigured JID, else disco of the server's components
    decision = await gate.can_read(ReadRequest("app@example.org/x", field_names=("Energy",)))

The device delegates trust to one provisioning server: presence subscription requests are
accepted or declined as ``isFriend`` says; ``canRead``/``canControl`` answers (with their
node/field/parameter subsets) are cached in an LRU cache, which ``clearCache`` empties.
``friend``, ``unfriend`` and ``clearCache`` are obeyed only from the trusted server; the same
stanzas from anybody else are ignored (messages) or refused with ``forbidden`` (IQs).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar
from xml.etree.ElementTree import Element, SubElement

import jwt
from slixmpp import Iq, Message, Presence
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.base import register_plugin
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

from ..errors import (
    Forbidden,
    ItemNotFound,
    ProtocolError,
    ServiceUnavailable,
    from_iq_error,
    reply_error,
    send_iq,
)
from ..trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest, Tokens
from . import stanza as wire
from .stanza import NS, q

D = TypeVar("D", ReadDecision, ControlDecision)

log = logging.getLogger(__name__)

CHALLENGE_WINDOW = 60.0  # XEP-0324 §7: answer challenges only for tokens shown within a minute
# an answer resting on tokens is cached at most this long (seconds), whatever the tokens' expiry:
# a revoked token stops working on a device that missed the server's clearCache within this bound
TOKEN_CACHE_TTL = 300.0


class ProvisioningNotFound(ItemNotFound):
    """No provisioning server could be found or the configured one does not answer."""


class LruCache:
    """Answers by question, least recently used evicted first (XEP-0324 §5 on caching)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[object, float]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> object | None:
        item = self._items.get(key)
        if item is not None and item[1] > time.time():
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]
        if item is not None:
            del self._items[key]
        self.misses += 1
        return None

    def put(self, key: Hashable, value: object, expires: float = math.inf) -> None:
        """Remember an answer; `expires` (epoch seconds) bounds answers that rest on tokens."""
        self._items[key] = (value, expires)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class XEP_0324Device(BasePlugin):
    """Delegated trust for one device (or concentrator)."""

    name = "iot_provisioning"
    description = "XEP-0324: Internet of Things - Provisioning (device side)"
    dependencies = {"xep_0030"}
    default_config = {
        "server": None,
        "cache_size": 1000,
        "timeout": 15.0,
        "handle_subscriptions": True,
        "token_cache_ttl": TOKEN_CACHE_TTL,
    }

    def plugin_init(self) -> None:
        wire.register_stanzas()
        self.server_jid: JID | None = JID(self.server) if self.server else None
        self.cache = LruCache(self.cache_size)
        self._tasks: set[asyncio.Future[None]] = set()
        self.xmpp.register_handler(
            Callback("iotp clearCache", StanzaPath("iq@type=set/iotp_clear_cache"), self._on_clear_cache)
        )
        self._shown: dict[str, tuple[str, float]] = {}  # token -> (requester full JID, when)
        self.xmpp.register_handler(
            CoroutineCallback(
                "iotp tokenChallenge",
                StanzaPath("iq@type=get/iotp_token_challenge"),
                self._on_token_challenge,
            )
        )
        self.xmpp.register_handler(
            Callback("iotp friend", StanzaPath("message/iotp_friend"), self._on_friend)
        )
        self.xmpp.register_handler(
            Callback("iotp unfriend", StanzaPath("message/iotp_unfriend"), self._on_unfriend)
        )
        if self.handle_subscriptions:
            self.xmpp.auto_authorize = None  # we decide, by asking isFriend
            self.xmpp.add_event_handler("presence_subscribe", self._on_subscribe)
        self.xmpp.add_event_handler("session_start", self._on_session_start)

    def plugin_end(self) -> None:
        for name in ("iotp clearCache", "iotp tokenChallenge", "iotp friend", "iotp unfriend"):
            self.xmpp.remove_handler(name)

    # -- finding the server (XEP-0324 §3.1, XEP-0347) ------------------------------------------------
    async def find_server(self, preconfigured: str | None = None) -> JID:
        """Trust a preconfigured JID, or the first server component advertising the feature."""
        hint = preconfigured or self.server
        disco = self.xmpp.plugin["xep_0030"]
        if hint:
            candidates = [hint]
        else:
            items = await disco.get_items(jid=self.xmpp.boundjid.domain, timeout=self.timeout)
            candidates = [item[0] for item in items["disco_items"]["items"]]
        for jid in candidates:
            try:
                info = await disco.get_info(jid=jid, timeout=self.timeout)
            except (IqError, IqTimeout):
                continue
            if NS in info["disco_info"]["features"]:
                self.delegate(jid)
                return self.server_jid  # type: ignore[return-value]
        raise ProvisioningNotFound(
            f"no provisioning server found (tried {', '.join(candidates) or 'nothing'})"
        )

    def delegate(self, jid: str) -> None:
        """Trust this server from now on; a new trust relationship starts with an empty cache."""
        if self.server_jid is None or JID(jid) != self.server_jid:
            self.cache.clear()
        self.server_jid = JID(jid)
        self.announce()

    def announce(self) -> None:
        """Directed presence: the server learns we are online and sends any clearCache we missed."""
        if self.server_jid is not None:
            self.xmpp.send_presence(pto=self.server_jid)

    def _on_session_start(self, _event: object) -> None:
        self.announce()

    # -- the TrustGate ---------------------------------------------------------------------------------
    async def is_friend(self, jid: str) -> bool:
        bare = JID(jid).bare
        key = ("friend", bare)
        cached = self.cache.get(key)
        if cached is not None:
            return bool(cached)
        iq = self._request("isFriend", jid=bare)
        reply = await self._send(iq)
        el = reply.xml.find(q("isFriendResponse"))
        result = el is not None and wire.parse_bool(el.get("result"), False, "result")
        self.cache.put(key, result)
        return result

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        key = ("read", JID(request.requester).bare, request.nodes, request.field_names,
               request.field_types, request.tokens)  # fmt: skip
        return await self._ask("canRead", key, request.requester, request.tokens,
                               lambda el: _write_read_question(el, request),
                               lambda reply: _read_decision(reply, request), ReadDecision)

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        key = ("control", JID(request.requester).bare, request.nodes, request.parameter_names, request.tokens)
        return await self._ask("canControl", key, request.requester, request.tokens,
                               lambda el: _write_control_question(el, request),
                               lambda reply: _control_decision(reply, request), ControlDecision)

    async def _ask(self, question: str, key: tuple, requester: str, tokens: Tokens,
                   write: Callable[[Element], None], decide: Callable[[Element | None], D], kind: type[D]) -> D:
        """canRead/canControl: the cached answer, or the server's (cached until the tokens' expiry)."""
        cached = self.cache.get(key)
        if isinstance(cached, kind):
            return cached
        self._note_tokens(requester, tokens)
        iq = self._request(question, jid=JID(requester).bare)
        write(iq.xml[0])
        decision = decide((await self._send(iq)).xml.find(q(question + "Response")))
        self.cache.put(key, decision, _tokens_expire(tokens, self.token_cache_ttl))
        return decision

    # -- from the trusted server --------------------------------------------------------------------------
    def _trusted(self, sender: JID) -> bool:
        return self.server_jid is not None and sender.bare == self.server_jid.bare

    def _on_clear_cache(self, iq: Iq) -> None:
        if not self._trusted(iq["from"]):
            log.warning("%s: clearCache from %s, who is not our provisioning server: refused",
                        self.xmpp.boundjid.bare, iq["from"])  # fmt: skip
            reply_error(iq, Forbidden("you are not my provisioning server")).send()
            return
        self.cache.clear()
        reply = iq.reply()
        SubElement(reply.xml, q("clearCacheResponse"))
        reply.send()
        self.xmpp.event("iotp_cache_cleared", iq["from"])

    def _note_tokens(self, requester: str, tokens: Tokens) -> None:
        now = time.monotonic()
        for token in " ".join((tokens.service, tokens.device, tokens.user)).split():
            self._shown[token] = (requester, now)
        if len(self._shown) > 4 * self.cache_size:  # forget the oldest
            for token, _ in sorted(self._shown.items(), key=lambda kv: kv[1][1])[: len(self._shown) // 2]:
                del self._shown[token]

    async def _on_token_challenge(self, iq: Iq) -> None:
        """Pass the server's challenge on to whoever showed us the token within the last minute
        (XEP-0324 §3.2 token propagation); anything else is refused with forbidden."""
        token = iq["iotp_token_challenge"].xml.get("token", "")
        shown = self._shown.get(token)
        if not self._trusted(iq["from"]) or shown is None or time.monotonic() - shown[1] > CHALLENGE_WINDOW:
            reply_error(iq, Forbidden("no such token was shown to me in the last minute")).send()
            return
        forward = self.xmpp.make_iq_get(ito=shown[0])
        forward.xml.append(copy.deepcopy(iq["iotp_token_challenge"].xml))
        try:
            answer = (await forward.send(timeout=self.timeout)).xml.find(q("tokenChallengeResponse"))
        except (IqError, IqTimeout) as exc:
            reply_error(iq, from_iq_error(exc)).send()
            return
        if answer is None:
            reply_error(iq, Forbidden("the token's holder did not answer the challenge")).send()
            return
        reply = iq.reply()
        reply.xml.append(copy.deepcopy(answer))
        reply.send()

    def _on_friend(self, msg: Message) -> None:
        if not self._trusted(msg["from"]):
            log.warning("%s: friend recommendation from %s ignored", self.xmpp.boundjid.bare, msg["from"])
            return
        jid = msg["iotp_friend"].xml.get("jid", "")
        if jid:
            self.cache.clear()
            self.xmpp.send_presence(pto=JID(jid).bare, ptype="subscribe")
            self.xmpp.event("iotp_friend", JID(jid))

    def _on_unfriend(self, msg: Message) -> None:
        if not self._trusted(msg["from"]):
            log.warning("%s: unfriend from %s ignored", self.xmpp.boundjid.bare, msg["from"])
            return
        jid = msg["iotp_unfriend"].xml.get("jid", "")
        if not jid:
            return
        bare = JID(jid).bare
        self.cache.clear()
        self.xmpp.send_presence(pto=bare, ptype="unsubscribed")
        self.xmpp.send_presence(pto=bare, ptype="unsubscribe")
        self._spawn(self._remove_from_roster(bare))
        log.info("%s: unfriended %s as told by %s", self.xmpp.boundjid.bare, bare, msg["from"])
        self.xmpp.event("iotp_unfriend", JID(bare))

    async def _remove_from_roster(self, bare: str) -> None:
        try:
            await self.xmpp.del_roster_item(bare)
        except (IqError, IqTimeout) as exc:
            log.info("%s: could not remove %s from the roster: %s", self.xmpp.boundjid.bare, bare, exc)

    def _on_subscribe(self, presence: Presence) -> None:
        self._spawn(self._decide_subscription(presence["from"]))

    async def _decide_subscription(self, requester: JID) -> None:
        try:
            friend = await self.is_friend(requester.bare)
        except ProtocolError as exc:
            log.warning("%s: isFriend %s failed (%s): declined", self.xmpp.boundjid.bare, requester, exc)
            friend = False
        ptype = "subscribed" if friend else "unsubscribed"
        self.xmpp.send_presence(pto=requester.bare, ptype=ptype)
        if friend:
            self.xmpp.send_presence(pto=requester.bare, ptype="subscribe")
        log.info("%s: %s %s", self.xmpp.boundjid.bare, "accepted" if friend else "declined", requester.bare)
        self.xmpp.event("iotp_subscription_decided", (requester, friend))

    # -- helpers --------------------------------------------------------------------------------------------
    def _request(self, element: str, **attrs: str) -> Iq:
        if self.server_jid is None:
            raise ServiceUnavailable("no provisioning server: call find_server() first")
        iq = self.xmpp.make_iq_get(ito=self.server_jid)
        iq.xml.append(Element(q(element), attrs))
        return iq

    async def _send(self, iq: Iq) -> Iq:
        return await send_iq(iq, self.timeout)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class DelegatedGate:
    """A :class:`~xmpp_iot.trust.TrustGate` for a service that answers on a device's behalf (the
    sensor-data historian serving a device's history): asks the provisioning server as if the
    device asked (``device`` attribute, honoured only for ``--trusted-service`` JIDs). No cache:
    the server tells devices, not services, when rules change.

        gate_for = lambda device: DelegatedGate(component, "provisioning.example.org", device)
    """

    def __init__(self, xmpp, server: str, device: str, timeout: float = 15.0) -> None:
        wire.register_stanzas()
        self.xmpp, self.server, self.device, self.timeout = xmpp, JID(server), JID(device).bare, timeout

    def _request(self, element: str, requester: str) -> Iq:
        iq = self.xmpp.make_iq_get(ito=self.server, ifrom=self.xmpp.boundjid)
        iq.xml.append(Element(q(element), {"jid": JID(requester).bare, "device": self.device}))
        return iq

    async def _send(self, iq: Iq) -> Iq:
        return await send_iq(iq, self.timeout)

    async def is_friend(self, jid: str) -> bool:
        el = (await self._send(self._request("isFriend", jid))).xml.find(q("isFriendResponse"))
        return el is not None and wire.parse_bool(el.get("result"), False, "result")

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        iq = self._request("canRead", request.requester)
        _write_read_question(iq.xml[0], request)
        return _read_decision((await self._send(iq)).xml.find(q("canReadResponse")), request)

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        iq = self._request("canControl", request.requester)
        _write_control_question(iq.xml[0], request)
        return _control_decision((await self._send(iq)).xml.find(q("canControlResponse")), request)


def _write_read_question(el: Element, request: ReadRequest) -> None:
    """The body of a canRead question: tokens, field types, nodes and field names."""
    wire.write_tokens(el, request.tokens)
    wire.write_field_types(el, request.field_types)
    wire.write_nodes(el, request.nodes)
    wire.write_names(el, "field", request.field_names)


def _write_control_question(el: Element, request: ControlRequest) -> None:
    """The body of a canControl question: tokens, nodes and parameter names."""
    wire.write_tokens(el, request.tokens)
    wire.write_nodes(el, request.nodes)
    wire.write_names(el, "parameter", request.parameter_names)


def _tokens_expire(tokens: Tokens, max_age: float = TOKEN_CACHE_TTL) -> float:
    """An answer that rests on tokens is not cached past the earliest expiry they state, nor
    longer than `max_age` seconds (a token may be revoked long before it expires, and the
    server's clearCache may not reach us).

    The device cannot check the signature (the server did); it only reads ``exp``.
    """
    held = " ".join((tokens.service, tokens.device, tokens.user)).split()
    if not held:
        return math.inf
    expires = time.time() + max_age
    for token in held:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            continue
        if isinstance(claims.get("exp"), (int, float)):
            expires = min(expires, float(claims["exp"]))
    return expires


def _read_decision(el: Element | None, request: ReadRequest) -> ReadDecision:
    if el is None or not wire.parse_bool(el.get("result"), False, "result"):
        return ReadDecision(False)
    nodes, fields = wire.read_nodes(el), wire.read_names(el, "field")
    decision = ReadDecision(True, nodes or None, fields or None)
    if (decision.nodes is not None and request.nodes and not decision.nodes) or (
        decision.field_names is not None and request.field_names and not decision.field_names
    ):
        return ReadDecision(False)
    return decision


def _control_decision(el: Element | None, request: ControlRequest) -> ControlDecision:
    if el is None or not wire.parse_bool(el.get("result"), False, "result"):
        return ControlDecision(False)
    nodes, params = wire.read_nodes(el), wire.read_names(el, "parameter")
    return ControlDecision(True, nodes or None, params or None)


register_plugin(XEP_0324Device)
