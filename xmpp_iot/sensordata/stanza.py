"""XEP-0323 (v0.6, ``urn:xmpp:iot:sensordata``) wire format: one ElementBase per element.

A readout, as the XEP's §3.6 example::

    <iq type='get' to='device@example.org/x' id='S0004'>
      <req xmlns='urn:xmpp:iot:sensordata' seqnr='4' all='true' when='2013-03-07T19:00:00'/>
    </iq>
    <iq type='result' id='S0004'><accepted xmlns='urn:xmpp:iot:sensordata' seqnr='4' queued='true'/></iq>
    <message><started xmlns='urn:xmpp:iot:sensordata' seqnr='4'/></message>
    <message>
      <fields xmlns='urn:xmpp:iot:sensordata' seqnr='4'>
        <node nodeId='Device01'>
          <timestamp value='2013-03-07T19:00:00'>
            <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
          </timestamp>
        </node>
      </fields>
    </message>
    <message><done xmlns='urn:xmpp:iot:sensordata' seqnr='4'/></message>

:func:`write_fields` / :func:`read_fields` convert between :class:`~.model.Field` lists and the
``<node><timestamp>…`` tree, so handlers never touch value elements one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Iq, Message
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from ..discovery.model import NodeRef
from ..trust import Tokens
from .model import (
    FIELD_TYPES,
    HISTORICAL_TYPES,
    NS,
    QOS_FLAGS,
    VALUE_TYPES,
    EnumValue,
    Field,
    ReadoutError,
    ReadoutRequest,
    ValueType,
)
from .values import decimals_of, format_value, parse_value

__all__ = [
    "Accepted",
    "Cancel",
    "Cancelled",
    "Done",
    "Failure",
    "Fields",
    "Req",
    "Started",
    "read_errors",
    "read_fields",
    "register_stanzas",
    "write_errors",
    "write_fields",
]

_TRUE = {"true", "1"}
_FIELD_TYPE_SET = frozenset(FIELD_TYPES)
_QOS_SET = frozenset(QOS_FLAGS)
_ORDER = {name: i for i, name in enumerate((*FIELD_TYPES, *QOS_FLAGS))}
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class _Seqnr(ElementBase):
    """Common part: the ``seqnr`` every XEP-0323 element carries (xs:int)."""

    namespace = NS
    interfaces = {"seqnr"}

    def get_seqnr(self) -> int:
        return parse_seqnr(self.xml.get("seqnr"))

    def set_seqnr(self, value: int) -> None:
        self.xml.set("seqnr", str(int(value)))


class Req(_Seqnr):
    """``<req/>``: a readout request (nodes, field names, field-type flags, time range, tokens)."""

    name = "req"
    plugin_attrib = "sd_req"
    interfaces = {"seqnr"}

    def to_request(self, requester: str) -> ReadoutRequest:
        """The request as a value; raises ValueError on malformed attributes (→ bad-request)."""
        x = self.xml
        flags = {name for name in FIELD_TYPES if _flag(x, name)}
        if _flag(x, "historical"):
            flags.update(HISTORICAL_TYPES)
        if _flag(x, "all") or not flags:
            flags = set(FIELD_TYPES)
        nodes = tuple(
            NodeRef(n.get("nodeId", ""), n.get("sourceId", ""), n.get("cacheType", ""))
            for n in x.findall(f"{{{NS}}}node")
        )
        if any(not n.node_id for n in nodes):
            raise ValueError("a <node/> needs a nodeId")
        names = tuple(f.get("name", "") for f in x.findall(f"{{{NS}}}field"))
        if any(not n for n in names):
            raise ValueError("a <field/> needs a name")
        return ReadoutRequest(
            requester=requester,
            seqnr=self["seqnr"],
            nodes=nodes,
            field_names=names,
            types=frozenset(flags),
            from_=_time_attr(x, "from"),
            to=_time_attr(x, "to"),
            when=_time_attr(x, "when"),
            tokens=Tokens(x.get("serviceToken", ""), x.get("deviceToken", ""), x.get("userToken", "")),
        )

    def from_request(self, request: ReadoutRequest) -> None:
        """Write a request (flags: ``all`` when every type is asked, ``historical`` for all historical)."""
        x = self.xml
        self["seqnr"] = request.seqnr
        types = set(request.types)
        if types >= set(FIELD_TYPES):
            x.set("all", "true")
        else:
            if types >= set(HISTORICAL_TYPES):
                x.set("historical", "true")
                types -= set(HISTORICAL_TYPES)
            for name in FIELD_TYPES:
                if name in types:
                    x.set(name, "true")
        for attr, value in (("from", request.from_), ("to", request.to), ("when", request.when)):
            if value is not None:
                x.set(attr, format_value("dateTime", value))
        for attr, token in (("serviceToken", request.tokens.service), ("deviceToken", request.tokens.device),
                            ("userToken", request.tokens.user)):
            if token:
                x.set(attr, token)
        for node in request.nodes:
            SubElement(x, f"{{{NS}}}node", node.attributes())
        for name in request.field_names:
            SubElement(x, f"{{{NS}}}field", {"name": name})


class Accepted(_Seqnr):
    """``<accepted seqnr='' queued=''/>``: the IQ result of a ``req``."""

    name = "accepted"
    plugin_attrib = "sd_accepted"
    interfaces = {"seqnr", "queued"}

    def get_queued(self) -> bool:
        return self.xml.get("queued", "false") in _TRUE

    def set_queued(self, value: bool) -> None:
        if value:
            self.xml.set("queued", "true")
        else:
            self.xml.attrib.pop("queued", None)


class Started(_Seqnr):
    """``<started/>``: a queued readout begins (message)."""

    name = "started"
    plugin_attrib = "sd_started"


class Cancel(_Seqnr):
    """``<cancel/>``: the client withdraws a readout (IQ)."""

    name = "cancel"
    plugin_attrib = "sd_cancel"


class Cancelled(_Seqnr):
    """``<cancelled/>``: the IQ result of a ``cancel``."""

    name = "cancelled"
    plugin_attrib = "sd_cancelled"


class Done(_Seqnr):
    """``<done/>``: the readout is complete (message)."""

    name = "done"
    plugin_attrib = "sd_done"


class Fields(_Seqnr):
    """``<fields seqnr='' done=''>``: a batch of fields (message)."""

    name = "fields"
    plugin_attrib = "sd_fields"
    interfaces = {"seqnr", "done"}

    def get_done(self) -> bool:
        return self.xml.get("done", "false") in _TRUE

    def set_done(self, value: bool) -> None:
        if value:
            self.xml.set("done", "true")
        else:
            self.xml.attrib.pop("done", None)


class Failure(Fields):
    """``<failure seqnr='' done=''>``: errors met while reading (message)."""

    name = "failure"
    plugin_attrib = "sd_failure"


def register_stanzas() -> None:
    for cls in (Req, Accepted, Cancel, Cancelled):
        register_stanza_plugin(Iq, cls)
    for cls in (Started, Fields, Failure, Done):
        register_stanza_plugin(Message, cls)


# -- fields ---------------------------------------------------------------------------------------
def write_fields(parent: Element, fields: Iterable[Field]) -> None:
    """Append ``<node><timestamp>…`` for the fields, grouped by node and timestamp in arrival order."""
    nodes: dict[NodeRef, dict[str, Element]] = {}
    node_elements: dict[NodeRef, Element] = {}
    for f in fields:
        if f.node not in node_elements:
            attrs = f.node.attributes() or {"nodeId": ""}
            node_elements[f.node] = SubElement(parent, f"{{{NS}}}node", attrs)
            nodes[f.node] = {}
        stamp = format_value("dateTime", f.timestamp)
        ts_el = nodes[f.node].get(stamp)
        if ts_el is None:
            ts_el = nodes[f.node][stamp] = SubElement(node_elements[f.node], f"{{{NS}}}timestamp",
                                                      {"value": stamp})
        SubElement(ts_el, f"{{{NS}}}{f.type.value}", _field_attributes(f))


def _field_attributes(f: Field) -> dict[str, str]:
    attrs = {"name": f.name}
    for t in sorted(f.types, key=_ORDER.__getitem__):
        attrs[t] = "true"
    for q in sorted(f.qos, key=_ORDER.__getitem__):
        attrs[q] = "true"
    attrs["value"] = f.lexical
    if f.type is ValueType.NUMERIC:
        attrs["unit"] = f.unit
    if isinstance(f.value, EnumValue):
        attrs["dataType"] = f.value.data_type
    if f.writable is not None:
        attrs["writable"] = "true" if f.writable else "false"
    if f.module:
        attrs["module"] = f.module
    if f.string_ids:
        attrs["stringIds"] = f.string_ids
    return attrs


def read_fields(parent: Element) -> list[Field]:
    """The fields of a ``<fields/>`` element; raises ValueError naming the first malformed one."""
    out: list[Field] = []
    for node_el in parent.findall(f"{{{NS}}}node"):
        node = NodeRef(node_el.get("nodeId", ""), node_el.get("sourceId", ""), node_el.get("cacheType", ""))
        for ts_el in node_el.findall(f"{{{NS}}}timestamp"):
            stamp = parse_value("dateTime", ts_el.get("value", ""))
            for el in ts_el:
                kind = el.tag.rpartition("}")[2]
                if not el.tag.startswith(f"{{{NS}}}") or kind not in VALUE_TYPES:
                    continue  # unknown extension elements are ignored, as XML extensibility asks
                out.append(_read_field(el, ValueType(kind), node, stamp))
    return out


def _read_field(el: Element, kind: ValueType, node: NodeRef, stamp: datetime) -> Field:
    name = el.get("name", "")
    text = el.get("value")
    if not name or text is None:
        raise ValueError(f"<{kind.value}/> field without name or value")
    try:
        value: object = parse_value(kind.value, text)
    except ValueError as exc:
        raise ValueError(f"field {name!r}: {exc}") from None
    nr_decimals = None
    if kind is ValueType.NUMERIC:
        nr_decimals = decimals_of(text)
    if kind is ValueType.ENUM:
        value = EnumValue(text, el.get("dataType", ""))
    types: set[str] = set()
    qos: set[str] = set()
    for attr, text in el.attrib.items():  # one pass over the attributes, not 28 lookups
        if text in _TRUE:
            if attr in _FIELD_TYPE_SET:
                types.add(attr)
            elif attr in _QOS_SET:
                qos.add(attr)
            elif attr == "identification":  # the XEP's own examples spell `identity` this way
                types.add("identity")
    writable = _BOOLS.get(el.get("writable", ""), None)
    return Field(name=name, type=kind, value=value, timestamp=stamp, node=node, unit=el.get("unit", ""),
                 nr_decimals=nr_decimals, types=frozenset(types),
                 qos=frozenset(qos) or frozenset({"automaticReadout"}),  # XEP §7.8: no flag = automaticReadout
                 writable=writable, module=el.get("module", ""), string_ids=el.get("stringIds", ""))


def write_errors(parent: Element, errors: Iterable[ReadoutError]) -> None:
    for e in errors:
        attrs = e.node.attributes() or {"nodeId": ""}
        attrs["timestamp"] = format_value("dateTime", e.timestamp)
        SubElement(parent, f"{{{NS}}}error", attrs).text = e.message


def read_errors(parent: Element) -> list[ReadoutError]:
    out = []
    for el in parent.findall(f"{{{NS}}}error"):
        node = NodeRef(el.get("nodeId", ""), el.get("sourceId", ""), el.get("cacheType", ""))
        try:
            stamp = parse_value("dateTime", el.get("timestamp", ""))
        except ValueError:
            stamp = datetime.now().astimezone()
        out.append(ReadoutError(node, el.text or "", stamp))  # type: ignore[arg-type]
    return out


# -- attribute helpers ----------------------------------------------------------------------------
def parse_seqnr(text: str | None) -> int:
    if text is None:
        raise ValueError("seqnr is required")
    value = parse_value("int", text)
    return value  # type: ignore[return-value]


def _flag(x: Element, name: str) -> bool:
    text = x.get(name)
    if text is None:
        return False
    try:
        return _BOOLS[text.strip()]
    except KeyError:
        raise ValueError(f"{name}: {text!r} is not a boolean") from None


def _time_attr(x: Element, name: str) -> datetime | None:
    text = x.get(name)
    if text is None:
        return None
    return parse_value("dateTime", text)  # type: ignore[return-value]
