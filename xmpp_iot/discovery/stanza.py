"""XEP-0347 wire format: one ElementBase per element, plus readers/writers for tag lists.

Example (XEP-0347 §3.5)::

    <iq type='set' to='registry.example.org'>
      <register xmlns='urn:xmpp:iot:discovery' selfOwned='false'>
        <str name='SN' value='394872348732948723'/>
        <num name='V' value='1.2'/>
        <str name='KEY' value='4857402340298342'/>
      </register>
    </iq>
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Iq
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from ..errors import BadRequest, NotAcceptable
from .model import (
    NS,
    OPERATOR_ELEMENTS,
    Condition,
    NodeRef,
    Tag,
    canonical_tag_name,
    format_number,
    num_tag,
    parse_double,
    str_tag,
)

_STR = f"{{{NS}}}str"
_NUM = f"{{{NS}}}num"
NODE_ATTRS = ("nodeId", "sourceId", "cacheType")
TRUE_VALUES = {"true": True, "1": True, "false": False, "0": False}


def parse_bool(text: str | None, default: bool, what: str) -> bool:
    """xs:boolean, with the schema's default when the attribute is absent."""
    if text is None or text == "":
        return default
    try:
        return TRUE_VALUES[text.strip()]
    except KeyError:
        raise BadRequest(f"{what}: {text!r} is not a boolean") from None


class _NodeInfo(ElementBase):
    """Common part: the nodeId/sourceId/cacheType attributes of a thing behind a concentrator."""

    namespace = NS

    def get_node(self) -> NodeRef:
        x = self.xml
        return NodeRef(x.get("nodeId", ""), x.get("sourceId", ""), x.get("cacheType", ""))

    def set_node(self, node: NodeRef) -> None:
        for attr in NODE_ATTRS:
            self.xml.attrib.pop(attr, None)
        self.xml.attrib.update(node.attributes())

    def del_node(self) -> None:
        self.set_node(NodeRef())


class _MetaData(_NodeInfo):
    """Elements that carry `<str/>` and `<num/>` meta tags."""

    def get_tags(self) -> list[Tag]:
        return read_tags(self.xml)

    def set_tags(self, tags: Iterable[Tag]) -> None:
        self.del_tags()
        write_tags(self.xml, tags)

    def del_tags(self) -> None:
        for child in list(self.xml):
            if child.tag in (_STR, _NUM):
                self.xml.remove(child)


class Register(_MetaData):
    name, plugin_attrib = "register", "iot_register"
    interfaces = {"node", "tags", "selfOwned"}


class Mine(_MetaData):
    name, plugin_attrib = "mine", "iot_mine"
    interfaces = {"node", "tags", "public"}


class Update(_MetaData):
    name, plugin_attrib = "update", "iot_update"
    interfaces = {"node", "tags", "jid"}


class Claimed(_NodeInfo):
    name, plugin_attrib = "claimed", "iot_claimed"
    interfaces = {"node", "jid", "public"}


class Remove(_NodeInfo):
    name, plugin_attrib = "remove", "iot_remove"
    interfaces = {"node", "jid"}


class Removed(_NodeInfo):
    name, plugin_attrib = "removed", "iot_removed"
    interfaces = {"node"}


class Unregister(_NodeInfo):
    name, plugin_attrib = "unregister", "iot_unregister"
    interfaces = {"node"}


class Disown(_NodeInfo):
    name, plugin_attrib = "disown", "iot_disown"
    interfaces = {"node", "jid"}


class Disowned(_NodeInfo):
    name, plugin_attrib = "disowned", "iot_disowned"
    interfaces = {"node"}


class Search(ElementBase):
    name, namespace, plugin_attrib = "search", NS, "iot_search"
    interfaces = {"offset", "maxCount", "conditions"}

    def get_conditions(self) -> list[Condition]:
        return read_conditions(self.xml)

    def set_conditions(self, conditions: Iterable[Condition]) -> None:
        for c in conditions:
            write_condition(self.xml, c)


class Found(ElementBase):
    name, namespace, plugin_attrib = "found", NS, "iot_found"
    interfaces = {"more"}


ALL_ELEMENTS = (Register, Mine, Update, Claimed, Remove, Removed, Unregister, Disown, Disowned, Search, Found)


def register_stanzas() -> None:
    """Make the XEP-0347 elements known to slixmpp's Iq (idempotent)."""
    for cls in ALL_ELEMENTS:
        register_stanza_plugin(Iq, cls)


# -- tags -----------------------------------------------------------------------------------
def read_tags(parent: Element, max_tags: int | None = None) -> list[Tag]:
    """Read `<str/>`/`<num/>` children, validating names and values (BadRequest/NotAcceptable)."""
    tags: list[Tag] = []
    seen: set[str] = set()
    for child in parent:
        if child.tag == _STR:
            tag = str_tag(_required(child, "name"), _required(child, "value"))
        elif child.tag == _NUM:
            tag = num_tag(_required(child, "name"), _required(child, "value"))
        else:
            raise BadRequest(f"unexpected element {child.tag} in {parent.tag}")
        if tag.name in seen:
            raise BadRequest(f"tag {tag.name} appears twice")
        seen.add(tag.name)
        tags.append(tag)
        if max_tags is not None and len(tags) > max_tags:
            raise NotAcceptable(f"at most {max_tags} tags per thing")
    return tags


def write_tags(parent: Element, tags: Iterable[Tag]) -> None:
    for tag in tags:
        if tag.numeric:
            SubElement(parent, _NUM, name=tag.name, value=format_number(tag.value))  # type: ignore[arg-type]
        else:
            SubElement(parent, _STR, name=tag.name, value=tag.value)  # type: ignore[arg-type]


def _required(el: Element, attr: str) -> str:
    value = el.get(attr)
    if value is None:
        local = el.tag.rpartition("}")[2]
        raise BadRequest(f"<{local}/> needs a '{attr}' attribute")
    return value


# -- search conditions ----------------------------------------------------------------------
def read_conditions(search: Element) -> list[Condition]:
    """Parse the operator children of `<search/>` into Conditions."""
    conditions = []
    for child in search:
        ns, _, local = child.tag[1:].partition("}")
        if ns != NS or local not in OPERATOR_ELEMENTS:
            raise BadRequest(f"unknown search operator {local or child.tag}")
        op, numeric = OPERATOR_ELEMENTS[local]
        name = canonical_tag_name(_required(child, "name"))
        conv = _number_reader(local) if numeric else _text
        if op in ("range", "nrange"):
            conditions.append(
                Condition(
                    op,
                    name,
                    numeric,
                    min=conv(_required(child, "min"), "min"),
                    max=conv(_required(child, "max"), "max"),
                    min_included=parse_bool(child.get("minIncluded"), True, f"{local} minIncluded"),
                    max_included=parse_bool(child.get("maxIncluded"), True, f"{local} maxIncluded"),
                )
            )
        elif op == "mask":
            conditions.append(
                Condition(op, name, False, _required(child, "value"), wildcard=_required(child, "wildcard"))
            )
        else:
            conditions.append(Condition(op, name, numeric, conv(_required(child, "value"), "value")))
    return conditions


def _number_reader(element: str):
    return lambda value, attr: parse_double(value, f"{element} {attr}")


def _text(value: str, _attr: str) -> str:
    return value


def write_condition(parent: Element, c: Condition) -> None:
    fmt = (lambda v: format_number(float(v))) if c.numeric else str
    el = SubElement(parent, f"{{{NS}}}{c.element}", name=c.name)
    if c.op in ("range", "nrange"):
        el.set("min", fmt(c.min))
        el.set("minIncluded", "true" if c.min_included else "false")
        el.set("max", fmt(c.max))
        el.set("maxIncluded", "true" if c.max_included else "false")
    else:
        el.set("value", fmt(c.value))
        if c.op == "mask":
            el.set("wildcard", c.wildcard)
