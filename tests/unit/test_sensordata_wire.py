"""The responders' text fast path writes exactly what the Element-tree path writes (same elements,
attributes and values), schema-valid, with every value type and awkward characters escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st
from slixmpp import Iq

from tests.unit.test_sensordata_model import NS, T0, every_type_fields, schema  # noqa: F401 - fixture
from xmpp_iot.sensordata import FIELD_TYPES, Field, NodeRef, ReadoutError, ReadoutRequest
from xmpp_iot.sensordata.stanza import (
    Req,
    errors_xml,
    fields_xml,
    read_errors,
    read_fields,
    req_xml,
    write_errors,
    write_fields,
)
from xmpp_iot.sensordata.wire import attr
from xmpp_iot.trust import Tokens


def _canonical(el: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(el, encoding="unicode"))


def _tree(writer, items) -> ET.Element:
    el = ET.Element(f"{{{NS}}}fields", seqnr="4")
    writer(el, items)
    return el


def _text(render, items) -> ET.Element:
    return ET.fromstring(f'<fields xmlns="{NS}" seqnr="4">{render(items)}</fields>')


def test_fields_text_equals_the_element_tree_and_validates(schema):  # noqa: F811
    fields = [*every_type_fields(), Field.of("Other", 1.5, T0, node=NodeRef("D2"), unit='a"b', nr_decimals=1)]
    text = _text(fields_xml, fields)
    assert _canonical(text) == _canonical(_tree(write_fields, fields))
    schema.validate(text)
    assert read_fields(text) == fields


def test_errors_text_equals_the_element_tree():
    errors = [ReadoutError(NodeRef("D1", "S"), "timeout <5 s> & 'more'", T0), ReadoutError(NodeRef(), "x", T0)]
    text = _text(errors_xml, errors)
    assert _canonical(text) == _canonical(_tree(write_errors, errors))
    assert read_errors(text) == errors


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t\r&<>\"'")))
def test_any_string_value_survives(value):
    f = Field.of("s", value, datetime(2026, 1, 1, tzinfo=UTC), unit=value)
    assert read_fields(_text(fields_xml, [f]))[0].value == value.strip()  # the parser strips, as XML Schema does
    assert ET.fromstring(f'<a b="{attr(value)}"/>').get("b") == value


@given(
    st.sets(st.sampled_from(FIELD_TYPES), min_size=1),
    st.lists(st.text(min_size=1, alphabet=st.characters(blacklist_categories=("Cs", "Cc"))), max_size=3),
    st.booleans(),
)
def test_req_text_equals_the_stanza_object(types, names, with_extras):
    extras = {}
    if with_extras:
        extras = {"from_": T0, "to": T0, "when": T0, "nodes": (NodeRef("n&1", "S"), NodeRef("n2")),
                  "tokens": Tokens("svc<1>", "", 'u"2')}
    request = ReadoutRequest(requester="a@b/c", seqnr=7, types=frozenset(types), field_names=tuple(names), **extras)
    iq = Iq()
    iq["sd_req"].from_request(request)
    assert _canonical(ET.fromstring(req_xml(request))) == _canonical(iq["sd_req"].xml)
    assert iq["sd_req"].to_request("a@b/c") == Req(xml=ET.fromstring(req_xml(request))).to_request("a@b/c")


def test_with_stream_management_the_outbox_sends_stanza_objects():
    """XEP-0198 counts outgoing stanza objects: then the text goes out as a Message/Iq, not raw."""
    from slixmpp import ClientXMPP, Message

    from xmpp_iot.sensordata.wire import Outbox

    xmpp = ClientXMPP("dev@example.org/x", "pw")
    xmpp.register_plugin("xep_0198")
    sent = []
    xmpp.send = sent.append  # type: ignore[method-assign]
    outbox = Outbox(xmpp)
    outbox.send(outbox.stanza("message", f'<done xmlns="{NS}" seqnr="3"/>', ours="dev@example.org/x",
                              theirs="app@example.org/y", id=outbox.new_id()))
    assert len(sent) == 1 and isinstance(sent[0], Message)
    assert sent[0]["to"] == "app@example.org/y" and sent[0].xml.find(f"{{{NS}}}done").get("seqnr") == "3"
