"""XEP-0324 over XMPP: the provisioning component's stanza handlers.

Each handler turns one request into one ProvisioningService call and the answer into a reply.
When no rule answers, the thing's owner is asked (questions.py) and the request waits for the
answer or the timeout. Devices announce themselves with directed presence; a device that comes
back online after its rules changed gets ``clearCache`` (and any ``unfriend`` it missed).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Sequence
from xml.etree.ElementTree import SubElement

from slixmpp import Iq, Message, Presence
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath
from slixmpp.xmlstream.matcher.base import MatcherBase

from xmpp_iot.component import IotComponent, IqHandler
from xmpp_iot.errors import (
    BadRequest,
    FeatureNotImplemented,
    Forbidden,
    ProtocolError,
)
from xmpp_iot.ownership import NS as OWNERSHIP_NS
from xmpp_iot.ownership import OwnershipRecord  # importing it registers <owner/> on Iq
from xmpp_iot.provisioning import stanza as wire
from xmpp_iot.provisioning.stanza import NS, q
from xmpp_iot.trust import Tokens

from .pubsub_manager import PubSubManager
from .questions import QuestionBroker
from .rules import Rule, Subset, bare_jid
from .service import ProvisioningService, RulesChanged
from .store import Ownership

log = logging.getLogger(__name__)

PUSH_TIMEOUT = 10.0
OWNER_QUERY_INTERVAL = 60.0


class ProvisioningComponent(IotComponent):
    """The provisioning server as an XEP-0114 component."""

    identity_name = "xmpp-iot provisioning server (XEP-0324)"
    features = (NS,)

    def __init__(
        self,
        jid: str,
        secret: str,
        host: str,
        port: int,
        service: ProvisioningService,
        *,
        registries: Sequence[str] = (),
        question_timeout: float = 60.0,
        allowed_domains=None,
        pubsub: str | None = None,
        challenge_tokens: bool = False,
    ) -> None:
        super().__init__(jid, secret, host, port, allowed_domains=allowed_domains)
        wire.register_stanzas()
        self.register_plugin("xep_0004")
        self.service = service
        self.registries = {JID(r).bare for r in registries}
        self.register_plugin("xep_0060")
        for kind in ("Items", "Purge", "Delete", "Configuration", "Subscription"):
            # we own nodes but read no notifications; every handler costs a match per stanza
            self.remove_handler(f"Pubsub Event: {kind}")
        self.pubsub = PubSubManager(self, service, pubsub, self._ask) if pubsub else None
        self.challenge_tokens = challenge_tokens
        self._proven: set[str] = set()  # ids of tokens whose presenter answered a token challenge
        self._owner_queries: dict[str, float] = {}  # thing -> when we last asked the registries
        self.online: dict[str, str] = {}  # thing bare JID -> full JID that announced itself
        self._tasks: set[asyncio.Future[None]] = set()
        self.questions = QuestionBroker(lambda m: m.send(), self._make_message, question_timeout)
        service.on_rules_changed = self._rules_changed
        service.on_ownership_changed = self._ownership_changed
        # one matcher for the whole namespace and a table, instead of a StanzaPath per request:
        # slixmpp tries every handler's matcher on every stanza, and these are the hot path
        self._routes: dict[str, IqHandler] = {
            "isFriend": self.on_is_friend,
            "canRead": self.on_can_read,
            "canControl": self.on_can_control,
            "getToken": self.on_get_token,
            "getTokenChallengeResponse": self.on_challenge_response,
            "canAccess": self.on_can_access,
            "hasPrivilege": self.on_has_privilege,
            "downloadPrivileges": self.on_download,
        }
        self.register_handler(CoroutineCallback("iotp requests", _ProvisioningGet(), self._dispatch))
        self.register_handler(Callback("iotp userLoggedIn", StanzaPath("message/iotp_user_logged_in"),
                                       self.on_user_logged_in))  # fmt: skip
        self.handle_iq("iot ownership push", "iq@type=set/iot_owner", self.on_ownership)
        self.add_event_handler("presence_available", self.on_available)
        self.add_event_handler("presence_unavailable", self.on_unavailable)
        # answers carry a form and no body, so slixmpp's "message" event would not see them
        self.register_handler(Callback("iotp form messages", StanzaPath("message/form"), self.on_message))

    def _make_message(self) -> Message:
        msg = self.Message()
        msg["from"] = self.boundjid
        return msg

    async def _dispatch(self, iq: Iq) -> None:
        if not self._sender_allowed(iq):
            return
        handler = self._routes.get(iq.xml[0].tag[len(NS) + 2 :])
        try:
            if handler is None:
                raise FeatureNotImplemented(f"no such request in {NS}")
            reply = handler(iq)
            if inspect.isawaitable(reply):
                reply = await reply
        except Exception as exc:
            reply = self.failure_reply(iq, exc)
        if reply is not None:
            reply.send()

    # -- decisions ----------------------------------------------------------------------------------
    def _thing_of(self, iq: Iq, el) -> str:
        """The thing a question is about: its sender, or (our extension) the ``device`` attribute
        when a --trusted-service asks on the device's behalf (the sensor-data historian does)."""
        device = el.get("device")
        if not device:
            return iq["from"].bare
        if iq["from"].bare not in self.service.trusted:
            raise Forbidden("only trusted services ask on behalf of a device")
        return bare_jid(device, "device")

    async def on_is_friend(self, iq: Iq) -> Iq:
        thing = self._thing_of(iq, iq["iotp_is_friend"].xml)
        requester = bare_jid(wire.required(iq["iotp_is_friend"].xml, "jid"))
        await self._know_owner(thing)
        answer = self.service.is_friend(thing, requester)
        if answer is None:
            answer = await self._ask(thing, requester, "friend")
        reply = iq.reply()
        SubElement(reply.xml, q("isFriendResponse"), jid=requester, result=_bool(bool(answer)))
        log.info("isFriend %s -> %s: %s", thing, requester, bool(answer))
        return reply

    async def on_can_read(self, iq: Iq) -> Iq:
        el = iq["iotp_can_read"].xml
        requester = bare_jid(wire.required(el, "jid"))
        nodes, fields = wire.read_nodes(el), wire.read_names(el, "field")
        types = wire.read_field_types(el)
        tokens = await self._proven_tokens(iq["from"], wire.read_tokens(el))
        answer = await self._decide("read", self._thing_of(iq, el), requester, nodes, fields, tokens)
        reply = iq.reply()
        out = SubElement(reply.xml, q("canReadResponse"), jid=requester, result=_bool(answer is not None))
        wire.write_field_types(out, types)
        if answer is not None:
            wire.write_nodes(out, answer.nodes or ())
            wire.write_names(out, "field", answer.names or ())
        return reply

    async def on_can_control(self, iq: Iq) -> Iq:
        el = iq["iotp_can_control"].xml
        requester = bare_jid(wire.required(el, "jid"))
        nodes, parameters = wire.read_nodes(el), wire.read_names(el, "parameter")
        tokens = await self._proven_tokens(iq["from"], wire.read_tokens(el))
        answer = await self._decide("control", self._thing_of(iq, el), requester, nodes, parameters, tokens)
        reply = iq.reply()
        out = SubElement(reply.xml, q("canControlResponse"), jid=requester, result=_bool(answer is not None))
        if answer is not None:
            wire.write_nodes(out, answer.nodes or ())
            wire.write_names(out, "parameter", answer.names or ())
        return reply

    async def _decide(self, action, thing, requester, nodes, names, tokens) -> Subset | None:
        decide = self.service.can_read if action == "read" else self.service.can_control
        await self._know_owner(thing)
        answer = decide(thing, requester, nodes, names, tokens)
        if answer is None and await self._ask(thing, requester, action):
            answer = decide(thing, requester, nodes, names, tokens)
        log.info("%s %s -> %s: %s", action, thing, requester, answer)
        return answer if isinstance(answer, Subset) else None

    async def _know_owner(self, thing: str) -> None:
        """A thing we know no owner of may have been claimed while a push is still on its way
        (or was lost with our database): ask the registries, at most once a minute per thing."""
        if self.service.owner_of(thing) or not self.registries:
            return
        now = asyncio.get_running_loop().time()
        if now - self._owner_queries.get(thing, -OWNER_QUERY_INTERVAL) < OWNER_QUERY_INTERVAL:
            return
        self._owner_queries[thing] = now
        if len(self._owner_queries) > 100_000:
            self._owner_queries.clear()
        results = await asyncio.gather(*(self._query_owner(r, thing) for r in sorted(self.registries)))
        for record in results:
            if record is not None:
                self._apply_record(record)

    async def _query_owner(self, registry: str, thing: str) -> OwnershipRecord | None:
        iq = self.make_iq_get(ito=registry, ifrom=self.boundjid)
        SubElement(iq.xml, f"{{{OWNERSHIP_NS}}}owner", thing=thing)
        try:
            reply = await iq.send(timeout=5)
            return reply["iot_owner"]["record"]
        except (IqError, IqTimeout, ProtocolError):
            return None

    def _apply_record(self, record: OwnershipRecord) -> None:
        if record.node:
            log.info(
                "ownership of %s node %s: concentrator nodes are not provisioned", record.thing, record.node
            )
            return
        owner = "" if record.removed else record.owner
        self.service.set_ownership(
            Ownership(bare_jid(record.thing, "thing"), owner, record.public, record.seq)
        )

    async def _ask(self, thing: str, requester: str, action: str) -> bool:
        """Ask the owner; the answer becomes a rule. No answer in time = refused, no rule."""
        owner = self.service.owner_of(thing)
        if not owner:
            return False
        allow = await self.questions.ask(owner, thing, requester, action)
        if allow is None:
            return False
        existing = [r for r in self.service.rules_of(thing) if r.subject == requester and r.action == action]
        if not existing:  # a parallel request may have stored it already
            self.service.add_rule(owner, Rule(thing, requester, action, allow))
        return allow

    # -- tokens ------------------------------------------------------------------------------------
    def on_get_token(self, iq: Iq) -> Iq:
        seqnr, challenge = self.service.tokens.challenge(iq["from"].bare, iq["iotp_get_token"].xml.text or "")
        reply = iq.reply()
        SubElement(reply.xml, q("getTokenChallenge"), seqnr=str(seqnr)).text = challenge
        return reply

    def on_challenge_response(self, iq: Iq) -> Iq:
        el = iq["iotp_challenge_response"].xml
        try:
            seqnr = int(wire.required(el, "seqnr"))
        except ValueError:
            raise BadRequest("getTokenChallengeResponse: seqnr must be an integer") from None
        token = self.service.tokens.answer(iq["from"].bare, seqnr, el.text or "")
        log.info("issued a token to %s", iq["from"].bare)
        reply = iq.reply()
        SubElement(reply.xml, q("getTokenResponse"), token=token)
        return reply

    async def _proven_tokens(self, asker: JID, tokens: Tokens) -> Tokens:
        """With --challenge-tokens, each certificate token is challenged once, through the device
        that showed it (which passes the challenge on to whoever gave it the token); tokens whose
        challenge fails are dropped before the rules are consulted."""
        if not self.challenge_tokens or not tokens:
            return tokens
        kept = {}
        for kind in ("service", "device", "user"):
            kept[kind] = " ".join(
                [t for t in getattr(tokens, kind).split() if await self._challenge(asker, t)]
            )
        return Tokens(**kept)

    async def _challenge(self, asker: JID, token: str) -> bool:
        authority = self.service.tokens
        jti = authority.jti_of(token)
        if jti is None or jti in self._proven:
            return True  # not ours (refused later anyway) or already proven
        challenge = authority.token_challenge(token)
        if challenge is None:
            return True  # a user token: no certificate to challenge
        nonce, encrypted = challenge
        iq = self.make_iq_get(ito=asker, ifrom=self.boundjid)
        SubElement(iq.xml, q("tokenChallenge"), token=token).text = encrypted
        try:
            reply = await iq.send(timeout=PUSH_TIMEOUT)
        except (IqError, IqTimeout) as exc:
            log.info("token challenge through %s failed: %s", asker, exc)
            return False
        el = reply.xml.find(q("tokenChallengeResponse"))
        if el is None or not authority.challenge_answered(nonce, el.text or ""):
            log.info("token challenge through %s answered wrongly", asker)
            return False
        self._proven.add(jti)
        return True

    # -- services and users ------------------------------------------------------------------------
    def on_can_access(self, iq: Iq) -> Iq:
        el = iq["iotp_can_access"].xml
        service = self.service.service_of(wire.required(el, "serviceToken"), iq["from"].bare)
        user = _user_credential(el)
        token = self.service.can_access(service, user)
        reply = iq.reply()
        out = SubElement(reply.xml, q("canAccessResponse"), result=_bool(token is not None))
        if token:
            out.set("userToken", token)
        log.info("canAccess %s at %s: %s", user, service, token is not None)
        return reply

    def _service_and_user(self, el, sender: str) -> tuple[str, str]:
        service = self.service.service_of(wire.required(el, "serviceToken"), sender)
        return service, self.service.user_of(wire.required(el, "userToken"), service)

    def on_has_privilege(self, iq: Iq) -> Iq:
        el = iq["iotp_has_privilege"].xml
        service, user = self._service_and_user(el, iq["from"].bare)
        privilege = wire.required(el, "privilegeId")
        reply = iq.reply()
        SubElement(reply.xml, q("hasPrivilegeResponse"),
                   result=_bool(self.service.has_privilege(service, user, privilege)))  # fmt: skip
        return reply

    def on_download(self, iq: Iq) -> Iq:
        service, user = self._service_and_user(iq["iotp_download_privileges"].xml, iq["from"].bare)
        reply = iq.reply()
        out = SubElement(reply.xml, q("downloadPrivilegesResponse"))
        for include, privilege in self.service.privileges(service, user):
            SubElement(out, q("include" if include else "exclude"), id=privilege)
        return reply

    def on_user_logged_in(self, msg: Message) -> None:
        el = msg["iotp_user_logged_in"].xml
        log.info("%s: user %s logged in", msg["from"].bare, el.get("userName", "?"))

    # -- ownership feed from the registry ------------------------------------------------------------
    def on_ownership(self, iq: Iq) -> Iq:
        sender = iq["from"]
        if sender.bare not in self.registries and sender.domain not in self.registries:
            raise Forbidden("ownership is accepted only from the configured registry")
        self._apply_record(iq["iot_owner"]["record"])
        return iq.reply()

    # -- presence: clearCache for devices coming back ----------------------------------------------------
    def on_available(self, presence: Presence) -> None:
        if presence["to"].bare != self.boundjid.bare or not presence["from"].resource:
            return
        thing = presence["from"].bare
        self.online[thing] = presence["from"].full
        self._spawn(self._flush(thing))

    def on_unavailable(self, presence: Presence) -> None:
        if self.online.get(presence["from"].bare) == presence["from"].full:
            del self.online[presence["from"].bare]

    def _ownership_changed(self, new: Ownership, _old: Ownership | None) -> None:
        if self.pubsub is not None and new.owner:
            self._spawn(self._provision(new.thing))

    async def _provision(self, thing: str) -> None:
        assert self.pubsub is not None
        try:
            await self.pubsub.provision(thing)
        except (IqError, IqTimeout) as exc:
            log.error("could not set up the pub/sub nodes of %s: %s", thing, exc)

    def _rules_changed(self, change: RulesChanged) -> None:
        if self.pubsub is not None and (change.readers_gained or change.readers_lost):
            self._spawn(self.pubsub.readers_changed(change.thing, change.readers_gained, change.readers_lost))
        for jid in change.unfriend:
            self.service.store.add_pending(change.thing, "unfriend", jid)
        self.service.store.add_pending(change.thing, "clearCache")
        if change.thing in self.online:
            self._spawn(self._flush(change.thing))

    async def _flush(self, thing: str) -> None:
        """Deliver what the device is owed, in order; keep it pending if the device does not answer."""
        for pid, kind, jid in self.service.store.pending(thing):
            full = self.online.get(thing)
            if full is None:
                return
            if kind == "unfriend":
                msg = self._make_message()
                msg["to"] = full
                SubElement(msg.xml, q("unfriend"), jid=jid)
                msg.send()
            else:
                iq = self.make_iq_set(ito=full, ifrom=self.boundjid)
                SubElement(iq.xml, q("clearCache"))
                try:
                    await iq.send(timeout=PUSH_TIMEOUT)
                except (IqError, IqTimeout) as exc:
                    log.info("clearCache to %s not acknowledged (%s); kept for later", full, exc)
                    return
                log.info("cleared the cache of %s", full)
            self.service.store.done_pending([pid])

    # -- messages: owner answers ----------------------------------------------------------------------
    def on_message(self, msg: Message) -> None:
        if msg["type"] == "error":
            return
        if self.pubsub is not None and self.pubsub.is_authorization_request(msg):
            self._spawn(self.pubsub.on_authorization_request(msg))
            return
        question = self.questions.answer(msg)
        if question is not None:
            log.info("%s answered %s", msg["from"].bare, question.id)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _ProvisioningGet(MatcherBase):
    """IQ get whose payload is in urn:xmpp:iot:provisioning."""

    def __init__(self) -> None:
        super().__init__(None)

    def match(self, xml) -> bool:
        x = xml.xml
        return (x.tag.endswith("}iq") and x.get("type") == "get" and len(x) > 0
                and x[0].tag.startswith(_PREFIX))  # fmt: skip


_PREFIX = "{" + NS + "}"


def _user_credential(el) -> str:
    """The user's JID among canAccess credentials: <jid value=''/> (schema) or
    <credentials type='Jid' value=''/> (the XEP's example)."""
    for child in el:
        tag = child.tag.rpartition("}")[2]
        kind = (child.get("type") or "").lower()
        if tag == "jid" or (tag == "credentials" and kind in ("jid", "xmpp")):
            return bare_jid(child.get("value", ""), "jid credential")
    raise BadRequest("canAccess: this server identifies users by a jid credential")


def _bool(value: bool) -> str:
    return "true" if value else "false"
