"""XEP-0323 for slixmpp: plugin ``iot_sensordata``, device (responder) and application (reader) side.

Device or component::

    xmpp.register_plugin("iot_sensordata")
    sd = xmpp.plugin["iot_sensordata"]
    sd.serve(source, gate)              # source: a ReadoutSource; gate: a xmpp_iot.trust.TrustGate

Application::

    readout = await xmpp.plugin["iot_sensordata"].read("meter@example.org/dev", fields=["voltage.L1"])
    readout.value("voltage.L1")         # typed Python value

The responder answers ``req`` with an IQ error (forbidden, item-not-found, bad-request, conflict) or
``<accepted/>``, then sends ``started`` (queued requests only), ``fields``/``failure`` and ``done`` as
messages from the address the request was sent to. ``cancel`` of an unknown readout is item-not-found.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from slixmpp import JID, Iq, Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.base import register_plugin
from slixmpp.xmlstream.handler import Callback, CoroutineCallback

from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InternalServerError,
    ItemNotFound,
    ProtocolError,
    RemoteServerTimeout,
    ResourceConstraint,
    from_iq_error,
    reply_error,
)
from ..trust import ReadDecision, ReadRequest, Tokens, TrustGate
from .eager import start_eagerly
from .matcher import ChildMatcher
from .model import FIELD_TYPES, HISTORICAL_TYPES, NO_TOKENS, NS, Field, NodeRef, ReadoutError, ReadoutRequest
from .source import ReadoutSource
from .stanza import errors_xml, fields_xml, read_errors, read_fields, register_stanzas, req_xml
from .wire import Outbox, Replies

log = logging.getLogger(__name__)

__all__ = ["XEP_0323", "PendingReadout", "Readout"]


@dataclass
class Readout:
    """What a readout returned: fields (filtered to the request, as the XEP asks of clients) and failures."""

    fields: list[Field] = field(default_factory=list)
    errors: list[ReadoutError] = field(default_factory=list)
    queued: bool = False
    started: bool = False

    def value(self, name: str, node: NodeRef | None = None) -> object:
        """The newest value of field ``name`` (on ``node``); KeyError when absent."""
        matches = [f for f in self.fields if f.name == name and (node is None or f.node == node)]
        if not matches:
            raise KeyError(name)
        return max(matches, key=lambda f: _utc(f.timestamp)).value

    def by_name(self) -> dict[str, Field]:
        """Newest field per name (handy for single-node devices)."""
        out: dict[str, Field] = {}
        for f in sorted(self.fields, key=lambda f: _utc(f.timestamp)):
            out[f.name] = f
        return out


class PendingReadout:
    """A readout in flight on the application side: await :meth:`result`, or :meth:`cancel` it."""

    def __init__(self, plugin: XEP_0323, target: JID, request: ReadoutRequest) -> None:
        self.plugin = plugin
        self.target = target
        self.request = request
        self.readout = Readout()
        self.accepted = asyncio.Event()
        self.started = asyncio.Event()
        self._done: asyncio.Future[Readout] = asyncio.get_running_loop().create_future()

    @property
    def seqnr(self) -> int:
        return self.request.seqnr

    async def result(self, timeout: float | None = 30.0) -> Readout:
        """Wait for ``done``; on timeout the readout is cancelled and RemoteServerTimeout raised."""
        if self._done.done():  # the common case: the fields came with the IQ result
            return self._done.result()
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            if not self.accepted.is_set():  # not even accepted: there is nothing to cancel
                self.plugin._pending.pop((self.target.bare, self.seqnr), None)
                raise RemoteServerTimeout(f"readout {self.seqnr} from {self.target}: no answer in {timeout} s") from None
            # tell the device to stop, without making the caller wait for a device that may be gone
            task = asyncio.create_task(self.cancel(quiet=True))
            self.plugin._background.add(task)
            task.add_done_callback(self.plugin._background.discard)
            raise RemoteServerTimeout(f"readout {self.seqnr} from {self.target} not done in {timeout} s") from None

    async def cancel(self, quiet: bool = False) -> None:
        """Send ``<cancel/>``; raises ItemNotFound when the device no longer knows the readout."""
        self.plugin._pending.pop((self.target.bare, self.seqnr), None)
        iq = self.plugin.xmpp.make_iq_get(ito=self.target, ifrom=self.plugin._own_jid())
        iq["sd_cancel"]["seqnr"] = self.seqnr
        try:
            await iq.send(timeout=self.plugin.timeout)
        except (IqError, IqTimeout) as exc:
            if not quiet:
                raise from_iq_error(exc) from None
        finally:
            self._done.cancel()  # a task awaiting result() sees CancelledError

    # -- messages from the device ------------------------------------------------------------
    def _on_reply(self, iq: Iq) -> None:
        """The IQ answer to the ``req`` (for :meth:`XEP_0323.read`)."""
        if iq.xml.get("type") == "error":
            self.plugin._pending.pop((self.target.bare, self.seqnr), None)
            if not self._done.done():
                self._done.set_exception(from_iq_error(IqError(iq)))
            return
        accepted = iq.xml.find(_ACCEPTED)
        self.readout.queued = accepted is not None and accepted.get("queued") in ("true", "1")
        self.accepted.set()

    def _on_started(self) -> None:
        self.accepted.set()
        self.readout.started = True
        self.started.set()

    def _on_fields(self, fields: list[Field], done: bool) -> None:
        self.accepted.set()
        self.readout.fields.extend(f for f in fields if self.request.wants(f))
        if done:
            self._finish()

    def _on_failure(self, errors: list[ReadoutError], done: bool) -> None:
        self.accepted.set()
        self.readout.errors.extend(errors)
        if done:
            self._finish()

    def _finish(self) -> None:
        self.plugin._pending.pop((self.target.bare, self.seqnr), None)
        if not self._done.done():
            self._done.set_result(self.readout)


@dataclass
class _Active:
    request: ReadoutRequest
    task: asyncio.Task | None = None  # None while the readout has not waited for anything yet
    expired: bool = False  # cancelled because it ran longer than max_readout_seconds


class XEP_0323(BasePlugin):
    """XEP-0323 Sensor Data (v0.6): answer readouts (``serve``) and make them (``read``)."""

    name = "iot_sensordata"
    description = "XEP-0323: Internet of Things - Sensor Data (urn:xmpp:iot:sensordata)"
    dependencies = {"xep_0030"}
    default_config = {
        "timeout": 15.0,
        "max_nodes": 100,  # more nodes or fields in one req: bad-request (oversized request)
        "max_fields": 100,
        "max_active_per_requester": 16,  # readouts deciding, in progress or queued per bare JID: resource-constraint
        "refusal_memory_seconds": 10.0,  # a refused bare JID is refused at once for this long (no gate round trip)
        "max_concurrent": 4,  # readouts running at once; more are queued (accepted queued='true')
        "max_readout_seconds": 300.0,  # a readout still running then ends with a failure (done)
        "max_when_seconds": 7 * 86400.0,  # `when` further ahead: bad-request (nothing waits forever)
    }

    def plugin_init(self) -> None:
        register_stanzas()
        self.source: ReadoutSource | None = None
        self.gate: TrustGate | None = None
        self._active: dict[tuple[str, int], _Active] = {}
        self._deciding: collections.Counter[str] = collections.Counter()  # bare JID -> gate questions open
        # (bare JID, tokens) -> monotonic time until which the same request is refused at once
        self._refused: dict[tuple[str, Tokens], float] = {}
        self._running = asyncio.Semaphore(self.max_concurrent)
        self._pending: dict[tuple[str, int], PendingReadout] = {}
        self._background: set[asyncio.Task] = set()
        self._starting: _Active | None = None  # the readout accepted by the eager first step
        self._eager = False  # True while a request's first step runs outside its task
        self._seqnr = itertools.count(1)
        self.outbox = Outbox(self.xmpp)
        self._replies = Replies()
        self._iq_tag = f"{{{self.xmpp.default_ns}}}iq"
        self._message_tag = f"{{{self.xmpp.default_ns}}}message"
        # the hot path: our stanzas are taken off the stream before slixmpp matches them against
        # every registered handler (the handlers below see the rest: requests while not serving,
        # messages of readouts we do not know)
        self.xmpp.add_filter("in", self._filter_in)
        self.xmpp.register_handler(CoroutineCallback(
            "iot sd iq", ChildMatcher("iq", ("get", "set"), NS, ("req", "cancel")), self._on_iq))
        self.xmpp.register_handler(Callback(
            "iot sd message", ChildMatcher("message", ("normal", "chat", "headline", "groupchat"), NS,
                                           ("started", "fields", "failure", "done")), self._on_message))

    def plugin_end(self) -> None:
        self.xmpp.del_filter("in", self._filter_in)
        for name in ("iot sd iq", "iot sd message"):
            self.xmpp.remove_handler(name)
        for active in self._active.values():
            if active.task:
                active.task.cancel()
        self.xmpp.plugin["xep_0030"].del_feature(feature=NS)

    # ==== device side ===========================================================================
    def serve(self, source: ReadoutSource, gate: TrustGate) -> None:
        """Answer readouts from ``source``, each one first decided by ``gate`` (see
        :class:`xmpp_iot.sensordata.policy.LocalPolicyGate` for the local default)."""
        if gate is None:
            raise ValueError("a trust gate is required (LocalPolicyGate for the local friends-only policy)")
        self.source = source
        self.gate = gate
        self._refused.clear()  # refusals were the old gate's answers
        self.xmpp.plugin["xep_0030"].add_feature(NS)

    def _filter_in(self, stanza):
        """Incoming filter: handle our own stanzas at once (see plugin_init); pass on the rest."""
        xml = stanza.xml
        tag = xml.tag
        if tag == self._iq_tag:
            kind = xml.get("type")
            if kind == "result" or kind == "error":
                return None if self._replies.take(stanza) else stanza
            if self.source is not None and (kind == "get" or kind == "set"):
                for child in xml:
                    if child.tag == _REQ or child.tag == _CANCEL:
                        self._dispatch_iq(stanza, child.tag == _CANCEL)
                        return None
        elif tag == self._message_tag and self._pending and xml.get("type") != "error":
            for child in xml:
                if child.tag in _MESSAGE_TAGS:
                    return None if self._on_message(stanza) else stanza
        return stanza

    def _dispatch_iq(self, iq: Iq, cancel: bool) -> None:
        if cancel:
            self._on_cancel(iq)
            return
        # most readouts are done before this returns; one that waits continues in a task
        self._starting, self._eager = None, True
        try:
            task = start_eagerly(self._on_req(iq))
        finally:
            self._eager = False
        active, self._starting = self._starting, None
        if task is not None:
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            if active is not None and active.task is None:
                active.task = task  # so that cancel can stop it

    async def _on_iq(self, iq: Iq) -> None:
        if iq.xml.find(f"{{{NS}}}cancel") is not None:
            self._on_cancel(iq)
        else:
            await self._on_req(iq)

    async def _on_req(self, iq: Iq) -> None:
        """Answer the IQ, then run the readout in this same task (slixmpp gives every coroutine
        handler its own task; ``cancel`` cancels it)."""
        sender, to = iq["to"], iq["from"]  # JIDs are parsed at each access: once here
        try:
            active, queued = await self._accept(iq, str(to))
        except ProtocolError as exc:
            log.info("%s: readout from %s refused: %s %s", iq["to"], iq["from"], exc.condition, exc.text)
            reply_error(iq, exc).send()
            return
        except Exception:
            log.exception("%s: readout %s failed", iq["to"], iq["id"])
            reply_error(iq, InternalServerError("unexpected failure")).send()
            return
        flag = ' queued="true"' if queued else ""
        self.outbox.send(self.outbox.stanza("iq", f'<accepted xmlns="{NS}" seqnr="{active.request.seqnr}"{flag}/>',
                                            ours=sender.full, theirs=to.full, id=iq.xml.get("id", ""), type="result"))
        await self._run(sender, to, active, queued)
        self.outbox.flush()  # a readout done in one go: <accepted/> and <fields/> leave in one write

    async def _accept(self, iq: Iq, requester: str) -> tuple[_Active, bool]:
        if self.source is None or self.gate is None:
            raise Forbidden("this entity serves no sensor data")
        try:
            request = iq["sd_req"].to_request(requester)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if len(request.nodes) > self.max_nodes or len(request.field_names) > self.max_fields:
            raise BadRequest(f"request too large: at most {self.max_nodes} nodes and {self.max_fields} fields")
        if request.from_ and request.to and _utc(request.from_) > _utc(request.to):
            raise BadRequest("'from' is after 'to'")
        if request.when and (_utc(request.when) - datetime.now(UTC)).total_seconds() > self.max_when_seconds:
            raise BadRequest(f"'when' is more than {self.max_when_seconds:.0f} s ahead")
        key = (requester, request.seqnr)
        if key in self._active:
            raise Conflict(f"readout {request.seqnr} is already in progress")
        bare = JID(requester).bare
        if self._refused.get((bare, request.tokens), 0.0) > time.monotonic():
            raise Forbidden("access denied")
        if self._deciding[bare] + (len(self._active) and sum(
                1 for k in self._active if JID(k[0]).bare == bare)) >= self.max_active_per_requester:
            raise ResourceConstraint("too many readouts in progress; wait for one to finish")
        self._deciding[bare] += 1  # counted before the gate is awaited: parallel requests see it
        try:
            request = await self._decide(request)
        finally:
            self._deciding[bare] -= 1
            if not self._deciding[bare]:
                del self._deciding[bare]
        if key in self._active:  # a duplicate that arrived while we awaited the gate
            raise Conflict(f"readout {request.seqnr} is already in progress")
        queued = self._running.locked() or (request.when is not None and _utc(request.when) > datetime.now(UTC))
        active = self._active[key] = self._starting = _Active(request, None if self._eager else asyncio.current_task())
        return active, queued

    def _remember_refusal(self, key: tuple[str, Tokens]) -> None:
        """A refused requester is refused again at once for a while (unless it brings other tokens):
        a stranger repeating its request must not cost a provisioning round trip every time."""
        now = time.monotonic()
        if len(self._refused) > 10_000:  # forget the expired; bounded by the requesters seen meanwhile
            self._refused = {j: t for j, t in self._refused.items() if t > now}
        self._refused[key] = now + self.refusal_memory_seconds

    async def _decide(self, request: ReadoutRequest) -> ReadoutRequest:
        """Ask the gate; let the source check the request as asked (unknown nodes/fields); then narrow
        it to what the gate allows (refuse when nothing is left)."""
        assert self.gate is not None and self.source is not None
        decision: ReadDecision = await self.gate.can_read(ReadRequest(
            requester=request.requester, nodes=request.nodes, field_names=request.field_names,
            field_types=request.types, tokens=request.tokens))
        if not decision.allowed:
            self._remember_refusal((JID(request.requester).bare, request.tokens))
            raise Forbidden("access denied")
        await self.source.check(request)
        if decision.nodes is None and decision.field_names is None and decision.field_types is None:
            return request  # allowed as asked
        nodes, names, types = request.nodes, request.field_names, request.types
        if decision.nodes is not None:
            nodes = tuple(n for n in nodes if n in decision.nodes) if nodes else tuple(decision.nodes)
            if request.nodes and not nodes:
                raise Forbidden("access denied to the requested nodes")
        if decision.field_names is not None:
            names = tuple(n for n in names if n in decision.field_names) if names else tuple(decision.field_names)
            if not names:
                raise Forbidden("access denied to the requested fields")
        if decision.field_types is not None:
            types = types & decision.field_types
            if not types:
                raise Forbidden("access denied to the requested field types")
        return replace(request, nodes=nodes, field_names=names, types=frozenset(types))

    async def _run(self, sender: JID, to: JID, active: _Active, queued: bool) -> None:
        request = active.request
        seqnr = request.seqnr
        try:
            if request.when is not None:
                delay = (_utc(request.when) - datetime.now(UTC)).total_seconds()
                if delay > 0:
                    await asyncio.sleep(delay)
            async with self._running:
                if queued:
                    self._send_message(sender, to, "started", seqnr)
                assert self.source is not None
                # each message is held back until the next one exists, so the last one can carry
                # done='true' (XEP-0323 §3: saves the separate <done/>, and older clients need it)
                held: tuple[str, str] | None = None  # (element name, content)
                # not asyncio.timeout: the first step may run outside a task (see eager.py)
                timer = asyncio.get_running_loop().call_later(self.max_readout_seconds, _expire, active)
                try:
                    async for item in self.source.readout(request):
                        if isinstance(item, ReadoutError):
                            kind, content = "failure", errors_xml([item])
                        else:
                            wanted = [f for f in item if request.wants(f)]
                            if not wanted:
                                continue
                            kind, content = "fields", fields_xml(wanted)
                        if held:
                            self._send_message(sender, to, *held, seqnr=seqnr)
                        held = (kind, content)
                except asyncio.CancelledError:
                    if not active.expired:
                        raise
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    log.warning("%s: readout %s of %s stopped after %s s", sender, seqnr, to, self.max_readout_seconds)
                    if held:
                        self._send_message(sender, to, *held, seqnr=seqnr)
                    held = ("failure", errors_xml([ReadoutError(
                        NodeRef(), f"readout stopped: it took longer than {self.max_readout_seconds} s")]))
                finally:
                    timer.cancel()
                if held:
                    self._send_message(sender, to, *held, seqnr=seqnr, done=True)
                else:
                    self._send_message(sender, to, "done", seqnr)
        except asyncio.CancelledError:
            log.info("%s: readout %s of %s cancelled", sender, seqnr, to)
            raise
        except Exception as exc:
            log.exception("%s: readout %s of %s failed", sender, seqnr, to)
            self._send_message(sender, to, "failure", errors_xml(
                [ReadoutError(NodeRef(), f"readout failed: {type(exc).__name__}")]), seqnr=seqnr, done=True)
        finally:
            self._active.pop((str(to), seqnr), None)

    def _send_message(self, sender: JID, to: JID, kind: str, content: str | int = "", *, seqnr: int = 0,
                      done: bool = False) -> None:
        """Send ``<message><kind seqnr=''>content</kind></message>`` (``content`` may be the seqnr
        for the empty elements: ``_send_message(a, b, "started", 4)``)."""
        if isinstance(content, int):
            content, seqnr = "", content
        flag = ' done="true"' if done else ""
        head = f'<{kind} xmlns="{NS}" seqnr="{seqnr}"{flag}'
        body = f"{head}>{content}</{kind}>" if content else f"{head}/>"
        self.outbox.send(self.outbox.stanza("message", body, ours=sender.full, theirs=to.full,
                                            id=self.outbox.new_id()))

    def _on_cancel(self, iq: Iq) -> None:
        try:
            seqnr = iq["sd_cancel"]["seqnr"]
        except ValueError as exc:
            reply_error(iq, BadRequest(str(exc))).send()
            return
        active = self._active.pop((str(iq["from"]), seqnr), None)
        if active is None:
            reply_error(iq, ItemNotFound(f"no readout {seqnr} in progress")).send()
            return
        if active.task is not None:
            active.task.cancel()
        reply = iq.reply(clear=True)
        reply["sd_cancelled"]["seqnr"] = seqnr
        reply.send()

    # ==== application side ======================================================================
    async def request(
        self,
        jid: str | JID,
        *,
        nodes: Iterable[NodeRef | str] = (),
        fields: Iterable[str] = (),
        types: Iterable[str] = (),
        from_: datetime | None = None,
        to: datetime | None = None,
        when: datetime | None = None,
        tokens: Tokens = NO_TOKENS,
        timeout: float | None = None,
    ) -> PendingReadout:
        """Send a ``req`` and return once it is accepted (errors raise our ProtocolError family).

        ``types`` are field-type flags (``momentary``, ``historicalHour`` …; ``historical`` = every
        historical type; empty = all). The result arrives later: ``await pending.result()``.
        """
        pending = self._new_pending(jid, nodes, fields, types, from_, to, when, tokens)
        target, request = pending.target, pending.request
        iq = self.xmpp.make_iq_get(ito=target, ifrom=self._own_jid())
        iq["sd_req"].from_request(request)
        try:
            reply = await iq.send(timeout=timeout or self.timeout)
        except (IqError, IqTimeout) as exc:
            self._pending.pop((target.bare, request.seqnr), None)
            raise from_iq_error(exc) from None
        pending.readout.queued = reply["sd_accepted"]["queued"]
        pending.accepted.set()
        return pending

    async def read(self, jid: str | JID, *, nodes: Iterable[NodeRef | str] = (), fields: Iterable[str] = (),
                   types: Iterable[str] = (), from_: datetime | None = None, to: datetime | None = None,
                   when: datetime | None = None, tokens: Tokens = NO_TOKENS, timeout: float = 30.0) -> Readout:
        """Read fields from a device and wait for ``done``: the whole XEP-0323 exchange in one call.

        The ``req`` is written as text and its IQ answer taken off the stream by id (see
        :class:`~xmpp_iot.sensordata.wire.Replies`): no stanza objects or handlers per readout."""
        pending = self._new_pending(jid, nodes, fields, types, from_, to, when, tokens)
        iq_id = self.outbox.new_id()
        self._replies.expect(iq_id, pending._on_reply)
        own = self._own_jid()
        self.outbox.send(self.outbox.stanza("iq", req_xml(pending.request), ours=own.full if own else "",
                                            theirs=pending.target.full, id=iq_id, type="get"))
        self.outbox.flush()
        try:
            return await pending.result(timeout)
        finally:
            self._replies.forget(iq_id)

    def _new_pending(self, jid: str | JID, nodes: Iterable[NodeRef | str], fields: Iterable[str],
                     types: Iterable[str], from_: datetime | None, to: datetime | None, when: datetime | None,
                     tokens: Tokens) -> PendingReadout:
        target = JID(str(jid))
        flags = set(types)
        if "historical" in flags:
            flags.discard("historical")
            flags.update(HISTORICAL_TYPES)
        if unknown := flags - _FIELD_TYPE_SET:
            raise ValueError(f"unknown field types {sorted(unknown)}")
        request = ReadoutRequest(
            requester=str(self.xmpp.boundjid), seqnr=next(self._seqnr),
            nodes=tuple(n if isinstance(n, NodeRef) else NodeRef(n) for n in nodes),
            field_names=tuple(fields), types=frozenset(flags) if flags else _ALL_TYPES, from_=from_, to=to,
            when=when, tokens=tokens)
        pending = PendingReadout(self, target, request)
        self._pending[(target.bare, request.seqnr)] = pending
        return pending

    def _own_jid(self) -> JID | None:
        """A component must name itself in ``from`` (ejabberd drops its stanzas otherwise); a client
        leaves it to the server."""
        return self.xmpp.boundjid if self.xmpp.is_component else None

    def _on_message(self, msg: Message) -> bool:
        """Handle a started/fields/failure/done message; False when it is for no readout of ours."""
        el = msg.xml.find(f"{{{NS}}}*")
        if el is None:
            return False
        kind = el.tag.rpartition("}")[2]
        try:
            seqnr = int(el.get("seqnr", ""))
        except ValueError:
            return False
        pending = self._pending.get((msg["from"].bare, seqnr))
        if pending is None:
            log.debug("%s: %s for unknown readout %s from %s", self.xmpp.boundjid, kind, seqnr, msg["from"])
            return False
        done = el.get("done") in ("true", "1")
        try:
            if kind == "started":
                pending._on_started()
            elif kind == "fields":
                pending._on_fields(read_fields(el), done)
            elif kind == "failure":
                pending._on_failure(read_errors(el), done)
            elif kind == "done":
                pending._finish()
        except ValueError as exc:
            log.warning("%s: malformed %s from %s: %s", self.xmpp.boundjid, kind, msg["from"], exc)
            pending._on_failure([ReadoutError(NodeRef(), f"malformed {kind}: {exc}")], True)
        return True


_FIELD_TYPE_SET = frozenset(FIELD_TYPES)
_ALL_TYPES = frozenset(FIELD_TYPES)
_ACCEPTED = f"{{{NS}}}accepted"
_REQ = f"{{{NS}}}req"
_CANCEL = f"{{{NS}}}cancel"
_MESSAGE_TAGS = frozenset(f"{{{NS}}}{name}" for name in ("started", "fields", "failure", "done"))


def _expire(active: _Active) -> None:
    """Stop a readout that runs longer than max_readout_seconds (it ends with a failure, done)."""
    if active.task is not None and not active.task.done():
        active.expired = True
        active.task.cancel()


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


register_plugin(XEP_0323)  # makes `xmpp.register_plugin("iot_sensordata")` work anywhere

