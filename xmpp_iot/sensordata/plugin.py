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
import itertools
import logging
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
from .matcher import ChildMatcher
from .model import FIELD_TYPES, HISTORICAL_TYPES, NO_TOKENS, NS, Field, NodeRef, ReadoutError, ReadoutRequest
from .source import ReadoutSource
from .stanza import read_errors, read_fields, register_stanzas, write_errors, write_fields

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
    task: asyncio.Task | None = None


class XEP_0323(BasePlugin):
    """XEP-0323 Sensor Data (v0.6): answer readouts (``serve``) and make them (``read``)."""

    name = "iot_sensordata"
    description = "XEP-0323: Internet of Things - Sensor Data (urn:xmpp:iot:sensordata)"
    dependencies = {"xep_0030"}
    default_config = {
        "timeout": 15.0,
        "max_nodes": 100,  # more nodes or fields in one req: bad-request (oversized request)
        "max_fields": 100,
        "max_active_per_requester": 16,  # readouts in progress or queued per requester: resource-constraint
        "max_concurrent": 4,  # readouts running at once; more are queued (accepted queued='true')
        "max_readout_seconds": 300.0,  # a readout still running then ends with a failure (done)
        "max_when_seconds": 7 * 86400.0,  # `when` further ahead: bad-request (nothing waits forever)
    }

    def plugin_init(self) -> None:
        register_stanzas()
        self.source: ReadoutSource | None = None
        self.gate: TrustGate | None = None
        self._active: dict[tuple[str, int], _Active] = {}
        self._running = asyncio.Semaphore(self.max_concurrent)
        self._pending: dict[tuple[str, int], PendingReadout] = {}
        self._background: set[asyncio.Task] = set()
        self._seqnr = itertools.count(1)
        self.xmpp.register_handler(CoroutineCallback(
            "iot sd iq", ChildMatcher("iq", ("get", "set"), NS, ("req", "cancel")), self._on_iq))
        self.xmpp.register_handler(Callback(
            "iot sd message", ChildMatcher("message", ("normal", "chat", "headline", "groupchat"), NS,
                                           ("started", "fields", "failure", "done")), self._on_message))

    def plugin_end(self) -> None:
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
        self.xmpp.plugin["xep_0030"].add_feature(NS)

    async def _on_iq(self, iq: Iq) -> None:
        if iq.xml.find(f"{{{NS}}}cancel") is not None:
            self._on_cancel(iq)
        else:
            await self._on_req(iq)

    async def _on_req(self, iq: Iq) -> None:
        """Answer the IQ, then run the readout in this same task (slixmpp gives every coroutine
        handler its own task; ``cancel`` cancels it)."""
        try:
            reply, active, queued = await self._accept(iq)
        except ProtocolError as exc:
            log.info("%s: readout from %s refused: %s %s", iq["to"], iq["from"], exc.condition, exc.text)
            reply_error(iq, exc).send()
            return
        except Exception:
            log.exception("%s: readout %s failed", iq["to"], iq["id"])
            reply_error(iq, InternalServerError("unexpected failure")).send()
            return
        reply.send()
        await self._run(iq["to"], iq["from"], active, queued)

    async def _accept(self, iq: Iq) -> tuple[Iq, _Active, bool]:
        if self.source is None or self.gate is None:
            raise Forbidden("this entity serves no sensor data")
        requester = str(iq["from"])
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
        if sum(1 for k in self._active if k[0] == requester) >= self.max_active_per_requester:
            raise ResourceConstraint("too many readouts in progress; wait for one to finish")
        request = await self._decide(request)
        if key in self._active:  # a duplicate that arrived while we awaited the gate
            raise Conflict(f"readout {request.seqnr} is already in progress")
        queued = self._running.locked() or (request.when is not None and _utc(request.when) > datetime.now(UTC))
        active = self._active[key] = _Active(request, asyncio.current_task())
        reply = iq.reply(clear=True)
        reply["sd_accepted"]["seqnr"] = request.seqnr
        reply["sd_accepted"]["queued"] = queued
        return reply, active, queued

    async def _decide(self, request: ReadoutRequest) -> ReadoutRequest:
        """Ask the gate; let the source check the request as asked (unknown nodes/fields); then narrow
        it to what the gate allows (refuse when nothing is left)."""
        assert self.gate is not None and self.source is not None
        decision: ReadDecision = await self.gate.can_read(ReadRequest(
            requester=request.requester, nodes=request.nodes, field_names=request.field_names,
            field_types=request.types, tokens=request.tokens))
        if not decision.allowed:
            raise Forbidden("access denied")
        await self.source.check(request)
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
                    self._message(sender, to, "sd_started", seqnr).send()
                assert self.source is not None
                # each message is held back until the next one exists, so the last one can carry
                # done='true' (XEP-0323 §3: saves the separate <done/>, and older clients need it)
                held: list[tuple[Message, str]] = []
                try:
                    async with asyncio.timeout(self.max_readout_seconds):
                        async for item in self.source.readout(request):
                            if isinstance(item, ReadoutError):
                                msg, kind = self._message(sender, to, "sd_failure", seqnr), "sd_failure"
                                write_errors(msg["sd_failure"].xml, [item])
                            else:
                                wanted = [f for f in item if request.wants(f)]
                                if not wanted:
                                    continue
                                msg, kind = self._message(sender, to, "sd_fields", seqnr), "sd_fields"
                                write_fields(msg["sd_fields"].xml, wanted)
                            if held:
                                held.pop()[0].send()
                            held.append((msg, kind))
                except TimeoutError:
                    log.warning("%s: readout %s of %s stopped after %s s", sender, seqnr, to, self.max_readout_seconds)
                    if held:
                        held.pop()[0].send()
                    msg = self._message(sender, to, "sd_failure", seqnr)
                    write_errors(msg["sd_failure"].xml, [ReadoutError(
                        NodeRef(), f"readout stopped: it took longer than {self.max_readout_seconds} s")])
                    held.append((msg, "sd_failure"))
                if held:
                    last, kind = held.pop()
                    last[kind]["done"] = True
                    last.send()
                else:
                    self._message(sender, to, "sd_done", seqnr).send()
        except asyncio.CancelledError:
            log.info("%s: readout %s of %s cancelled", sender, seqnr, to)
            raise
        except Exception as exc:
            log.exception("%s: readout %s of %s failed", sender, seqnr, to)
            msg = self._message(sender, to, "sd_failure", seqnr)
            msg["sd_failure"]["done"] = True
            write_errors(msg["sd_failure"].xml, [ReadoutError(NodeRef(), f"readout failed: {type(exc).__name__}")])
            msg.send()
        finally:
            self._active.pop((str(to), seqnr), None)

    def _message(self, sender: JID, to: JID, kind: str, seqnr: int) -> Message:
        msg = self.xmpp.make_message(mto=to, mfrom=sender)
        msg[kind]["seqnr"] = seqnr
        return msg

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
        target = JID(str(jid))
        flags = set(types)
        if "historical" in flags:
            flags.discard("historical")
            flags.update(HISTORICAL_TYPES)
        if unknown := flags - set(FIELD_TYPES):
            raise ValueError(f"unknown field types {sorted(unknown)}")
        request = ReadoutRequest(
            requester=str(self.xmpp.boundjid), seqnr=next(self._seqnr),
            nodes=tuple(n if isinstance(n, NodeRef) else NodeRef(n) for n in nodes),
            field_names=tuple(fields), types=frozenset(flags or FIELD_TYPES), from_=from_, to=to, when=when,
            tokens=tokens)
        pending = PendingReadout(self, target, request)
        self._pending[(target.bare, request.seqnr)] = pending
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
        """Read fields from a device and wait for ``done``: the whole XEP-0323 exchange in one call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = await self.request(jid, nodes=nodes, fields=fields, types=types, from_=from_, to=to, when=when,
                                     tokens=tokens, timeout=timeout)
        return await pending.result(max(0.0, deadline - loop.time()))

    def _own_jid(self) -> JID | None:
        """A component must name itself in ``from`` (ejabberd drops its stanzas otherwise); a client
        leaves it to the server."""
        return self.xmpp.boundjid if self.xmpp.is_component else None

    def _on_message(self, msg: Message) -> None:
        el = msg.xml.find(f"{{{NS}}}*")
        if el is None:
            return
        kind = el.tag.rpartition("}")[2]
        try:
            seqnr = int(el.get("seqnr", ""))
        except ValueError:
            return
        pending = self._pending.get((msg["from"].bare, seqnr))
        if pending is None:
            log.debug("%s: %s for unknown readout %s from %s", self.xmpp.boundjid, kind, seqnr, msg["from"])
            return
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


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


register_plugin(XEP_0323)  # makes `xmpp.register_plugin("iot_sensordata")` work anywhere

