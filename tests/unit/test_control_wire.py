"""The control plugin's text fast path writes what its stanza objects write."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest
from slixmpp import Iq

from xmpp_iot.control.model import Color, ParameterValue
from xmpp_iot.control.plugin import SetResult, _set_response_xml, _set_xml
from xmpp_iot.control.stanza import register_stanzas
from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.trust import Tokens

register_stanzas()


def _canonical(el: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(el, encoding="unicode"))


@pytest.mark.parametrize("tokens", [Tokens(), Tokens("s&1", "d<2>", 'u"3')])
@pytest.mark.parametrize("nodes", [[], [NodeRef("n1"), NodeRef("n&2", "src", "cache")]])
def test_set_text_equals_the_stanza_object(tokens, nodes):
    params = [ParameterValue.of("OutputPercent", 10), ParameterValue.of("On", True),
              ParameterValue.of("Label", "a<b>&'\"c"), ParameterValue.of("Colour", Color.from_hex("ff00aa")),
              ParameterValue.of("At", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)), ParameterValue.of("Big", 2**40)]
    iq = Iq()
    el = iq["ctl_set"]
    el["tokens"] = tokens
    el["nodes"] = nodes
    el["values"] = params
    text = ET.fromstring(_set_xml(params, nodes, tokens))
    assert _canonical(text) == _canonical(el.xml)
    assert [(k, n, v) for k, n, v in iq["ctl_set"]["values"]] == [(p.type, p.name, p.lexical) for p in params]


@pytest.mark.parametrize("result", [SetResult(), SetResult((NodeRef("n1"),), ("A", "B&C"))])
def test_set_response_text_equals_the_stanza_object(result):
    iq = Iq()
    iq["ctl_set_response"]["nodes"] = result.nodes
    iq["ctl_set_response"]["parameters"] = result.parameters
    text = ET.fromstring(_set_response_xml(result))
    assert _canonical(text) == _canonical(iq["ctl_set_response"].xml)
