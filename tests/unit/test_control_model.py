"""XEP-0325 parameters, validation, the control form and the set wire format, without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from hypothesis import given
from hypothesis import strategies as st
from slixmpp import Iq

from xmpp_iot.control import Color, ControlDevice, ParamError, ParameterValue, UnknownParameter
from xmpp_iot.control.form import parse_form, submit_form, submitted_values
from xmpp_iot.control.stanza import register_stanzas
from xmpp_iot.errors import FeatureNotImplemented, InternalServerError, ItemNotFound
from xmpp_iot.sensordata import NodeRef

CTL_SCHEMA = Path("/work/shared/reference/xeps/schemas/urn_xmpp_iot_control.xsd")
register_stanzas()


def test_colour_parsing():
    assert Color.from_hex("3399FF") == Color(0x33, 0x99, 0xFF)
    assert Color.from_hex("3399ff80").hex == "3399FF80"
    for bad in ("GG0000", "#3399FF", "3399F", "3399FF8", "", "3399FF800"):
        with pytest.raises(ValueError):
            Color.from_hex(bad)
    with pytest.raises(ValueError):
        Color(256, 0, 0)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.none() | st.integers(0, 255))
def test_colour_round_trip(r, g, b, a):
    assert Color.from_hex(Color(r, g, b, a).hex) == Color(r, g, b, a)


def test_parameter_type_inference():
    assert ParameterValue.of("a", True).type == "boolean"
    assert ParameterValue.of("a", 3).type == "int"
    assert ParameterValue.of("a", 2**40).type == "long"
    assert ParameterValue.of("a", 0.5).type == "double"
    assert ParameterValue.of("a", Color(1, 2, 3)).type == "color"
    assert ParameterValue.of("a", "x").type == "string"
    assert ParameterValue.of("a", datetime(2020, 1, 1, tzinfo=UTC)).type == "dateTime"
    assert ParameterValue.of("a", date(2020, 1, 1)).type == "date"
    assert ParameterValue.of("a", time(1)).type == "time"
    assert ParameterValue.of("a", timedelta(1)).type == "duration"


def device(state: dict) -> ControlDevice:
    d = ControlDevice(title="Dimmer")
    state.update(FadeTimeMilliseconds=300, OutputPercent=100, MainSwitch=True, Mode="auto")
    for name, kind, extra in (
        ("FadeTimeMilliseconds", "int", {"minimum": 0, "maximum": 4095, "page": "Output"}),
        ("OutputPercent", "int", {"minimum": 0, "maximum": 100, "page": "Output", "label": "Output (%):"}),
        ("MainSwitch", "boolean", {"page": "Output"}),
        ("Mode", "string", {"options": ("auto", "manual")}),
    ):
        d.add_parameter(name, kind, write=lambda v, n=name: state.__setitem__(n, v), read=lambda n=name: state[n],
                        **extra)
    return d


async def test_plan_validates_everything_before_any_write():
    state: dict = {}
    d = device(state)
    with pytest.raises(ParamError) as err:
        d.plan([], [("int", "FadeTimeMilliseconds", "500"), ("int", "OutputPercent", "200")])
    assert err.value.var == "OutputPercent" and state["FadeTimeMilliseconds"] == 300
    assert err.value.extra.get("var") == "OutputPercent"
    with pytest.raises(UnknownParameter):
        d.plan([], [("int", "Nope", "1")])
    with pytest.raises(ParamError, match="type"):
        d.plan([], [("string", "OutputPercent", "10")])
    with pytest.raises(ParamError):
        d.plan([], [("string", "Mode", "turbo")])
    with pytest.raises(ItemNotFound):
        d.plan([NodeRef("X")], [("int", "OutputPercent", "1")])
    writes = d.plan([], [("int", "FadeTimeMilliseconds", "500"), (None, "MainSwitch", "0")])
    await d.apply(writes)
    assert state["FadeTimeMilliseconds"] == 500 and state["MainSwitch"] is False


async def test_a_failing_write_rolls_back_the_earlier_ones():
    state = {"a": 1, "b": 2}
    d = ControlDevice()
    d.add_parameter("a", "int", write=lambda v: state.__setitem__("a", v), read=lambda: state["a"])

    def broken(_v: object) -> None:
        raise OSError("relay stuck")

    d.add_parameter("b", "int", write=broken, read=lambda: state["b"])
    with pytest.raises(InternalServerError, match="nothing was changed"):
        await d.apply(d.plan([], [("int", "a", "10"), ("int", "b", "20")]))
    assert state == {"a": 1, "b": 2}


async def test_a_write_that_cannot_be_undone_is_named_in_the_error():
    """Without a read getter there is no old value to restore: the caller must be told."""
    state = {"a": 1}
    d = ControlDevice()
    d.add_parameter("a", "int", write=lambda v: state.__setitem__("a", v))  # write-only

    def broken(_v: object) -> None:
        raise OSError("relay stuck")

    d.add_parameter("b", "int", write=broken)
    with pytest.raises(InternalServerError, match="could not be undone: a"):
        await d.apply(d.plan([], [("int", "a", "10"), ("int", "b", "20")]))
    assert state == {"a": 10}


@pytest.mark.parametrize(("kind", "bounds", "good", "bad"), [
    ("double", {"minimum": -1.0, "maximum": 1.0}, "0.5", "1.5"),
    ("long", {"minimum": 0}, "9000000000", "-1"),
    ("date", {"minimum": date(2020, 1, 1)}, "2021-01-01", "2019-12-31"),
    ("time", {"maximum": time(12)}, "11:59:59", "12:00:01"),
    ("duration", {"maximum": timedelta(hours=1)}, "PT30M", "PT2H"),
    ("dateTime", {"minimum": datetime(2020, 1, 1, tzinfo=UTC)}, "2021-01-01T00:00:00Z", "2019-01-01T00:00:00Z"),
])
def test_ranges_of_every_ordered_type(kind, bounds, good, bad):
    d = ControlDevice()
    d.add_parameter("p", kind, write=print, **bounds)
    d.plan([], [(kind, "p", good)])
    with pytest.raises(ParamError):
        d.plan([], [(kind, "p", bad)])


def test_naive_datetime_against_aware_bound_is_a_param_error():
    d = ControlDevice()
    d.add_parameter("p", "dateTime", write=print, minimum=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(ParamError):
        d.plan([], [("dateTime", "p", "2021-01-01T00:00:00")])


async def test_form_has_validation_not_same_pages_and_round_trips():
    state: dict = {}
    x = await device(state).form([])
    xdv, xdd = "http://jabber.org/protocol/xdata-validate", "urn:xmpp:xdata:dynamic"
    fields = x.findall("{jabber:x:data}field")
    assert [f.get("var") for f in fields] == ["FadeTimeMilliseconds", "OutputPercent", "MainSwitch", "Mode"]
    assert all(f.find(f"{{{xdd}}}notSame") is not None for f in fields)
    assert all(f.find(f"{{{xdv}}}validate") is not None for f in fields)
    rng = fields[1].find(f"{{{xdv}}}validate/{{{xdv}}}range")
    assert (rng.get("min"), rng.get("max")) == ("0", "100")
    assert fields[3].get("type") == "list-single"
    page = x.find("{http://jabber.org/protocol/xdata-layout}page")
    assert page.get("label") == "Output" and len(page) == 3
    info = parse_form(ET.fromstring(ET.tostring(x)))
    assert info["OutputPercent"].type == "int" and info["OutputPercent"].maximum == 100
    assert info["MainSwitch"].value is True and info["Mode"].options == ("auto", "manual")


async def test_form_of_several_nodes_keeps_common_parameters():
    d = ControlDevice()
    for node, kind in (("DO1", "boolean"), ("DO2", "boolean"), ("AO1", "double")):
        d.add_parameter("Output", kind, write=print, node=NodeRef(node))
    d.add_parameter("Extra", "int", write=print, node=NodeRef("DO1"))
    info = parse_form(await d.form([NodeRef("DO1"), NodeRef("DO2")]))
    assert list(info) == ["Output"] and info["Output"].not_same
    with pytest.raises(FeatureNotImplemented):
        await d.form([NodeRef("DO2"), NodeRef("AO1")])


def test_submitted_form_skips_session_field():
    x = submit_form({"OutputPercent": "10"})
    hidden = ET.SubElement(x, "{jabber:x:data}field", {"var": "xdd session", "type": "hidden"})
    ET.SubElement(hidden, "{jabber:x:data}value").text = "325ED0F3"
    assert submitted_values(x) == [("OutputPercent", "10")]


def test_set_validates_against_the_xep_schema():
    if not CTL_SCHEMA.exists():
        pytest.skip("XEP schemas not available")
    sd = Path(CTL_SCHEMA.parent, "urn_xmpp_iot_sensordata.xsd")
    # the control schema imports others without a location; validate the typed set with a trimmed copy
    text = CTL_SCHEMA.read_text()
    for imported in ("urn:xmpp:iot:sensordata", "jabber:x:data", "http://jabber.org/protocol/xdata-validate",
                     "http://jabber.org/protocol/xdata-layout"):
        text = text.replace(f"<xs:import namespace='{imported}'/>", "")
    text = text.replace("<xs:element ref='xd:x'/>", "").replace("^([0-9a-fA-F]{6})|([0-9a-fA-F]{8})$",
                                                                   "([0-9a-fA-F]{6})|([0-9a-fA-F]{8})")
    schema = xmlschema.XMLSchema(text)
    assert sd.exists()
    iq = Iq()
    iq["ctl_set"]["nodes"] = [NodeRef("DO1")]
    iq["ctl_set"]["values"] = [ParameterValue.of(n, v) for n, v in (
        ("b", True), ("c", Color(1, 2, 3, 4)), ("d", date(2020, 1, 1)), ("t", datetime(2020, 1, 1, tzinfo=UTC)),
        ("x", 0.5), ("u", timedelta(minutes=3)), ("i", 5), ("l", 2**40), ("s", "x"), ("tm", time(8)))]
    schema.validate(ET.fromstring(ET.tostring(iq["ctl_set"].xml)))
    values = iq["ctl_set"]["values"]
    assert [v[0] for v in values] == ["boolean", "color", "date", "dateTime", "double", "duration", "int", "long",
                                      "string", "time"]
    assert values[1][2] == "01020304"
