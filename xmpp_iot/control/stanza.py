"""XEP-0325 (v0.5.1, ``urn:xmpp:iot:control``) wire format.

Typed set (message or IQ) and its response, as in XEP-0325 §3.1::

    <iq type='set' to='dimmer@example.org/x' id='1'>
      <set xmlns='urn:xmpp:iot:control' serviceToken='…'>
        <node nodeId='Dimmer1'/>
        <int name='FadeTimeMilliseconds' value='500'/>
        <int name='OutputPercent' value='10'/>
      </set>
    </iq>
    <iq type='result' id='1'><setResponse xmlns='urn:xmpp:iot:control'/></iq>

A ``set`` may carry a submitted data form (``<x type='submit' xmlns='jabber:x:data'>``) instead of typed
elements; ``getForm`` returns the device's form (see :mod:`xmpp_iot.control.form`).
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Iq, Message
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from ..discovery.model import NodeRef
from ..trust import Tokens
from .model import NS, PARAMETER_TYPES, ParameterValue

__all__ = ["GetForm", "Set", "SetResponse", "read_nodes", "register_stanzas", "write_nodes"]

XDATA_NS = "jabber:x:data"


class _Tokens(ElementBase):
    namespace = NS

    def get_tokens(self) -> Tokens:
        x = self.xml
        return Tokens(x.get("serviceToken", ""), x.get("deviceToken", ""), x.get("userToken", ""))

    def set_tokens(self, tokens: Tokens) -> None:
        for attr, value in (("serviceToken", tokens.service), ("deviceToken", tokens.device),
                            ("userToken", tokens.user)):
            if value:
                self.xml.set(attr, value)

    def get_nodes(self) -> tuple[NodeRef, ...]:
        return read_nodes(self.xml)

    def set_nodes(self, nodes: Iterable[NodeRef]) -> None:
        write_nodes(self.xml, nodes)


class Set(_Tokens):
    """``<set/>``: typed parameters (or a submitted form) for the device or some of its nodes."""

    name = "set"
    plugin_attrib = "ctl_set"
    interfaces = {"tokens", "nodes", "values", "form"}

    def get_values(self) -> list[tuple[str, str, str]]:
        """(type, name, lexical value) of each typed parameter, in document order."""
        out = []
        for el in self.xml:
            kind = el.tag.rpartition("}")[2]
            if el.tag.startswith(f"{{{NS}}}") and kind in PARAMETER_TYPES:
                out.append((kind, el.get("name", ""), el.get("value", "")))
        return out

    def set_values(self, values: Iterable[ParameterValue]) -> None:
        for v in values:
            SubElement(self.xml, f"{{{NS}}}{v.type}", {"name": v.name, "value": v.lexical})

    def get_form(self) -> Element | None:
        return self.xml.find(f"{{{XDATA_NS}}}x")


class SetResponse(ElementBase):
    """``<setResponse/>``: empty = done as asked; else the nodes/parameters actually used."""

    namespace = NS
    name = "setResponse"
    plugin_attrib = "ctl_set_response"
    interfaces = {"nodes", "parameters"}

    def get_nodes(self) -> tuple[NodeRef, ...]:
        return read_nodes(self.xml)

    def set_nodes(self, nodes: Iterable[NodeRef]) -> None:
        write_nodes(self.xml, nodes)

    def get_parameters(self) -> tuple[str, ...]:
        return tuple(p.get("name", "") for p in self.xml.findall(f"{{{NS}}}parameter"))

    def set_parameters(self, names: Iterable[str]) -> None:
        for name in names:
            SubElement(self.xml, f"{{{NS}}}parameter", {"name": name})


class GetForm(_Tokens):
    """``<getForm/>``: ask for the control form of the device or of the common parameters of nodes."""

    name = "getForm"
    plugin_attrib = "ctl_get_form"
    interfaces = {"tokens", "nodes"}


def read_nodes(x: Element) -> tuple[NodeRef, ...]:
    return tuple(NodeRef(n.get("nodeId", ""), n.get("sourceId", ""), n.get("cacheType", ""))
                 for n in x.findall(f"{{{NS}}}node"))


def write_nodes(x: Element, nodes: Iterable[NodeRef]) -> None:
    for node in nodes:
        SubElement(x, f"{{{NS}}}node", node.attributes())


def register_stanzas() -> None:
    for cls in (Set, SetResponse, GetForm):
        register_stanza_plugin(Iq, cls)
    register_stanza_plugin(Message, Set)
