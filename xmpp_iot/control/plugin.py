"""XEP-0325 for slixmpp: plugin ``iot_control``, device side (``serve``) and application side (``set``).

Device::

    xmpp.register_plugin("iot_control")
    xmpp.plugin["iot_control"].serve(controls, gate)     # controls: ControlDevice; gate: TrustGate

Application::

    ctl = xmpp.plugin["iot_control"]
    await ctl.set("dimmer@example.org/x", {"FadeTimeMilliseconds": 500, "OutputPercent": 10})
    form = await ctl.get_form("dimmer@example.org/x")    # {name: ParameterInfo}

Order of checks on a ``set``: parse (bad-request) → trust gate (forbidden; a restriction drops what is
not allowed) → validate every parameter on every node (item-not-found / bad-request + paramError) → apply.
A ``set`` in a message gets no answer, per the XEP; its errors are only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from slixmpp import JID, Iq, Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.base import register_plugin
from slixmpp.xmlstream.handler import CoroutineCallback

from ..discovery.model import NodeRef
from ..errors import (
    BadRequest,
    Forbidden,
    InternalServerError,
    ProtocolError,
    from_iq_error,
    reply_error,
    send_iq,
)
from ..sensordata.matcher import ChildMatcher
from ..sensordata.wire import Outbox, Replies, attr
from ..trust import ControlRequest, Tokens, TrustGate
from .device import ControlDevice
from .form import ParameterInfo, parse_form, submit_form, submitted_values
from .model import NS, ParameterValue, check_unique
from .stanza import read_nodes, register_stanzas

log = logging.getLogger(__name__)

__all__ = ["XEP_0325", "SetResult"]

NO_TOKENS = Tokens()


@dataclass(frozen=True, slots=True)
class SetResult:
    """What the device did: empty tuples mean "as asked"; otherwise the nodes/parameters it used."""

    nodes: tuple[NodeRef, ...] = ()
    parameters: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return bool(self.nodes or self.parameters)


class XEP_0325(BasePlugin):
    """XEP-0325 Control (v0.5.1): answer ``set``/``getForm`` (``serve``) and send them."""

    name = "iot_control"
    description = "XEP-0325: Internet of Things - Control (urn:xmpp:iot:control)"
    dependencies = {"xep_0030"}
    default_config = {"timeout": 15.0, "max_parameters": 100, "max_nodes": 100}

    def plugin_init(self) -> None:
        register_stanzas()
        self.device: ControlDevice | None = None
        self.gate: TrustGate | None = None
        self.outbox = Outbox(self.xmpp)
        self._replies = Replies()
        self._iq_tag = f"{{{self.xmpp.default_ns}}}iq"
        self._background: set[asyncio.Task] = set()
        # the hot path: IQ ``set``s and their answers are taken off the stream before slixmpp
        # matches them against every handler (the handlers below see the rest)
        self.xmpp.add_filter("in", self._filter_in)
        self.xmpp.register_handler(CoroutineCallback(
            "iot ctl iq", ChildMatcher("iq", ("get", "set"), NS, ("set", "getForm")), self._on_iq))
        self.xmpp.register_handler(CoroutineCallback(
            "iot ctl msg", ChildMatcher("message", ("normal", "chat", "headline"), NS, ("set",)), self._on_message))

    def plugin_end(self) -> None:
        self.xmpp.del_filter("in", self._filter_in)
        for name in ("iot ctl iq", "iot ctl msg"):
            self.xmpp.remove_handler(name)
        self.xmpp.plugin["xep_0030"].del_feature(feature=NS)

    # ==== device side ===========================================================================
    def serve(self, device: ControlDevice, gate: TrustGate) -> None:
        if gate is None:
            raise ValueError("a trust gate is required (LocalPolicyGate for the local friends-only policy)")
        self.device = device
        self.gate = gate
        self.xmpp.plugin["xep_0030"].add_feature(NS)

    def _filter_in(self, stanza):
        """Incoming filter: handle our own IQs at once (see plugin_init); pass on the rest."""
        xml = stanza.xml
        if xml.tag != self._iq_tag:
            return stanza
        kind = xml.get("type")
        if kind == "result" or kind == "error":
            return None if self._replies.take(stanza) else stanza
        if kind == "set" and self.device is not None:
            for child in xml:
                if child.tag == _SET:
                    task = asyncio.ensure_future(self._on_iq(stanza))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                    return None
        return stanza

    async def _on_iq(self, iq: Iq) -> None:
        try:
            if iq["type"] == "get" and iq.xml.find(f"{{{NS}}}getForm") is not None:
                reply = iq.reply(clear=True)
                reply.append(await self._form(iq))  # type: ignore[arg-type]
            elif iq["type"] == "set" and iq.xml.find(f"{{{NS}}}set") is not None:
                result = await self._set(iq, iq["from"])
                self.outbox.send(self.outbox.iq_result(iq, _set_response_xml(result)))
                self.outbox.flush()
                return
            else:
                raise BadRequest("getForm is an iq get, set an iq set")
        except ProtocolError as exc:
            log.info("%s: control from %s refused: %s %s", iq["to"], iq["from"], exc.condition, exc.text)
            reply = reply_error(iq, exc)
        except Exception:
            log.exception("%s: control request %s failed", iq["to"], iq["id"])
            reply = reply_error(iq, InternalServerError("unexpected failure"))
        reply.send()

    async def _on_message(self, msg: Message) -> None:
        try:
            await self._set(msg, msg["from"])
        except ProtocolError as exc:  # the message form has no answer (XEP-0325 §3.1.1)
            log.info("%s: control message from %s refused: %s %s", msg["to"], msg["from"], exc.condition, exc.text)
        except Exception:
            log.exception("%s: control message from %s failed", msg["to"], msg["from"])

    async def _form(self, iq: Iq) -> Element:
        device, gate = self._serving()
        el = iq["ctl_get_form"]
        nodes = el["nodes"]
        decision = await gate.can_control(ControlRequest(str(iq["from"]), nodes, (), el["tokens"]))
        if not decision.allowed:
            raise Forbidden("Access denied.")
        if decision.nodes is not None:
            asked = nodes
            nodes = tuple(n for n in nodes if n in decision.nodes) if nodes else tuple(decision.nodes)
            if asked and not nodes:
                raise Forbidden("Access denied to the requested nodes.")
        return await device.form(nodes, decision.parameter_names)

    async def _set(self, stanza: Iq | Message, requester: JID) -> SetResult:
        device, gate = self._serving()
        el = stanza["ctl_set"]
        nodes = el["nodes"]
        form = el["form"]
        values: list[tuple[str | None, str, object]]
        if form is not None:
            values = [(None, var, text) for var, text in submitted_values(form)]
        else:
            values = list(el["values"])
        if not values:
            raise BadRequest("nothing to set")
        if len(values) > self.max_parameters or len(nodes) > self.max_nodes:
            raise BadRequest(f"request too large: at most {self.max_parameters} parameters and {self.max_nodes} nodes")
        if any(not name for _, name, _ in values):
            raise BadRequest("a parameter needs a name")
        check_unique(ParameterValue(name, kind or "", None) for kind, name, _ in values)
        names = tuple(name for _, name, _ in values)
        decision = await gate.can_control(ControlRequest(str(requester), nodes, names, el["tokens"]))
        if not decision.allowed:
            raise Forbidden("Access denied.")
        used_nodes, used_values = nodes, values
        if decision.nodes is not None:
            used_nodes = tuple(n for n in nodes if n in decision.nodes) if nodes else tuple(decision.nodes)
            if nodes and not used_nodes:
                raise Forbidden("Access denied to the requested nodes.")
        if decision.parameter_names is not None:
            used_values = [v for v in values if v[1] in decision.parameter_names]
            if not used_values:
                raise Forbidden("Access denied to the requested parameters.")
        writes = device.plan(used_nodes, used_values)
        await device.apply(writes)
        log.info("%s: %s set %s", stanza["to"], requester, ", ".join(v[1] for v in used_values))
        restricted = tuple(used_nodes) != tuple(nodes) or len(used_values) != len(values)
        if not restricted:
            return SetResult()
        return SetResult(tuple(used_nodes), tuple(v[1] for v in used_values))

    def _own_jid(self) -> JID | None:
        """A component must name itself in ``from`` (ejabberd drops its stanzas otherwise)."""
        return self.xmpp.boundjid if self.xmpp.is_component else None

    def _serving(self) -> tuple[ControlDevice, TrustGate]:
        if self.device is None or self.gate is None:
            raise Forbidden("this entity accepts no control commands")
        return self.device, self.gate

    # ==== application side ======================================================================
    async def set(self, jid: str | JID, values: Mapping[str, object] | Iterable[ParameterValue], *,
                  nodes: Iterable[NodeRef | str] = (), tokens: Tokens = NO_TOKENS, message: bool = False,
                  as_form: bool = False, timeout: float | None = None) -> SetResult:
        """Set parameters. Python values pick the type (bool, int, float, str, Color, date/time types);
        pass :class:`ParameterValue` for another (e.g. ``long``). ``message=True`` sends the fire-and-forget
        message form (no answer, returns an empty result); ``as_form=True`` submits a data form instead."""
        params = [ParameterValue.of(k, v) for k, v in values.items()] if isinstance(values, Mapping) else list(values)
        node_refs = [n if isinstance(n, NodeRef) else NodeRef(n) for n in nodes]
        if not message and not as_form:
            return await self._set_iq(JID(str(jid)), params, node_refs, tokens, timeout or self.timeout)
        if message:
            stanza = self.xmpp.make_message(mto=JID(str(jid)), mfrom=self._own_jid())
        else:
            stanza = self.xmpp.make_iq_set(ito=JID(str(jid)), ifrom=self._own_jid())
        el = stanza["ctl_set"]
        el["tokens"] = tokens
        el["nodes"] = node_refs
        if as_form:
            el.append(submit_form({p.name: p.lexical for p in params}))  # type: ignore[arg-type]
        else:
            el["values"] = params
        if message:
            stanza.send()
            return SetResult()
        reply = await send_iq(stanza, timeout or self.timeout)
        response = reply["ctl_set_response"]
        return SetResult(response["nodes"], response["parameters"])

    async def _set_iq(self, target: JID, params: list[ParameterValue], nodes: list[NodeRef], tokens: Tokens,
                      timeout: float) -> SetResult:
        """The typed IQ ``set``, written as text; its answer is taken off the stream by id."""
        body = _set_xml(params, nodes, tokens)  # before anything is registered: bad values raise here
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Iq] = loop.create_future()
        iq_id = self.outbox.new_id()
        self._replies.expect(iq_id, lambda iq: answer.done() or answer.set_result(iq))
        own = self._own_jid()
        self.outbox.send(self.outbox.stanza("iq", body, ours=own.full if own else "", theirs=target.full, id=iq_id,
                                            type="set"))
        self.outbox.flush()
        timer = loop.call_later(timeout, lambda: answer.done() or answer.set_exception(IqTimeout(None)))
        try:
            reply = await answer
        except IqTimeout as exc:
            raise from_iq_error(exc) from None
        finally:
            timer.cancel()
            self._replies.forget(iq_id)
        if reply.xml.get("type") == "error":
            raise from_iq_error(IqError(reply))
        response = reply.xml.find(_SET_RESPONSE)
        if response is None:
            return SetResult()
        return SetResult(read_nodes(response),
                         tuple(p.get("name", "") for p in response.findall(f"{{{NS}}}parameter")))

    async def get_form(self, jid: str | JID, *, nodes: Iterable[NodeRef | str] = (), tokens: Tokens = NO_TOKENS,
                       timeout: float | None = None) -> dict[str, ParameterInfo]:
        """The device's control form as typed parameter descriptions, in the device's order."""
        iq = self.xmpp.make_iq_get(ito=JID(str(jid)), ifrom=self._own_jid())
        el = iq["ctl_get_form"]
        el["tokens"] = tokens
        el["nodes"] = [n if isinstance(n, NodeRef) else NodeRef(n) for n in nodes]
        reply = await send_iq(iq, timeout or self.timeout)
        x = reply.xml.find("{jabber:x:data}x")
        if x is None:
            raise BadRequest("the device answered getForm without a form")
        return parse_form(x)


_SET = f"{{{NS}}}set"
_SET_RESPONSE = f"{{{NS}}}setResponse"


def _node_xml(node: NodeRef) -> str:
    return "<node" + "".join(f' {k}="{attr(v)}"' for k, v in node.attributes().items()) + "/>"


def _set_xml(params: Iterable[ParameterValue], nodes: Iterable[NodeRef], tokens: Tokens) -> str:
    """``<set/>`` with typed values, as :class:`~.stanza.Set` writes it."""
    head = f'<set xmlns="{NS}"'
    for name, token in (("serviceToken", tokens.service), ("deviceToken", tokens.device),
                        ("userToken", tokens.user)):
        if token:
            head += f' {name}="{attr(token)}"'
    body = "".join(_node_xml(n) for n in nodes)
    body += "".join(f'<{p.type} name="{attr(p.name)}" value="{attr(p.lexical)}"/>' for p in params)
    return f"{head}>{body}</set>"


def _set_response_xml(result: SetResult) -> str:
    """``<setResponse/>``: empty when done as asked, else the nodes and parameters used."""
    body = "".join(_node_xml(n) for n in result.nodes)
    body += "".join(f'<parameter name="{attr(name)}"/>' for name in result.parameters)
    return f'<setResponse xmlns="{NS}">{body}</setResponse>' if body else f'<setResponse xmlns="{NS}"/>'


register_plugin(XEP_0325)
