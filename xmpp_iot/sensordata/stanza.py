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

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
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
    EnumValue,
    Field,
    ReadoutError,
    ReadoutRequest,
    ValueType,
)
from .values import decimals_of, format_value, parse_value
from .wire import attr as xml_attr
from .wire import text as xml_text

__all__ = [
    "Accepted",
    "Cancel",
    "Cancelled",
    "Done",
    "Failure",
    "Fields",
    "Req",
    "Started",
    "errors_xml",
    "fields_xml",
    "read_errors",
    "read_fields",
    "register_stanzas",
    "req_xml",
    "write_errors",
    "write_fields",
]

_TRUE = {"true", "1"}
_FIELD_TYPE_SET = frozenset(FIELD_TYPES)
_HISTORICAL_SET = frozenset(HISTORICAL_TYPES)
_REQ_FLAGS = frozenset((*FIELD_TYPES, "historical", "all"))
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
        flags: set[str] = set()
        every = False
        for name, text in x.attrib.items():  # one pass over the attributes, not 17 lookups
            if name not in _REQ_FLAGS:
                continue
            value = _BOOLS.get(text.strip())
            if value is None:
                raise ValueError(f"{name}: {text!r} is not a boolean")
            if not value:
                continue
            if name == "all":
                every = True
            elif name == "historical":
                flags.update(HISTORICAL_TYPES)
            else:
                flags.add(name)
        if every or not flags:
            flags = _FIELD_TYPE_SET  # type: ignore[assignment]
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
            seqnr=parse_seqnr(x.get("seqnr")),
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


def req_xml(request: ReadoutRequest) -> str:
    """What :meth:`Req.from_request` writes, as XML text."""
    out = f'<req xmlns="{NS}" seqnr="{int(request.seqnr)}"'
    types = request.types
    if types >= _FIELD_TYPE_SET:
        out += ' all="true"'
    else:
        if types >= _HISTORICAL_SET:
            out += ' historical="true"'
            types = types - _HISTORICAL_SET
        out += "".join(f' {name}="true"' for name in FIELD_TYPES if name in types)
    for name, value in (("from", request.from_), ("to", request.to), ("when", request.when)):
        if value is not None:
            out += f' {name}="{format_value("dateTime", value)}"'
    for name, token in (("serviceToken", request.tokens.service), ("deviceToken", request.tokens.device),
                        ("userToken", request.tokens.user)):
        if token:
            out += f' {name}="{xml_attr(token)}"'
    children = ["<node" + "".join(f' {k}="{xml_attr(v)}"' for k, v in node.attributes().items()) + "/>"
                for node in request.nodes]
    children += [f'<field name="{xml_attr(name)}"/>' for name in request.field_names]
    return f"{out}>{''.join(children)}</req>" if children else out + "/>"


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


def fields_xml(fields: Iterable[Field]) -> str:
    """What :func:`write_fields` appends, as XML text (the responder's hot path)."""
    nodes: dict[NodeRef, dict[str, list[str]]] = {}
    last_ts: datetime | None = None
    stamp = ""
    for f in fields:
        if f.timestamp is not last_ts:
            last_ts = f.timestamp
            stamp = format_value("dateTime", last_ts)
        stamps = nodes.get(f.node)
        if stamps is None:
            stamps = nodes[f.node] = {}
        items = stamps.get(stamp)
        if items is None:
            items = stamps[stamp] = []
        items.append(_field_xml(f))
    parts = []
    for node, stamps in nodes.items():
        parts.append(_node_open(node))
        for stamp, items in stamps.items():
            parts.append(f'<timestamp value="{stamp}">')
            parts.extend(items)
            parts.append("</timestamp>")
        parts.append("</node>")
    return "".join(parts)


_TAG_NAMES = {v: v.value for v in ValueType}


@lru_cache(maxsize=4096)
def _node_open(node: NodeRef) -> str:
    attrs = node.attributes() or {"nodeId": ""}
    return "<node" + "".join(f' {k}="{xml_attr(v)}"' for k, v in attrs.items()) + ">"


@lru_cache(maxsize=1024)
def _flags_xml(types: frozenset[str], qos: frozenset[str]) -> str:
    return "".join(f' {t}="true"' for t in (*sorted(types, key=_ORDER.__getitem__),
                                            *sorted(qos, key=_ORDER.__getitem__)))


def _field_xml(f: Field) -> str:
    """One value element, with the attributes of :func:`_field_attributes` in the same order."""
    kind = _TAG_NAMES[f.type]
    if isinstance(f.value, EnumValue):
        lexical = f.value.value
    else:
        lexical = format_value(kind, f.value, f.nr_decimals)
    out = f'<{kind} name="{xml_attr(f.name)}"{_flags_xml(f.types, f.qos)} value="{xml_attr(lexical)}"'
    if f.type is ValueType.NUMERIC:
        out += f' unit="{xml_attr(f.unit)}"'
    if isinstance(f.value, EnumValue):
        out += f' dataType="{xml_attr(f.value.data_type)}"'
    if f.writable is not None:
        out += ' writable="true"' if f.writable else ' writable="false"'
    if f.module:
        out += f' module="{xml_attr(f.module)}"'
    if f.string_ids:
        out += f' stringIds="{xml_attr(f.string_ids)}"'
    return out + "/>"


def errors_xml(errors: Iterable[ReadoutError]) -> str:
    """What :func:`write_errors` appends, as XML text."""
    parts = []
    for e in errors:
        attrs = e.node.attributes() or {"nodeId": ""}
        attrs["timestamp"] = format_value("dateTime", e.timestamp)
        head = "".join(f' {k}="{xml_attr(v)}"' for k, v in attrs.items())
        parts.append(f"<error{head}>{xml_text(e.message)}</error>")
    return "".join(parts)


_VALUE_TAGS = {f"{{{NS}}}{v.value}": v for v in ValueType}
_NODE_TAG = f"{{{NS}}}node"
_TIMESTAMP_TAG = f"{{{NS}}}timestamp"
#: attribute -> (is a field type, flag) for the flags a value element may carry
_FLAG_ATTRS = {**{t: (True, t) for t in FIELD_TYPES}, **{q: (False, q) for q in QOS_FLAGS},
               "identification": (True, "identity")}  # the XEP's own examples spell `identity` this way
_AUTOMATIC = frozenset({"automaticReadout"})
_PLAIN_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")  # what devices write; anything else takes the general path


def read_fields(parent: Element) -> list[Field]:
    """The fields of a ``<fields/>`` element; raises ValueError naming the first malformed one."""
    out: list[Field] = []
    for node_el in parent.iterfind(_NODE_TAG):
        node = NodeRef(node_el.get("nodeId", ""), node_el.get("sourceId", ""), node_el.get("cacheType", ""))
        for ts_el in node_el.iterfind(_TIMESTAMP_TAG):
            stamp = parse_value("dateTime", ts_el.get("value", ""))
            for el in ts_el:
                kind = _VALUE_TAGS.get(el.tag)
                if kind is None:
                    continue  # unknown extension elements are ignored, as XML extensibility asks
                out.append(_read_field(el, kind, node, stamp))  # type: ignore[arg-type]
    return out


def _read_field(el: Element, kind: ValueType, node: NodeRef, stamp: datetime) -> Field:
    attrib = el.attrib
    name = attrib.get("name", "")
    text = attrib.get("value")
    if not name or text is None:
        raise ValueError(f"<{kind.value}/> field without name or value")
    nr_decimals = None
    if kind is ValueType.NUMERIC:  # the common case, in one step: value and number of decimals
        stripped = text.strip()
        if not _PLAIN_DECIMAL.fullmatch(stripped):
            try:
                value: object = parse_value("numeric", stripped)
            except ValueError as exc:
                raise ValueError(f"field {name!r}: {exc}") from None
            nr_decimals = decimals_of(stripped)
        else:
            value = float(stripped)
            nr_decimals = len(stripped) - stripped.index(".") - 1 if "." in stripped else 0
    else:
        try:
            value = parse_value(_TAG_NAMES[kind], text)
        except ValueError as exc:
            raise ValueError(f"field {name!r}: {exc}") from None
    if kind is ValueType.ENUM:
        value = EnumValue(text, attrib.get("dataType", ""))
    types: set[str] = set()
    qos: set[str] = set()
    for attr, flag_text in attrib.items():  # one pass over the attributes, not 28 lookups
        if flag_text in _TRUE:
            flag = _FLAG_ATTRS.get(attr)
            if flag is not None:
                (types if flag[0] else qos).add(flag[1])
    # the parser has checked value, type and range: no second validation in Field.__post_init__
    return Field.unchecked(name, kind, value, stamp, node, attrib.get("unit", ""), nr_decimals, frozenset(types),
                           frozenset(qos) if qos else _AUTOMATIC,  # XEP §7.8: no flag = automaticReadout
                           _BOOLS.get(attrib.get("writable", ""), None), attrib.get("module", ""),
                           attrib.get("stringIds", ""))


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
